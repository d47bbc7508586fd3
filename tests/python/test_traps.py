#!/usr/bin/python3
"""Models built to fool each of camkit's assumptions, each with its expected answer.

    /usr/bin/python3 tests/python/test_traps.py FIXTURES_DIR CAMKIT_BINARY

Every trap is a small seeded model exported here. The expected answer is either the right map
(the raw map camkit writes with --raw, within 1e-4 relative of a reference computed here with
forward hooks and autograd on the eager model, the layer's output reshaped to (C, h, w) the
standard way: channels-last permuted, the class token dropped from a token sequence), or the
right refusal (exit code and the words that say why). Traps: a head that pools and then
normalises (default layer must lie before the pooling), channels-last stages, (features, logits)
and (logits, features) tuples, dicts with and without a "logits" key, several inputs, a path
without gradients (inference-only kernels; a rounding), heads with a LayerNorm or an
activation, a 3-D network given a picture, a 1-D network, a graph that fixes its batch size, a token model, a final softmax,
multi-label scores, pooled or shapeless --layer choices, and the record of a gradient method.
"""

import json
import os
import sys

import numpy as np
import torch
from torch import nn

import camkit_testing as ct
import camkit_meta  # noqa: E402  (tools/, put on the path by camkit_testing)

H = W = 32
RTOL = 1e-4


# ---------------------------------------------------------------- models


def stem(c_out=24):
    return nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.GELU(), nn.Conv2d(16, c_out, 3, 2, 1),
                         nn.ReLU())


class LayerNorm2d(nn.LayerNorm):
    """ConvNeXt's: a LayerNorm over channels of an (N, C, H, W) map."""

    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class PoolThenNorm(nn.Module):
    """ConvNeXt head: pool, LayerNorm2d, flatten, linear. No CAM head; the default layer must
    be `features`, before the pooling, not the pooled vector."""

    def __init__(self):
        super().__init__()
        self.features = stem()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(LayerNorm2d(24), nn.Flatten(1), nn.Linear(24, 5))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)))


