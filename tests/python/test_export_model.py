#!/usr/bin/python3
"""Tests of tools/export_model.py and tools/camkit_meta.py (and a sanity check of the models
fixture manifest).

    /usr/bin/python3 tests/python/test_export_model.py FIXTURES_DIR [CAMKIT_BINARY]

CAMKIT_BINARY checks the exported files (the tool's camkit check). Prints one line per test and
'N passed, N failed'; exits 1 if any test failed.
"""

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
import warnings

import numpy as np
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "tools", "export_model.py")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import camkit_meta  # noqa: E402
import export_model as em  # noqa: E402

SYNSET = os.path.join(ROOT, "models", "squeezenet1.1", "synset_words.txt")
FIXTURES = None
TMP = None


def run_main(*argv):
    """export_model.main in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = em.main([str(a) for a in argv])
        except SystemExit as e:  # argparse errors
            rc = e.code
    return rc, out.getvalue(), err.getvalue()


def tmp(name):
    return os.path.join(TMP, name)


def trained_resnet18(k, seed=123):
    """A resnet18 with random weights and non-trivial BN buffers, like a trained one."""
    model = em.build_model("resnet18", num_classes=k, seed=seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(0, 0.3)
            m.running_var.uniform_(0.5, 1.5)
            m.num_batches_tracked.fill_(1234)
    return model.eval()


def assert_same_state(script_module, model):
    ts = dict(script_module.state_dict())
    own = model.state_dict()
    assert set(ts) == set(own), f"key sets differ: {set(ts) ^ set(own)}"
    for k, v in own.items():
        assert torch.equal(ts[k], v), f"{k} differs after export"


def assert_ok(rc, out, err):
    assert rc == 0, f"exit {rc}\nstdout: {out}\nstderr: {err}"


# ---------------------------------------------------------------- tests


def test_help_shows_defaults():
    r = subprocess.run([sys.executable, TOOL, "--help"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for text in ("--weights", "--in-channels", "--num-classes", "(default: trace)",
                 "224,224", "--meta-only", "--preset"):
        assert text in r.stdout, f"--help lacks {text!r}"


def test_lightning_checkpoint_round_trips_exactly():
    model = trained_resnet18(3)
    ckpt = {"epoch": 7, "global_step": 700, "pytorch-lightning_version": "1.9.0",
            "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
            "hyper_parameters": {"lr": 0.01, "arch": "resnet18"}, "optimizer_states": [{}],
            "callbacks": {}}
    torch.save(ckpt, tmp("best.ckpt"))
    out = tmp("lightning.pt")
    rc, so, se = run_main("resnet18", out, "--weights", tmp("best.ckpt"), "--num-classes", 3,
                          "--input-size", "64,64", "--seed", 99)
    assert_ok(rc, so, se)
    assert "stripped prefix 'model.'" in se, se
    loaded = torch.jit.load(out)
    assert_same_state(loaded, model)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), rtol=0, atol=1e-6)


def test_lightning_checkpoint_with_extra_modules():
    """A LightningModule holding a loss with a buffer beside 'model.': extras are ignored."""
    model = trained_resnet18(2, seed=5)
    sd = {f"model.{k}": v for k, v in model.state_dict().items()}
    sd["criterion.pos_weight"] = torch.tensor([2.0])
    torch.save({"state_dict": sd}, tmp("extra.ckpt"))
    rc, so, se = run_main("resnet18", tmp("extra.pt"), "--weights", tmp("extra.ckpt"),
                          "--num-classes", 2, "--input-size", "64,64")
    assert_ok(rc, so, se)
    assert "criterion.pos_weight" in se, se
    assert_same_state(torch.jit.load(tmp("extra.pt")), model)


def test_module_prefix_and_model_state_dict():
    model = trained_resnet18(4, seed=7)
    sd = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"model_state_dict": sd, "epoch": 3}, tmp("dp.pth"))
    rc, so, se = run_main("resnet18", "--out", tmp("dp.pt"), "--weights", tmp("dp.pth"),
                          "--num-classes", 4, "--input-size", "64,64")
    assert_ok(rc, so, se)
    assert_same_state(torch.jit.load(tmp("dp.pt")), model)


def test_plain_state_dict():
    model = trained_resnet18(5, seed=8)
    torch.save(model.state_dict(), tmp("plain.pt"))
    rc, so, se = run_main("resnet18", tmp("plain_out.pt"), "--weights", tmp("plain.pt"),
                          "--num-classes", 5, "--input-size", "64,64", "--method", "script")
    assert_ok(rc, so, se)
    assert_same_state(torch.jit.load(tmp("plain_out.pt")), model)


def test_one_channel_single_logit():
    out = tmp("xray.pt")
    rc, so, se = run_main("resnet18", out, "--in-channels", 1, "--num-classes", 1,
                          "--size", "224,224", "--mean", "0.49", "--std", "0.248",
                          "--labels", write("xray_labels.txt", "pneumonia\n"))
    assert_ok(rc, so, se)
    m = torch.jit.load(out)
    params = dict(m.named_parameters())
    assert list(params["conv1.weight"].shape) == [64, 1, 7, 7], params["conv1.weight"].shape
    assert list(params["fc.weight"].shape) == [1, 512]
    with torch.no_grad():
        assert list(m(torch.randn(1, 1, 224, 224)).shape) == [1, 1]
    meta = camkit_meta.read_meta(out)
    assert meta["task"] == "binary" and meta["num_classes"] == 1, meta
    assert meta["input"] == {"channels": 1, "height": 224, "width": 224}, meta
    assert meta["preprocess"] == {"size": [224, 224]}, meta
    assert meta["mean"] == [0.49] and meta["std"] == [0.248], meta
    assert meta["labels"] == ["pneumonia"], meta


def test_in_channels_other_families():
    """The first conv is found for families whose stem is nested (features[0][0])."""
    for arch, path in (("mobilenet_v2", "features.0.0"), ("squeezenet1_1", "features.0"),
                       ("densenet121", "features.conv0"), ("googlenet", "conv1.conv"),
                       ("efficientnet_b0", "features.0.0"), ("vgg11", "features.0")):
        if arch == "vgg11":
            import torchvision  # the 100M-parameter MLP is irrelevant here; skip its init

            model = torchvision.models.vgg11(weights=None, init_weights=False)
            em.replace_first_conv(model, arch, 2)
        else:
            model = em.build_model(arch, num_classes=2, in_channels=2)
        conv = model.get_submodule(path)
        assert isinstance(conv, nn.Conv2d) and conv.in_channels == 2, (arch, conv)
    assert em.first_conv_path(nn.Sequential(nn.ReLU(), nn.Conv2d(3, 4, 3)), "custom") == "1"


def test_metadata_extra_file_readable():
    out = tmp("meta.pt")
    labels = write("labels3.txt", "cat\ndog\nbird\n")
    rc, so, se = run_main("resnet18", out, "--num-classes", 3, "--preset", "imagenet",
                          "--labels", labels)
    assert_ok(rc, so, se)
    extra = {"camkit.json": ""}
    torch.jit.load(out, _extra_files=extra)
    meta = json.loads(extra["camkit.json"])
    assert meta == {
        "camkit_meta_version": 1, "architecture": "resnet18", "labels": ["cat", "dog", "bird"],
        "num_classes": 3, "input": {"channels": 3, "height": 224, "width": 224},
        "preprocess": {"resize": 256, "crop": [224, 224]},
        "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "task": "multiclass",
    }, meta


def test_labels_synset_words_format():
    text = ("n01440764 tench, Tinca tinca\n"
            "n01443537 goldfish, Carassius auratus\n"
            "n01484850 great white shark, white shark\n")
    rc, so, se = run_main("resnet18", tmp("syn.pt"), "--num-classes", 3, "--input-size", 64,
                          "--labels", write("synset3.txt", text))
    assert_ok(rc, so, se)
    assert camkit_meta.read_meta(tmp("syn.pt"))["labels"] == [
        "tench, Tinca tinca", "goldfish, Carassius auratus", "great white shark, white shark"]
    labels = camkit_meta.parse_labels(SYNSET)
    assert len(labels) == 1000 and labels[0] == "tench, Tinca tinca", labels[:2]


def test_labels_parsing_rules():
    p = camkit_meta.parse_labels_text
    assert p("cat\n\n dog \n") == ["cat", "dog"]
    assert p("0 cat\n1 hot dog\n") == ["cat", "hot dog"]
    assert p("2 c\n1 b\n3 d\n") == ["b", "c", "d"]  # 1-based, reordered by index
    assert p("0: cat\n1: dog\n") == ["cat", "dog"]
    assert p("3d printer\nbook\n") == ["3d printer", "book"]  # not all lines indexed
    for bad in ("0 a\n2 b\n", "", "\n \n"):
        try:
            p(bad)
        except camkit_meta.MetaError:
            continue
        raise AssertionError(f"accepted {bad!r}")


def test_label_count_mismatch_is_exit_2():
    rc, so, se = run_main("resnet18", tmp("lc.pt"), "--num-classes", 3, "--input-size", 64,
                          "--labels", write("two.txt", "a\nb\n"))
    assert rc == 2, (rc, se)
    assert "2 labels" in se and "3 output" in se, se
    assert not os.path.exists(tmp("lc.pt"))


def test_checkpoint_shape_mismatch_is_exit_2_with_hint():
    torch.save({"state_dict": {f"model.{k}": v for k, v in
                               trained_resnet18(3).state_dict().items()}}, tmp("k3.ckpt"))
    rc, so, se = run_main("resnet18", tmp("bad.pt"), "--weights", tmp("k3.ckpt"),
                          "--input-size", 64)
    assert rc == 2, (rc, se)
    assert "shape mismatch fc.weight: checkpoint [3, 512] vs model [1000, 512]" in se, se
    assert "--num-classes 3" in se, se
    assert not os.path.exists(tmp("bad.pt"))


def test_checkpoint_missing_and_unexpected_keys_is_exit_2():
    sd = trained_resnet18(3).state_dict()
    del sd["layer4.1.bn2.weight"]
    sd["head.weight"] = torch.zeros(3, 512)
    torch.save(sd, tmp("broken.pth"))
    rc, so, se = run_main("resnet18", tmp("broken.pt"), "--weights", tmp("broken.pth"),
                          "--num-classes", 3, "--input-size", 64)
    assert rc == 2, (rc, se)
    assert "missing keys (1): layer4.1.bn2.weight" in se, se
    assert "unexpected keys (1): head.weight" in se, se


def test_unreadable_checkpoints_are_exit_2():
    with open(tmp("garbage.ckpt"), "wb") as f:
        f.write(b"this is not a checkpoint")
    torch.save({"epoch": 1, "lr": 0.1}, tmp("nostate.ckpt"))
    for path, text in ((tmp("garbage.ckpt"), "cannot read checkpoint"),
                       (tmp("nostate.ckpt"), "holds no state dict"),
                       (tmp("absent.ckpt"), "does not exist")):
        rc, so, se = run_main("resnet18", tmp("x.pt"), "--weights", path, "--input-size", 64)
        assert rc == 2, (path, rc, se)
        assert text in se and se.startswith("export_model.py: error:"), (path, se)


def test_bad_options_are_exit_2():
    cases = [
        (("resnet18", tmp("o.pt"), "--preset", "imagenet", "--in-channels", 1),
         "mean has 3 values but the model takes 1 channel"),
        (("not_a_model", tmp("o.pt")), "unknown architecture"),
        (("resnet18", tmp("o.pt"), "--size", "64,64", "--crop", 64), "not both"),
        (("resnet18", tmp("o.pt"), "--input-size", 64, "--crop", 56, "--resize", 64),
         "56x56 images but input is 64x64"),
        (("resnet18",), "output path is required"),
    ]
    for argv, text in cases:
        rc, so, se = run_main(*argv)
        assert rc == 2, (argv, rc, se)
        assert text in se, (argv, se)


def test_trace_and_script_both_load():
    outs = {}
    for method in ("trace", "script"):
        outs[method] = tmp(f"r18_{method}.pt")
        rc, so, se = run_main("resnet18", outs[method], "--method", method, "--num-classes", 7,
                              "--input-size", "64,96", "--seed", 3)
        assert_ok(rc, so, se)
        assert "max relative error" in se, se
    x = torch.randn(1, 3, 64, 96)
    traced, scripted = (torch.jit.load(outs[m]) for m in ("trace", "script"))
    with torch.no_grad():
        a, b = traced(x), scripted(x)
    assert list(a.shape) == [1, 7] and torch.allclose(a, b, rtol=0, atol=1e-6)
    assert isinstance(scripted, torch.jit.ScriptModule)
    assert camkit_meta.read_meta(outs["trace"])["input"] == {"channels": 3, "height": 64,
                                                             "width": 96}


def test_scripted_googlenet_tuple_output():
    """Scripted GoogLeNet returns GoogLeNetOutputs(logits, None, None); export copes."""
    out = tmp("gn.pt")
    rc, so, se = run_main("googlenet", out, "--method", "script", "--num-classes", 4,
                          "--input-size", 64)
    assert_ok(rc, so, se)
    with torch.no_grad():
        y = torch.jit.load(out)(torch.randn(1, 3, 64, 64))
    assert isinstance(y, tuple) and list(y[0].shape) == [1, 4], type(y)


def test_meta_only_rewrites_metadata():
    out = tmp("nometa.pt")
    rc, so, se = run_main("resnet18", out, "--num-classes", 2, "--input-size", 64, "--no-meta")
    assert_ok(rc, so, se)
    assert camkit_meta.read_meta(out) is None
    with torch.no_grad():
        before = torch.jit.load(out)(torch.ones(1, 3, 64, 64))
    rc, so, se = run_main("--meta-only", out, "--architecture", "resnet18", "--size", 64,
                          "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25",
                          "--labels", write("l2.txt", "no\nyes\n"))
    assert_ok(rc, so, se)
    meta = camkit_meta.read_meta(out)
    assert meta["num_classes"] == 2 and meta["labels"] == ["no", "yes"], meta
    assert meta["preprocess"] == {"size": [64, 64]} and meta["input"]["channels"] == 3, meta
    rc, so, se = run_main("--meta-only", out, "--labels", write("l2b.txt", "neg\npos\n"))
    assert_ok(rc, so, se)
    meta2 = camkit_meta.read_meta(out)
    assert meta2["labels"] == ["neg", "pos"] and meta2["mean"] == [0.5] * 3, meta2
    with torch.no_grad():
        after = torch.jit.load(out)(torch.ones(1, 3, 64, 64))
    assert torch.equal(before, after)


def test_verification_failure_raises_and_removes_file():
    class SignDependent(nn.Module):
        def forward(self, x):
            return x * 2 if x.sum() > 0 else x * 3  # tracing keeps only one branch

    out = tmp("sign.pt")
    try:
        em.export(SignDependent(), out, None, "trace", example=torch.ones(1, 3, 4, 4),
                  check_input=-torch.ones(1, 3, 4, 4))
    except em.ExportError as e:
        assert "max relative error" in str(e), e
    else:
        raise AssertionError("a wrong trace was accepted")
    assert not os.path.exists(out)


def small_vit(k=5):
    import torchvision.models as tvm

    torch.manual_seed(4)
    model = tvm.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                                  hidden_dim=32, mlp_dim=64, num_classes=k)
    nn.init.normal_(model.heads.head.weight, std=0.5)  # torchvision zero-initialises the head
    return model.eval()


def test_vision_transformer_is_traced_with_autograd_and_camkit_accepts_it():
    meta = camkit_meta.build_meta("vit_small", 5, 3, 32, 32)
    out = tmp("vit.pt")
    with torch.no_grad():  # even a caller without autograd gets a differentiable graph
        em.export(small_vit(), out, meta, camkit=os.environ["CAMKIT"])
    info = em.camkit_check(os.environ["CAMKIT"], out)
    assert info["layer"]["layout"] == "tokens", info["layer"]
    assert info["layer"]["layer"] == "encoder.layers.encoder_layer_1.ln_1", info["layer"]
    # The file a trace under torch.no_grad() makes: camkit refuses it, naming the kernel.
    with torch.no_grad():
        traced = torch.jit.trace(small_vit(), torch.randn(1, 3, 32, 32), check_trace=False)
    bad = tmp("vit_no_grad.pt")
    torch.jit.save(traced, bad, _extra_files={camkit_meta.EXTRA_FILE: camkit_meta.dumps(meta)})
    try:
        em.camkit_check(os.environ["CAMKIT"], bad)
    except em.ExportError as e:
        assert "derivative" in str(e) and "_native_multi_head_attention" in str(e), e
    else:
        raise AssertionError("camkit accepted a graph without gradients")


def test_googlenet_keeps_transform_input_and_auxiliary_weights():
    import torchvision.models as tvm

    for aux in (True, False):
        torch.manual_seed(8)
        # A model fine-tuned from torchvision's ImageNet weights: transform_input on.
        user = tvm.googlenet(weights=None, num_classes=3, transform_input=True,
                             aux_logits=aux, init_weights=True).eval()
        torch.save(user.state_dict(), tmp(f"gn_{aux}.pth"))
        out = tmp(f"gn_{aux}.pt")
        rc, so, se = run_main("googlenet", out, "--weights", tmp(f"gn_{aux}.pth"),
                              "--num-classes", 3, "--input-size", 112)
        assert_ok(rc, so, se)
        assert "transform_input on" in se, se
        x = torch.randn(2, 3, 112, 112)
        with torch.no_grad():
            want, got = user(x), torch.jit.load(out)(x)
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-5), (got - want).abs().max()
    rc, so, se = run_main("googlenet", tmp("gn_off.pt"), "--weights", tmp("gn_True.pth"),
                          "--num-classes", 3, "--input-size", 112, "--transform-input", "off")
    assert_ok(rc, so, se)
    with torch.no_grad():
        assert not torch.allclose(torch.jit.load(tmp("gn_off.pt"))(x), user(x), atol=1e-3)


def test_video_models_export_with_their_depth():
    rc, so, se = run_main("r3d_18", tmp("r3d.pt"), "--num-classes", 2, "--frames", 8,
                          "--input-size", 32)
    assert_ok(rc, so, se)
    assert "input 1x3x8x32x32" in so, so
    meta = camkit_meta.read_meta(tmp("r3d.pt"))
    assert meta["input"]["depth"] == 8 and meta["input"]["height"] == 32, meta["input"]
    x = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        assert torch.jit.load(tmp("r3d.pt"))(x).shape == (1, 2)


def test_architectures_camkit_cannot_explain_are_refused_with_the_reason():
    rc, so, se = run_main("resnet18", tmp("nocamkit.pt"), "--camkit", "/nonexistent/camkit")
    assert rc == 2 and "camkit not found" in se, (rc, se)


def test_task_and_output_are_recorded_and_camkit_follows_them():
    class DictHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU())
            self.fc = nn.Linear(8, 4)

        def forward(self, x):
            f = self.features(x).mean((2, 3))
            return {"embedding": f, "scores": self.fc(f)}

    meta = camkit_meta.build_meta("dict_head", 4, 3, 32, 32, task="multilabel", output="scores")
    out = tmp("dict_head.pt")
    em.export(DictHead(), out, meta, camkit=os.environ["CAMKIT"])
    back = camkit_meta.read_meta(out)
    assert back["task"] == "multilabel" and back["output"] == "scores", back
    info = em.camkit_check(os.environ["CAMKIT"], out)
    assert info["output"]["chosen"] == "scores" and info["task"] == "multilabel", info
    try:
        camkit_meta.build_meta("x", 4, 3, 32, 32, task="binary")
    except camkit_meta.MetaError as e:
        assert "num_classes == 1" in str(e), e
    else:
        raise AssertionError("a binary task with 4 logits was accepted")


def test_fixture_manifest_consistent():
    d = os.path.join(FIXTURES, "models")
    with open(os.path.join(d, "manifest.json")) as f:
        manifest = json.load(f)
    names = {m["name"] for m in manifest["models"]}
    for needed in ("resnet18_traced", "resnet18_scripted", "densenet121_scripted",
                   "squeezenet1_1_traced", "googlenet_scripted", "resnet18_xray_1ch_traced",
                   "vgg11_traced", "mobilenet_v3_small_traced", "custom_no_pool_traced"):
        assert needed in names, needed
    for m in manifest["models"]:
        for f in m["files"].values():
            assert os.path.isfile(os.path.join(d, f)), f
        if m["kind"] != "positive":
            assert m["reason"] and m["head"] == "none", m["name"]
            continue
        assert isinstance(m["classifier"], str) and isinstance(m["feature_layer"], str)
        assert m["head"] == ("conv1x1" if m["identity"] == "mean_relu" else "linear"), m["name"]
        load = lambda key: np.load(os.path.join(d, m["files"][key]))  # noqa: E731
        a, w, b, cams, logits = (load(k) for k in ("features", "weight", "bias", "cams",
                                                   "logits"))
        k, c = w.shape
        assert list(a.shape) == m["feature_shape"] and a.shape[0] == c, m["name"]
        assert cams.shape == (k,) + a.shape[1:] and logits.shape == (k,), m["name"]
        assert np.allclose(cams, np.einsum("kc,chw->khw", w, a), atol=1e-5), m["name"]
        recon = (np.maximum(cams + b[:, None, None], 0).mean((1, 2)) if
                 m["identity"] == "mean_relu" else cams.mean((1, 2)) + b)
        assert np.abs(recon - logits).max() <= 1e-4 * max(np.abs(logits).max(), 1e-6), m["name"]
    meta = camkit_meta.read_meta(os.path.join(d, "resnet18_traced.meta.pt"))
    assert len(meta["labels"]) == 1000 and meta["preprocess"]["resize"] == 256, meta["input"]
    xray = camkit_meta.read_meta(os.path.join(d, "resnet18_xray_1ch_traced.pt"))
    assert xray["task"] == "binary" and xray["mean"] == [0.49], xray


# ---------------------------------------------------------------- runner


def write(name, text):
    path = tmp(name)
    with open(path, "w") as f:
        f.write(text)
    return path


def main(argv):
    global FIXTURES, TMP
    if len(argv) < 1:
        print(__doc__.strip().splitlines()[3].strip(), file=sys.stderr)
        return 2
    FIXTURES = argv[0]
    os.environ["CAMKIT"] = os.path.abspath(argv[1] if len(argv) > 1 else
                                           os.path.join(ROOT, "build", "camkit"))
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    warnings.filterwarnings("ignore", message="Scripted GoogleNet")
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f)]
    passed = failed = 0
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="camkit_export_test_") as TMP:
        for name, fn in tests:
            t0 = time.time()
            torch.manual_seed(0)
            try:
                fn()
            except Exception:  # noqa: BLE001  report every failure, keep going
                failed += 1
                print(f"FAIL {name} ({time.time() - t0:.1f}s)\n{traceback.format_exc()}")
            else:
                passed += 1
                print(f"ok   {name} ({time.time() - t0:.1f}s)")
    print(f"{passed} passed, {failed} failed ({time.time() - started:.1f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
