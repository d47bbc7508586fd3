#!/usr/bin/python3
"""Tests of the 3-D demo data (tools/make_volumes3d.py, data/demo/lesion3d) and of the two
committed demo models beside the CNNs: models/lesion3d_cnn.pt (a 3-D CNN) and
models/shapes_vit.pt (a small vision transformer).

    /usr/bin/python3 tests/python/test_demo_models_3d_vit.py FIXTURES_DIR CAMKIT_BINARY

The models are checked against PyTorch on the committed demo inputs (their own forward, with
the preprocessing written out here from the metadata), and through camkit: the layout and
layer it finds, and its records on the same inputs.
"""

import filecmp
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

import camkit_testing as ct

ROOT = ct.ROOT
sys.path.insert(0, os.path.join(ROOT, "tools"))
import camkit_meta  # noqa: E402
import make_datasets as md  # noqa: E402
import make_volumes3d as mv  # noqa: E402

DEMO = os.path.join(ROOT, "data", "demo")
MODELS = os.path.join(ROOT, "models")
TOOL = os.path.join(ROOT, "tools", "make_volumes3d.py")


def generate(name, *args):
    out = os.path.join(ct.TMP, name)
    r = subprocess.run([sys.executable, TOOL, "--out", out, "--quiet", *args],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return os.path.join(out, "lesion3d")


def files_under(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, fs in os.walk(root) for f in fs)


def load_nifti(path):
    import nibabel as nib

    img = nib.load(path)
    return np.asarray(img.dataobj), img.affine


def load_model(name):
    path = os.path.join(MODELS, name)
    return torch.jit.load(path, map_location="cpu").eval(), camkit_meta.read_meta(path)


# ---------------------------------------------------------------- lesion volumes

def test_volumes_reproducible_and_demo_subset_committed():
    a = generate("a", "--seed", "1", "--n-train", "1", "--n-val", "2")
    b = generate("b", "--seed", "1", "--n-train", "2", "--n-val", "2")
    for rel in files_under(a):
        if rel.startswith("val/") or rel.startswith("masks/val/"):
            assert filecmp.cmp(os.path.join(a, rel), os.path.join(b, rel), shallow=False), rel
    fresh = generate("demo", "--seed", "1", "--demo-subset")
    want = files_under(fresh)
    assert files_under(os.path.join(DEMO, "lesion3d")) == want
    for rel in want:
        # nibabel writes gzip streams without a time stamp: the same bytes every run.
        assert filecmp.cmp(os.path.join(DEMO, "lesion3d", rel), os.path.join(fresh, rel),
                           shallow=False), rel


def test_lesions_are_bright_blobs_in_their_masks_and_boxes():
    root = generate("les", "--seed", "4", "--n-train", "0", "--n-val", "3")
    labels = dict((r[0], r[1]) for r in md.read_csv(os.path.join(root, "labels.csv")))
    boxes = {r[0]: tuple(r[1:]) for r in md.read_csv(os.path.join(root, "boxes3d.csv"))}
    assert sorted(labels.values()) == [0, 0, 0, 1, 1, 1]
    for rel, cls in labels.items():
        vol, affine = load_nifti(os.path.join(root, rel))
        assert vol.dtype == np.float32 and vol.shape == mv.SHAPE, vol.shape
        assert np.allclose(affine, mv.affine()), affine
        mask_path = os.path.join(root, "masks", rel)
        assert os.path.exists(mask_path) == (cls == 1) == (rel in boxes), rel
        if cls == 0:
            continue
        mask, mask_affine = load_nifti(mask_path)
        mask = mask > 0
        assert np.allclose(mask_affine, affine) and 20 <= mask.sum() <= 2000, mask.sum()
        assert mv.box3d(mask) == boxes[rel], (rel, boxes[rel])
        brain = (vol > 10) & (vol < 50)
        # The blob is 60..90 HU, the brain around it 28..38 HU.
        assert np.median(vol[mask]) > np.median(vol[brain]) + 20, rel


# ---------------------------------------------------------------- lesion3d_cnn

def windowed(meta, vol):
    """The model's input for an HU volume, written out from the metadata (window, mean/std)."""
    c, w = meta["preprocess"]["window"]
    x = torch.clamp((torch.from_numpy(vol) - (c - w / 2)) / w, 0, 1)
    return ((x - meta["mean"][0]) / meta["std"][0])[None, None]


def test_lesion3d_model_classifies_and_localises_the_demo_volumes():
    model, meta = load_model("lesion3d_cnn.pt")
    camkit_meta.validate_meta(meta)
    assert meta["input"] == {"channels": 1, "depth": mv.SHAPE[0], "height": mv.SHAPE[1],
                             "width": mv.SHAPE[2]}, meta
    assert meta["labels"] == mv.CLASSES and meta["preprocess"]["size"] == list(mv.SHAPE), meta
    root = os.path.join(DEMO, "lesion3d")
    out = os.path.join(ct.TMP, "explain3d")
    ct.run("explain", os.path.join(MODELS, "lesion3d_cnn.pt"), os.path.join(root, "scans"),
           "-o", out, "--top-k", "2")
    right = 0
    for rel, cls in md.read_csv(os.path.join(root, "labels.csv")):
        vol, _ = load_nifti(os.path.join(root, rel))
        with torch.no_grad():
            logits = model(windowed(meta, vol))[0]
        right += int(logits.argmax()) == cls
        # Records are named after the file without ".gz": "lesion-0000.nii.json".
        record = json.load(open(os.path.join(out, os.path.basename(rel)[:-3] + ".json")))
        assert record["method"] == "cam", record["method"]
        by_class = {e["class"]: e for e in record["explanations"]}
        assert record["explanations"][0]["class"] == int(logits.argmax()), (rel, logits)
        for c in (0, 1):
            assert abs(by_class[c]["logit"] - float(logits[c])) < 1e-3 * max(
                1.0, abs(float(logits[c]))), (rel, by_class[c], logits)
        if cls == 1 and int(logits.argmax()) == 1:
            # A lesion the model finds: the lesion map's peak lies on it, or within the
            # tolerance of the model's pointing figure (models/README.md).
            from scipy import ndimage

            mask = load_nifti(os.path.join(root, "masks", rel))[0] > 0
            peak = tuple(int(v) for v in by_class[1]["peak"]["voxel"])
            assert ndimage.distance_transform_edt(~mask)[peak] < 3, (rel, peak)
    assert right >= 3, right


def test_camkit_finds_the_3d_cam_head():
    info = json.loads(ct.run("info", os.path.join(MODELS, "lesion3d_cnn.pt"), "--json").stdout)
    head = info["head"]
    assert head["found"] and head["classifier"] == "fc", head
    assert head["feature_layer"].split(".")[0] == "features", head
    assert head["feature_shape"] == [64] + [n // 4 for n in mv.SHAPE], head


# ---------------------------------------------------------------- shapes_vit

def test_vit_metadata_layout_and_default_layer():
    _, meta = load_model("shapes_vit.pt")
    camkit_meta.validate_meta(meta)
    assert meta["labels"] == md.SHAPE_CLASSES and meta["task"] == "multiclass", meta
    side = meta["input"]["height"]
    assert meta["preprocess"] == {"size": [side, side]}, meta
    info = json.loads(ct.run("info", os.path.join(MODELS, "shapes_vit.pt"), "--json").stdout)
    layer = info["layer"]
    grid = side // 8  # three stride-2 convolutions in the stem
    assert layer["layout"] == "tokens" and layer["prefix_tokens"] == 1, layer
    assert layer["layout_shape"] == f"(N, 1 + {grid}x{grid}, C)", layer
    # The last block's normalised tokens (docs/methods.md), never the patch embedding.
    assert layer["layer"] == "encoder.layers.encoder_layer_2.ln_1", layer


def test_vit_classifies_the_demo_scenes_as_camkit_reports():
    model, meta = load_model("shapes_vit.pt")
    side = meta["input"]["height"]
    from PIL import Image

    folder = os.path.join(DEMO, "shapes", "single")
    out = os.path.join(ct.TMP, "vit")
    ct.run("explain", os.path.join(MODELS, "shapes_vit.pt"), folder, "-o", out, "--no-overlay")
    right = total = 0
    for cls, name in enumerate(md.SHAPE_CLASSES):
        for f in sorted(os.listdir(os.path.join(folder, name))):
            img = np.asarray(Image.open(os.path.join(folder, name, f)).convert("RGB"))
            x = torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 255
            x = F.interpolate(x, size=(side, side), mode="bilinear", antialias=True,
                              align_corners=False)
            x = (x - torch.tensor(meta["mean"]).view(1, 3, 1, 1)) / \
                torch.tensor(meta["std"]).view(1, 3, 1, 1)
            with torch.no_grad():
                pred = int(model(x)[0].argmax())
            record = json.load(open(os.path.join(out, name, f[:-4] + ".json")))
            top = record["explanations"][0]
            assert top["class"] == pred, (name, f, top, pred)
            right += pred == cls
            total += 1
    assert right >= 0.8 * total, (right, total)


def test_summary_json_meets_targets():
    with open(os.path.join(MODELS, "demo_models.json")) as f:
        s = json.load(f)["models"]
    assert s["shapes_vit"]["val_accuracy"] >= 0.85, s["shapes_vit"]
    l3 = s["lesion3d_cnn"]
    assert l3["val_accuracy"] >= 0.9 and l3["pointing_game_tolerance"] >= 0.7, l3
    for name in ("shapes_vit.pt", "lesion3d_cnn.pt"):
        assert os.path.getsize(os.path.join(MODELS, name)) <= 6 * 2 ** 20, name


if __name__ == "__main__":
    sys.exit(ct.main(globals()))
