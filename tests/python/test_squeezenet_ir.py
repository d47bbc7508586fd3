#!/usr/bin/python3
"""Checks of models/squeezenet1_1.pt, the SqueezeNet 1.1 converted from the OpenVINO IR in
models/squeezenet1.1/ by tools/convert_squeezenet_ir.py.

    /usr/bin/python3 tests/python/test_squeezenet_ir.py FIXTURES_DIR [CAMKIT_BINARY]

Run from the repository root. FIXTURES_DIR is accepted for CTest's uniform command line and not
used; CAMKIT_BINARY, when given and executable, is run on a real photo. Prints one line per test
and 'N passed, N failed'; exits 1 if any test failed. Tests that need Debian's darknet photos
(/usr/share/darknet/data) are skipped, not failed, without them.

The reference forward pass below interprets the IR's XML graph with NumPy alone (float64): it
shares no code with the converter, so it checks the layer mapping, the concat order, the
max-pool rounding and the input-convention fold all at once.
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
import xml.etree.ElementTree as ET

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IR_DIR = os.path.join(ROOT, "models", "squeezenet1.1")
IR_XML = os.path.join(IR_DIR, "squeezenet1.1.xml")
IR_BIN = os.path.join(IR_DIR, "squeezenet1.1.bin")
MODEL = os.path.join(ROOT, "models", "squeezenet1_1.pt")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import camkit_meta  # noqa: E402
import convert_squeezenet_ir  # noqa: E402  (only for the reproducibility check)

PHOTOS = "/usr/share/darknet/data"
PHOTO_NAMES = ("dog", "eagle", "giraffe", "horses", "person", "kite")
DOG_CLASSES = range(151, 269)  # ImageNet 151 (Chihuahua) .. 268 (Mexican hairless)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (104.0, 117.0, 123.0)  # the IR's input: BGR 0..255 minus this
MAX_BYTES = 6 * 1024 * 1024
TMP = None
CAMKIT = None


class Skip(Exception):
    pass


# ---------------------------------------------------------------- NumPy IR interpreter

def _ints(text):
    return tuple(int(v) for v in text.split(",")) if text.strip() else ()


class IRNet:
    """An OpenVINO IR evaluated op by op with NumPy (float64), for the ops SqueezeNet uses."""

    DTYPES = {"f16": "<f2", "f32": "<f4", "i64": "<i8", "i32": "<i4"}

    def __init__(self, xml_path, bin_path):
        root = ET.parse(xml_path).getroot()
        self.blob = np.fromfile(bin_path, dtype=np.uint8)
        self.layers = {int(el.get("id")): el for el in root.find("layers")}
        self.edges = {}
        for e in root.find("edges"):
            self.edges[(int(e.get("to-layer")), int(e.get("to-port")))] = (
                int(e.get("from-layer")), int(e.get("from-port")))
        self.by_name = {el.get("name"): lid for lid, el in self.layers.items()}

    def _data(self, lid):
        el = self.layers[lid].find("data")
        return dict(el.attrib) if el is not None else {}

    def _inputs(self, lid, values):
        el = self.layers[lid].find("input")
        ports = sorted(int(p.get("id")) for p in el) if el is not None else []
        return [self._value(self.edges[(lid, p)], values) for p in ports]

    def _value(self, src, values):
        lid, port = src
        if (lid, port) not in values:
            out = self.layers[lid].find("output")
            first = min(int(p.get("id")) for p in out)
            if port != first:
                raise NotImplementedError(f"{self.layers[lid].get('name')}: output {port}")
            values[(lid, port)] = self._eval(lid, self._inputs(lid, values))
        return values[(lid, port)]

    def _eval(self, lid, args):
        kind = self.layers[lid].get("type")
        d = self._data(lid)
        if kind == "Parameter":
            return self.input
        if kind == "Const":
            dtype = np.dtype(self.DTYPES[d["element_type"]])
            off, size = int(d["offset"]), int(d["size"])
            return self.blob[off:off + size].view(dtype).reshape(_ints(d["shape"])).copy()
        if kind == "Convert":
            return args[0].astype(np.float64 if d["destination_type"].startswith("f")
                                  else np.int64)
        if kind == "Convolution":
            return conv2d(args[0], args[1], _ints(d["strides"]), _ints(d["pads_begin"]),
                          _ints(d["pads_end"]), _ints(d["dilations"]))
        if kind == "Add":
            return args[0] + args[1]
        if kind == "ReLU":
            return np.maximum(args[0], 0.0)
        if kind == "MaxPool":
            return maxpool2d(args[0], _ints(d["kernel"]), _ints(d["strides"]),
                             _ints(d["pads_begin"]), _ints(d["pads_end"]),
                             d.get("rounding_type", "floor"))
        if kind == "Concat":
            return np.concatenate(args, axis=int(d["axis"]))
        if kind == "ReduceMean":
            axes = tuple(int(a) for a in np.asarray(args[1]).reshape(-1))
            return args[0].mean(axis=axes, keepdims=d.get("keep_dims") == "true")
        if kind == "SoftMax":
            axis = int(d["axis"])
            e = np.exp(args[0] - args[0].max(axis=axis, keepdims=True))
            return e / e.sum(axis=axis, keepdims=True)
        if kind == "Result":
            return args[0]
        raise NotImplementedError(f"op {kind}")

    def forward(self, x, names):
        """Outputs of the named layers for input x (the IR's own convention)."""
        self.input = np.asarray(x, np.float64)
        values = {}
        return [self._value((self.by_name[n], self._first_out(n)), values) for n in names]

    def _first_out(self, name):
        out = self.layers[self.by_name[name]].find("output")
        return min(int(p.get("id")) for p in out)


def conv2d(x, w, strides, pads_begin, pads_end, dilations):
    """Cross-correlation like Caffe/OpenVINO/PyTorch, by im2col + one matrix product."""
    n, c, _, _ = x.shape
    o, ci, kh, kw = w.shape
    assert ci == c and n == 1, (x.shape, w.shape)
    xp = np.pad(x[0], ((0, 0), (pads_begin[0], pads_end[0]), (pads_begin[1], pads_end[1])))
    eh, ew = (kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1
    win = np.lib.stride_tricks.sliding_window_view(xp, (eh, ew), axis=(1, 2))
    win = win[:, ::strides[0], ::strides[1], ::dilations[0], ::dilations[1]]
    ho, wo = win.shape[1], win.shape[2]
    cols = win.transpose(0, 3, 4, 1, 2).reshape(c * kh * kw, ho * wo)
    return (w.reshape(o, -1).astype(np.float64) @ cols).reshape(1, o, ho, wo)


def maxpool2d(x, kernel, strides, pads_begin, pads_end, rounding):
    """Max pool; rounding 'ceil' lets the last window run past the end (missing = -inf)."""
    _, c, h, w = x.shape
    out = []
    for size, k, s, pb, pe in ((h, kernel[0], strides[0], pads_begin[0], pads_end[0]),
                               (w, kernel[1], strides[1], pads_begin[1], pads_end[1])):
        span = size + pb + pe - k
        n = (-(-span // s) if rounding == "ceil" else span // s) + 1
        assert (n - 1) * s < size + pb, "a window starting in the padding"
        out.append(n)
    ho, wo = out
    need_h, need_w = (ho - 1) * strides[0] + kernel[0], (wo - 1) * strides[1] + kernel[1]
    xp = np.full((c, need_h, need_w), -np.inf)
    hh = min(h, need_h - pads_begin[0])
    ww = min(w, need_w - pads_begin[1])
    xp[:, pads_begin[0]:pads_begin[0] + hh, pads_begin[1]:pads_begin[1] + ww] = x[0, :, :hh, :ww]
    win = np.lib.stride_tricks.sliding_window_view(xp, tuple(kernel), axis=(1, 2))
    return win[:, ::strides[0], ::strides[1]].max(axis=(3, 4))[None]


# ---------------------------------------------------------------- helpers

def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def torchvision_input(rgb_u8):
    """HxWx3 uint8 RGB -> 1x3xHxW ToTensor + Normalize(ImageNet)."""
    x = rgb_u8.astype(np.float32) / 255.0
    x = (x - np.float32(IMAGENET_MEAN)) / np.float32(IMAGENET_STD)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]


def ir_input(rgb_u8):
    """HxWx3 uint8 RGB -> 1x3xHxW BGR 0..255 minus Caffe's mean (the IR's convention)."""
    bgr = rgb_u8[:, :, ::-1].astype(np.float64) - np.asarray(CAFFE_MEAN_BGR)
    return bgr.transpose(2, 0, 1)[None]


_LOADED = {}


def load_model(path=MODEL):
    """The TorchScript module at path (loaded once per run)."""
    if path not in _LOADED:
        _LOADED[path] = torch.jit.load(path, map_location="cpu").eval()
    return _LOADED[path]


def committed_meta():
    if "meta" not in _LOADED:
        _LOADED["meta"] = camkit_meta.read_meta(MODEL)
    return _LOADED["meta"]


def photo_input(path):
    from PIL import Image
    import torchvision.transforms as T

    tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                    T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    with Image.open(path) as im:
        return tf(im.convert("RGB"))[None]


def top5(model, labels, path):
    with torch.no_grad():
        p = torch.softmax(model(photo_input(path)), 1)[0]
    v, i = p.topk(5)
    return [(int(j), labels[int(j)], float(q)) for q, j in zip(v, i)]


# ---------------------------------------------------------------- tests

def test_numpy_ir_matches_torchscript():
    """(1) NumPy interpretation of the IR on BGR-raw input == the .pt on torchvision input."""
    rng = np.random.default_rng(20240601)
    rgb = rng.integers(0, 256, size=(227, 227, 3), dtype=np.uint8)
    net = IRNet(IR_XML, IR_BIN)
    logits_ir, prob_ir = net.forward(ir_input(rgb), ["pool10/reduce", "prob"])
    logits_ir, prob_ir = logits_ir.reshape(-1), prob_ir.reshape(-1)
    with torch.no_grad():
        logits_ts = load_model()(torchvision_input(rgb))[0].double().numpy()
    prob_ts = softmax(logits_ts)
    d_logit = np.abs(logits_ts - logits_ir).max()
    d_prob = np.abs(prob_ts - prob_ir).max()
    scale = np.abs(logits_ir).max()
    print(f"    IR (NumPy, float64) vs TorchScript (float32) at 227x227: max |logit diff| "
          f"{d_logit:.3g} (max |logit| {scale:.3g}, relative {d_logit / scale:.3g}); "
          f"max |softmax diff| {d_prob:.3g}; top-1 {int(prob_ir.argmax())} / "
          f"{int(prob_ts.argmax())}")
    assert abs(prob_ir.sum() - 1) < 1e-9
    assert d_logit <= 1e-4 * scale, f"logits differ by {d_logit} (scale {scale})"
    assert d_prob <= 1e-4, f"softmax differs by {d_prob}"
    assert int(prob_ir.argmax()) == int(prob_ts.argmax())


def test_ir_mean_not_folded():
    """The converter's assumption: conv1's bias in the IR is Caffe's raw bias (input is
    expected minus the mean). Were the mean folded in, |b| would be about |W . mean|."""
    net = IRNet(IR_XML, IR_BIN)
    conv = net.by_name["conv1/WithoutBiases"]
    w = net._value(net.edges[(conv, 1)], {})
    add = net.by_name["conv1"]
    b = net._value(net.edges[(add, 1)], {}).reshape(-1)
    w_dot_mean = (w * np.asarray(CAFFE_MEAN_BGR).reshape(1, 3, 1, 1)).sum(axis=(1, 2, 3))
    print(f"    conv1: median |b| {np.median(np.abs(b)):.3g}, median |W . mean| "
          f"{np.median(np.abs(w_dot_mean)):.3g}")
    assert np.median(np.abs(b)) < 0.1 * np.median(np.abs(w_dot_mean))


def test_committed_model_is_reproducible():
    """(2) A fresh conversion into a temp file gives the same parameters, outputs, metadata."""
    fresh = os.path.join(TMP, "squeezenet1_1.pt")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = convert_squeezenet_ir.main(["--ir", IR_DIR, "--out", fresh])  # in-process: fast
    assert rc == 0, f"converter exit {rc}: {err.getvalue()}"
    a, b = load_model(MODEL), load_model(fresh)
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb), "parameter names differ"
    for k in sa:
        assert torch.equal(sa[k], sb[k]), f"{k} differs from a fresh conversion"
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        assert torch.equal(a(x), b(x)), "outputs differ from a fresh conversion"
    assert committed_meta() == camkit_meta.read_meta(fresh), "metadata differs"
    same = open(MODEL, "rb").read() == open(fresh, "rb").read()
    size = os.path.getsize(MODEL)
    print(f"    {os.path.relpath(MODEL, ROOT)}: {size} bytes; byte-identical to a fresh "
          f"conversion: {same}")
    assert size <= MAX_BYTES, f"{size} bytes > {MAX_BYTES}"


def test_metadata():
    """(3) 1000 labels, ImageNet preprocessing, architecture and input."""
    meta = committed_meta()
    camkit_meta.validate_meta(meta)
    assert meta["architecture"] == "squeezenet1_1"
    assert meta["num_classes"] == 1000 and meta["task"] == "multiclass"
    assert meta["input"] == {"channels": 3, "height": 224, "width": 224}
    assert meta["preprocess"] == {"resize": 256, "crop": [224, 224]}
    assert meta["mean"] == list(IMAGENET_MEAN) and meta["std"] == list(IMAGENET_STD)
    labels = meta["labels"]
    assert len(labels) == 1000 and len(set(labels)) == 1000, "labels not 1000 unique names"
    assert labels[0] == "tench" and labels[281] == "tabby" and labels[999] == "toilet tissue"
    assert labels[134] == "crane (bird)" and labels[517] == "crane (machine)"
    with torch.no_grad():
        out = load_model()(torch.zeros(1, 3, 224, 224))
    assert tuple(out.shape) == (1, 1000)


def test_photos_top5():
    """(4) Real photos: dog.jpg has a dog breed in its top 5; the top 5 of each is printed."""
    if not os.path.isfile(os.path.join(PHOTOS, "dog.jpg")):
        raise Skip(f"{PHOTOS}/dog.jpg absent (apt-get install darknet)")
    model = load_model()
    labels = committed_meta()["labels"]
    results = {}
    for name in PHOTO_NAMES:
        path = os.path.join(PHOTOS, f"{name}.jpg")
        if not os.path.isfile(path):
            print(f"    {name}.jpg: absent")
            continue
        results[name] = top5(model, labels, path)
        print(f"    {name}.jpg: " + "; ".join(f"{lab} {p:.3f}" for _, lab, p in results[name]))
    dogs = [lab for c, lab, _ in results["dog"] if c in DOG_CLASSES]
    assert dogs, f"no dog breed in dog.jpg's top 5: {results['dog']}"


def test_camkit_top1_matches_pytorch():
    """(5) camkit explain on dog.jpg: top-1 class and score as PyTorch's."""
    photo = os.path.join(PHOTOS, "dog.jpg")
    if not CAMKIT:
        raise Skip("no camkit binary given")
    if not (os.path.isfile(CAMKIT) and os.access(CAMKIT, os.X_OK)):
        raise Skip(f"camkit binary {CAMKIT} not found or not executable")
    if not os.path.isfile(photo):
        raise Skip(f"{photo} absent")
    out = os.path.join(TMP, "camkit-out")
    r = subprocess.run([CAMKIT, "explain", MODEL, photo, "-k", "3", "--json", "-o", out],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, f"camkit exit {r.returncode}: {r.stderr.strip()}"
    records = [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip().startswith("{")]
    assert len(records) == 1, f"expected one JSON record, got {len(records)}"
    best = records[0]["predictions"][0]
    model = load_model()
    labels = committed_meta()["labels"]
    ref = top5(model, labels, photo)[0]
    print(f"    camkit top-1 {best['class']} {best.get('label')} {best['score']:.4f}; "
          f"PyTorch {ref[0]} {ref[1]} {ref[2]:.4f}")
    assert best["class"] == ref[0], f"camkit top-1 {best['class']} != PyTorch {ref[0]}"
    assert abs(best["score"] - ref[2]) < 0.05, "scores far apart (preprocessing differs?)"


TESTS = [test_numpy_ir_matches_torchscript, test_ir_mean_not_folded,
         test_committed_model_is_reproducible, test_metadata, test_photos_top5,
         test_camkit_top1_matches_pytorch]


def main(argv):
    global TMP, CAMKIT
    CAMKIT = argv[2] if len(argv) > 2 else None
    torch.set_num_threads(2)
    passed = failed = skipped = 0
    with tempfile.TemporaryDirectory(prefix="camkit_sq_") as tmp:
        TMP = tmp
        for test in TESTS:
            t0 = time.time()
            try:
                if not os.path.isfile(MODEL):
                    raise AssertionError(f"{MODEL} missing: run tools/convert_squeezenet_ir.py")
                test()
            except Skip as e:
                skipped += 1
                print(f"SKIP {test.__name__}: {e}")
                continue
            except Exception:  # noqa: BLE001  report every failure, then go on
                failed += 1
                print(f"FAIL {test.__name__} ({time.time() - t0:.1f} s)")
                traceback.print_exc(file=sys.stdout)
                continue
            passed += 1
            print(f"ok   {test.__name__} ({time.time() - t0:.1f} s)")
    if skipped:
        print(f"{skipped} skipped")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
