#!/usr/bin/python3
"""Unattended runs over hostile inputs: decompression bombs, arrays and DICOM files whose headers
claim gigabytes, a FIFO, /dev/zero, damaged JPEG/PNG files. Each must fail alone, at once, with
one line naming the file, the reason and (for a limit) the flag that raises it; the good inputs of
the same run must complete; the run's peak memory must stay under 1 GiB.

    /usr/bin/python3 tests/python/test_input_limits.py FIXTURES_DIR CAMKIT_BINARY

Run from the repository root; FIXTURES_DIR is not used. Prints one line per test and
'N passed, N failed'; exits 1 if any test failed.
"""

import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zlib

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHAPES = os.path.join(ROOT, "models", "shapes_cnn.pt")
KNEE = os.path.join(ROOT, "models", "knee_mrnet.pt")
GIB = 1 << 30
CAMKIT = None
TMP = None


def run(args, timeout=120):
    """Runs camkit; returns (exit code, stdout, stderr lines, peak RSS in bytes, seconds)."""
    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    start = time.monotonic()
    p = subprocess.Popen([CAMKIT, *args], stdout=out, stderr=err, start_new_session=True)
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.killpg(p.pid, signal.SIGKILL)
            os.wait4(p.pid, 0)
            raise AssertionError(f"camkit {' '.join(args)} still running after {timeout} s")
        time.sleep(0.05)
    seconds = time.monotonic() - start
    out.seek(0)
    err.seek(0)
    lines = [ln for ln in err.read().decode().splitlines() if ln]
    return os.waitstatus_to_exitcode(status), out.read().decode(), lines, usage.ru_maxrss * 1024, \
        seconds


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(path, side=15000):
    """A real PNG of side x side zero RGB pixels: ~650 KB on disk, 675 MB decoded as bytes."""
    z = zlib.compressobj(9)
    row = bytes(1 + 3 * side)
    body = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2,
                                                                        0, 0, 0)))
        f.write(png_chunk(b"IDAT", body) + png_chunk(b"IEND", b""))


