#!/usr/bin/python3
"""The classifiers people train today, at their real size, against PyTorch.

    /usr/bin/python3 tests/python/test_architectures.py FIXTURES_DIR CAMKIT_BINARY

Seeded random torchvision vit_b_16 (traced and scripted), swin_t, convnext_tiny,
efficientnet_v2_s, regnet_y_400mf, a 14-label densenet121 (multi-label, sigmoid) and a
regression resnet18, exported with tools/export_model.py's export() (which asks camkit to check
each file). For each: the layer camkit chooses and its layout, its raw maps (Grad-CAM, and CAM
where the model has a CAM head) within 1e-4 relative of forward hooks and autograd on the eager
model with the standard reshape of tokens and channels-last maps, the scores under the model's
task, and the refusals that must happen. The README's architecture table lists what this tests.
"""

import json
import os
import sys

import numpy as np
import torch
from torch import nn

import camkit_testing as ct  # noqa: I001  (puts tools/ on the path)
import camkit_meta
import camkit_torch_reference as ref
import export_model as em

CASES = {}  # name -> (eager model, exported path, size)


def seeded(arch, k, seed, **kwargs):
    model = em.build_model(arch, num_classes=k, seed=seed, **kwargs)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (nn.BatchNorm2d, nn.BatchNorm1d)):  # BN is not the identity
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
            if isinstance(mod, nn.Linear) and mod.weight.abs().max() == 0:
                nn.init.normal_(mod.weight, std=0.05)  # heads torchvision zero-initialises
    return model.eval()


def case(name, arch, k, size, task=None, method="trace", labels=None):
    if name in CASES:
        return CASES[name]
    model = seeded(arch, k, seed=len(CASES) + 1)
    path = os.path.join(ct.TMP, name + ".pt")
    meta = camkit_meta.build_meta(arch, k, 3, size, size, task=task, labels=labels)
    em.export(model, path, meta, method=method, camkit=ct.CAMKIT)
    CASES[name] = (model, path, size)
    return CASES[name]


def image(size, seed=7):
    x = np.random.default_rng(seed).standard_normal((3, size, size)).astype(np.float32)
    path = os.path.join(ct.TMP, f"x{size}_{seed}.npy")
    np.save(path, x)
    return path, torch.from_numpy(x)[None]


def info(path, *flags):
    return json.loads(ct.run("info", path, "--json", *flags).stdout)


def explain(path, x_path, *flags):
    out = os.path.join(ct.TMP, "out", os.path.basename(path), str(abs(hash(flags))))
    ct.run("explain", path, x_path, "--raw", "-o", out, *flags)
    rec = json.load(open(os.path.join(out, os.path.basename(x_path)[:-4] + ".json")))
    return rec, [np.load(os.path.join(out, e["raw"])).astype(np.float64)
                 for e in rec["explanations"]]


def close(got, want, what, rtol=1e-4):
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs {want.shape}"
    err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-12)
    assert err <= rtol, f"{what}: max relative error {err:.3g}"


def check_gradcam(model, path, x_path, x, module, layout, prefix=0, grid=None, flags=(),
                  what=""):
    rec, maps = explain(path, x_path, "--method", "gradcam", "-k", "2", *flags)
    for e, got in zip(rec["explanations"], maps):
        a, g, _ = ref.hooked(model, x, model.get_submodule(module), e["class"])
        close(got, ref.gradcam_map(ref.cf(a, layout, prefix, grid), ref.cf(g, layout, prefix, grid)),
              f"{what} Grad-CAM at {module}, class {e['class']}")
    return rec


def check_scores(model, rec, x, transform):
    with torch.no_grad():
        want = transform(model(x))[0].numpy()
    for p in rec["predictions"]:
        assert abs(p["score"] - want[p["class"]]) <= 1e-4 * max(1, abs(want[p["class"]])), (p, want)


def test_vit_b_16_traced_and_scripted():
    x_path, x = image(224)
    for method in ("trace", "script"):
        model, path, _ = case(f"vit_b_16_{method}", "vit_b_16", 10, 224, method=method)
        j = info(path)
        assert not j["head"]["found"], j["head"]
        assert j["layer"]["layer"] == "encoder.layers.encoder_layer_11.ln_1", j["layer"]
        assert j["layer"]["layout"] == "tokens" and j["layer"]["shape"] == [768, 14, 14], j["layer"]
        rec = check_gradcam(model, path, x_path, x, "encoder.layers.encoder_layer_11.ln_1",
                            "tokens", 1, (14, 14), what=method)
        check_scores(model, rec, x, lambda y: torch.softmax(y, 1))
        check_gradcam(model, path, x_path, x, "encoder.layers.encoder_layer_9", "tokens", 1,
                      (14, 14), ("--layer", "encoder.layers.encoder_layer_9"), method)
    # Attention relevance on the traced model, against the written-out attention.
    model, path, _ = CASES["vit_b_16_trace"]
    rec, maps = explain(path, x_path, "--method", "attention-relevance")
    want, _ = ref.attention_relevance(lambda z: ref.torchvision_vit_forward(model, z), x,
                                      rec["explanations"][0]["class"], 1, (14, 14))
    close(maps[0], want.numpy(), "vit_b_16 attention relevance")


