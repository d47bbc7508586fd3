#!/usr/bin/python3
"""camkit eval on 3-D models, DICOM series as their inputs, and their intensity normalisation.

    /usr/bin/python3 tests/python/test_eval3d.py FIXTURES_DIR CAMKIT_BINARY

Every expected number is computed here from the definitions, never from camkit's output:
CAM from forward hooks (Zhou et al. 2016: M_c = sum_k w_k^c A_k), the display map by torch's
interpolate(mode="trilinear", align_corners=False) onto the scan's grid and min-max, the box as
the bounding box of the largest 26-connected component at the threshold (scipy.ndimage.label),
3-D IoU of voxel boxes, and the pointing game (the peak voxel, or an object voxel strictly
closer than the tolerance). A hand-made model whose CAM is its input gives answers known
beforehand. DICOM series are written with pydicom and read back with it for the reference
volume and its affine; the metadata's window, z-score and mean/std against torch.
"""

import json
import os
import sys

import nibabel as nib
import numpy as np
import pydicom
import torch
import torch.nn as nn
import torch.nn.functional as F
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from scipy import ndimage

import camkit_testing as ct  # noqa: I001  (puts tools/ on the path)
import export_model as em


class Small3d(nn.Module):
    """Conv3d -> ReLU -> Conv3d (stride 2) -> ReLU -> global average pooling -> Linear."""

    def __init__(self, k=3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(1, 6, 3, padding=1), nn.ReLU(),
            nn.Conv3d(6, 8, 3, stride=2, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(8, k)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class Identity3d(nn.Module):
    """Features = ReLU(x) (a 1x1x1 convolution of weight 1), then GAP and logits (m, -m): the
    CAM of class 0 is the input itself, so its peak and box are known from the input."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv3d(1, 1, 1, bias=False), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(1, 2)
        with torch.no_grad():
            self.features[0].weight.fill_(1.0)
            self.fc.weight.copy_(torch.tensor([[1.0], [-1.0]]))
            self.fc.bias.zero_()

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def export(model, name, d, h, w, k, preprocess=None, **top):
    """The model with its metadata: `preprocess`, and top-level keys such as mean and std."""
    path = os.path.join(ct.TMP, name + ".pt")
    meta = {"camkit_meta_version": 1, "architecture": name, "num_classes": k,
            "task": "multiclass", "input": {"channels": 1, "depth": d, "height": h, "width": w},
            "preprocess": preprocess or {}, **top}
    gen = torch.Generator().manual_seed(0)
    em.export(model.eval(), path, meta, example=torch.randn(1, 1, d, h, w, generator=gen))
    return path


def write_nifti(name, data, affine=None):
    path = os.path.join(ct.TMP, name)
    img = nib.Nifti1Image(np.asarray(data, dtype=np.float32), np.eye(4) if affine is None else affine)
    img.set_sform(img.affine, code=2)
    nib.save(img, path)
    return path


def write_csv(name, rows):
    path = os.path.join(ct.TMP, name)
    with open(path, "w") as f:
        f.write("\n".join(",".join(map(str, r)) for r in rows) + "\n")
    return path


def eval_json(*args, expect=0):
    r = ct.run("eval", *args, "--json", expect=expect)
    return json.loads(r.stdout)


# ------------------------------------------------------------------ references

def cam(model, x, c):
    """CAM (Zhou et al. 2016, eq. 2) at feature resolution, float64."""
    with torch.no_grad():
        a = model.features(x)[0].double()
        return torch.einsum("k,kdhw->dhw", model.fc.weight[c].double(), a), model(x)[0]


def display(raw, shape):
    """CAM's display map on the scan's grid: trilinear (align_corners=False), min-max."""
    up = F.interpolate(raw[None, None].float(), size=shape, mode="trilinear",
                       align_corners=False)[0, 0].double().numpy()
    lo, hi = up.min(), up.max()
    return (up - lo) / (hi - lo) if hi > lo else np.zeros_like(up)


def cam_box(disp, t):
    """The CAM paper's box in 3-D: >= t * max, largest 26-connected component, its bounds."""
    labels, n = ndimage.label(disp >= t * disp.max(), structure=np.ones((3, 3, 3)))
    sizes = np.bincount(labels.ravel())[1:]
    best = int(np.argmax(sizes)) + 1  # ties: the component holding the maximum, then first
    if (sizes == sizes.max()).sum() > 1:
        best = labels.flat[int(np.argmax(disp))]
    idx = np.argwhere(labels == best)
    return (*idx.min(0), *(idx.max(0) + 1))


def iou3(a, b):
    inter = np.prod([max(0, min(a[i + 3], b[i + 3]) - max(a[i], b[i])) for i in range(3)])
    vol = lambda x: np.prod([x[i + 3] - x[i] for i in range(3)])  # noqa: E731
    return inter / (vol(a) + vol(b) - inter)


def peak(disp):
    return np.unravel_index(int(np.argmax(disp)), disp.shape)  # first maximum, raster order


def points_at(p, obj, tol):
    """Pointing game: the peak voxel is object, or an object voxel is closer than tol."""
    if obj[p]:
        return True
    d2 = ((np.argwhere(obj) - np.array(p)) ** 2).sum(1)
    return bool((d2 < tol * tol).any())


def box_voxels(shape, b):
    obj = np.zeros(shape, bool)
    obj[b[0]:b[3], b[1]:b[4], b[2]:b[5]] = True
    return obj


# ------------------------------------------------------------------ known answers

def test_known_peak_and_box_give_the_expected_iou_and_pointing():
    path = export(Identity3d(), "identity3d", 8, 10, 12, 2)
    vol = np.zeros((8, 10, 12), np.float32)
    vol[2:5, 3:7, 1:4] = 2.0  # the CAM box at any threshold below 2/3: [2,3,1,5,7,4)
    vol[3, 5, 2] = 3.0        # the peak voxel
    scan = write_nifti("known.nii.gz", vol)
    # Three copies, one truth each (class 0): the cube itself (IoU 1); its half [2,3,1,5,5,4)
    # (18 of 36 voxels: IoU 1/2, just localised), whose nearest voxel (3, 4, 2) is 1 from the
    # peak; a box 3 voxels from the peak along w (IoU 0; nearest voxel (3, 5, 5)).
    scan2 = write_nifti("known2.nii.gz", vol)
    scan3 = write_nifti("known3.nii.gz", vol)
    boxes = write_csv("known_boxes.csv", [
        ("path", "z0", "y0", "x0", "z1", "y1", "x1", "class"),
        ("known.nii.gz", 2, 3, 1, 5, 7, 4, 0),
        ("known2.nii.gz", 2, 3, 1, 5, 5, 4, 0),
        ("known3.nii.gz", 0, 0, 5, 8, 10, 12, 0)])
    for tol, hits in ((0, 1), (1, 1), (1.5, 2), (3, 2), (3.01, 3)):
        j = eval_json(path, scan, scan2, scan3, "--boxes", boxes, "--box-threshold", "0.2,0.9",
                      "--tolerance", tol)
        assert j["counts"]["trials"] == 3 and j["settings"]["units"] == "voxels", j
        assert j["top1_cls"] == 1.0, j
        assert j["pointing_hits"] == hits, (tol, j["pointing_hits"])
        row = j["thresholds"][0]
        assert abs(row["mean_iou"] - (1 + 0.5 + 0) / 3) < 1e-12, row
        assert row["gt_known_loc_correct"] == 2, row
        # At 0.9 only the peak voxel is left: IoU 1/36 with the cube, 0 with the others.
        row = j["thresholds"][1]
        assert abs(row["mean_iou"] - (1 / 36) / 3) < 1e-12, row
        assert row["gt_known_loc_correct"] == 0, row


def test_known_masks_point_at_object_voxels_only():
    path = export(Identity3d(), "identity3d_m", 8, 10, 12, 2)
    vol = np.zeros((8, 10, 12), np.float32)
    vol[2:5, 3:7, 1:4] = 2.0
    vol[3, 5, 2] = 3.0
    scan = write_nifti("masked.nii.gz", vol)
    mask = np.zeros(vol.shape, np.uint8)
    mask[3, 5, 6] = 1   # 4 voxels from the peak along w
    mask[6, 8, 2] = 1   # (3, 3, 0) away: sqrt(18) = 4.243
    # Its bounding box [3,5,2,7,9,7) holds the peak, but the peak voxel is not object.
    write_nifti("masked_seg.nii.gz", mask)
    masks = write_csv("masks.csv", [("path", "mask", "class"),
                                    ("masked.nii.gz", "masked_seg.nii.gz", 0)])
    for tol, hit in ((0, 0), (4, 0), (4.01, 1)):
        j = eval_json(path, scan, "--masks", masks, "--tolerance", tol)
        assert j["pointing_hits"] == hit, (tol, j)
        # CAM box [2,3,1,5,7,4) against the mask's box [3,5,2,7,9,7): 2*2*2 / (36 + 80 - 8).
        assert abs(j["thresholds"][0]["mean_iou"] - 8 / 108) < 1e-12, j["thresholds"]


def test_masks_on_another_grid_or_empty_skip_their_input():
    path = export(Identity3d(), "identity3d_bad", 8, 10, 12, 2)
    vol = np.random.default_rng(1).random((8, 10, 12)).astype(np.float32)
    good = write_nifti("good.nii.gz", vol)
    bad = write_nifti("bad.nii.gz", vol)
    empty = write_nifti("empty.nii.gz", vol)
    write_nifti("small_seg.nii.gz", np.ones((8, 10, 11), np.uint8))
    write_nifti("zero_seg.nii.gz", np.zeros((8, 10, 12), np.uint8))
    write_nifti("good_seg.nii.gz", np.ones((8, 10, 12), np.uint8))
    masks = write_csv("masks_bad.csv", [("good.nii.gz", "good_seg.nii.gz", 0),
                                        ("bad.nii.gz", "small_seg.nii.gz", 0),
                                        ("empty.nii.gz", "zero_seg.nii.gz", 0)])
    r = ct.run("eval", path, good, bad, empty, "--masks", masks, "--json", expect=1)
    assert "small_seg.nii.gz: mask of 8x10x11 voxels, its input has 8x10x12" in r.stderr, r.stderr
    assert "zero_seg.nii.gz: the mask has no object voxel" in r.stderr, r.stderr
    j = json.loads(r.stdout)
    assert j["counts"]["evaluated"] == 1 and j["counts"]["skipped"] == 2, j
    # A whole-volume mask: IoU of the CAM box with the whole grid, pointing always a hit.
    assert j["pointing_hits"] == 1
    r = ct.run("eval", path, good, "--masks", masks, "--faithfulness", expect=2)
    assert "--faithfulness is not available for 3-D models" in r.stderr, r.stderr


# ------------------------------------------------------------------ against the reference

def test_eval_of_resampled_scans_matches_the_reference():
    torch.manual_seed(11)
    model = Small3d().eval()
    path = export(model, "small3d_eval", 8, 16, 16, 3, {"size": [8, 16, 16]})
    rng = np.random.default_rng(5)
    shape = (10, 20, 18)  # resampled to 8x16x16 for the model; maps compared on this grid
    scans, box_rows, mask_rows, truths = [], [("path", "z0", "y0", "x0", "z1", "y1", "x1",
                                               "class")], [], []
    for i in range(5):
        vol = rng.standard_normal(shape).astype(np.float32)
        vol[2 + i:6 + i, 4:12, 3 + i:10 + i] += 2.0  # something for the maps to find
        name = f"scan{i}.nii.gz"
        scans.append(write_nifti(name, vol))
        c = i % 3
        b = (1 + i, 3, 2 + i, 6 + i, 13, 11 + i)
        obj = np.zeros(shape, np.uint8)
        obj[3 + i:5 + i, 5:9, 4:7] = 1
        obj[8, 15, 15] = 1
        write_nifti(f"scan{i}_seg.nii.gz", obj)
        box_rows.append((name, *b, c))
        mask_rows.append((name, f"scan{i}_seg.nii.gz", c))
        truths.append((vol, c, b, obj.astype(bool)))
    boxes = write_csv("ref_boxes.csv", box_rows)
    masks = write_csv("ref_masks.csv", mask_rows)
    thresholds, tol = (0.2, 0.5), 2.5
    # The reference, trial by trial.
    ref = {"box": {"iou": [[], []], "hit": 0}, "mask": {"iou": [[], []], "hit": 0}, "top1": 0}
    for vol, c, b, obj in truths:
        x = F.interpolate(torch.from_numpy(vol)[None, None], size=(8, 16, 16), mode="trilinear",
                          align_corners=False)
        raw, logits = cam(model, x, c)
        ref["top1"] += int(torch.argmax(logits)) == c
        disp = display(raw, shape)
        idx = np.argwhere(obj)
        mask_box = (*idx.min(0), *(idx.max(0) + 1))
        for k, t in enumerate(thresholds):
            got = cam_box(disp, t)
            ref["box"]["iou"][k].append(iou3(got, b))
            ref["mask"]["iou"][k].append(iou3(got, mask_box))
        ref["box"]["hit"] += points_at(peak(disp), box_voxels(shape, b), tol)
        ref["mask"]["hit"] += points_at(peak(disp), obj, tol)
    for kind, flag, csv in (("box", "--boxes", boxes), ("mask", "--masks", masks)):
        j = eval_json(path, *scans, flag, csv, "--box-threshold", "0.2,0.5", "--tolerance", tol)
        assert j["counts"]["trials"] == 5, j["counts"]
        assert j["top1_cls_correct"] == ref["top1"], (j["top1_cls_correct"], ref["top1"])
        assert j["pointing_hits"] == ref[kind]["hit"], (kind, j["pointing_hits"], ref[kind])
        for k, row in enumerate(j["thresholds"]):
            ious = ref[kind]["iou"][k]
            assert abs(row["mean_iou"] - np.mean(ious)) < 1e-9, (kind, k, row, ious)
            assert row["gt_known_loc_correct"] == sum(v >= 0.5 for v in ious), (kind, row, ious)
    # The table names the tolerance's unit.
    r = ct.run("eval", path, *scans, "--boxes", boxes)
    assert "tolerance 15 voxels" in r.stdout, r.stdout


# ------------------------------------------------------------------ DICOM series

def oblique():
    th = 0.25
    row = np.array([np.cos(th), np.sin(th), 0.0])      # direction of increasing column
    col = np.array([-np.sin(th) * 0.6, np.cos(th) * 0.6, 0.8])
    col = col - row * (row @ col)
    col /= np.linalg.norm(col)
    return row, col


def write_series(folder, stored, slope, inter, spacing=(0.7, 0.9), step=1.5):
    """One CT series, one file per slice, named and numbered out of position order."""
    os.makedirs(folder, exist_ok=True)
    row, col = oblique()
    normal = np.cross(row, col)
    origin = np.array([-30.0, 12.0, 40.0])
    series = generate_uid()
    order = np.random.default_rng(3).permutation(len(stored))
    for k in range(len(stored)):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = pydicom.uid.CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        name = os.path.join(folder, f"IM{order[k]:04d}")  # no extension: found by its marker
        ds = FileDataset(name, {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.SeriesInstanceUID = series
        ds.Modality = "CT"
        ds.InstanceNumber = int(len(stored) - order[k])  # disagrees with the positions
        ds.ImagePositionPatient = [float(v) for v in origin + k * step * normal]
        ds.ImageOrientationPatient = [float(v) for v in (*row, *col)]
        ds.PixelSpacing = [spacing[0], spacing[1]]
        ds.SliceThickness = step
        ds.Rows, ds.Columns = stored.shape[1:]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = slope, inter
        ds.WindowCenter, ds.WindowWidth = 40, 400  # the file's window must not apply
        ds.PixelData = stored[k].astype("<i2").tobytes()
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.save_as(name, write_like_original=False)
    return folder


def read_series_reference(folder):
    """The series through pydicom: modality values sorted along the normal, RAS affine."""
    files = [pydicom.dcmread(os.path.join(folder, f)) for f in sorted(os.listdir(folder))]
    iop = np.array(files[0].ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    files.sort(key=lambda d: float(np.dot(np.array(d.ImagePositionPatient, float), normal)))
    vol = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept)
                    for d in files]).astype(np.float32)
    p0 = np.array(files[0].ImagePositionPatient, float)
    pn = np.array(files[-1].ImagePositionPatient, float)
    dr, dc = (float(v) for v in files[0].PixelSpacing)
    lps = np.eye(4)
    lps[:3, 0] = (pn - p0) / (len(files) - 1)  # slice index d
    lps[:3, 1] = iop[3:] * dr                  # row index h: along the column direction
    lps[:3, 2] = iop[:3] * dc                  # column index w
    lps[:3, 3] = p0
    return vol, np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


def test_dicom_series_is_a_scan_of_a_3d_model():
    stored = np.random.default_rng(4).integers(-200, 900, size=(6, 12, 10)).astype(np.int16)
    folder = write_series(os.path.join(ct.TMP, "ct_series"), stored, 2.0, -1024.0)
    want, affine = read_series_reference(folder)
    assert np.allclose(want[0], stored[0] * 2.0 - 1024.0)  # position order is file order
    torch.manual_seed(2)
    model = Small3d().eval()
    window = [100.0, 1500.0]
    path = export(model, "small3d_dcm", 6, 12, 10, 3, {"window": window})
    lo = window[0] - window[1] / 2
    x = torch.from_numpy(np.clip((want - lo) / window[1], 0, 1).astype(np.float32))[None, None]
    raw, _ = cam(model, x, 1)
    out = os.path.join(ct.TMP, "dcm_out")
    ct.run("explain", path, folder, "--raw", "--class", "1", "-o", out)
    rec = json.load(open(os.path.join(out, "ct_series.json")))
    assert rec["volume3d"]["kind"] == "dicom" and rec["image"]["depth"] == 6, rec["volume3d"]
    assert rec["volume3d"]["affine_source"] == "dicom"
    np.testing.assert_allclose(np.array(rec["volume3d"]["affine"]), affine, atol=1e-6)
    e = rec["explanations"][0]
    got = np.load(os.path.join(out, e["raw"])).astype(np.float64)
    assert got.shape == tuple(raw.shape)
    np.testing.assert_allclose(got, raw.numpy(), rtol=1e-4, atol=1e-5 * np.abs(raw).max().item())
    disp = display(raw, want.shape)
    p = peak(disp)
    assert tuple(e["peak"]["voxel"]) == tuple(int(v) for v in p), (e["peak"], p)
    np.testing.assert_allclose(e["peak"]["world"], (affine @ np.r_[p, 1])[:3], atol=1e-4)
    # The same series evaluated: its folder is the path in the boxes CSV.
    b = (1, 2, 2, 5, 9, 8)
    boxes = write_csv("dcm_boxes.csv", [("ct_series", *b, 1)])
    j = eval_json(path, folder, "--boxes", boxes, "--tolerance", 1)
    assert j["counts"]["trials"] == 1, j
    assert abs(j["thresholds"][0]["mean_iou"] - iou3(cam_box(disp, 0.2), b)) < 1e-9, j
    assert j["pointing_hits"] == int(points_at(p, box_voxels(want.shape, b), 1)), j


# ------------------------------------------------------------------ normalisation

def check_normalisation(name, preprocess, prepare, shape=(9, 14, 13), mean=None, std=None):
    torch.manual_seed(7)
    model = Small3d().eval()
    top = {"mean": [mean], "std": [std]} if mean is not None else {}
    path = export(model, name, 8, 12, 12, 3, dict(preprocess, size=[8, 12, 12]), **top)
    vol = (np.random.default_rng(6).standard_normal(shape) * 300 + 50).astype(np.float32)
    scan = write_nifti(name + ".nii.gz", vol)
    x = prepare(torch.from_numpy(vol).double())
    x = F.interpolate(x[None, None].float(), size=(8, 12, 12), mode="trilinear",
                      align_corners=False)
    if mean is not None:
        x = (x - mean) / std
    raw, _ = cam(model, x, 2)
    out = os.path.join(ct.TMP, name + "_out")
    ct.run("explain", path, scan, "--raw", "--class", "2", "-o", out)
    rec = json.load(open(os.path.join(out, name + ".nii.json")))
    got = np.load(os.path.join(out, rec["explanations"][0]["raw"])).astype(np.float64)
    err = np.abs(got - raw.numpy()).max() / np.abs(raw.numpy()).max()
    assert err < 1e-4, f"{name}: max relative error {err:.3g}"


def test_window_then_mean_std_matches_torch():
    # MONAI ScaleIntensityRange(a_min=c - w/2, a_max=c + w/2, b_min=0, b_max=1, clip=True).
    def window(v, c=40.0, w=400.0):
        return ((v - (c - w / 2)) / w).clamp(0, 1)
    check_normalisation("win", {"window": [40, 400]}, window, mean=0.3, std=0.2)


def test_zscore_of_the_volume_matches_torch():
    # MONAI NormalizeIntensity: (v - mean) / std over the whole volume, population std.
    check_normalisation("zs", {"zscore": True},
                        lambda v: (v - v.mean()) / v.std(unbiased=False))


def test_mean_std_alone_matches_torch():
    check_normalisation("ms", {}, lambda v: v, mean=50.0, std=300.0)


if __name__ == "__main__":
    sys.exit(ct.main(globals()))
