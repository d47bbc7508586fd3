"""What explain() takes: paths, pixel arrays, prepared float arrays, torch tensors."""

import pathlib

import numpy as np
import pytest
import torch
from PIL import Image

import camkit
from conftest import SHAPE_PNG, XRAY_NPY


def test_pixels_as_pil_gives_them_equal_the_file(squeezenet):
    pixels = np.asarray(Image.open(SHAPE_PNG).convert("RGB"))
    from_file = squeezenet.explain(SHAPE_PNG, top_k=2)
    from_array = squeezenet.explain(pixels, top_k=2, name="shape")
    assert from_array.input == "shape" and from_array.record["input"] == "shape"
    assert from_array.classes == from_file.classes
    for a, b in zip(from_array.raw, from_file.raw):
        assert a.tobytes() == b.tobytes()
    assert from_array.boxes == from_file.boxes


def test_pathlib_and_bytes_paths(squeezenet):
    a = squeezenet.explain(pathlib.Path(SHAPE_PNG))
    b = squeezenet.explain(SHAPE_PNG.encode())
    assert a.input == b.input == SHAPE_PNG
    assert a.raw[0].tobytes() == b.raw[0].tobytes()


def test_float_arrays_and_tensors_are_the_model_input(squeezenet):
    x = np.random.default_rng(0).standard_normal((3, 224, 224)).astype(np.float32)
    a = squeezenet.explain(x)
    b = squeezenet.explain(torch.from_numpy(x)[None])  # a batch of one, as torch holds it
    c = squeezenet.explain(torch.from_numpy(x).double())
    assert a.image_size == (224, 224) and a.record["input"] == "<array>"
    assert a.raw[0].tobytes() == b.raw[0].tobytes() == c.raw[0].tobytes()
    # The input covers itself: boxes are in its pixels.
    x0, y0, x1, y1 = a.boxes[0]
    assert 0 <= x0 < x1 <= 224 and 0 <= y0 < y1 <= 224


def test_prepared_input_equals_camkit_preparing_it(xray):
    """The model's recipe (size 128x128, the array's own; mean 0.49, std 0.248) done in torch
    gives camkit's maps."""
    x = (torch.from_numpy(np.load(XRAY_NPY))[None] - 0.49) / 0.248
    mine = xray.explain(XRAY_NPY)
    theirs = xray.explain(x)
    assert theirs.predictions[0].score == pytest.approx(mine.predictions[0].score, abs=1e-4)
    assert np.abs(theirs.raw[0] - mine.raw[0]).max() <= 1e-3 * np.abs(mine.raw[0]).max()


def test_uint8_tensor_is_channels_first(squeezenet):
    pixels = np.asarray(Image.open(SHAPE_PNG).convert("RGB"))
    a = squeezenet.explain(pixels)
    b = squeezenet.explain(torch.from_numpy(pixels.copy()).permute(2, 0, 1))
    assert a.raw[0].tobytes() == b.raw[0].tobytes()


def test_grey_uint16_and_rgba_pixels(squeezenet):
    grey = np.arange(160 * 160, dtype=np.uint16).reshape(160, 160)
    assert squeezenet.explain(grey).image_size == (160, 160)
    rgba = np.zeros((160, 200, 4), np.uint8)
    rgba[..., 3] = 255
    assert squeezenet.explain(rgba).record["image"] == {"width": 200, "height": 160,
                                                        "channels": 3}


@pytest.mark.parametrize("array, words", [
    (np.zeros((3, 224, 224), np.float32) * np.nan, "contains NaN or Inf values"),
    (np.zeros((224, 224, 3), np.float32), "looks like (H, W, C)"),
    (np.zeros((2, 2, 2, 2, 2), np.float32), "float arrays are model inputs"),
    (np.zeros((4, 4), np.int32), "unsupported array dtype int32"),
    (np.zeros((4, 4, 2), np.uint8), "pixel arrays are (H, W) or (H, W, C)"),
    (np.zeros((0, 4), np.uint8), "empty array"),
])
def test_bad_arrays_are_input_errors_naming_them(squeezenet, array, words):
    with pytest.raises(camkit.InputError) as e:
        squeezenet.explain(array, name="scan 7")
    assert str(e.value).startswith("scan 7: ") and words in str(e.value)
    assert e.value.code == 1


def test_other_objects_are_usage_errors(squeezenet):
    with pytest.raises(camkit.UsageError, match="expected a path, a NumPy array"):
        squeezenet.explain(42)
    with pytest.raises(camkit.UsageError, match="only arrays take a name"):
        squeezenet.explain(SHAPE_PNG, name="x")


def test_model_input_of_the_wrong_size_fails_as_that_input(squeezenet):
    with pytest.raises(camkit.InputError, match=r"^<array>: ") as e:
        squeezenet.explain(np.zeros((1, 64, 64), np.float32))
    assert "\n" not in str(e.value)