def test_swin_t_cam_head_and_channels_last_stages():
    model, path, size = case("swin_t", "swin_t", 10, 224)
    x_path, x = image(size)
    j = info(path)
    assert j["head"]["found"] and j["layer"]["layer"] == "permute", (j["head"], j["layer"])
    rec, maps = explain(path, x_path, "-k", "2")
    assert rec["method"] == "cam"
    for e, got in zip(rec["explanations"], maps):
        a, _, _ = ref.hooked(model, x, model.permute, e["class"])
        close(got, ref.cam_map(a, model.head.weight.detach(), e["class"]), "swin_t CAM")
    check_scores(model, rec, x, lambda y: torch.softmax(y, 1))
    for layer in ("norm", "features", "features.5"):
        rec = check_gradcam(model, path, x_path, x, layer, "channels-last", flags=("--layer", layer),
                            what="swin_t")
        assert rec["layout"] == "channels-last", rec


def test_convnext_tiny_refuses_cam_naming_the_layernorm():
    model, path, size = case("convnext_tiny", "convnext_tiny", 10, 128)
    x_path, x = image(size)
    j = info(path)
    assert "LayerNorm" in j["head"]["reason"] and "classifier.0" in j["head"]["reason"], j["head"]
    assert j["layer"]["layer"] == "features" and j["layer"]["shape"] == [768, 4, 4], j["layer"]
    check_gradcam(model, path, x_path, x, "features", "channels-first", what="convnext_tiny")
    # Inside a block the map is channels-last (after the block's permute).
    check_gradcam(model, path, x_path, x, "features.7.2.block.3", "channels-last",
                  flags=("--layer", "features.7.2.block.3"), what="convnext_tiny")
    r = ct.run("explain", path, x_path, "--method", "cam", "-o", os.path.join(ct.TMP, "cx"),
               expect=3)
    assert "LayerNorm" in r.stderr, r.stderr


def test_efficientnet_v2_s_and_regnet_y_400mf_cam():
    for name, arch in (("efficientnet_v2_s", "efficientnet_v2_s"), ("regnet", "regnet_y_400mf")):
        model, path, size = case(name, arch, 10, 128)
        x_path, x = image(size)
        j = info(path)
        assert j["head"]["found"] and j["layer"]["layout"] == "channels-first", (name, j["head"])
        rec, maps = explain(path, x_path, "-k", "2")
        fc = model.classifier[-1] if hasattr(model, "classifier") else model.fc
        module = j["head"]["feature_layer"]
        for e, got in zip(rec["explanations"], maps):
            a, _, _ = ref.hooked(model, x, model.get_submodule(module), e["class"])
            close(got, ref.cam_map(a, fc.weight.detach(), e["class"]), f"{name} CAM")
        check_gradcam(model, path, x_path, x, module, "channels-first", what=name)


def test_multilabel_densenet121_scores_every_finding_with_a_sigmoid():
    labels = [f"finding{i}" for i in range(14)]
    model, path, size = case("densenet121_14", "densenet121", 14, 128, task="multilabel",
                             labels=labels)
    x_path, x = image(size)
    j = info(path)
    assert j["task"] == "multilabel" and j["head"]["found"], j
    rec, maps = explain(path, x_path, "-k", "3")
    check_scores(model, rec, x, torch.sigmoid)
    with torch.no_grad():
        p = torch.sigmoid(model(x))[0]
    assert rec["positives"] == [int(i) for i in torch.argsort(-p) if p[i] >= 0.5], rec
    rec, maps = explain(path, x_path, "--positive", "--positive-threshold", "0.45")
    assert [e["class"] for e in rec["explanations"]] == [
        int(i) for i in torch.argsort(-p) if p[i] >= 0.45], rec["explanations"]


def test_regression_resnet_explains_the_output_value():
    model, path, size = case("resnet18_regression", "resnet18", 1, 128, task="regression")
    x_path, x = image(size)
    rec, maps = explain(path, x_path)
    with torch.no_grad():
        value = float(model(x)[0, 0])
    assert rec["task"] == "regression" and "decision" not in rec, rec
    assert abs(rec["predictions"][0]["score"] - value) < 1e-4 * max(1, abs(value)), rec
    assert rec["predictions"][0]["logit"] == rec["predictions"][0]["score"], rec
    a, _, _ = ref.hooked(model, x, model.layer4, 0)
    close(maps[0], ref.cam_map(a, model.fc.weight.detach(), 0), "regression CAM")


if __name__ == "__main__":
    torch.set_num_threads(2)
    sys.exit(ct.main(globals()))
