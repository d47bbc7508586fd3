#!/usr/bin/python3
"""3-D classifiers (volumes, video clips): maps in (d, h, w), NIfTI in and out.

    /usr/bin/python3 tests/python/test_volumes3d.py FIXTURES_DIR CAMKIT_BINARY

On seeded-random torchvision r3d_18, mc3_18 and r2plus1d_18 and a small custom 3-D CNN taking
[1, 1, D, H, W]: camkit's raw maps against references computed here with forward hooks and
autograd from the papers' definitions (CAM, Grad-CAM, Grad-CAM++, XGrad-CAM, LayerCAM,
HiResCAM, Eigen-CAM, Score-CAM, Ablation-CAM), within 1e-4 relative; NIfTI-1 and NIfTI-2 scans
written by nibabel (scaling slope and intercept, an oblique affine, 4-D channels) read as
nibabel reads them; trilinear resampling against torch's interpolate(align_corners=False); the
display map written as NIfTI and read back by nibabel with the scan's affine; the peak voxel
and 3-D box in the record; refusals (a 2-D image for a 3-D model, --volume with a 3-D model).
"""

import json
import os
import sys

import nibabel as nib
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.models.video as tvv

import camkit_testing as ct  # noqa: I001  (puts tools/ on the path)
import export_model as em


