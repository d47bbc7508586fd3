#!/usr/bin/python3
"""Several layers at once, end to end through `camkit explain --layer A --layer B --fuse R`:
the fused maps against an independent PyTorch reference (forward hooks and autograd on both
layers of the eager model, each layer's map by the method's definition, ReLU, bilinear
upsampling with align_corners=False to the input size, min-max, then the rule), the record's
layers and rule, the output folder that keeps a fused run apart from a single-layer run, and
the methods and options that are refused.

    /usr/bin/python3 tests/python/test_fuse.py FIXTURES_DIR CAMKIT_BINARY
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

import camkit_testing as ct

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixtures_models as fm  # noqa: E402

LAYERS = ("features.3", "features")  # 24 x 16 x 20 and 32 x 8 x 10 for a 64 x 80 input
CLASS = 1
STATE = {}


def setup():
    """fixtures_models' GapFlattenLinear (BN randomised as the fixture does), traced, and one
    input saved as a (3, 64, 80) array."""
    if STATE:
        return STATE
    torch.manual_seed(fm.seed_of("custom_gap_flatten_linear"))
    model = fm.randomize(fm.GapFlattenLinear(), "fc.bias")
    x = torch.randn(1, 3, 64, 80, generator=torch.Generator().manual_seed(11))
    path = os.path.join(ct.TMP, "gap.pt")
    torch.jit.trace(model, x).save(path)
    npy = os.path.join(ct.TMP, "x.npy")
    np.save(npy, x[0].numpy())
    STATE.update(model=model, x=x, pt=path, npy=npy)
    return STATE


def layer_map(model, x, layer, method):
    """One layer's map by the paper's definition (float64): Grad-CAM (Selvaraju et al. eq.
    1-2) or LayerCAM (Jiang et al. eq. 4-5), from a forward hook and autograd."""
    store = {}
    handle = model.get_submodule(layer).register_forward_hook(
        lambda _m, _i, out: store.__setitem__("a", out))
    try:
        y = model(x.clone().requires_grad_(True))
        (g,) = torch.autograd.grad(y[0, CLASS], store["a"])
    finally:
        handle.remove()
    a, g = store["a"].detach()[0].double(), g[0].double()
    if method == "gradcam":
        return torch.einsum("k,khw->hw", g.mean((1, 2)), a)
    return (F.relu(g) * a).sum(0)


def display(m, size):
    """ReLU, bilinear upsampling (pixel centres: align_corners=False), min-max."""
    m = F.interpolate(F.relu(m)[None, None], size=size, mode="bilinear",
                      align_corners=False)[0, 0]
    lo, hi = m.min(), m.max()
    return (m - lo) / (hi - lo) if hi > lo else torch.zeros_like(m)


def reference(method, rule):
    s = setup()
    maps = [display(layer_map(s["model"], s["x"], layer, method), (64, 80)) for layer in LAYERS]
    stack = torch.stack(maps)
    if rule == "mean":
        return stack.mean(0).numpy()
    if rule == "max":
        return stack.max(0).values.numpy()
    return stack.prod(0).numpy()


def explain(out_name, *flags, expect=0):
    s = setup()
    return ct.run("explain", s["pt"], s["npy"], "-o", os.path.join(ct.TMP, out_name),
                  "--no-overlay", "--class", str(CLASS), *flags, expect=expect)


def fused_record(out_name, rule):
    folder = os.path.join(ct.TMP, out_name, f"fused-{rule}-{'+'.join(LAYERS)}")
    with open(os.path.join(folder, "x.json")) as f:
        rec = json.load(f)
    return rec, np.load(os.path.join(folder, rec["explanations"][0]["raw"]))


def close(got, want, what):
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    err = float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-12))
    assert err < 1e-4, f"{what}: max rel err {err:.3g}"
    # A reference that cannot fail would pass on anything: the layers must differ.
    assert np.abs(want).max() > 0, what


def check_rule(method, rule):
    explain(f"{method}-{rule}", "--method", method, "--layer", LAYERS[0], "--layer", LAYERS[1],
            "--fuse", rule)
    rec, raw = fused_record(f"{method}-{rule}", rule)
    close(raw, reference(method, rule), f"{method} {rule}")
    assert rec["fuse"] == rule and rec["method"] == method, rec
    assert [layer["layer"] for layer in rec["layers"]] == list(LAYERS), rec["layers"]
    assert [layer["feature_shape"] for layer in rec["layers"]] == [[24, 16, 20], [32, 8, 10]]
    assert all(layer["layout"] == "channels-first" for layer in rec["layers"]), rec["layers"]
    assert rec["feature_layer"] == "+".join(LAYERS) and rec["feature_shape"] == [64, 80], rec


def test_gradcam_mean():
    check_rule("gradcam", "mean")


def test_gradcam_max():
    check_rule("gradcam", "max")


def test_gradcam_product():
    check_rule("gradcam", "product")


def test_layercam_product():
    check_rule("layercam", "product")


def test_rules_differ():
    a, b, c = (reference("gradcam", r) for r in ("mean", "max", "product"))
    assert np.abs(a - b).max() > 1e-3 and np.abs(a - c).max() > 1e-3


def test_fused_run_keeps_single_layer_results():
    out = os.path.join(ct.TMP, "shared")
    explain("shared", "--method", "gradcam", "--layer", LAYERS[1], "--raw")
    with open(os.path.join(out, "x.json")) as f:
        single = json.load(f)
    before = open(os.path.join(out, single["explanations"][0]["raw"]), "rb").read()
    explain("shared", "--method", "gradcam", "--layer", LAYERS[0], "--layer", LAYERS[1],
            "--fuse", "mean", "--raw")
    with open(os.path.join(out, "x.json")) as f:
        assert json.load(f) == single, "the single-layer record changed"
    assert open(os.path.join(out, single["explanations"][0]["raw"]), "rb").read() == before
    fused, _ = fused_record("shared", "mean")
    assert fused["options_hash"] != single["options_hash"]
    # The rule is part of the hash: max into the same folder name scheme gets its own folder.
    explain("shared", "--method", "gradcam", "--layer", LAYERS[0], "--layer", LAYERS[1],
            "--fuse", "max", "--raw")
    other, _ = fused_record("shared", "max")
    assert other["options_hash"] != fused["options_hash"]


def test_refused_methods_and_options():
    for method, words in (("cam", "CAM is defined only at the feature map"),
                          ("guided-backprop", "input gradients"),
                          ("attention-relevance", "attention"),
                          ("fullgrad", "FullGrad already sums")):
        r = explain("bad", "--method", method, "--layer", LAYERS[0], "--layer", LAYERS[1],
                    "--fuse", "mean", expect=2)
        assert words in r.stderr, r.stderr
    r = explain("bad", "--layer", LAYERS[0], "--fuse", "mean", expect=2)
    assert "two or more --layer" in r.stderr, r.stderr
    r = explain("bad", "--layer", LAYERS[0], "--layer", LAYERS[1], expect=2)
    assert "--fuse" in r.stderr, r.stderr
    r = explain("bad", "--layer", LAYERS[0], "--layer", LAYERS[0], "--fuse", "max", expect=2)
    assert "given twice" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(ct.TMP, "bad", "x.json"))


def test_auto_method_fuses_gradcam():
    explain("auto", "--layer", LAYERS[0], "--layer", LAYERS[1], "--fuse", "max")
    rec, raw = fused_record("auto", "max")
    assert rec["method"] == "gradcam", rec["method"]
    close(raw, reference("gradcam", "max"), "auto max")


if __name__ == "__main__":
    sys.exit(ct.main(globals()))
