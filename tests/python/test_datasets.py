#!/usr/bin/python3
"""Tests of tools/make_datasets.py, the committed demo inputs (data/demo) and the committed
demo models (models/shapes_cnn.pt, models/xray_resnet.pt).

    /usr/bin/python3 tests/python/test_datasets.py FIXTURES_DIR [CAMKIT_BINARY]

Run from the repository root. FIXTURES_DIR is accepted for CTest's uniform command line and not
used; CAMKIT_BINARY, when given and present, checks that camkit finds the models' CAM heads.
Prints one line per test and 'N passed, N failed'; exits 1 if any test failed.
"""

import filecmp
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np
import torch
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "tools", "make_datasets.py")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import camkit_meta  # noqa: E402
import make_datasets as md  # noqa: E402

DEMO = os.path.join(ROOT, "data", "demo")
MODELS = os.path.join(ROOT, "models")
DEMO_SEED = 1  # the seed data/demo and the models' training data were made with
SMALL = ["--n-train", "1", "--n-val", "2", "--n-multi", "3", "--n-xray-train", "1",
         "--n-xray-val", "2"]
TMP = None
CAMKIT = None
_made = {}


def generate(name, *args):
    """Runs make_datasets.py into TMP/name once; returns the folder."""
    out = os.path.join(TMP, name)
    if name not in _made:
        r = subprocess.run([sys.executable, TOOL, "--out", out, "--quiet", *args],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        _made[name] = out
    return out


def files_under(root):
    found = []
    for d, _, names in os.walk(root):
        found += [os.path.relpath(os.path.join(d, n), root) for n in names]
    return sorted(found)


def load_png(path):
    return np.asarray(Image.open(path))


def check_shapes_folder(root, image_dirs):
    """boxes/labels/masks/classes of a shapes folder agree with each other and the images."""
    classes = open(os.path.join(root, "classes.txt")).read().split()
    assert classes == md.SHAPE_CLASSES, classes
    boxes = md.read_csv(os.path.join(root, "boxes.csv"))
    labels = md.read_csv(os.path.join(root, "labels.csv"))
    images = [f for f in files_under(root) if f.endswith(".png") and not f.startswith("masks/")]
    assert images and all(f.split("/")[0] in image_dirs for f in images), images[:5]
    assert sorted({b[0] for b in boxes}) == images, "every image has boxes, and only images"
    assert len(boxes) == len(labels) and sorted({lb[0] for lb in labels}) == images
    by_path = {}
    for lb in labels:
        assert 0 <= lb[1] < len(classes), lb
        by_path.setdefault(lb[0], []).append(lb[1])
    for rel, classes_here in by_path.items():
        n = 2 if rel.startswith("multi/") else 1
        assert len(classes_here) == n and len(set(classes_here)) == n, (rel, classes_here)
        if n == 1:
            assert rel.split("/")[-2] == classes[classes_here[0]], rel  # ImageFolder name
    boxes_by_path = {}
    for b in boxes:
        boxes_by_path.setdefault(b[0], []).append(tuple(b[1:]))
    for rel in images:
        img = load_png(os.path.join(root, rel))
        mask = load_png(os.path.join(root, "masks", rel))
        h, w = mask.shape
        assert img.shape == (md.SHAPES_SIZE, md.SHAPES_SIZE, 3) and img.dtype == np.uint8, rel
        assert mask.shape == img.shape[:2] and mask.dtype == np.uint8, rel
        values = sorted(int(v) for v in np.unique(mask) if v)
        assert values == sorted(c + 1 for c in by_path[rel]), (rel, values)
        want = sorted(md.mask_box(mask == c + 1) for c in by_path[rel])
        got = sorted(boxes_by_path[rel])
        assert got == want, (rel, got, want)
        for x0, y0, x1, y1 in got:
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, (rel, got)
        if len(got) == 2:
            a, b = got
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (rel, got)
    return images


def check_xray_folder(root, demo):
    assert open(os.path.join(root, "classes.txt")).read().split() == md.XRAY_CLASSES
    boxes = {b[0]: b[1:] for b in md.read_csv(os.path.join(root, "boxes.csv"))}
    labels = dict(md.read_csv(os.path.join(root, "labels.csv")))
    images = [f for f in files_under(root) if f.endswith(".npy")]
    assert sorted(labels) == images and images
    for rel in images:
        parts = rel.split("/")
        assert len(parts) == (2 if demo else 3), rel
        assert parts[-2] == md.XRAY_CLASSES[labels[rel]], rel
        a = np.load(os.path.join(root, rel))
        assert a.dtype == np.float32 and a.shape == (md.XRAY_SIZE, md.XRAY_SIZE), (rel, a.shape)
        assert 0.0 <= a.min() and a.max() <= 1.0, rel
        assert (rel in boxes) == (labels[rel] == 1), rel
        if rel in boxes:
            x0, y0, x1, y1 = boxes[rel]
            assert 0 <= x0 < x1 <= md.XRAY_SIZE and 0 <= y0 < y1 <= md.XRAY_SIZE, rel
    return images


# ---------------------------------------------------------------- generator

def test_same_seed_same_bytes():
    a = generate("a", "--seed", "7", *SMALL)
    b = generate("b", "--seed", "7", *SMALL)
    fa, fb = files_under(a), files_under(b)
    assert fa == fb and len(fa) > 40, (len(fa), len(fb))
    _, mismatch, errors = filecmp.cmpfiles(a, b, fa, shallow=False)
    assert not mismatch and not errors, (mismatch, errors)


def test_other_seed_other_images():
    a = generate("a", "--seed", "7", *SMALL)
    c = generate("c", "--seed", "8", *SMALL)
    for rel in ("shapes/train/star/0000.png", "xray/val/positive/0001.npy"):
        assert not filecmp.cmp(os.path.join(a, rel), os.path.join(c, rel), shallow=False), rel


def test_image_does_not_depend_on_set_size():
    """An image's random stream is its own: a larger set starts with the same images."""
    a = generate("a", "--seed", "7", *SMALL)
    big = generate("big", "--seed", "7", "--which", "shapes", "--n-train", "2", "--n-val", "3",
                   "--n-multi", "4")
    for rel in ("shapes/train/ring/0000.png", "shapes/val/cross/0001.png",
                "shapes/multi/0002.png", "shapes/masks/multi/0002.png"):
        assert filecmp.cmp(os.path.join(a, rel), os.path.join(big, rel), shallow=False), rel


def test_shapes_boxes_labels_masks_consistent():
    a = generate("a", "--seed", "7", *SMALL)
    images = check_shapes_folder(os.path.join(a, "shapes"), {"train", "val", "multi"})
    assert len(images) == 6 * 1 + 6 * 2 + 3, len(images)


def test_xray_layout_and_boxes():
    a = generate("a", "--seed", "7", *SMALL)
    images = check_xray_folder(os.path.join(a, "xray"), demo=False)
    assert len(images) == 2 * 1 + 2 * 2, images


def test_xray_lesion_is_an_opacity_in_its_box():
    """A lesion box is small and brighter inside than just above and below it."""
    img, box = md.xray_image(md.image_rng(3, "xray", "val", 1, 5), True)
    x0, y0, x1, y1 = box
    assert 2 <= x1 - x0 <= 40 and 2 <= y1 - y0 <= 40, box
    inside = img[y0:y1, x0:x1].mean()
    ring = np.concatenate([img[max(0, y0 - 6):y0, x0:x1].ravel(), img[y1:y1 + 6, x0:x1].ravel()])
    assert inside > ring.mean(), (inside, ring.mean())


def test_xray_statistics():
    imgs = np.stack([md.xray_image(md.image_rng(5, "xray", "train", i % 2, i), i % 2 == 1)[0]
                     for i in range(60)]).astype(np.float64)
    assert abs(imgs.mean() - 0.49) < 0.02 and abs(imgs.std() - 0.248) < 0.02, \
        (imgs.mean(), imgs.std())


def test_demo_subset_equals_full_set_images():
    """--demo-subset writes the very images of the full set, in the flat demo layout."""
    full = generate("a", "--seed", "7", *SMALL)
    demo = generate("demo7", "--seed", "7", "--demo-subset")
    pairs = [("shapes/val/triangle/0001.png", "shapes/single/triangle/0001.png"),
             ("shapes/masks/val/triangle/0001.png", "shapes/masks/single/triangle/0001.png"),
             ("shapes/multi/0002.png", "shapes/multi/0002.png"),
             ("xray/val/positive/0001.npy", "xray/positive/0001.npy")]
    for f, d in pairs:
        assert filecmp.cmp(os.path.join(full, f), os.path.join(demo, d), shallow=False), d


# ---------------------------------------------------------------- committed demo inputs

def test_committed_demo_is_consistent():
    singles = check_shapes_folder(os.path.join(DEMO, "shapes"), {"single", "multi"})
    n_multi = sum(f.startswith("multi/") for f in singles)
    assert n_multi == md.DEMO_SHAPES_MULTI and len(singles) - n_multi == 6 * \
        md.DEMO_SHAPES_PER_CLASS, singles
    xr = check_xray_folder(os.path.join(DEMO, "xray"), demo=True)
    assert len(xr) == 2 * md.DEMO_XRAY_PER_CLASS, xr


def test_committed_demo_is_reproducible():
    """make_datasets.py --seed 1 --demo-subset regenerates data/demo (PNG pixels compared
    decoded, so a different zlib cannot fail it; everything else byte for byte)."""
    fresh = generate("demo1", "--seed", str(DEMO_SEED), "--demo-subset")
    for part in ("shapes", "xray"):
        got, want = files_under(os.path.join(DEMO, part)), files_under(os.path.join(fresh, part))
        assert got == want, (part, sorted(set(got) ^ set(want)))
        for rel in want:
            a, b = os.path.join(DEMO, part, rel), os.path.join(fresh, part, rel)
            if rel.endswith(".png"):
                assert np.array_equal(load_png(a), load_png(b)), rel
            else:
                assert filecmp.cmp(a, b, shallow=False), rel


def test_committed_sizes():
    demo = sum(os.path.getsize(os.path.join(DEMO, f)) for f in files_under(DEMO))
    assert demo <= 5 * 2 ** 20, demo
    for name in ("shapes_cnn.pt", "xray_resnet.pt", "knee_mrnet.pt"):
        size = os.path.getsize(os.path.join(MODELS, name))
        assert size <= 6 * 2 ** 20, (name, size)


# ---------------------------------------------------------------- committed models

def load_model(name):
    path = os.path.join(MODELS, name)
    return torch.jit.load(path, map_location="cpu").eval(), camkit_meta.read_meta(path)


def test_models_carry_metadata():
    _, shapes = load_model("shapes_cnn.pt")
    camkit_meta.validate_meta(shapes)
    assert shapes["labels"] == md.SHAPE_CLASSES and shapes["task"] == "multiclass", shapes
    assert shapes["input"] == {"channels": 3, "height": md.SHAPES_SIZE,
                               "width": md.SHAPES_SIZE}, shapes
    assert shapes["preprocess"] == {"size": [md.SHAPES_SIZE, md.SHAPES_SIZE]}, shapes
    assert len(shapes["mean"]) == 3 and len(shapes["std"]) == 3, shapes
    _, xray = load_model("xray_resnet.pt")
    camkit_meta.validate_meta(xray)
    assert xray["labels"] == ["negative", "positive"] and xray["task"] == "binary", xray
    assert xray["num_classes"] == 1 and xray["input"]["channels"] == 1, xray
    assert xray["preprocess"] == {"size": [md.XRAY_SIZE, md.XRAY_SIZE]}, xray
    assert xray["mean"] == [0.49] and xray["std"] == [0.248], xray


def test_summary_json_meets_targets():
    with open(os.path.join(MODELS, "demo_models.json")) as f:
        s = json.load(f)
    sh, xr = s["models"]["shapes_cnn"], s["models"]["xray_resnet"]
    assert sh["val_accuracy"] >= 0.95 and sh["localisation_iou50"] >= 0.8, sh
    assert xr["val_accuracy"] >= 0.9 and xr["val_auc"] >= 0.95, xr
    kn = s["models"]["knee_mrnet"]
    assert kn["val_accuracy"] >= 0.9 and kn["peak_slice_in_lesion"] >= 0.8, kn


# ---------------------------------------------------------------- knee volumes

VOLUMES_TOOL = os.path.join(ROOT, "tools", "make_volumes.py")


def generate_volumes(name, *args):
    out = os.path.join(TMP, name)
    r = subprocess.run([sys.executable, VOLUMES_TOOL, "--out", out, "--quiet", *args],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return os.path.join(out, "knee")


def test_volumes_reproducible_and_demo_subset_committed():
    a = generate_volumes("vol_a", "--seed", "1", "--n-train", "1", "--n-val", "2")
    b = generate_volumes("vol_b", "--seed", "1", "--n-train", "2", "--n-val", "2")
    for rel in files_under(a):
        if rel.startswith("val/"):
            assert filecmp.cmp(os.path.join(a, rel), os.path.join(b, rel), shallow=False), rel
    fresh = generate_volumes("vol_demo", "--seed", str(DEMO_SEED), "--demo-subset")
    got, want = files_under(os.path.join(DEMO, "knee")), files_under(fresh)
    assert got == want, sorted(set(got) ^ set(want))
    for rel in want:
        assert filecmp.cmp(os.path.join(DEMO, "knee", rel), os.path.join(fresh, rel),
                           shallow=False), rel


def test_volume_lesions_lie_in_their_boxes():
    root = generate_volumes("vol_les", "--seed", "4", "--n-train", "0", "--n-val", "3")
    lesions = {}
    for row in md.read_csv(os.path.join(root, "lesions.csv")):
        lesions.setdefault(row[0], {})[row[1]] = row[2:]
    labels = dict((r[0], r[1]) for r in md.read_csv(os.path.join(root, "labels.csv")))
    assert sorted(labels.values()) == [0, 0, 0, 1, 1, 1]
    clean = {}
    for rel, cls in labels.items():
        vol = np.load(os.path.join(root, rel))
        assert vol.dtype == np.float32 and vol.ndim == 3 and 10 <= len(vol) <= 16, vol.shape
        assert 0 <= vol.min() and vol.max() <= 1
        assert (rel in lesions) == (cls == 1), rel
        if cls == 0:
            clean[rel.split("/")[-1]] = vol
            continue
        slices = sorted(lesions[rel])
        assert slices == list(range(slices[0], slices[-1] + 1)) and len(slices) <= 7, slices
        for s, (x0, y0, x1, y1) in lesions[rel].items():
            assert 0 <= x0 < x1 <= vol.shape[2] and 0 <= y0 < y1 <= vol.shape[1]
            inside = vol[s, y0:y1, x0:x1]
            # The lesion adds up to 0.25..0.35 at its centre: its box holds bright voxels.
            assert inside.max() > np.median(vol[s]) + 0.15, (rel, s)


def test_knee_model_takes_exams_and_classifies_demo_volumes():
    model, meta = load_model("knee_mrnet.pt")
    assert meta["volume"] == "stacked" and meta["num_classes"] == 1, meta
    labels = dict((r[0], r[1]) for r in md.read_csv(os.path.join(DEMO, "knee", "labels.csv")))
    for rel, cls in labels.items():
        vol = torch.from_numpy(np.load(os.path.join(DEMO, "knee", rel)))[:, None]
        x = ((vol - meta["mean"][0]) / meta["std"][0])[None]
        with torch.no_grad():
            logit = float(model(x)[0, 0])
        assert (logit > 0) == (cls == 1), (rel, logit)
    if CAMKIT:
        r = subprocess.run([CAMKIT, "info", os.path.join(MODELS, "knee_mrnet.pt"), "--json"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        head = json.loads(r.stdout)["head"]
        assert head["slice_reduce"] == "max" and head["classifier"] == "classifier", head


def prepared(meta, array):
    """(x / 255 or x as stored - mean) / std, NCHW float32, like camkit's preprocessing."""
    x = torch.from_numpy(np.asarray(array)).float()
    if array.dtype == np.uint8:
        x = x / 255.0
    x = x.permute(2, 0, 1) if x.dim() == 3 else x[None]
    mean = torch.tensor(meta["mean"]).view(-1, 1, 1)
    std = torch.tensor(meta["std"]).view(-1, 1, 1)
    return ((x - mean) / std)[None]


def test_shapes_model_classifies_demo_images():
    model, meta = load_model("shapes_cnn.pt")
    root = os.path.join(DEMO, "shapes")
    rows = [r for r in md.read_csv(os.path.join(root, "labels.csv")) if r[0].startswith("single/")]
    with torch.no_grad():
        x = torch.cat([prepared(meta, load_png(os.path.join(root, r[0]))) for r in rows])
        pred = model(x).argmax(1)
    acc = float((pred == torch.tensor([r[1] for r in rows])).float().mean())
    assert len(rows) >= 8 and acc >= 0.9, (acc, pred.tolist())


def test_shapes_model_finds_both_classes_in_multi_images():
    """On two-object images, the two objects' classes are among the three top scores."""
    model, meta = load_model("shapes_cnn.pt")
    root = os.path.join(DEMO, "shapes")
    want = {}
    for rel, c in md.read_csv(os.path.join(root, "labels.csv")):
        if rel.startswith("multi/"):
            want.setdefault(rel, set()).add(c)
    hits = 0
    with torch.no_grad():
        for rel, classes in want.items():
            top = model(prepared(meta, load_png(os.path.join(root, rel)))).topk(3).indices
            hits += classes <= set(top[0].tolist())
    assert hits >= len(want) - 1, (hits, len(want))


def test_xray_model_classifies_demo_arrays():
    model, meta = load_model("xray_resnet.pt")
    root = os.path.join(DEMO, "xray")
    rows = md.read_csv(os.path.join(root, "labels.csv"))
    with torch.no_grad():
        x = torch.cat([prepared(meta, np.load(os.path.join(root, r[0]))) for r in rows])
        pred = (model(x)[:, 0] > 0).long()
    acc = float((pred == torch.tensor([r[1] for r in rows])).float().mean())
    assert acc >= 0.85, (acc, pred.tolist())


def test_camkit_finds_the_cam_heads():
    if not CAMKIT or not os.path.isfile(CAMKIT):
        print("     (no camkit binary given: skipped)")
        return
    for name, k, c in (("shapes_cnn.pt", 6, 3), ("xray_resnet.pt", 1, 1)):
        r = subprocess.run([CAMKIT, "info", "--json", os.path.join(MODELS, name)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (name, r.returncode, r.stderr)
        info = json.loads(r.stdout)
        assert info["head"]["found"] and info["head"]["num_classes"] == k, (name, info["head"])
        assert info["input"]["channels"] == c, (name, info["input"])


# ---------------------------------------------------------------- runner

def main(argv):
    global TMP, CAMKIT
    if len(argv) < 1:
        print(__doc__.strip().splitlines()[3].strip(), file=sys.stderr)
        return 2
    CAMKIT = argv[1] if len(argv) > 1 else None
    torch.set_num_threads(1)
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f)]
    passed = failed = 0
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="camkit_datasets_test_") as TMP:
        for name, fn in tests:
            t0 = time.time()
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
