#!/usr/bin/python3
"""Options that modify a method, end to end through `camkit explain`: the raw maps of
--eigen-smooth, --aug-smooth, smoothgradcam++ and sscam (--noise-sigma, --samples, --seed),
iscam (--samples) and fullgrad against the PyTorch references of camkit_reference.py on the
eager model, the record's "method_options", and the options hash that keeps runs with other
options from being resumed as done.

    /usr/bin/python3 tests/python/test_method_options.py FIXTURES_DIR CAMKIT_BINARY
"""

import json
import os
import sys

import numpy as np
import torch
from torch import nn

import camkit_testing as ct

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import camkit_reference as ref  # noqa: E402

H = W = 32
K = 4


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(),
                                      nn.Conv2d(8, 16, 3, 1, 1), nn.ReLU())
        self.fc = nn.Linear(16, K)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


STATE = {}


def setup():
    """The eager model, its traced file and one input array (once per run)."""
    if STATE:
        return STATE
    torch.manual_seed(5)
    model = Small().eval()
    x = torch.randn(1, 3, H, W, generator=torch.Generator().manual_seed(6))
    path = os.path.join(ct.TMP, "small.pt")
    torch.jit.trace(model, x).save(path)
    npy = os.path.join(ct.TMP, "x.npy")
    np.save(npy, x[0].numpy())
    STATE.update(model=model, x=x, pt=path, npy=npy)
    return STATE


def explain(name, *flags):
    """Runs camkit explain on the input with the flags; (record, raw map of class 1)."""
    s = setup()
    out = os.path.join(ct.TMP, name)
    ct.run("explain", s["pt"], s["npy"], "-o", out, "--no-overlay", "--class", "1",
           "--layer", "features.2", *flags)
    with open(os.path.join(out, "x.json")) as f:
        rec = json.load(f)
    return rec, np.load(os.path.join(out, rec["explanations"][0]["raw"]))


def close(got, want, what):
    want = np.asarray(want, dtype=np.float64)
    err = float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-12))
    assert err < 1e-4, f"{what}: max rel err {err:.3g}"


def test_eigen_smooth_record_and_map():
    s = setup()
    rec, raw = explain("eigen", "--method", "gradcam++", "--eigen-smooth")
    assert rec["method_options"] == {"eigen_smooth": True}, rec.get("method_options")
    layer = s["model"].features[2]
    close(raw, ref.eigen_smooth("gradcam++", s["model"], s["x"], layer, 1), "eigen-smooth")


def test_aug_smooth_record_and_map():
    s = setup()
    rec, raw = explain("aug", "--method", "gradcam", "--aug-smooth")
    augs = rec["method_options"]["augmentations"]
    assert [(a["hflip"], a["scale"]) for a in augs] == ref.AUGMENTATIONS, augs
    layer = s["model"].features[2]
    close(raw, ref.aug_smooth(ref.gradcam, s["model"], s["x"], layer, 1), "aug-smooth")


def test_smoothgradcampp_record_and_map():
    s = setup()
    rec, raw = explain("smooth", "--method", "smoothgradcam++", "--noise-sigma", "0.3",
                       "--samples", "6", "--seed", "42")
    assert rec["method_options"] == {"noise": {"sigma": 0.3, "samples": 6, "seed": 42}}, rec
    layer = s["model"].features[2]
    close(raw, ref.smoothgradcam_pp(s["model"], s["x"], layer, 1, 0.3, 6, 42), "smoothgradcam++")


def test_sscam_record_and_map():
    s = setup()
    rec, raw = explain("sscam", "--method", "sscam", "--noise-sigma", "0.25", "--samples", "4",
                       "--seed", "3", "--mask-batch", "3")
    assert rec["method_options"] == {"noise": {"sigma": 0.25, "samples": 4, "seed": 3}}, rec
    layer = s["model"].features[2]
    close(raw, ref.sscam(s["model"], s["x"], layer, 1, 0.25, 4, 3), "sscam")
    # Reproducible from the seed, whatever the batching (up to the rounding of batched
    # forwards); another seed, another map.
    _, again = explain("sscam2", "--method", "sscam", "--noise-sigma", "0.25", "--samples", "4",
                       "--seed", "3", "--mask-batch", "1")
    same = float(np.abs(again - raw).max() / np.abs(raw).max())
    assert same < 1e-5, f"--mask-batch 1 changed the map by {same:.3g}"
    _, other = explain("sscam3", "--method", "sscam", "--noise-sigma", "0.25", "--samples", "4",
                       "--seed", "4")
    err = float(np.abs(other - raw).max() / np.abs(raw).max())
    assert err > 1e-4, f"another seed changed the map by {err:.3g} only"


