"""References for the preprocess area, made by Pillow 9.4 and torchvision 0.14 themselves.

Usage: /usr/bin/python3 tests/python/fixtures_preprocess.py <FIXTURES_DIR>
Writes <FIXTURES_DIR>/preprocess/: input images (PNG, .npy), reference outputs (.npy) and
manifest.json, which lists every case the C++ tests check:
  resize      8-bit PNG -> PIL img.resize((w, h), BILINEAR), uint8 HxW[xC]
  resize_f    float32 .npy -> PIL mode "F" resize, float32 HxW
  resize_i16  16-bit grey PNG -> PIL mode "I" resize (rounded each pass), uint16 HxW, and the
              same image as value/65535 in mode "F", float32 HxW
  grey        8-bit RGB PNG -> convert("L"), uint8 HxW
  pipeline    torchvision Compose for a preset, float32 CxHxW, with the expected geometry
Deterministic (fixed seeds) and quick.
"""

import json
import os
import sys

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def noise(rng, h, w, c):
    shape = (h, w, c) if c > 1 else (h, w)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def gradient(h, w, c):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = [
        128 + 100 * np.sin(x / 23.0 + k) * np.cos(y / 31.0 - k) + 20 * (x / w - y / h)
        for k in range(c)
    ]
    a = np.clip(np.rint(np.stack(planes, axis=-1)), 0, 255).astype(np.uint8)
    return a if c > 1 else a[..., 0]


def main(root):
    out = os.path.join(root, "preprocess")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20240511)
    manifest = {"resize": [], "resize_f": [], "resize_i16": [], "grey": [], "pipeline": []}

    def save_npy(name, array):
        np.save(os.path.join(out, name), np.ascontiguousarray(array))
        return name

    # 8-bit inputs, named <kind>_<W>x<H>.png.
    inputs = {}
    for kind, w, h, c in [
        ("rgb_noise", 500, 333, 3),
        ("rgb_noise", 333, 500, 3),
        ("rgb_grad", 640, 480, 3),
        ("grey_noise", 17, 9, 1),
        ("grey_grad", 300, 200, 1),
        ("rgb_noise", 100, 80, 3),
        ("rgb_noise", 224, 224, 3),
        ("rgb_noise", 302, 300, 3),  # Resize(256) -> 257x256: crop_x round(16.5) = 16
        ("rgb_noise", 304, 300, 3),  # Resize(256) -> 259x256: crop_x round(17.5) = 18
        ("rgb_grad", 9, 17, 3),
    ]:
        a = noise(rng, h, w, c) if "noise" in kind else gradient(h, w, c)
        name = f"{kind}_{w}x{h}.png"
        Image.fromarray(a).save(os.path.join(out, name))
        inputs[name] = Image.open(os.path.join(out, name))
        inputs[name].load()

    # Plain PIL resizes: shrinking (antialiased), strong shrinking, enlarging, mixed, one axis.
    for name, im in inputs.items():
        w, h = im.size
        sizes = {
            (max(1, w * 256 // max(w, h)), max(1, h * 256 // max(w, h))),
            (max(1, w // 5), max(1, h // 5)),
            (int(w * 2.3) + 1, int(h * 1.7) + 1),
            (max(1, w // 2), h * 2 + 3),
            (w, max(1, h // 3)),
            (max(1, (w * 2) // 3), h),
            (224, 224),
        }
        for tw, th in sorted(sizes):
            ref = save_npy(f"resize_{len(manifest['resize']):03d}.npy",
                           np.asarray(im.resize((tw, th), Image.BILINEAR)))
            manifest["resize"].append({"input": name, "width": tw, "height": th, "ref": ref})
        if im.mode == "RGB":
            ref = save_npy(f"grey_{len(manifest['grey']):03d}.npy", np.asarray(im.convert("L")))
            manifest["grey"].append({"input": name, "ref": ref})

    # Float input through PIL mode "F".
    fa = (rng.standard_normal((70, 101)) * 3.0 + np.linspace(-5, 5, 101)).astype(np.float32)
    fname = save_npy("float_101x70.npy", fa)
    fim = Image.fromarray(fa, mode="F")
    for tw, th in [(40, 30), (101, 23), (250, 90), (37, 70), (7, 5)]:
        ref = save_npy(f"resize_f_{len(manifest['resize_f']):03d}.npy",
                       np.asarray(fim.resize((tw, th), Image.BILINEAR), dtype=np.float32))
        manifest["resize_f"].append({"input": fname, "width": tw, "height": th, "ref": ref})

    # 16-bit grey PNG: PIL opens it as mode "I" (int32) and rounds after each pass.
    g16 = np.clip(gradient(190, 250, 1).astype(np.int64) * 257
                  + rng.integers(-300, 300, size=(190, 250)), 0, 65535).astype(np.uint16)
    name16 = "grey16_grad_250x190.png"
    Image.fromarray(g16).save(os.path.join(out, name16))
    im16 = Image.open(os.path.join(out, name16))
    assert im16.mode == "I" and np.array_equal(np.asarray(im16), g16)
    f16 = Image.fromarray(g16.astype(np.float32) / np.float32(65535), mode="F")
    for tw, th in [(128, 97), (224, 224), (600, 300)]:
        i = len(manifest["resize_i16"])
        ref_i = save_npy(f"resize_i16_{i:03d}.npy",
                         np.asarray(im16.resize((tw, th), Image.BILINEAR)).astype(np.uint16))
        ref_f = save_npy(f"resize_i16f_{i:03d}.npy",
                         np.asarray(f16.resize((tw, th), Image.BILINEAR), dtype=np.float32))
        manifest["resize_i16"].append(
            {"input": name16, "width": tw, "height": th, "ref": ref_i, "ref_float": ref_f})

    # Whole pipelines as torchvision runs them.
    imagenet = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                          T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    xray = T.Compose([T.Resize((224, 224)), T.ToTensor(), T.Normalize([0.49], [0.248])])
    for name, im in inputs.items():
        w, h = im.size
        for preset in ("imagenet", "xray"):
            if (w, h) == (224, 224) and preset == "imagenet":
                continue  # camkit uses such inputs as they are; torchvision would resize them
            if preset == "imagenet":
                t = imagenet(im.convert("RGB"))
                size = [256]
                crop = [224, 224]
            else:
                t = xray(im.convert("L"))
                size = [224, 224]
                crop = None
            rh, rw = TF._compute_resized_output_size((h, w), size)
            cy, cx = (0, 0) if crop is None else (int(round((rh - crop[0]) / 2.0)),
                                                    int(round((rw - crop[1]) / 2.0)))
            ref = save_npy(f"pipeline_{len(manifest['pipeline']):03d}.npy",
                           t.numpy().astype(np.float32))
            manifest["pipeline"].append({
                "input": name, "preset": preset, "ref": ref,
                "resized": [rh, rw], "crop": [cy, cx], "shape": list(t.shape)})

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: fixtures_preprocess.py FIXTURES_DIR")
    torch.manual_seed(0)
    main(sys.argv[1])