def sparse_npy(path, descr, shape, data_bytes):
    """A .npy file whose data is a hole: as large as the header says, nothing stored on disk."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": descr, "fortran_order": False, "shape": shape})
        f.truncate(f.tell() + data_bytes)


def dicom_element(group, element, vr, value):
    if isinstance(value, str):
        value = value.encode()
        if len(value) % 2:
            value += b"\0" if vr == "UI" else b" "
    if vr in ("OB", "OW", "SQ", "UN", "UT"):
        return struct.pack("<HH2sHI", group, element, vr.encode(), 0, len(value)) + value
    return struct.pack("<HH2sH", group, element, vr.encode(), len(value)) + value


def dicom_frames(path, frames, rows, columns, rle=False):
    """Explicit VR little endian (or RLE) DICOM declaring `frames` 8-bit frames; native data holds
    all of them (1x1 frames: 60 KB for 60000), RLE data holds one fragment."""
    us = lambda v: struct.pack("<H", v)  # noqa: E731
    xfer = "1.2.840.10008.1.2.5" if rle else "1.2.840.10008.1.2.1"
    sop = "1.2.840.10008.5.1.4.1.1.7"
    meta = (dicom_element(2, 1, "OB", b"\0\1") + dicom_element(2, 2, "UI", sop) +
            dicom_element(2, 3, "UI", "1.2.3.4") + dicom_element(2, 0x10, "UI", xfer))
    meta = dicom_element(2, 0, "UL", struct.pack("<I", len(meta))) + meta
    ds = dicom_element(8, 0x16, "UI", sop) + dicom_element(0x20, 0xE, "UI", "1.2.3")
    ds += dicom_element(0x28, 2, "US", us(1)) + dicom_element(0x28, 4, "CS", "MONOCHROME2")
    ds += dicom_element(0x28, 8, "IS", str(frames))
    ds += dicom_element(0x28, 0x10, "US", us(rows)) + dicom_element(0x28, 0x11, "US", us(columns))
    for element, value in ((0x100, 8), (0x101, 8), (0x102, 7), (0x103, 0)):
        ds += dicom_element(0x28, element, "US", us(value))
    if rle:
        segment = b"\x81\x00" * (rows * columns // 128)
        fragment = struct.pack("<16I", 1, 64, *([0] * 14)) + segment
        items = struct.pack("<HHI", 0xFFFE, 0xE000, 0)
        items += struct.pack("<HHI", 0xFFFE, 0xE000, len(fragment)) + fragment
        items += struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
        ds += struct.pack("<HH2sHI", 0x7FE0, 0x10, b"OB", 0, 0xFFFFFFFF) + items
    else:
        ds += dicom_element(0x7FE0, 0x10, "OB", bytes(frames * rows * columns))
    with open(path, "wb") as f:
        f.write(bytes(128) + b"DICM" + meta + ds)


def photo(path, size=(160, 160), seed=0):
    rng = np.random.default_rng(seed)
    img = np.zeros((size[1], size[0], 3), np.uint8)
    img[:, :] = (40, 80, 120)
    y0, x0 = size[1] // 4, size[0] // 4
    img[y0:3 * y0, x0:3 * x0] = rng.integers(150, 255, (3, ), dtype=np.uint8)
    img += rng.integers(0, 8, img.shape, dtype=np.uint8)  # texture: files of a realistic size
    Image.fromarray(img).save(path, quality=92)


def line_for(lines, path):
    found = [ln for ln in lines if path in ln]
    assert len(found) == 1, (path, lines)
    return found[0]


def test_image_bombs_fail_alone_within_memory():
    d = os.path.join(TMP, "bombs")
    os.makedirs(d)
    f = lambda name: os.path.join(d, name)  # noqa: E731
    png_bomb(f("bomb.png"))
    assert os.path.getsize(f("bomb.png")) < 1 << 20
    sparse_npy(f("big.npy"), "|u1", (20000, 20000), 400_000_000)
    sparse_npy(f("wide.npy"), "|u1", (3, 9500, 9500), 3 * 9500 * 9500)
    dicom_frames(f("frames.dcm"), 60000, 1, 1)
    assert os.path.getsize(f("frames.dcm")) < 64 << 10
    dicom_frames(f("frames_rle.dcm"), 60000, 512, 512, rle=True)
    os.mkfifo(f("pipe.png"))
    os.symlink("/dev/zero", f("zero.npy"))
    photo(f("good.jpg"))
    good = open(f("good.jpg"), "rb").read()
    with open(f("cut.jpg"), "wb") as out:
        out.write(good[:len(good) * 2 // 3] + b"\xff\xd9")
    photo(f("good.png"), seed=1)
    png = bytearray(open(f("good.png"), "rb").read())
    idat = png.find(b"IDAT")
    png[idat + 8] ^= 0xFF
    open(f("crc.png"), "wb").write(bytes(png))
    bad = {
        "bomb.png": "image of 15000 x 15000 = 225000000 pixels, over the limit of 100000000 "
                    "(raise it with --max-pixels)",
        "big.npy": "20000 x 20000 = 400000000 pixels, over the limit of 100000000 "
                   "(raise it with --max-pixels)",
        "wide.npy": "decodes to 270750000 samples = 1083000000 bytes as float32, over the limit "
                    "of 1073741824 (raise it with --max-decoded-size)",
        "frames.dcm": "NumberOfFrames 60000, over the limit of 2048 (raise it with --max-slices)",
        "frames_rle.dcm": "NumberOfFrames 60000, over the limit of 2048 (raise it with "
                          "--max-slices)",
        "pipe.png": "not a regular file (FIFO)",
        "zero.npy": "not a regular file (character device)",
        "cut.jpg": "cannot decode JPEG (Corrupt JPEG data: premature end of data segment)",
        "crc.png": "cannot decode PNG (IDAT: ",
    }
    out = os.path.join(TMP, "bombs-out")
    code, _, lines, peak, seconds = run(
        ["explain", SHAPES, *[f(n) for n in sorted(bad)], f("good.jpg"), f("good.png"), "-o", out,
         "--threads", "2"])
    print(f"    peak RSS {peak / 2**20:.0f} MiB, {seconds:.1f} s for {len(bad)} bad + 2 good inputs")
    assert code == 1, (code, lines)
    for name, reason in bad.items():
        ln = line_for(lines, f(name))
        assert ln.startswith(f"camkit: {f(name)}: ") and reason in ln, ln
    assert lines[-1].startswith(f"camkit: 2 done, {len(bad)} failed"), lines
    # The two good inputs share a stem: one note says where the second one's results go.
    assert lines[0] == (f"camkit: note: {f('good.png')} and {f('good.jpg')} would write the same "
                        f"good.json: {f('good.png')} is written as good~2.json"), lines
    assert len(lines) == len(bad) + 2, lines  # nothing else printed: no decoder chatter
    names = sorted(os.listdir(out))
    assert "good.json" in names and "good~2.json" in names, names
    assert not [n for n in names if "camkit-tmp" in n or ".tmp-" in n], names
    assert peak < GIB, f"peak RSS {peak} bytes"
    assert seconds < 60, seconds


def test_exam_bombs_fail_alone_within_memory():
    d = os.path.join(TMP, "exams")
    os.makedirs(d)
    f = lambda name: os.path.join(d, name)  # noqa: E731
    sparse_npy(f("vol.npy"), "|u1", (400, 1000, 1000), 400_000_000)
    sparse_npy(f("slices.npy"), "|u1", (60000, 8, 8), 60000 * 64)
    dicom_frames(f("frames.dcm"), 60000, 1, 1)
    np.save(f("good.npy"), np.random.default_rng(3).random((4, 64, 64)).astype(np.float32))
    out = os.path.join(TMP, "exams-out")
    code, _, lines, peak, seconds = run(
        ["explain", KNEE, f("vol.npy"), f("slices.npy"), f("frames.dcm"), f("good.npy"), "-o", out])
    print(f"    peak RSS {peak / 2**20:.0f} MiB, {seconds:.1f} s")
    assert code == 1, (code, lines)
    lines = [ln for ln in lines if not ln.startswith("camkit: note: ")]
    assert "decodes to 400000000 samples = 1600000000 bytes as float32, over the limit of " \
           "1073741824 (raise it with --max-decoded-size)" in line_for(lines, f("vol.npy"))
    assert line_for(lines, f("slices.npy")).endswith(
        "volume of 60000 slices, over the limit of 2048 (raise it with --max-slices)")
    assert "NumberOfFrames 60000" in line_for(lines, f("frames.dcm"))
    assert lines[-1].startswith("camkit: 1 done, 3 failed"), lines
    assert os.path.exists(os.path.join(out, "good.json"))
    assert peak < GIB, f"peak RSS {peak} bytes"


def test_flags_raise_and_lower_the_limits():
    d = os.path.join(TMP, "flags")
    os.makedirs(d)
    img = os.path.join(d, "photo.png")
    photo(img, size=(200, 100))
    out = os.path.join(TMP, "flags-out")
    code, _, lines, _, _ = run(["explain", SHAPES, img, "-o", out, "--max-pixels", "19999"])
    assert code == 1 and line_for(lines, img).endswith(
        "image of 200 x 100 = 20000 pixels, over the limit of 19999 (raise it with --max-pixels)"), \
        lines
    size = os.path.getsize(img)
    assert size > 1024, size
    code, _, lines, _, _ = run(["explain", SHAPES, img, "-o", out, "--max-file-size", "1K"])
    assert code == 1 and line_for(lines, img).endswith(
        f"file of {size} bytes, over the limit of 1024 (raise it with --max-file-size)"), lines
    code, _, lines, _, _ = run(["explain", SHAPES, img, "-o", out, "--max-pixels", "20K",
                                "--max-file-size", "2M"])
    assert code == 0, lines
    for command in ("explain", "eval"):
        code, text, _, _, _ = run([command, "--help"])
        for flag in ("--max-file-size", "--max-pixels", "--max-slices", "--max-decoded-size"):
            assert flag in text, (command, flag)
    code, _, lines, _, _ = run(["explain", SHAPES, img, "-o", out, "--max-pixels", "lots"])
    assert code == 2, (code, lines)


def test_overlay_is_bounded_and_the_record_says_its_size():
    d = os.path.join(TMP, "overlay")
    os.makedirs(d)
    img = os.path.join(d, "wide.png")
    photo(img, size=(2000, 700), seed=5)
    full, small = os.path.join(TMP, "ov-full"), os.path.join(TMP, "ov-small")
    code, _, lines, _, _ = run(["explain", SHAPES, img, "-o", full, "--raw", "--draw-box"])
    assert code == 0, lines
    code, _, lines, _, _ = run(["explain", SHAPES, img, "-o", small, "--raw", "--draw-box",
                                "--max-overlay-side", "500"])
    assert code == 0, lines
    a = json.load(open(os.path.join(full, "wide.json")))
    b = json.load(open(os.path.join(small, "wide.json")))
    assert a["overlay_size"] == {"width": 2000, "height": 700}, a["overlay_size"]
    assert b["overlay_size"] == {"width": 500, "height": 175}, b["overlay_size"]
    assert a["image"] == b["image"] == {"width": 2000, "height": 700, "channels": 3}
    ea, eb = a["explanations"][0], b["explanations"][0]
    assert ea["box"] == eb["box"], (ea["box"], eb["box"])  # boxes stay in input pixels
    assert Image.open(os.path.join(small, eb["overlay"])).size == (500, 175)
    ra = np.load(os.path.join(full, ea["raw"]))
    rb = np.load(os.path.join(small, eb["raw"]))
    assert np.array_equal(ra, rb)  # the raw map is not affected
    assert a["options_hash"] != b["options_hash"]


def main():
    global CAMKIT, TMP
    CAMKIT = os.path.abspath(sys.argv[2])
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="camkit_limits_") as tmp:
        TMP = tmp
        for name, fn in sorted(globals().items()):
            if not (name.startswith("test_") and callable(fn)):
                continue
            try:
                fn()
                print(f"PASS {name}")
                passed += 1
            except Exception:  # noqa: BLE001
                print(f"FAIL {name}")
                traceback.print_exc()
                failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