class ChannelsLast(nn.Module):
    """Swin-like: patch embedding, then (N, H, W, C) stages with a residual MLP block, a
    LayerNorm, a mean over H and W, a linear head."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Conv2d(3, 16, 4, 4)
        self.ln0 = nn.LayerNorm(16)
        self.block_norm = nn.LayerNorm(16)
        self.mlp = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 16))
        self.norm = nn.LayerNorm(16)
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        x = self.ln0(self.embed(x).permute(0, 2, 3, 1))
        x = x + self.mlp(self.block_norm(x))
        x = self.norm(x)
        return self.head(x.mean((1, 2)))


class GapNet(nn.Module):
    """GAP -> linear, returning what `returns` says: logits, (features, logits),
    (logits, features), {"logits", "features"}, {"out", "emb"} or softmax(logits)."""

    def __init__(self, returns="logits", k=5):
        super().__init__()
        self.features = stem()
        self.fc = nn.Linear(24, k)
        self.returns = returns

    def forward(self, x):
        f = torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1)
        y = self.fc(f)
        if self.returns == "features_logits":
            return f, y
        if self.returns == "logits_features":
            return y, f
        if self.returns == "dict_logits":
            return {"features": f, "logits": y}
        if self.returns == "dict_other":
            return {"emb": f, "out": y}
        if self.returns == "softmax":
            return torch.softmax(y, 1)
        if self.returns == "round":
            return torch.round(y * 4) / 4
        if self.returns == "batch_one":
            return self.fc(f.view(1, -1))
        return y


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = stem()
        self.tab = nn.Linear(4, 24)
        self.fc = nn.Linear(24, 3)

    def forward(self, x, tabular):
        return self.fc(self.features(x).mean((2, 3)) + self.tab(tabular))


class ActivationHead(nn.Module):
    """MobileNetV3 head: pool, linear, Hardswish, linear."""

    def __init__(self):
        super().__init__()
        self.features = stem()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(24, 16), nn.Hardswish(), nn.Linear(16, 5))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class Block(nn.Module):
    def __init__(self, d=32, heads=4):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.self_attention = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))

    def forward(self, x):
        y = self.ln_1(x)
        x = x + self.self_attention(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class TinyViT(nn.Module):
    """torchvision's VisionTransformer in small: patch embedding, class token, position
    embedding, two encoder blocks, final LayerNorm, a head on the class token."""

    def __init__(self, patch=8, d=32):
        super().__init__()
        self.conv_proj = nn.Conv2d(3, d, patch, patch)
        self.class_token = nn.Parameter(torch.randn(1, 1, d) * 0.5)
        self.pos = nn.Parameter(torch.randn(1, 1 + (H // patch) * (W // patch), d) * 0.5)
        self.blocks = nn.Sequential(Block(d), Block(d))
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, 5)

    def forward(self, x):
        n = x.shape[0]
        x = self.conv_proj(x).reshape(n, self.conv_proj.out_channels, -1).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1) + self.pos
        return self.head(self.ln(self.blocks(x))[:, 0])


class Conv3d(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv3d(1, 8, 3, 2, 1), nn.ReLU())
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3, 4)))


# ---------------------------------------------------------------- helpers


def seeded(model, seed=1):
    torch.manual_seed(seed)
    for p in model.parameters():  # no zero-initialised heads: every logit depends on the input
        with torch.no_grad():
            p.copy_(torch.randn_like(p) * (0.5 if p.dim() > 1 else 0.1))
    return model.eval()


def save(model, name, example=None, meta=None, no_grad=False, strict=True):
    example = example if example is not None else torch.randn(1, 3, H, W)
    if no_grad:
        with torch.no_grad():
            traced = torch.jit.trace(model, example, check_trace=False, strict=strict)
    else:
        traced = torch.jit.trace(model, example, check_trace=False, strict=strict)
    path = os.path.join(ct.TMP, name + ".pt")
    extra = {camkit_meta.EXTRA_FILE: json.dumps(meta)} if meta else {}
    torch.jit.save(traced, path, _extra_files=extra)
    return path


def meta(k, task=None, output=None):
    m = {"camkit_meta_version": 1, "architecture": "trap", "num_classes": k,
         "input": {"channels": 3, "height": H, "width": W}, "preprocess": {},
         "task": task or ("binary" if k == 1 else "multiclass")}
    if output is not None:
        m["output"] = output
    return m


def image(seed=5):
    x = np.random.default_rng(seed).standard_normal((3, H, W)).astype(np.float32)
    path = os.path.join(ct.TMP, f"x{seed}.npy")
    np.save(path, x)
    return path, torch.from_numpy(x)[None]


def logits_of(out):
    if isinstance(out, dict):
        return out.get("logits", out.get("out"))
    if isinstance(out, tuple):
        return out[1] if out[0].shape[1] == 24 else out[0]
    return out


def reference(model, x, module, c, layout="cf", prefix=0, grid=None, method="gradcam",
              weight=None):
    """The raw map of `method` for class c at `module`'s output, computed from the paper's
    definition on the eager model: A and dy_c/dA from a forward hook and autograd, reshaped to
    (C, h, w)."""
    store = {}
    handle = module.register_forward_hook(lambda _m, _i, out: store.__setitem__(
        "a", out[0] if isinstance(out, tuple) else out))
    try:
        xg = x.clone().requires_grad_(True)
        out = model(xg)
        y = logits_of(out)
        if method == "cam":
            a = store["a"].detach()
            g = None
        else:
            (g,) = torch.autograd.grad(y[0, c], store["a"])
            a = store["a"].detach()
    finally:
        handle.remove()

    def cf(t):
        if layout == "cl":
            return t.permute(0, 3, 1, 2)
        if layout == "tokens":
            n, _, ch = t.shape
            return t[:, prefix:, :].reshape(n, grid[0], grid[1], ch).permute(0, 3, 1, 2)
        return t

    a = cf(a)[0].double()
    if method == "cam":
        return torch.einsum("k,khw->hw", torch.as_tensor(weight)[c].double(), a)
    g = cf(g)[0].double()
    return torch.einsum("k,khw->hw", g.mean((1, 2)), a)


def explain(model_path, x_path, *flags, expect=0, out=None):
    out = out or os.path.join(ct.TMP, "out_" + os.path.basename(model_path)[:-3] +
                              str(abs(hash(flags)) % 10000))
    r = ct.run("explain", model_path, x_path, "--raw", "-o", out, *flags, expect=expect)
    if expect != 0:
        return r, None
    stem_name = os.path.basename(x_path)[:-4]
    rec = json.load(open(os.path.join(out, stem_name + ".json")))
    return r, rec, out


def raw_map(rec, out, j=0):
    return np.load(os.path.join(out, rec["explanations"][j]["raw"])).astype(np.float64)


def close(got, want, what):
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs {want.shape}"
    err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-12)
    assert err <= RTOL, f"{what}: max relative error {err:.3g}"


def info(path, *flags, expect=0):
    r = ct.run("info", path, "--json", *flags, expect=expect)
    return json.loads(r.stdout) if r.stdout.strip() else None


# ---------------------------------------------------------------- traps


def test_pooled_then_normalised_head_defaults_to_the_map_before_the_pooling():
    model = seeded(PoolThenNorm())
    path = save(model, "pool_norm", meta=meta(5))
    j = info(path)
    assert not j["head"]["found"] and "LayerNorm" in j["head"]["reason"], j["head"]
    assert "permute" not in j["head"]["reason"], j["head"]["reason"]
    assert j["layer"]["layer"] == "features" and j["layer"]["shape"] == [24, 8, 8], j["layer"]
    x_path, x = image()
    r, rec, out = explain(path, x_path)  # the default method is Grad-CAM here
    assert "LayerNorm" in r.stderr and rec["method"] == "gradcam", r.stderr
    c = rec["explanations"][0]["class"]
    close(raw_map(rec, out), reference(model, x, model.features, c), "Grad-CAM at features")
    r, _ = explain(path, x_path, "--method", "cam", expect=3)
    assert "LayerNorm" in r.stderr and "classifier.0" in r.stderr, r.stderr


def test_channels_last_stages_are_read_as_channels_last():
    model = seeded(ChannelsLast())
    path = save(model, "channels_last", meta=meta(5))
    j = info(path)
    assert j["layer"]["layer"] == "norm" and j["layer"]["layout"] == "channels-last", j["layer"]
    assert j["layer"]["shape"] == [16, 8, 8], j["layer"]
    x_path, x = image()
    for flags, module in [((), model.norm), (("--layer", "mlp"), model.mlp),
                          (("--layer", "ln0"), model.ln0)]:
        _, rec, out = explain(path, x_path, *flags)
        assert rec["layout"] == "channels-last" and rec["feature_shape"] == [16, 8, 8], rec
        close(raw_map(rec, out), reference(model, x, module, rec["explanations"][0]["class"],
                                           layout="cl"), f"Grad-CAM {flags}")


def test_tuple_outputs_are_chosen_by_the_declared_class_count_or_refused():
    x_path, x = image()
    for returns, index in [("features_logits", "1"), ("logits_features", "0")]:
        model = seeded(GapNet(returns))
        path = save(model, returns, meta=meta(5))
        j = info(path)
        assert j["output"]["chosen"] == index, j["output"]
        assert [c["shape"][1] for c in j["output"]["candidates"]] == (
            [24, 5] if index == "1" else [5, 24])
        _, rec, out = explain(path, x_path)
        assert rec["method"] == "cam", rec
        c = rec["explanations"][0]["class"]
        assert len(rec["predictions"]) == 1 and 0 <= c < 5, rec["predictions"]
        close(raw_map(rec, out), reference(model, x, model.features, c, method="cam",
                                           weight=model.fc.weight.detach()), returns)
    # Without a declared class count two 2-D outputs are ambiguous: refused, naming both.
    model = seeded(GapNet("features_logits"))
    path = save(model, "features_logits_nometa")
    r, _ = explain(path, x_path, expect=3)
    assert "--output" in r.stderr and "[N, 24]" in r.stderr and "[N, 5]" in r.stderr, r.stderr
    _, rec, out = explain(path, x_path, "--output", "1")
    c = rec["explanations"][0]["class"]
    close(raw_map(rec, out), reference(model, x, model.features, c, method="cam",
                                       weight=model.fc.weight.detach()), "--output 1")
    r, _ = explain(path, x_path, "--output", "7", expect=2)
    assert "no such output" in r.stderr, r.stderr


def test_dict_outputs_use_the_logits_key_or_ask_for_one():
    x_path, x = image()
    model = seeded(GapNet("dict_logits"))
    path = save(model, "dict_logits", strict=False)
    assert info(path)["output"]["chosen"] == "logits"
    _, rec, out = explain(path, x_path, "--method", "gradcam")
    close(raw_map(rec, out), reference(model, x, model.features, rec["explanations"][0]["class"]),
          "dict logits")
    model = seeded(GapNet("dict_other"))
    path = save(model, "dict_other", strict=False)
    r, _ = explain(path, x_path, expect=3)
    assert "out [N, 5]" in r.stderr and "emb [N, 24]" in r.stderr, r.stderr
    _, rec, out = explain(path, x_path, "--output", "out", "--method", "gradcam")
    close(raw_map(rec, out), reference(model, x, model.features, rec["explanations"][0]["class"]),
          "dict --output out")


def test_a_model_with_two_inputs_is_refused_before_any_input():
    path = save(seeded(TwoInputs()), "two_inputs", example=(torch.randn(1, 3, H, W),
                                                            torch.randn(1, 4)))
    x_path, _ = image()
    for cmd in (["explain", path, x_path, "-o", os.path.join(ct.TMP, "o2")], ["info", path],
                ["explain", path, x_path, "--layer", "features", "-o", os.path.join(ct.TMP, "o3")]):
        r = ct.run(*cmd, expect=3)
        assert "takes 2 inputs" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_a_path_without_gradients_refuses_gradient_methods():
    # Traced under no_grad, nn.MultiheadAttention records its inference-only kernel.
    model = seeded(TinyViT())
    path = save(model, "vit_no_grad", meta=meta(5), no_grad=True)
    x_path, _ = image()
    r = ct.run("info", path, expect=3)
    assert "derivative" in r.stderr and "export" in r.stderr, r.stderr
    r, _ = explain(path, x_path, "--method", "gradcam", "--layer", "blocks.1.ln_1", expect=3)
    assert "derivative" in r.stderr and "re-export" in r.stderr, r.stderr
    # Methods without gradients still run on a named layer.
    explain(path, x_path, "--method", "eigencam", "--layer", "blocks.1.ln_1")
    # Logits that are rounded have zero gradients everywhere: no map, not a blank one.
    path = save(seeded(GapNet("round")), "rounded")
    r, _ = explain(path, x_path, expect=3)
    assert "gradients are all zero" in r.stderr or "do not depend" in r.stderr, r.stderr


def test_heads_with_an_activation_are_refused_for_cam_with_its_name():
    model = seeded(ActivationHead())
    path = save(model, "hardswish_head")
    x_path, x = image()
    r, _ = explain(path, x_path, "--method", "cam", expect=3)
    assert "Hardswish" in r.stderr and "classifier.1" in r.stderr, r.stderr
    _, rec, out = explain(path, x_path)
    close(raw_map(rec, out), reference(model, x, model.features, rec["explanations"][0]["class"]),
          "Grad-CAM with a Hardswish head")


def test_a_3d_network_takes_volumes_and_refuses_pictures():
    # docs/volumes3d.md: a [D, H, W] array is a volume of one channel; a picture is no volume.
    path = save(seeded(Conv3d()), "conv3d", example=torch.randn(1, 1, 8, 16, 16))
    x_path, _ = image()  # (3, H, W): three slices
    out = os.path.join(ct.TMP, "o3d")
    ct.run("explain", path, x_path, "--raw", "-o", out)
    rec = json.load(open(os.path.join(out, "x5.json")))
    assert rec["image"]["depth"] == 3 and len(rec["feature_shape"]) == 4, rec
    raw = np.load(os.path.join(out, rec["explanations"][0]["raw"]))
    assert raw.ndim == 3, raw.shape
    png = os.path.join(ct.TMP, "picture.png")
    with open(png, "wb") as f:  # a 1x1 grey PNG
        f.write(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010800000000"
                              "3a7e9b550000000a49444154789c63600000000200015d0ea8d00000000049"
                              "454e44ae426082"))
    r = ct.run("explain", path, png, "-o", os.path.join(ct.TMP, "o3dp"), expect=1)
    assert "picture.png" in r.stderr and "volume" in r.stderr and "Traceback" not in r.stderr, \
        r.stderr


class Conv1d(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 8, 3)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(self.conv(x).mean(2))


def test_a_1d_network_is_a_model_error():
    path = save(seeded(Conv1d()), "conv1d", example=torch.randn(1, 3, 16))
    x_path, _ = image()
    r = ct.run("explain", path, x_path, "-o", os.path.join(ct.TMP, "o1d"), expect=3)
    assert "1-D" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_a_graph_traced_for_batch_one_still_runs_batches():
    model = seeded(GapNet("batch_one"))
    path = save(model, "batch_one")
    assert info(path)["max_batch"] == 1
    paths = [image(s) for s in (5, 6, 7)]
    out = os.path.join(ct.TMP, "batch_one_out")
    ct.run("explain", path, *[p for p, _ in paths], "--raw", "-o", out, "--batch-size", "8",
           "--optimize", "on")
    for p, x in paths:
        rec = json.load(open(os.path.join(out, os.path.basename(p)[:-4] + ".json")))
        c = rec["explanations"][0]["class"]
        close(raw_map(rec, out), reference(model, x, model.features, c, method="cam",
                                           weight=model.fc.weight.detach()), p)


def test_token_models_default_to_the_last_blocks_normalised_tokens():
    model = seeded(TinyViT())
    path = save(model, "tiny_vit", meta=meta(5))
    j = info(path)
    assert j["layer"]["layer"] == "blocks.1.ln_1", j["layer"]
    assert j["layer"]["layout"] == "tokens" and j["layer"]["prefix_tokens"] == 1, j["layer"]
    assert j["layer"]["shape"] == [32, 4, 4], j["layer"]
    x_path, x = image()
    for flags, module in [((), model.blocks[1].ln_1), (("--layer", "blocks.0"), model.blocks[0])]:
        _, rec, out = explain(path, x_path, *flags)
        assert rec["layout"] == "tokens" and rec["feature_shape"] == [32, 4, 4], rec
        close(raw_map(rec, out), reference(model, x, module, rec["explanations"][0]["class"],
                                           layout="tokens", prefix=1, grid=(4, 4)), str(flags))
    # The final LayerNorm's patch tokens never reach the head (it reads the class token).
    r, _ = explain(path, x_path, "--layer", "ln", expect=3)
    assert "prefix tokens" in r.stderr or "do not depend" in r.stderr, r.stderr


def test_a_final_softmax_is_undone_and_scores_are_the_models_own():
    model = seeded(GapNet("softmax"))
    path = save(model, "softmax")
    j = info(path)
    assert j["output"]["activation"] == "softmax" and j["head"]["found"], j
    x_path, x = image()
    _, rec, out = explain(path, x_path, "-k", "2")
    with torch.no_grad():
        probs = model(x)[0].numpy()
    for p in rec["predictions"]:
        assert abs(p["score"] - probs[p["class"]]) < 1e-5, (p, probs)
    c = rec["explanations"][0]["class"]
    close(raw_map(rec, out), reference(model, x, model.features, c, method="cam",
                                       weight=model.fc.weight.detach()), "CAM before softmax")


def test_multilabel_scores_are_sigmoids_and_positive_explains_every_finding():
    model = seeded(GapNet(k=6), seed=4)
    path = save(model, "multilabel", meta=meta(6, task="multilabel"))
    x_path, x = image()
    _, rec, out = explain(path, x_path, "--positive", "--positive-threshold", "0.3")
    with torch.no_grad():
        probs = torch.sigmoid(model(x))[0].numpy()
    want = [int(i) for i in np.argsort(-probs, kind="stable") if probs[i] >= 0.3]
    assert rec["task"] == "multilabel" and rec["positives"] == want, (rec, probs)
    assert [e["class"] for e in rec["explanations"]] == want, rec["explanations"]
    for e in rec["explanations"]:
        assert abs(e["score"] - probs[e["class"]]) < 1e-5 and e["positive"], e


def test_pooled_or_shapeless_layers_are_refused():
    path = save(seeded(PoolThenNorm()), "pool_norm2")
    x_path, _ = image()
    r, _ = explain(path, x_path, "--layer", "avgpool", expect=3)
    assert "pool" in r.stderr, r.stderr
    r, _ = explain(path, x_path, "--layer", "classifier.1", expect=3)
    assert "axes" in r.stderr or "channel" in r.stderr, r.stderr


def test_records_of_gradient_methods_tell_the_layer_used():
    path = save(seeded(GapNet()), "gap_records", meta=meta(5))
    x_path, _ = image()
    _, rec, _ = explain(path, x_path, "--method", "gradcam++")
    assert rec["method"] == "gradcam++" and rec["feature_layer"] == "features", rec
    assert rec["feature_shape"] == [24, 8, 8] and rec["layout"] == "channels-first", rec
    _, rec, _ = explain(path, x_path, "--method", "scorecam", "--layer", "features.1")
    assert rec["feature_layer"] == "features.1" and rec["feature_shape"] == [16, 16, 16], rec


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(ct.main(globals()))
