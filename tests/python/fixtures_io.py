"""Reference inputs for the io tests, written by NumPy and PIL themselves.

Usage: /usr/bin/python3 tests/python/fixtures_io.py <FIXTURES_DIR>

Writes <FIXTURES_DIR>/io/*.npy and images, plus io/expected.json: for each file either the
Image read_npy/read_image must return (height, width, channels, bit_depth, HWC float32 samples,
tolerance) or a substring of the error it must raise. Deterministic: fixed seeds, no clocks.
"""
import json
import os
import sys

import numpy as np
from PIL import Image

rng = np.random.default_rng(20240611)
cases = []


def hwc(arr, planar):
    """The HWC layout camkit promises for an array stored as CHW (planar) or HWC/HW."""
    if arr.ndim == 2:
        return arr[:, :, None]
    return np.transpose(arr, (1, 2, 0)) if planar else arr


def scaled(arr):
    """float32 samples exactly as ToTensor computes them: float32(x) / float32(full scale)."""
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(255), 8
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / np.float32(65535), 16
    return arr.astype(np.float32), 0


def expect(name, samples, bit_depth, tolerance=0.0):
    h, w, c = samples.shape
    cases.append({"file": name, "height": h, "width": w, "channels": c, "bit_depth": bit_depth,
                  "tolerance": tolerance,
                  "data": [float(v) for v in samples.astype(np.float32).ravel()]})


def save_npy(out, name, arr, planar=False, version=None, batch=False):
    path = os.path.join(out, name)
    stored = arr[None] if batch else arr
    if version is None:
        np.save(path, stored)
    else:
        with open(path, "wb") as f:
            np.lib.format.write_array(f, stored, version=version)
    samples, depth = scaled(arr.astype(arr.dtype.newbyteorder("=")))
    expect(name, hwc(samples, planar), depth)


def save_bad(out, name, arr, error):
    np.save(os.path.join(out, name), arr)
    cases.append({"file": name, "error": error})


def npy_cases(out):
    save_npy(out, "f32_hw.npy", rng.standard_normal((5, 7)).astype(np.float32))
    save_npy(out, "f64_chw.npy", rng.standard_normal((3, 4, 6)), planar=True)
    save_npy(out, "f32_hwc.npy", rng.standard_normal((4, 6, 3)).astype(np.float32))
    save_npy(out, "f32_1hw.npy", rng.random((1, 5, 4)).astype(np.float32), planar=True)
    save_npy(out, "u8_chw.npy", rng.integers(0, 256, (3, 5, 4), dtype=np.uint8), planar=True)
    save_npy(out, "u8_hw.npy", rng.integers(0, 256, (6, 5), dtype=np.uint8))
    save_npy(out, "u16_hwc.npy", rng.integers(0, 65536, (5, 4, 3), dtype=np.uint16))
    save_npy(out, "u16_be.npy", rng.integers(0, 65536, (4, 5), dtype=np.uint16).astype(">u2"))
    save_npy(out, "f32_be_chw.npy", rng.standard_normal((3, 2, 5)).astype(">f4"), planar=True)
    save_npy(out, "f64_be.npy", rng.standard_normal((3, 3)).astype(">f8"))
    save_npy(out, "f32_batch.npy", rng.random((3, 4, 5)).astype(np.float32), planar=True,
             batch=True)
    save_npy(out, "f32_v2.npy", rng.random((2, 3)).astype(np.float32), version=(2, 0))
    save_npy(out, "f32_v3.npy", rng.random((2, 3)).astype(np.float32), version=(3, 0))

    save_bad(out, "fortran.npy", np.asfortranarray(rng.random((4, 5)).astype(np.float32)),
             "Fortran order not supported")
    save_bad(out, "i32.npy", np.arange(12, dtype="<i4").reshape(3, 4), "unsupported dtype '<i4'")
    save_bad(out, "f16.npy", np.zeros((2, 2), np.float16), "unsupported dtype '<f2'")
    save_bad(out, "bool.npy", np.zeros((2, 2), bool), "unsupported dtype '|b1'")
    save_bad(out, "c64.npy", np.zeros((2, 2), np.complex64), "unsupported dtype '<c8'")
    save_bad(out, "object.npy", np.array([[1, "a"]], dtype=object), "unsupported dtype '|O'")
    save_bad(out, "nan.npy", np.array([[0.0, np.nan]], np.float32), "contains NaN or Inf values")
    save_bad(out, "inf.npy", np.array([[np.inf, 0.0]]), "contains NaN or Inf values")
    save_bad(out, "vector.npy", np.zeros(5, np.float32), "unsupported shape (5,)")
    save_bad(out, "scalar.npy", np.float32(1.0), "unsupported shape ()")
    save_bad(out, "empty.npy", np.zeros((0, 5), np.float32), "empty array, shape (0, 5)")
    save_bad(out, "four_channels.npy", np.zeros((4, 5, 6), np.float32),
             "unsupported shape (4, 5, 6)")
    whole = os.path.join(out, "f32_hw.npy")
    with open(whole, "rb") as f:
        data = f.read()
    with open(os.path.join(out, "truncated.npy"), "wb") as f:
        f.write(data[:-6])
    cases.append({"file": "truncated.npy", "error": "needs 140 bytes, file has 134"})


