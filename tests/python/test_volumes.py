#!/usr/bin/python3
"""`camkit explain --volume`: per-slice maps of exam models checked against PyTorch.

    /usr/bin/python3 tests/python/test_volumes.py FIXTURES_DIR CAMKIT_BINARY

Builds small seeded exam models with torch (MRNet form: squeeze, CNN per slice, global average
pooling, max or mean over slices, linear; the same fed as a batch; a per-slice classifier),
exports them with camkit metadata, writes .npy volumes and a DICOM series (DCMTK's img2dcm and
dcmodify), runs camkit and compares the raw per-slice maps (--raw: S x h x w .npy) and the
logits with maps computed here from forward hooks and autograd. Also checks the case folder
(slices/, cams/, record fields), resume, and errors (bad volume among good ones, Score-CAM).
Prints one line per test and 'N passed, N failed'; exits 1 if any test failed.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

import numpy as np
import torch
from PIL import Image
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import camkit_meta  # noqa: E402
import export_model  # noqa: E402

CAMKIT = None
TMP = None
H = W = 32


def backbone(cin):
    torch.manual_seed(3)
    return nn.Sequential(nn.Conv2d(cin, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 12, 3, 2, 1), nn.ReLU())


class Stacked(nn.Module):
    """MRNet: [1, S, C, H, W] -> one exam logit row."""

    def __init__(self, cin=1, k=1, reduce="max"):
        super().__init__()
        self.features = backbone(cin)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(12, k)
        self.reduce = reduce
        with torch.no_grad():  # non-trivial BN statistics
            self.features[1].running_mean.uniform_(-0.2, 0.2)
            self.features[1].running_var.uniform_(0.5, 2.0)

    def pooled(self, x):
        return torch.flatten(self.pool(self.features(x)), 1)

    def forward(self, x):
        x = torch.squeeze(x, dim=0)
        x = self.pooled(x)
        x = torch.max(x, 0, keepdim=True)[0] if self.reduce == "max" else torch.mean(x, 0, True)
        return self.fc(x)


class Batched(Stacked):
    """The same head fed the slices as the batch [S, C, H, W]; amax over the slices."""

    def forward(self, x):
        return self.fc(torch.amax(self.pooled(x), 0, keepdim=True))


class PerSlice(Stacked):
    """A plain image classifier: one row of logits per slice."""

    def forward(self, x):
        return self.fc(self.pooled(x))


def export(model, name, cin, k, volume, example):
    labels = ["negative", "positive"] if k == 1 else [f"c{i}" for i in range(k)]
    meta = camkit_meta.build_meta(name, k, cin, H, W, labels=labels, mean=[0.5] * cin,
                                  std=[0.25] * cin, size=(H, W), volume=volume)
    path = os.path.join(TMP, name + ".pt")
    export_model.export(model.eval(), path, meta, method="trace", example=example,
                        check_input=example + 0.5)
    return path


def reference(model, x, layout, classes, method):
    """(exam logits [K], {class: maps [S, h, w]}) for a normalised volume x [S, C, H, W]."""
    store = {}
    handle = model.features.register_forward_hook(lambda _m, _i, out: store.__setitem__("a", out))
    inp = x[None] if layout == "stacked" else x
    out = model(inp.requires_grad_(True))
    handle.remove()
    a = store["a"]  # [S, C, h, w]
    exam = out.max(0, keepdim=True)[0] if out.shape[0] == x.shape[0] and x.shape[0] > 1 else out
    maps = {}
    for c in classes:
        if method == "cam":
            maps[c] = torch.einsum("c,schw->shw", model.fc.weight[c].double(), a.double())
        else:  # gradcam of the exam logit (per-slice logits: each slice's own)
            target = out[:, c].sum() if out.shape[0] > 1 else out[0, c]
            (g,) = torch.autograd.grad(target, a, retain_graph=True)
            w = g.double().mean((2, 3))
            maps[c] = torch.einsum("sc,schw->shw", w, a.double())
    return exam[0].detach(), {c: m.detach().numpy() for c, m in maps.items()}


def run(*args, expect=0):
    r = subprocess.run([CAMKIT, *map(str, args)], capture_output=True, text=True)
    assert r.returncode == expect, (r.returncode, r.stdout, r.stderr)
    return r


def volume(seed, s, c=0):
    rng = np.random.default_rng(seed)
    shape = (s, H, W) if c == 0 else (s, c, H, W)
    return rng.uniform(0, 1, size=shape).astype(np.float32)


def check_against_torch(model, path, vol, layout, method, top_k=1, flags=()):
    npy = os.path.join(TMP, f"v_{os.path.basename(path)}_{method}.npy")
    np.save(npy, vol)
    out = os.path.join(TMP, f"out_{os.path.basename(path)}_{method}")
    run("explain", path, npy, "-o", out, "--raw", "-m", method, "-k", top_k, "--threads", 1,
        *flags)
    rec = json.load(open(os.path.join(out, os.path.basename(npy)[:-4] + ".json")))
    x = torch.from_numpy(vol if vol.ndim == 4 else vol[:, None])
    x = (x - 0.5) / 0.25
    classes = [e["class"] for e in rec["explanations"]]
    exam, maps = reference(model, x, layout, classes, method)
    for e in rec["explanations"]:
        assert abs(e["logit"] - float(exam[e["class"]])) < 1e-4 * max(1, abs(e["logit"])), \
            (e["logit"], exam)
        raw = np.load(os.path.join(out, e["raw"]))
        ref = maps[e["class"]]
        assert raw.shape == ref.shape, (raw.shape, ref.shape)
        err = np.abs(raw - ref).max() / max(1e-6, np.abs(ref).max())
        assert err < 1e-4, err
        peaks = raw.reshape(len(raw), -1).max(1)
        assert np.allclose(e["slice_peaks"], peaks, rtol=1e-6), (e["slice_peaks"], peaks)
        assert e["peak_slice"] == int(np.argmax(peaks))
        assert len(e["cams"]) == len(vol)
    assert rec["volume"]["slices"] == len(vol) and rec["volume"]["mode"] == layout
    return rec, out


def test_stacked_max_cam_and_gradcam_match_torch():
    model = Stacked()
    path = export(model, "stacked", 1, 1, "stacked", torch.randn(1, 5, 1, H, W))
    vol = volume(1, 7)
    rec, out = check_against_torch(model, path, vol, "stacked", "cam")
    assert rec["decision"] in ("negative", "positive")
    check_against_torch(model, path, vol, "stacked", "gradcam")
    info = json.loads(run("info", path, "--json").stdout)
    assert info["head"]["slice_reduce"] == "max", info["head"]


def test_stacked_mean_three_channels_top2():
    model = Stacked(cin=3, k=4, reduce="mean")
    path = export(model, "stacked_mean", 3, 4, "stacked", torch.randn(1, 4, 3, H, W))
    rec, _ = check_against_torch(model, path, volume(2, 5, c=3), "stacked", "cam", top_k=2)
    assert [e["class"] for e in rec["explanations"]] == [p["class"] for p in rec["predictions"]]
    assert len(rec["explanations"]) == 2
    assert rec["explanations"][1]["cams"][0].split("/")[1] == \
        f"cams.{rec['explanations'][1]['class']}"


def test_batch_layout_amax_and_per_slice_classifier():
    model = Batched(k=3)
    path = export(model, "batched", 1, 3, "batch", torch.randn(6, 1, H, W))
    check_against_torch(model, path, volume(3, 6), "batch", "cam")
    check_against_torch(model, path, volume(3, 6), "batch", "gradcam")
    per = PerSlice(k=3)
    path = export(per, "perslice", 1, 3, None, torch.randn(2, 1, H, W))
    rec, _ = check_against_torch(per, path, volume(4, 5), "batch", "cam",
                                 flags=("--slices-as-batch",))
    assert len(rec["volume"]["slice_scores"]) == 5


def test_case_folder_pictures_resume_and_errors():
    model = Stacked()
    path = export(model, "cases", 1, 1, "stacked", torch.randn(1, 5, 1, H, W))
    data = os.path.join(TMP, "exams", "sagittal")
    os.makedirs(data)
    np.save(os.path.join(data, "0001.npy"), volume(5, 6))
    np.save(os.path.join(data, "0002.npy"), volume(6, 9))
    with open(os.path.join(data, "0003.npy"), "wb") as f:  # truncated
        f.write(open(os.path.join(data, "0002.npy"), "rb").read()[:300])
    out = os.path.join(TMP, "cases_out")
    r = run("explain", path, os.path.join(TMP, "exams"), "-o", out, expect=1)
    errors = [ln for ln in r.stderr.splitlines() if "0003.npy" in ln]
    assert len(errors) == 1, r.stderr
    rec = json.load(open(os.path.join(out, "sagittal", "0002.json")))
    assert rec["volume"]["case"] == "0002" and rec["volume"]["plane"] == "sagittal"
    assert "true_label" not in rec  # plane folders are not classes
    names = rec["volume"]["slice_images"]
    assert names == [f"0002/slices/{i:03d}.png" for i in range(9)], names
    for n in names + rec["explanations"][0]["cams"]:
        im = Image.open(os.path.join(out, "sagittal", n))
        assert im.size == (W, H) and im.mode == "RGB", (n, im.size, im.mode)
    # One window for the whole volume: the brightest voxel is white on its slice only.
    vol = np.load(os.path.join(data, "0002.npy"))
    s_max = int(np.argmax(vol.reshape(9, -1).max(1)))
    for i in range(9):
        top = np.asarray(Image.open(os.path.join(out, "sagittal", names[i]))).max()
        assert (top == 255) == (i == s_max) or vol[i].max() >= vol.max() - 1 / 255, (i, top)
    index = [json.loads(ln) for ln in open(os.path.join(out, "index.jsonl"))]
    assert len(index) == 3 and sum("error" in e for e in index) == 1
    before = os.path.getmtime(os.path.join(out, "sagittal", "0002.json"))
    r = run("explain", path, os.path.join(TMP, "exams"), "-o", out, expect=1)
    assert "2 skipped" in r.stderr, r.stderr
    assert os.path.getmtime(os.path.join(out, "sagittal", "0002.json")) == before
    r = run("explain", path, os.path.join(data, "0001.npy"), "-o", out, "-m", "scorecam",
            expect=2)
    assert "not available for volumes" in r.stderr, r.stderr
    leftovers = [f for _, _, fs in os.walk(out) for f in fs if ".camkit-tmp." in f]
    assert not leftovers, leftovers


def test_dicom_series_folder_is_one_exam_sorted_by_position():
    if not shutil.which("img2dcm") or not shutil.which("dcmodify"):
        raise AssertionError("DCMTK tools img2dcm/dcmodify missing (tools/install_deps.sh)")
    model = Stacked()
    path = export(model, "dicom", 1, 1, "stacked", torch.randn(1, 5, 1, H, W))
    series = os.path.join(TMP, "patient7", "series1")
    os.makedirs(series)
    rng = np.random.default_rng(9)
    levels = [rng.integers(0, 256, size=(H, W)).astype(np.uint8) for _ in range(4)]
    z = [30.0, 10.0, 20.0, 0.0]  # file order is not slice order
    for i, (im, zi) in enumerate(zip(levels, z)):
        bmp = os.path.join(TMP, f"s{i}.bmp")
        Image.fromarray(im).save(bmp)
        dcm = os.path.join(series, f"im{i}.dcm")
        subprocess.run(["img2dcm", "-i", "BMP", bmp, dcm], check=True, capture_output=True)
        subprocess.run(["dcmodify", "-nb", "-i", f"(0020,0032)=0\\0\\{zi}",
                        "-i", "(0020,0037)=1\\0\\0\\0\\1\\0", "-i", "(0020,000e)=1.2.826.0.1.7",
                        "-i", f"(0020,0013)={i + 1}", dcm], check=True, capture_output=True)
    out = os.path.join(TMP, "dicom_out")
    run("explain", path, os.path.join(TMP, "patient7"), "-o", out, "--raw")
    rec = json.load(open(os.path.join(out, "series1.json")))
    assert rec["volume"]["slices"] == 4, rec["volume"]
    # Slices come in position order: z = 0, 10, 20, 30 -> files 3, 1, 2, 0. Compare the
    # pictures written (one window over the series: min..max of all four) with the levels.
    order = [3, 1, 2, 0]
    lo = min(int(v.min()) for v in levels)
    hi = max(int(v.max()) for v in levels)
    for k, i in enumerate(order):
        shown = np.asarray(Image.open(os.path.join(out, rec["volume"]["slice_images"][k])))[..., 0]
        want = np.round((levels[i].astype(np.float64) - lo) / (hi - lo) * 255)
        assert np.abs(shown.astype(np.float64) - want).max() <= 1, k


def test_extensionless_dicom_files_are_found_when_walking_images():
    per = PerSlice(k=3)
    path = export(per, "images2d", 1, 3, None, torch.randn(2, 1, H, W))
    flat = os.path.join(TMP, "scanner")
    os.makedirs(flat)
    bmp = os.path.join(TMP, "flat.bmp")
    Image.fromarray(np.random.default_rng(11).integers(0, 256, (H, W)).astype(np.uint8)).save(bmp)
    subprocess.run(["img2dcm", "-i", "BMP", bmp, os.path.join(flat, "IM0001")], check=True,
                   capture_output=True)
    with open(os.path.join(flat, "notes"), "w") as f:  # not DICOM, no extension: ignored
        f.write("x" * 200)
    out = os.path.join(TMP, "scanner_out")
    run("explain", path, flat, "-o", out)
    rec = json.load(open(os.path.join(out, "IM0001.json")))
    assert rec["image"] == {"width": W, "height": H, "channels": 1}, rec["image"]
    assert len(open(os.path.join(out, "index.jsonl")).readlines()) == 1  # "notes" not an input


def main():
    global CAMKIT, TMP
    CAMKIT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "build", "camkit")
    torch.set_num_threads(1)
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        TMP = tmp
        for name, fn in sorted(globals().items()):
            if not name.startswith("test_") or not callable(fn):
                continue
            try:
                fn()
                passed += 1
                print("ok   " + name, flush=True)
            except Exception:
                failed += 1
                print("FAIL " + name, flush=True)
                traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
