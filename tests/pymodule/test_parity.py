"""The Python module equals the camkit command bit for bit: raw maps (.npy bytes), overlays
(PNG bytes) and every record field, on the same inputs with the same settings, LibTorch's
intra-op thread count included (its reductions, softmax's among them, sum in an order that
depends on it)."""

import io
import json
import os

import numpy as np

import pytest

import camkit
from conftest import DOG, PHOTOS, SQUEEZENET, XRAY, XRAY_NPY, cli, cli_records

THREADS = 2  # the command's --threads and the module's threads=

# Fields that name the files camkit explain writes or the run; the module writes no files.
RUN_FIELDS = {"options_hash", "overlay_size", "record", "seq", "inputs"}
FILE_FIELDS = {"overlay", "raw"}


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def assert_same(result, record, out):
    got = result.record
    for key in set(record) | set(got):
        if key in RUN_FIELDS:
            continue
        if key == "explanations":
            assert len(got[key]) == len(record[key])
            for mine, theirs in zip(got[key], record[key]):
                assert mine == {k: v for k, v in theirs.items() if k not in FILE_FIELDS}
        else:
            assert got.get(key) == record.get(key), key
    folder = os.path.dirname(os.path.join(out, record["record"]))
    for i, e in enumerate(record["explanations"]):
        with open(os.path.join(folder, e["raw"]), "rb") as f:
            assert npy_bytes(result.raw[i]) == f.read(), e["raw"]
        with open(os.path.join(folder, e["overlay"]), "rb") as f:
            assert result.overlay_png(i) == f.read(), e["overlay"]


@pytest.fixture(scope="module")
def squeezenet():
    return camkit.Model(SQUEEZENET, optimize=False, threads=THREADS)


@pytest.fixture(scope="module")
def squeezenet_optimized():
    return camkit.Model(SQUEEZENET, optimize=True, threads=THREADS)


@pytest.fixture(scope="module")
def xray():
    return camkit.Model(XRAY, optimize=False, threads=THREADS)


def explain_cli(*args):
    # The module's overlays are PNG; the command writes JPEG overlays for JPEG inputs unless
    # told otherwise (--overlay-format auto).
    return cli("explain", "--threads", THREADS, "--overlay-format", "png", *args)


def test_one_photo_top2(tmp_path, squeezenet):
    out = tmp_path / "out"
    explain_cli(SQUEEZENET, DOG, "-k", "2", "--raw", "-o", out)
    result = squeezenet.explain(DOG, top_k=2)
    assert_same(result, cli_records(out)[DOG], out)


def test_photos_in_batches_on_the_optimised_graph(tmp_path, squeezenet_optimized):
    photos = sorted(os.path.join(PHOTOS, f) for f in os.listdir(PHOTOS) if f.endswith(".jpg"))
    out = tmp_path / "out"
    explain_cli(SQUEEZENET, *photos, "--raw", "-o", out, "--optimize", "on",
        "--batch-size", "4", "--draw-box", "--colormap", "turbo")
    records = cli_records(out)
    results = squeezenet_optimized.explain_batch(photos, batch_size=4, draw_box=True,
                                                 colormap="turbo")
    for photo, result in zip(photos, results):
        assert_same(result, records[photo], out)


def test_xray_gradcam_in_bone(tmp_path, xray):
    out = tmp_path / "out"
    explain_cli(XRAY, XRAY_NPY, "--raw", "-o", out, "--method", "gradcam",
        "--image-colormap", "bone", "--alpha", "0.4")
    result = xray.explain(XRAY_NPY, method="gradcam", image_colormap="bone", alpha=0.4)
    record = cli_records(out)[XRAY_NPY]
    assert record["decision"] == result.record["decision"]
    assert_same(result, record, out)


def test_info_is_camkit_info_json(squeezenet):
    assert squeezenet.info() == json.loads(cli("info", "--json", SQUEEZENET).stdout)


def test_module_and_command_report_one_version():
    assert cli("--version").stdout.split()[-1] == camkit.__version__