class Small3d(nn.Module):
    """Conv3d -> ReLU -> Conv3d (stride 2) -> ReLU -> global average pooling -> Linear."""

    def __init__(self, in_channels=1, k=3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(in_channels, 8, 3, padding=1), nn.ReLU(),
            nn.Conv3d(8, 12, 3, stride=2, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(12, k)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def small(seed=5, in_channels=1):
    torch.manual_seed(seed)
    return Small3d(in_channels).eval()


def video(arch, seed=3, k=5):
    torch.manual_seed(seed)
    m = getattr(tvv, arch)(num_classes=k)
    with torch.no_grad():  # running statistics that are not the identity: BN must matter
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm3d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
    return m.eval()


def export(model, name, c, d, h, w, k):
    path = os.path.join(ct.TMP, name + ".pt")
    meta = {"camkit_meta_version": 1, "architecture": name, "num_classes": k,
            "task": "multiclass",
            "input": {"channels": c, "depth": d, "height": h, "width": w}, "preprocess": {}}
    gen = torch.Generator().manual_seed(0)
    em.export(model, path, meta, example=torch.randn(1, c, d, h, w, generator=gen))
    return path


def volume_npy(seed, shape):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    path = os.path.join(ct.TMP, f"v{seed}_{'x'.join(map(str, shape))}.npy")
    np.save(path, x)
    t = torch.from_numpy(x)
    return path, t[None, None] if t.dim() == 3 else t[None]  # [D, H, W] is one channel


def explain(model_path, x_path, *flags):
    out = os.path.join(ct.TMP, "out", os.path.basename(model_path), str(abs(hash(flags))))
    ct.run("explain", model_path, x_path, "--raw", "-o", out, *flags)
    base = os.path.basename(x_path)
    stem = base[:-4] if base.endswith(".npy") else os.path.splitext(base)[0]
    rec = json.load(open(os.path.join(out, stem + ".json")))
    maps = [np.load(os.path.join(out, e["raw"])).astype(np.float64) for e in rec["explanations"]]
    return rec, maps, out


def close(got, want, what, rtol=1e-4):
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs {want.shape}"
    err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-12)
    assert err <= rtol, f"{what}: max relative error {err:.3g}"


# ------------------------------------------------------------------ references (float64)

def hooked(model, x, module, c):
    """A (C, d, h, w) at module's output, dy_c/dA, and the logits, from one forward."""
    store = {}
    handle = module.register_forward_hook(lambda _m, _i, out: store.__setitem__("a", out))
    try:
        with torch.enable_grad():
            y = model(x.detach().clone().requires_grad_(True))
            (g,) = torch.autograd.grad(y[0, c], store["a"])
    finally:
        handle.remove()
    return store["a"].detach()[0].double(), g.detach()[0].double(), y.detach()


def space(t):
    return tuple(range(1, t.dim()))


def weighted(w, a):
    return torch.einsum("k,k...->...", w, a)


def ref_gradcam(a, g):  # Selvaraju et al. 2017, eq. 1-2
    return weighted(g.mean(space(g)), a)


def ref_gradcam_pp(a, g):  # Chattopadhay et al. 2018, eq. 19 with the exponential's powers
    g2, g3 = g * g, g * g * g
    denom = 2 * g2 + a.sum(space(a), keepdim=True) * g3
    alpha = torch.where(g != 0, g2 / torch.where(denom != 0, denom, torch.ones_like(denom)),
                        torch.zeros_like(g))
    return weighted((alpha * g.clamp(min=0)).sum(space(g)), a)


def ref_xgradcam(a, g):  # Fu et al. 2020, eq. 6
    return weighted((a * g).sum(space(a)) / (a.sum(space(a)) + 1e-7), a)


def ref_layercam(a, g):  # Jiang et al. 2021, eq. 5-6
    return (g.clamp(min=0) * a).sum(0)


def ref_hirescam(a, g):  # Draelos & Carin 2020
    return (g * a).sum(0)


def ref_eigencam(a):  # Muhammad & Yeasin 2020: the first principal component of the positions
    x = a.reshape(a.shape[0], -1).T
    x = x - x.mean(0, keepdim=True)
    _, _, vh = torch.linalg.svd(x, full_matrices=False)
    proj = x @ vh[0]
    mean = a.mean(0).reshape(-1)
    if ((proj - proj.mean()) * (mean - mean.mean())).sum() < 0:
        proj = -proj
    return proj.reshape(a.shape[1:])


def ref_masks(x, a):
    """Score-CAM's masks of a volume: trilinear upsampling, min-max, constant -> zero."""
    up = F.interpolate(a[None].float(), size=x.shape[2:], mode="trilinear",
                       align_corners=False)[0]
    flat = up.reshape(up.shape[0], -1)
    lo, hi = flat.min(1).values.view(-1, 1, 1, 1), flat.max(1).values.view(-1, 1, 1, 1)
    return torch.where(hi > lo, (up - lo) / torch.where(hi > lo, hi - lo, 1.0),
                       torch.zeros_like(up))


def ref_sscam(model, x, a, c, sigma, n, seed):  # Wang et al. 2020 (SS-CAM), noise on masks
    gen = torch.Generator().manual_seed(seed)
    s = []
    with torch.no_grad():
        for m in ref_masks(x, a):
            noisy = m[None] + torch.randn((n,) + tuple(x.shape[2:]), generator=gen) * sigma
            s.append(model(x * noisy[:, None])[:, c].double().mean())
    return weighted(torch.softmax(torch.stack(s), 0), a)


def ref_iscam(model, x, a, c, n):  # Naidu et al. 2020 (IS-CAM), steps t/n of each mask
    s = []
    with torch.no_grad():
        for m in ref_masks(x, a):
            path = torch.stack([(t / n) * m for t in range(1, n + 1)])
            s.append(model(x * path[:, None])[:, c].double().mean())
    return weighted(torch.softmax(torch.stack(s), 0), a)


def ref_scorecam(model, x, a, c):  # Wang et al. 2020, Algorithm 1
    up = F.interpolate(a[None].float(), size=x.shape[2:], mode="trilinear",
                       align_corners=False)[0].double()
    flat = up.reshape(up.shape[0], -1)
    lo, hi = flat.min(1).values, flat.max(1).values
    rng = (hi - lo).view(-1, 1, 1, 1)
    masks = torch.where(rng > 0, (up - lo.view(-1, 1, 1, 1)) / torch.where(rng > 0, rng, 1.0),
                        torch.zeros_like(up))
    with torch.no_grad():
        s = torch.stack([model(x * m.float()[None, None])[0, c] for m in masks]).double()
    return weighted(torch.softmax(s, 0), a)


def ref_ablationcam(model, x, module, a, c):  # Desai & Ramaswamy 2020, eq. 3
    with torch.no_grad():
        y = model(x)[0, c].double()
        drops = []
        for k in range(a.shape[0]):
            def zero(_m, _i, out, k=k):
                out = out.clone()
                out[:, k] = 0
                return out
            h = module.register_forward_hook(zero)
            try:
                drops.append(model(x)[0, c].double())
            finally:
                h.remove()
    return weighted((y - torch.stack(drops)) / y, a)


GRADIENT = {"gradcam": ref_gradcam, "gradcam++": ref_gradcam_pp, "xgradcam": ref_xgradcam,
            "layercam": ref_layercam, "hirescam": ref_hirescam}


def check_methods(model, module, path, x_path, x, c, extra=()):
    a, g, _ = hooked(model, x, module, c)
    rec, maps, _ = explain(path, x_path, "--method", "cam", "--class", str(c))
    assert rec["feature_shape"] == list(a.shape), (rec["feature_shape"], a.shape)
    close(maps[0], weighted(model.fc.weight[c].detach().double(), a), f"{path} cam")
    for name, fn in GRADIENT.items():
        rec, maps, _ = explain(path, x_path, "--method", name, "--class", str(c))
        assert rec["feature_shape"] == list(a.shape), (name, rec["feature_shape"])
        close(maps[0], fn(a, g), f"{path} {name}")
    _, maps, _ = explain(path, x_path, "--method", "eigencam", "--class", str(c))
    close(maps[0], ref_eigencam(a), f"{path} eigencam")
    for name in extra:
        _, maps, _ = explain(path, x_path, "--method", name, "--class", str(c))
        want = (ref_scorecam(model, x, a, c) if name == "scorecam"
                else ref_ablationcam(model, x, module, a, c))
        close(maps[0], want, f"{path} {name}")


# ------------------------------------------------------------------ tests

def test_small_3d_cnn_every_method_matches_the_reference():
    model = small()
    path = export(model, "small3d", 1, 8, 16, 16, 3)
    x_path, x = volume_npy(1, (8, 16, 16))  # [D, H, W]: one channel
    check_methods(model, model.features[3], path, x_path, x, 2,
                  extra=("scorecam", "ablationcam"))


def test_small_3d_cnn_sscam_and_iscam_match_the_reference():
    model = small()
    path = export(model, "small3d_ss", 1, 8, 16, 16, 3)
    x_path, x = volume_npy(4, (8, 16, 16))
    a, _, _ = hooked(model, x, model.features[3], 1)
    rec, maps, _ = explain(path, x_path, "--method", "sscam", "--class", "1", "--noise-sigma",
                           "0.4", "--samples", "3", "--seed", "9")
    assert rec["method_options"] == {"noise": {"sigma": 0.4, "samples": 3, "seed": 9}}, rec
    close(maps[0], ref_sscam(model, x, a, 1, 0.4, 3, 9), "3-D sscam")
    rec, maps, _ = explain(path, x_path, "--method", "iscam", "--class", "1", "--samples", "4")
    assert rec["method_options"] == {"steps": 4}, rec
    close(maps[0], ref_iscam(model, x, a, 1, 4), "3-D iscam")


def test_small_3d_cnn_takes_c_d_h_w_arrays():
    model = small(in_channels=2)
    path = export(model, "small3d_c2", 2, 8, 16, 16, 3)
    x_path, x = volume_npy(2, (2, 8, 16, 16))
    a, g, _ = hooked(model, x, model.features[3], 1)
    _, maps, _ = explain(path, x_path, "--method", "gradcam", "--class", "1")
    close(maps[0], ref_gradcam(a, g), "C,D,H,W gradcam")


def video_models_match(arch):
    model = video(arch)
    path = export(model, arch, 3, 16, 48, 48, 5)
    x_path, x = volume_npy(3, (3, 16, 48, 48))
    check_methods(model, model.layer4, path, x_path, x, 3)


def test_r3d_18_matches_the_reference():
    video_models_match("r3d_18")


def test_mc3_18_matches_the_reference():
    video_models_match("mc3_18")


def test_r2plus1d_18_matches_the_reference():
    video_models_match("r2plus1d_18")


def test_cam_head_and_default_layer_of_r3d_18():
    model = video("r3d_18")
    path = export(model, "r3d_18_info", 3, 16, 48, 48, 5)
    x_path, _ = volume_npy(4, (3, 16, 48, 48))
    rec, maps, _ = explain(path, x_path)  # method auto: CAM, through its identity check
    assert rec["method"] == "cam", rec["method"]
    assert rec["feature_shape"] == [512, 2, 3, 3], rec["feature_shape"]
    assert maps[0].shape == (2, 3, 3)
    rec, _, _ = explain(path, x_path, "--method", "gradcam")
    assert rec["feature_shape"] == [512, 2, 3, 3], rec["feature_shape"]


def oblique_affine():
    rot = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    th = 0.3
    tilt = np.array([[1, 0, 0], [0, np.cos(th), -np.sin(th)], [0, np.sin(th), np.cos(th)]])
    aff = np.eye(4)
    aff[:3, :3] = tilt @ rot @ np.diag([1.5, 0.8, 2.0])
    aff[:3, 3] = [-10.0, 20.0, 5.0]
    return aff


def write_nifti(name, data, affine, version=1, slope=None, inter=None):
    cls = nib.Nifti1Image if version == 1 else nib.Nifti2Image
    img = cls(data, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=2)
    if slope is not None:
        img.header.set_slope_inter(slope, inter)
    path = os.path.join(ct.TMP, name)
    nib.save(img, path)
    return path


def test_nifti_scans_are_read_as_nibabel_reads_them():
    model = small()
    path = export(model, "small3d_nii", 1, 8, 16, 16, 3)
    rng = np.random.default_rng(7)
    stored = rng.integers(-300, 300, size=(8, 16, 16)).astype(np.int16)
    aff = oblique_affine()
    for version, name in ((1, "scan1.nii.gz"), (2, "scan2.nii")):
        nii = write_nifti(name, stored, aff, version, slope=0.01, inter=-0.5)
        want = np.asarray(nib.load(nii).get_fdata(), dtype=np.float32)  # (i, j, k)
        x = torch.from_numpy(want)[None, None]
        a, g, _ = hooked(model, x, model.features[3], 0)
        rec, maps, out = explain(path, nii, "--method", "gradcam", "--class", "0")
        close(maps[0], ref_gradcam(a, g), f"NIfTI-{version} gradcam")
        assert rec["image"]["depth"] == 8 and rec["volume3d"]["kind"] == "nifti"
        np.testing.assert_allclose(np.array(rec["volume3d"]["affine"]), aff, atol=1e-5)
        e = rec["explanations"][0]
        back = nib.load(os.path.join(out, e["nifti"]))
        np.testing.assert_allclose(back.affine, aff, atol=1e-5)
        assert back.header["sform_code"] == 2 and back.header["qform_code"] == 1
        disp = np.asarray(back.get_fdata())
        # Display map: ReLU, trilinear to the scan's grid, min-max (docs/methods.md).
        raw = torch.from_numpy(maps[0]).clamp(min=0)[None, None].float()
        up = F.interpolate(raw, size=stored.shape, mode="trilinear", align_corners=False)[0, 0]
        up = up.double().numpy()
        up = (up - up.min()) / (up.max() - up.min())
        assert disp.shape == stored.shape
        np.testing.assert_allclose(disp, up, atol=1e-5)
        peak = np.unravel_index(np.argmax(disp), disp.shape)
        assert tuple(e["peak"]["voxel"]) == tuple(int(p) for p in peak), (e["peak"], peak)
        np.testing.assert_allclose(e["peak"]["world"], (aff @ np.r_[peak, 1])[:3], atol=1e-4)
        # The CAM-paper box: 26-connected component of >= 20% of the max around the peak.
        d0, h0, w0, d1, h1, w1 = e["box_3d"]["voxels"]
        assert d0 <= peak[0] < d1 and h0 <= peak[1] < h1 and w0 <= peak[2] < w1
        assert e["overlay"] and len(e["planes"]) == 3
        for p in e["planes"]:
            assert os.path.exists(os.path.join(out, p["overlay"])), p


def test_four_d_nifti_gives_the_channels():
    model = small(in_channels=2)
    path = export(model, "small3d_nii4", 2, 8, 16, 16, 3)
    data = np.random.default_rng(8).standard_normal((8, 16, 16, 2)).astype(np.float32)
    nii = write_nifti("four.nii.gz", data, np.diag([2.0, 2.0, 3.0, 1.0]))
    x = torch.from_numpy(np.moveaxis(data, 3, 0).copy())[None]
    a, g, _ = hooked(model, x, model.features[3], 2)
    _, maps, _ = explain(path, nii, "--method", "layercam", "--class", "2")
    close(maps[0], ref_layercam(a, g), "4-D NIfTI layercam")


def test_volumes_are_resampled_trilinearly_as_torch_does():
    model = small()
    path = export(model, "small3d_rs", 1, 8, 16, 16, 3)
    data = np.random.default_rng(9).standard_normal((11, 21, 13)).astype(np.float32)
    nii = write_nifti("rs.nii.gz", data, np.eye(4))
    x = F.interpolate(torch.from_numpy(data)[None, None], size=(8, 16, 16), mode="trilinear",
                      align_corners=False)
    a, g, _ = hooked(model, x, model.features[3], 1)
    rec, maps, out = explain(path, nii, "--method", "gradcam", "--class", "1", "--size", "8,16,16")
    close(maps[0], ref_gradcam(a, g), "resampled gradcam")
    back = nib.load(os.path.join(out, rec["explanations"][0]["nifti"]))
    assert back.shape == data.shape, back.shape


def test_a_2d_image_for_a_3d_model_is_refused():
    model = small()
    path = export(model, "small3d_2d", 1, 8, 16, 16, 3)
    img = os.path.join(ct.TMP, "flat.npy")
    np.save(img, np.zeros((1, 16, 16), np.float32))  # [C, H, W]: a 3-D array, not a volume
    r = ct.run("explain", path, img, "-o", os.path.join(ct.TMP, "o2d"), expect=1)
    assert "flat.npy" in r.stderr, r.stderr
    png = os.path.join(ct.TMP, "flat.png")
    import cv2
    cv2.imwrite(png, np.zeros((16, 16), np.uint8))
    r = ct.run("explain", path, png, "-o", os.path.join(ct.TMP, "o2dp"), expect=1)
    assert "flat.png" in r.stderr, r.stderr
    r = ct.run("explain", path, img, "--volume", "-o", os.path.join(ct.TMP, "o2dv"), expect=2)
    assert "3-D model" in r.stderr, r.stderr


def test_image_only_methods_are_refused_for_3d_models_before_any_input():
    path = export(small(), "small3d_guided", 1, 8, 16, 16, 3)
    x_path, _ = volume_npy(12, (8, 16, 16))
    for flags in (("--method", "guided-backprop"), ("--method", "guided-gradcam"),
                  ("--method", "fullgrad"),
                  ("--method", "gradcam", "--aug-smooth")):
        r = ct.run("explain", path, x_path, *flags, "-o", os.path.join(ct.TMP, "oguided"),
                   expect=2)
        assert "is for image models; 3-D models take the other methods" in r.stderr, r.stderr
        assert not os.path.exists(os.path.join(ct.TMP, "oguided", "v12_8x16x16.json"))


def test_a_volume_of_the_wrong_depth_is_refused():
    model = small()
    path = export(model, "small3d_depth", 1, 8, 16, 16, 3)
    x_path, _ = volume_npy(10, (6, 16, 16))
    r = ct.run("explain", path, x_path, "-o", os.path.join(ct.TMP, "odepth"), expect=1)
    assert "depth" in r.stderr, r.stderr


class PartialPool(nn.Module):
    """Pools over H and W only, then takes the max over depth: not a CAM head."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv3d(1, 6, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        return self.fc(self.features(x).mean((3, 4)).max(2).values)


class DepthPooledEarly(nn.Module):
    """Averages the depth away after the first block: its last maps are 2-D."""

    def __init__(self):
        super().__init__()
        self.conv3 = nn.Sequential(nn.Conv3d(1, 6, 3, padding=1), nn.ReLU())
        self.conv2 = nn.Sequential(nn.Conv2d(6, 8, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(self.conv2(self.conv3(x).mean(2)).mean((2, 3)))


def test_a_pooling_that_is_not_global_is_no_cam_head():
    torch.manual_seed(11)
    model = PartialPool().eval()
    path = export(model, "partial3d", 1, 8, 16, 16, 3)
    x_path, x = volume_npy(11, (8, 16, 16))
    r = ct.run("explain", path, x_path, "--method", "cam", "-o", os.path.join(ct.TMP, "opp"),
               expect=3)
    assert "global" in r.stderr, r.stderr
    a, g, _ = hooked(model, x, model.features, 1)
    rec, maps, _ = explain(path, x_path, "--method", "gradcam", "--class", "1")
    close(maps[0], ref_gradcam(a, g), "partial pool gradcam")


def test_a_layer_without_the_depth_axis_is_never_the_map():
    torch.manual_seed(12)
    model = DepthPooledEarly().eval()
    path = export(model, "early2d", 1, 8, 16, 16, 3)
    x_path, x = volume_npy(12, (8, 16, 16))
    # Its CAM head pools 2-D maps: none; the default layer is the last map with a depth.
    a, g, _ = hooked(model, x, model.conv3, 0)
    rec, maps, _ = explain(path, x_path, "--class", "0")
    assert rec["method"] == "gradcam" and rec["feature_layer"] == "conv3", rec
    close(maps[0], ref_gradcam(a, g), "default layer gradcam")
    r = ct.run("explain", path, x_path, "--layer", "conv2", "-o", os.path.join(ct.TMP, "oe2"),
               expect=3)
    assert "spatial axes" in r.stderr, r.stderr
    _, maps, _ = explain(path, x_path, "--method", "gradcam", "--class", "0",
                         "--layer", "conv3")
    close(maps[0], ref_gradcam(a, g), "--layer conv3 gradcam")


def write_video(name, frames, size=(40, 32), fps=10):
    """An MJPG .avi of smooth moving colour blobs; returns its path and the decoded frames
    (RGB uint8, as OpenCV's FFmpeg backend returns them: the same decoder camkit uses)."""
    import cv2
    path = os.path.join(ct.TMP, name)
    w, h = size
    out = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    yy, xx = np.mgrid[0:h, 0:w]
    for t in range(frames):
        img = np.stack([np.exp(-((xx - 3 - t) ** 2 + (yy - 10) ** 2) / (2 * (4 + c) ** 2))
                        for c in range(3)], axis=-1)
        out.write((img * 255).astype(np.uint8)[:, :, ::-1])
    out.release()
    cap = cv2.VideoCapture(path)
    decoded = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        decoded.append(bgr[:, :, ::-1].copy())
    return path, np.stack(decoded)


def video_case(name, resize, rtol):
    from torchvision.transforms._presets import VideoClassification
    torch.manual_seed(13)
    model = Small3d(in_channels=3).eval()
    mean, std = [0.43216, 0.394666, 0.37645], [0.22803, 0.22145, 0.216989]
    path = os.path.join(ct.TMP, name + ".pt")
    meta = {"camkit_meta_version": 1, "architecture": "clip3d", "num_classes": 3,
            "task": "multiclass", "input": {"channels": 3, "depth": 8, "height": 16, "width": 16},
            "preprocess": {"frames": 8, "size": list(resize), "crop": [16, 16]},
            "mean": mean, "std": std}
    em.export(model, path, meta, example=torch.randn(1, 3, 8, 16, 16))
    video_path, frames = write_video(name + ".avi", 21)
    n = len(frames)
    assert n == 21, n
    picked = [int(np.floor((t + 0.5) * n / 8)) for t in range(8)]
    clip = torch.from_numpy(frames[picked]).permute(0, 3, 1, 2)  # (T, C, H, W) uint8
    x = VideoClassification(crop_size=(16, 16), resize_size=resize, mean=mean, std=std)(clip)
    a, g, _ = hooked(model, x[None], model.features[3], 1)
    rec, maps, _ = explain(path, video_path, "--method", "gradcam", "--class", "1")
    assert rec["volume3d"]["frames"] == picked, rec["volume3d"]
    close(maps[0], ref_gradcam(a, g), f"video gradcam ({name})", rtol=rtol)


def test_video_clips_are_sampled_and_cropped_as_torchvision_does():
    # Frames at the preset's size: no interpolation, so the input is torchvision's exactly.
    video_case("clip_same", (32, 40), 1e-4)


def test_video_frames_are_resized_as_torchvision_does_up_to_rounding_ties():
    # torchvision rounds each resized uint8 frame back to levels; where its interpolation and
    # camkit's differ in the last float bit at a tie (x.5), a sample is one level (1/255)
    # apart, which moves the map by ~1e-3 of its range.
    video_case("clip_resized", (24, 30), 5e-3)

if __name__ == "__main__":
    sys.exit(ct.main(globals()))