def image_cases(out):
    """Images written and decoded by PIL, the reference torchvision's ImageFolder uses."""
    rgb = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    rgba = rng.integers(0, 256, (4, 3, 4), dtype=np.uint8)
    grey16 = rng.integers(0, 65536, (4, 5), dtype=np.uint16)
    la = rng.integers(0, 256, (3, 4, 2), dtype=np.uint8)
    files = {
        "pil_rgb.png": Image.fromarray(rgb),
        "pil_rgba.png": Image.fromarray(rgba, "RGBA"),
        "pil_la.png": Image.fromarray(la, "LA"),
        "pil_grey16.png": Image.fromarray(grey16),
        "pil_grey16.tif": Image.fromarray(grey16),
        "pil_rgb.tif": Image.fromarray(rgb),
        "pil_rgb.bmp": Image.fromarray(rgb),
        "pil_grey.bmp": Image.fromarray(rgb[:, :, 1]),
    }
    palette = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    files["pil_palette.png"] = palette
    for name, im in files.items():
        im.save(os.path.join(out, name))
    for name in sorted(files):
        decoded = Image.open(os.path.join(out, name))
        if decoded.mode in ("I;16", "I;16B", "I"):
            arr = np.asarray(decoded).astype(np.uint16)
        elif decoded.mode == "L":
            arr = np.asarray(decoded)
        else:
            arr = np.asarray(decoded.convert("RGB"))  # alpha dropped, palette expanded
        samples, depth = scaled(arr)
        expect(name, hwc(samples, False), depth)
    # Both decoders are libjpeg(-turbo); a small tolerance covers a different IDCT choice.
    Image.fromarray(rgb).save(os.path.join(out, "pil_rgb.jpg"), quality=95)
    samples, depth = scaled(np.asarray(Image.open(os.path.join(out, "pil_rgb.jpg"))))
    expect("pil_rgb.jpg", samples, depth, tolerance=2.0 / 255.0)


def volume_cases(out):
    """Volumes saved by np.save for read_volume: io/volumes.json lists, per file, each slice as
    (H, W, C) samples, the way camkit interleaves them."""
    volumes = []

    def save_volume(name, arr, slices_chw):
        np.save(os.path.join(out, name), arr)
        samples, depth = scaled(slices_chw.astype(slices_chw.dtype.newbyteorder("=")))
        volumes.append({"file": name, "bit_depth": depth,
                        "slices": [{"height": s.shape[1], "width": s.shape[2],
                                    "channels": s.shape[0],
                                    "data": [float(v) for v in
                                             np.transpose(s, (1, 2, 0)).astype(np.float32).ravel()]}
                                   for s in samples]})

    shw = rng.standard_normal((4, 3, 5)).astype(np.float32)
    save_volume("vol_f32_shw.npy", shw, shw[:, None])
    schw = rng.integers(0, 256, (2, 3, 4, 3), dtype=np.uint8)
    save_volume("vol_u8_schw.npy", schw, schw)
    batch = rng.standard_normal((1, 3, 1, 2, 4)).astype(">f8")
    save_volume("vol_f64_be_batch.npy", batch, batch[0])
    u16 = rng.integers(0, 65536, (3, 2, 2), dtype=np.uint16)
    save_volume("vol_u16_shw.npy", u16, u16[:, None])
    with open(os.path.join(out, "volumes.json"), "w") as f:
        json.dump({"numpy": np.__version__, "volumes": volumes}, f, indent=1)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: fixtures_io.py <FIXTURES_DIR>")
    out = os.path.join(sys.argv[1], "io")
    os.makedirs(out, exist_ok=True)
    npy_cases(out)
    image_cases(out)
    volume_cases(out)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"numpy": np.__version__, "pillow": Image.__version__, "cases": cases}, f,
                  indent=1)


if __name__ == "__main__":
    main()
