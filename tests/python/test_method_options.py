#!/usr/bin/python3
"""Options that modify a method, end to end through `camkit explain`: the raw maps of
--eigen-smooth, --aug-smooth and smoothgradcam++ (--noise-sigma, --samples, --seed) against the
PyTorch references of camkit_reference.py on the eager model, the record's "method_options",
and the options hash that keeps runs with other options from being resumed as done.

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


def test_options_are_part_of_the_hash():
    plain, _ = explain("h0", "--method", "gradcam")
    assert "method_options" not in plain
    hashes = {plain["options_hash"]}
    for i, flags in enumerate([("--method", "gradcam", "--eigen-smooth"),
                               ("--method", "gradcam", "--aug-smooth"),
                               ("--method", "smoothgradcam++", "--seed", "1"),
                               ("--method", "smoothgradcam++", "--seed", "2")]):
        rec, _ = explain(f"h{i + 1}", *flags)
        hashes.add(rec["options_hash"])
    assert len(hashes) == 5, hashes
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
