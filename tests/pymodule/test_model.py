"""camkit.Model: loading, what it reports, errors as exceptions with camkit's exit codes."""

import numpy as np
import pytest

import camkit
from conftest import ROOT, SHAPE_PNG, SQUEEZENET, XRAY


def test_properties(squeezenet):
    assert squeezenet.path == SQUEEZENET
    assert squeezenet.num_classes == 1000 and len(squeezenet.labels) == 1000
    assert squeezenet.task == "multiclass" and squeezenet.has_cam_head
    assert squeezenet.preprocess["resize"] == 256 and squeezenet.preprocess["crop"] == (224, 224)
    info = squeezenet.info()
    assert info["head"]["found"] and info["layer"]["layer"] == "features"


def test_preprocessing_arguments_override_the_metadata():
    m = camkit.Model(SQUEEZENET, size=(160, 160), mean=0.5, std=0.25)
    assert m.preprocess == {"channels": 3, "size": (160, 160), "mean": [0.5], "std": [0.25]}
    assert m.explain(SHAPE_PNG).record["image"]["width"] == 160
    m = camkit.Model(XRAY, preset="xray")
    assert m.preprocess["channels"] == 1 and m.preprocess["size"] == (224, 224)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"task": "ranking"}, camkit.UsageError, "task ranking"),
    ({"colour": 1}, camkit.UsageError, "unknown argument 'colour'"),
    ({"layer": "nope"}, camkit.UsageError, "--layer nope: no such module"),
    ({"preset": "cifar"}, camkit.UsageError, "unknown preset"),
    ({"mean": [1, 2]}, camkit.UsageError, "need 1 or 3 values"),
    ({"device": "tpu"}, camkit.UsageError, "unknown device"),
])
def test_bad_arguments(kwargs, error, words):
    with pytest.raises(error, match=words) as e:
        camkit.Model(SQUEEZENET, **kwargs)
    assert e.value.code == 2 and isinstance(e.value, camkit.Error)


def test_files_that_are_not_models(tmp_path):
    with pytest.raises(camkit.ModelError, match="no such model file") as e:
        camkit.Model(tmp_path / "missing.pt")
    assert e.value.code == 3 and str(tmp_path / "missing.pt") in str(e.value)
    with pytest.raises(camkit.ModelError, match="not a loadable TorchScript model"):
        camkit.Model(ROOT + "/README.md")


def test_error_classes():
    codes = {c: c.code for c in (camkit.InputError, camkit.UsageError, camkit.ModelError,
                                 camkit.InternalError, camkit.BusyError)}
    assert codes == {camkit.InputError: 1, camkit.UsageError: 2, camkit.ModelError: 3,
                     camkit.InternalError: 4, camkit.BusyError: 5}
    assert all(issubclass(c, camkit.Error) and issubclass(c, Exception) for c in codes)


def test_explain_arguments_are_checked(squeezenet):
    x = np.zeros((3, 224, 224), np.float32)
    for kwargs, words in [({"top_k": 0}, "top_k 0"), ({"alpha": 2}, "alpha must be"),
                          ({"colormap": "rainbow"}, "unknown colormap"),
                          ({"image_colormap": "jet"}, "use gray or bone"),
                          ({"batch_size": 4}, "unknown argument 'batch_size'"),
                          ({"top_k": "two"}, "top_k: wrong type")]:
        with pytest.raises(camkit.UsageError, match=words):
            squeezenet.explain(x, **kwargs)
    with pytest.raises(camkit.UsageError, match="errors maybe"):
        squeezenet.explain_batch([x], errors="maybe")


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_loads_and_differentiates_whatever_torch_grad_mode_the_caller_is_in(mode):
    """Python's torch.no_grad() and torch.inference_mode() set the calling thread's modes,
    which camkit's C++ shares: the probe at load and the gradient methods set their own."""
    import torch

    with getattr(torch, mode)():
        model = camkit.Model(XRAY)
        assert model.info()["gradients"]["available"]
        r = model.explain(np.zeros((224, 224), np.float32), method="gradcam")
        assert torch.is_grad_enabled() is False
    assert r.raw[0].ndim == 2 and np.isfinite(r.raw[0]).all()
