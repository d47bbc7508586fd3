#!/usr/bin/python3
"""The overlay format of camkit explain (docs/batch.md, "Outputs"): `--overlay-format auto`
writes JPEG overlays for JPEG inputs and PNG for every other input; png and jpg force one.

    /usr/bin/python3 tests/python/test_overlay_format.py FIXTURES_DIR CAMKIT_BINARY

Checked on the demo model: the files written, that they decode as what their names say, that
records, index lines and the report name them, and that the JPEG overlay is the PNG overlay
up to JPEG's loss.
"""

import json
import os
import shutil
import sys

import numpy as np
from PIL import Image

import camkit_testing as ct

MODEL = os.path.join(ct.ROOT, "models", "shapes_cnn.pt")
SCENE = os.path.join(ct.ROOT, "data", "demo", "shapes", "single", "disc", "0000.png")


def inputs():
    """One scene as PNG and as JPEG, with the same pixels up to JPEG's loss."""
    folder = os.path.join(ct.TMP, "in")
    if not os.path.isdir(folder):
        os.makedirs(folder)
        shutil.copyfile(SCENE, os.path.join(folder, "scene.png"))
        Image.open(SCENE).convert("RGB").save(os.path.join(folder, "photo.jpg"), quality=95)
        Image.open(SCENE).convert("RGB").save(os.path.join(folder, "upper.JPEG"), quality=95)
    return folder


def explain(name, *args):
    out = os.path.join(ct.TMP, name)
    ct.run("explain", MODEL, inputs(), "-o", out, "--class", "0", *args)
    return out


def overlay_of(out, stem):
    record = json.load(open(os.path.join(out, stem + ".json")))
    return record["explanations"][0]["overlay"]


def test_auto_follows_the_input():
    out = explain("auto")
    assert overlay_of(out, "photo") == "photo.0.jpg"
    assert overlay_of(out, "upper") == "upper.0.jpg"
    assert overlay_of(out, "scene") == "scene.0.png"
    assert Image.open(os.path.join(out, "photo.0.jpg")).format == "JPEG"
    assert Image.open(os.path.join(out, "scene.0.png")).format == "PNG"
    index = [json.loads(line) for line in open(os.path.join(out, "index.jsonl"))]
    assert len(index) == 3, index
    assert sorted(f for f in os.listdir(out) if f.endswith((".png", ".jpg"))) == \
        ["photo.0.jpg", "scene.0.png", "upper.0.jpg"]


def test_forced_formats():
    out = explain("png", "--overlay-format", "png")
    assert overlay_of(out, "photo") == "photo.0.png" and overlay_of(out, "scene") == "scene.0.png"
    out = explain("jpg", "--overlay-format", "jpg", "--jpeg-quality", "98")
    assert overlay_of(out, "photo") == "photo.0.jpg" and overlay_of(out, "scene") == "scene.0.jpg"
    assert Image.open(os.path.join(out, "scene.0.jpg")).format == "JPEG"
    ct.run("explain", MODEL, inputs(), "-o", os.path.join(ct.TMP, "bad"),
           "--overlay-format", "gif", expect=2)


def test_jpeg_overlay_is_the_png_overlay_up_to_jpeg_loss():
    png = np.asarray(Image.open(os.path.join(explain("png2", "--overlay-format", "png"),
                                             "photo.0.png")).convert("RGB"), dtype=np.float64)
    jpg = np.asarray(Image.open(os.path.join(explain("jpg2", "--jpeg-quality", "95"),
                                             "photo.0.jpg")).convert("RGB"), dtype=np.float64)
    assert png.shape == jpg.shape
    assert np.abs(png - jpg).mean() < 4.0, np.abs(png - jpg).mean()


def test_report_shows_jpeg_overlays():
    out = explain("report")
    ct.run("report", out)
    html = open(os.path.join(out, "index.html")).read()
    assert 'photo.0.jpg"' in html and 'scene.0.png"' in html


if __name__ == "__main__":
    sys.exit(ct.main(globals()))
