"""What a result holds: predictions, raw and display maps as NumPy views, boxes, the record,
overlays; and camkit.overlay()."""

import io

import numpy as np
import pytest
from PIL import Image

import camkit
from conftest import DOG, SHAPE_PNG, XRAY_NPY


@pytest.fixture(scope="module")
def dog(squeezenet):
    return squeezenet.explain(DOG, top_k=3)


def test_predictions_and_maps(dog, squeezenet):
    assert len(dog.predictions) == 3 and dog.classes == [p.class_index for p in dog.predictions]
    scores = [p.score for p in dog.predictions]
    assert scores == sorted(scores, reverse=True) and 0 < scores[0] <= 1
    assert dog.predictions[0].label == squeezenet.labels[dog.classes[0]]
    assert dog.method == "cam" and dog.layer == squeezenet.layer == "features"
    assert [r.shape for r in dog.raw] == [(13, 13)] * 3
    assert [d.shape for d in dog.display] == [(224, 224)] * 3
    assert all(d.min() == 0 and d.max() == 1 for d in dog.display)
    assert dog.image_size == (768, 576)


def test_maps_are_read_only_views_of_the_result(dog):
    raw = dog.raw[0]
    assert raw.dtype == np.float32 and not raw.flags.writeable and not raw.flags.owndata
    # Two reads see the same memory: nothing is copied.
    assert np.shares_memory(raw, dog.raw[0])
    assert np.shares_memory(dog.display[1], dog.display[1])
    with pytest.raises(ValueError):
        raw[0, 0] = 1


def test_views_outlive_the_result(squeezenet):
    raw = squeezenet.explain(SHAPE_PNG).raw[0]
    expected = raw.copy()
    import gc
    gc.collect()
    assert raw.tobytes() == expected.tobytes()


def test_boxes_are_in_image_pixels(dog):
    for box in dog.boxes:
        x0, y0, x1, y1 = box
        assert 0 <= x0 < x1 <= 768 and 0 <= y0 < y1 <= 576
    assert dog.record["explanations"][0]["box"] == list(dog.boxes[0])
    (px, py) = dog.peaks[0]
    assert 0 <= px <= 768 and 0 <= py <= 576


def test_record_is_the_commands_record(dog):
    rec = dog.record
    assert rec["input"] == DOG and rec["method"] == "cam" and rec["task"] == "multiclass"
    assert rec["image"] == {"width": 768, "height": 576, "channels": 3}
    assert [e["class"] for e in rec["explanations"]] == dog.classes
    assert rec["feature_shape"] == [512, 13, 13]


def test_overlays(dog):
    picture = dog.overlay(1)
    assert picture.shape == (576, 768, 3) and picture.dtype == np.uint8
    png = dog.overlay_png(1)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), picture)
    assert dog._repr_png_() == dog.overlay_png(0)
    boxed = dog.overlay(0, draw_box=True, colormap="viridis", alpha=0.3)
    assert not np.array_equal(boxed, dog.overlay(0))
    with pytest.raises(camkit.UsageError, match="the result has 3 map"):
        dog.overlay(3)


def test_classes_layer_and_methods(squeezenet):
    r = squeezenet.explain(DOG, classes=[281, 281, 5])
    assert r.classes == [281, 5]
    g = squeezenet.explain(DOG, method="gradcam", layer="features.9", classes=281)
    assert g.method == "gradcam" and g.layer == "features.9" and g.classes == [281]
    assert squeezenet.layer == "features"  # the model itself keeps its layer
    assert set(camkit.methods()) >= {"cam", "gradcam", "scorecam"}
    with pytest.raises(camkit.UsageError, match="out of range"):
        squeezenet.explain(DOG, classes=1000)
    with pytest.raises(camkit.UsageError, match="no such module"):
        squeezenet.explain(DOG, layer="features.99")
    with pytest.raises(camkit.UsageError, match="unknown method"):
        squeezenet.explain(DOG, method="magic")


def test_binary_model_has_a_decision(xray):
    r = xray.explain(XRAY_NPY, image_colormap="bone")
    assert r.task == "binary" and r.record["decision"] in ("positive", "negative")
    assert r.overlay().shape == (128, 128, 3)


def test_explain_batch_keeps_order_and_errors(squeezenet_optimized, tmp_path):
    bad = tmp_path / "cut.jpg"
    bad.write_bytes(open(DOG, "rb").read()[:5000])
    inputs = [DOG, str(bad), SHAPE_PNG, np.zeros((3, 3), np.int8)]
    with pytest.raises(camkit.InputError, match="cut.jpg: "):
        squeezenet_optimized.explain_batch(inputs)
    out = squeezenet_optimized.explain_batch(inputs, errors="keep", batch_size=2)
    assert isinstance(out[0], camkit.Result) and isinstance(out[2], camkit.Result)
    assert isinstance(out[1], camkit.InputError) and str(out[1]).startswith(str(bad))
    assert isinstance(out[3], camkit.InputError) and out[3].code == 1
    alone = squeezenet_optimized.explain(SHAPE_PNG)
    assert out[2].raw[0].tobytes() == alone.raw[0].tobytes()


def test_overlay_function():
    pixels = np.asarray(Image.open(SHAPE_PNG).convert("RGB"))
    m = np.zeros((4, 4), np.float32)
    m[1, 2] = 1
    a = camkit.overlay(pixels, m, colormap="jet", alpha=0.5)
    assert a.shape == pixels.shape and a.dtype == np.uint8
    assert np.array_equal(camkit.overlay(pixels, m, alpha=0), pixels)
    b = camkit.overlay(SHAPE_PNG, m)
    assert np.array_equal(a, b)
    grey = np.load(XRAY_NPY)
    c = camkit.overlay(grey, m, image_colormap="bone", alpha=0)
    assert c.shape == grey.shape + (3,) and not np.all(c[..., 0] == c[..., 2])
    with pytest.raises(camkit.UsageError, match="unknown colormap"):
        camkit.overlay(pixels, m, colormap="rainbow")
    with pytest.raises(camkit.UsageError):
        camkit.overlay(pixels, np.zeros(4), colormap="jet")