def test_iscam_record_and_map():
    s = setup()
    rec, raw = explain("iscam", "--method", "iscam", "--samples", "5")
    assert rec["method_options"] == {"steps": 5}, rec
    close(raw, ref.iscam(s["model"], s["x"], s["model"].features[2], 1, 5), "iscam")


def test_fullgrad_map_at_input_resolution():
    s = setup()
    rec, raw = explain("fullgrad", "--method", "fullgrad")
    assert "method_options" not in rec, rec
    assert raw.shape == (H, W), raw.shape
    close(raw, ref.fullgrad(s["model"], s["x"], 1), "fullgrad")


FLAGS = {"noise_sigma": "--noise-sigma", "samples": "--samples", "seed": "--seed"}


def test_new_methods_on_the_fixture_models():
    """sscam, iscam and fullgrad through the command on the three models of
    fixtures_methods.py (a GAP ResNet18, a VGG without CAM head, a 1-channel single-logit
    model) against the references stored there (the manifest's variants)."""
    with open(os.path.join(ct.FIXTURES, "methods", "manifest.json")) as f:
        manifest = json.load(f)
    seen = set()
    for model in manifest["models"]:
        d = os.path.join(ct.FIXTURES, "methods")
        npy = os.path.join(ct.TMP, model["name"] + ".npy")
        np.save(npy, np.load(os.path.join(d, model["input"]))[0])
        for layer in model["layers"]:
            for name, v in layer.get("variants", {}).items():
                if v["method"] not in ("sscam", "iscam", "fullgrad"):
                    continue
                flags = [x for k, val in v["options"].items() for x in (FLAGS[k], str(val))]
                for cls, file in v["maps"].items():
                    out = os.path.join(ct.TMP, f"fx_{model['name']}_{name}_{cls}")
                    ct.run("explain", os.path.join(d, model["file"]), npy, "-o", out,
                           "--no-overlay", "--class", cls, "--layer", layer["path"],
                           "--method", v["method"], "--optimize", "off", *flags)
                    with open(os.path.join(out, model["name"] + ".json")) as f:
                        rec = json.load(f)
                    raw = np.load(os.path.join(out, rec["explanations"][0]["raw"]))
                    close(raw, np.load(os.path.join(d, file)),
                          f"{model['name']} {layer['path']} {name} class {cls}")
                    seen.add((model["name"], v["method"]))
    assert len(seen) == 9, sorted(seen)  # 3 models x 3 methods


def test_options_are_part_of_the_hash():
    plain, _ = explain("h0", "--method", "gradcam")
    assert "method_options" not in plain
    hashes = {plain["options_hash"]}
    for i, flags in enumerate([("--method", "gradcam", "--eigen-smooth"),
                               ("--method", "gradcam", "--aug-smooth"),
                               ("--method", "smoothgradcam++", "--seed", "1"),
                               ("--method", "smoothgradcam++", "--seed", "2"),
                               ("--method", "sscam", "--seed", "1", "--samples", "2"),
                               ("--method", "iscam", "--samples", "2")]):
        rec, _ = explain(f"h{i + 1}", *flags)
        hashes.add(rec["options_hash"])
    assert len(hashes) == 7, hashes
    again, _ = explain("h0", "--method", "gradcam")
    assert again["options_hash"] == plain["options_hash"]


def test_eigen_smooth_refused_where_undefined():
    s = setup()
    for method in ("cam", "eigencam", "eigengradcam", "scorecam"):
        r = ct.run("explain", s["pt"], s["npy"], "-o", os.path.join(ct.TMP, "bad"),
                   "--method", method, "--eigen-smooth", expect=2)
        assert "--eigen-smooth is defined for" in r.stderr, r.stderr


if __name__ == "__main__":
    sys.exit(ct.main(globals()))
