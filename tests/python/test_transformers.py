#!/usr/bin/python3
"""Vision transformers: token layouts, default layer, gradient-weighted attention relevance.

    /usr/bin/python3 tests/python/test_transformers.py FIXTURES_DIR CAMKIT_BINARY

On small seeded torchvision VisionTransformers (32x32 inputs, 4x4 patch grid, traced and
scripted): camkit's raw maps against references computed here from the definitions
(camkit_torch_reference.py): Grad-CAM and its family at the default layer (the last block's
normalised tokens) and at other blocks, the tokens reshaped the standard way; attention
relevance (Chefer et al. 2021) against the probabilities of an explicit re-implementation of
the same network's attention; refusals where the method cannot run.
"""

import json
import os
import sys

import numpy as np
import torch
import torchvision.models as tvm

import camkit_testing as ct  # noqa: I001  (puts tools/ on the path)
import camkit_meta
import camkit_torch_reference as ref
import export_model as em

H = W = 32
GRID = (4, 4)


def vit(seed=3, k=5, layers=2):
    torch.manual_seed(seed)
    m = tvm.VisionTransformer(image_size=H, patch_size=8, num_layers=layers, num_heads=2,
                              hidden_dim=32, mlp_dim=64, num_classes=k)
    for p in m.parameters():  # torchvision zero-initialises the head; make every part matter
        with torch.no_grad():
            p.add_(torch.randn_like(p) * 0.2)
    return m.eval()


def export(model, name, method="trace"):
    path = os.path.join(ct.TMP, name + ".pt")
    meta = camkit_meta.build_meta("vit_small", 5, 3, H, W)
    em.export(model, path, meta, method=method)
    return path


def image(seed):
    x = np.random.default_rng(seed).standard_normal((3, H, W)).astype(np.float32)
    path = os.path.join(ct.TMP, f"x{seed}.npy")
    np.save(path, x)
    return path, torch.from_numpy(x)[None]


def explain(model_path, x_path, *flags):
    out = os.path.join(ct.TMP, "out", os.path.basename(model_path), str(abs(hash(flags))))
    ct.run("explain", model_path, x_path, "--raw", "-o", out, *flags)
    rec = json.load(open(os.path.join(out, os.path.basename(x_path)[:-4] + ".json")))
    maps = [np.load(os.path.join(out, e["raw"])).astype(np.float64) for e in rec["explanations"]]
    return rec, maps


def close(got, want, what, rtol=1e-4):
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs {want.shape}"
    err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-12)
    assert err <= rtol, f"{what}: max relative error {err:.3g}"


def test_the_written_out_attention_is_the_model():
    model = vit()
    _, x = image(1)
    with torch.no_grad():
        want = model(x)
        got, maps = ref.torchvision_vit_forward(model, x)
    assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()
    assert len(maps) == 2 and maps[0].shape == (1, 2, 17, 17)


def test_gradient_methods_at_token_layers_match_the_reference():
    model = vit()
    for method in ("trace", "script"):
        path = export(model, f"vit_{method}", method)
        j = json.loads(ct.run("info", path, "--json").stdout)
        assert j["layer"]["layer"] == "encoder.layers.encoder_layer_1.ln_1", j["layer"]
        assert j["layer"]["layout_shape"] == "(N, 1 + 4x4, C)", j["layer"]
        x_path, x = image(2)
        for layer in ("", "encoder.layers.encoder_layer_0", "encoder.layers.encoder_layer_1.ln_1",
                      "encoder.layers.encoder_layer_0.mlp"):
            flags = ("--layer", layer) if layer else ()
            rec, maps = explain(path, x_path, "-k", "2", "--method", "gradcam", *flags)
            module = model.get_submodule(layer or "encoder.layers.encoder_layer_1.ln_1")
            for e, got in zip(rec["explanations"], maps):
                a, g, _ = ref.hooked(model, x, module, e["class"])
                close(got, ref.gradcam_map(ref.cf(a, "tokens", 1, GRID),
                                           ref.cf(g, "tokens", 1, GRID)),
                      f"{method} {layer or 'default'} class {e['class']}")


def test_attention_relevance_matches_the_papers_rule():
    for seed, layers in ((3, 2), (5, 3)):
        model = vit(seed, layers=layers)
        path = export(model, f"vit_rel_{seed}")
        x_path, x = image(seed)
        rec, maps = explain(path, x_path, "--method", "attention-relevance", "-k", "3")
        assert rec["method"] == "attention-relevance" and len(maps) == 3, rec
        assert rec["feature_shape"] == [layers, 4, 4], rec
        for e, got in zip(rec["explanations"], maps):
            want, logits = ref.attention_relevance(
                lambda z: ref.torchvision_vit_forward(model, z), x, e["class"], 1, GRID)
            assert abs(e["logit"] - float(logits[0, e["class"]])) < 1e-4, e
            close(got, want.numpy(), f"relevance seed {seed} class {e['class']}")


def test_attention_relevance_is_refused_where_it_cannot_run():
    model = vit()
    x_path, _ = image(4)
    path = export(model, "vit_scripted_rel", "script")
    r = ct.run("explain", path, x_path, "--method", "attention-relevance", "-o",
               os.path.join(ct.TMP, "o1"), expect=3)
    assert "control flow" in r.stderr and "traced" in r.stderr, r.stderr
    cnn = em.build_model("resnet18", num_classes=4, seed=1)
    cpath = os.path.join(ct.TMP, "cnn.pt")
    em.export(cnn, cpath, camkit_meta.build_meta("resnet18", 4, 3, H, W))
    r = ct.run("explain", cpath, x_path, "--method", "attention-relevance", "-o",
               os.path.join(ct.TMP, "o2"), expect=3)
    assert "class token" in r.stderr, r.stderr


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(ct.main(globals()))
