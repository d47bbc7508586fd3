"""camkit: class activation maps for TorchScript image classifiers, from Python.

    import camkit
    model = camkit.Model("resnet18.pt")                  # once; share it across threads
    result = model.explain("cat.jpg", top_k=2)           # a path, a NumPy array, a tensor
    result.predictions[0].label, result.boxes[0]         # "tabby, tabby cat", (x0, y0, x1, y1)
    result.raw[0], result.display[0]                     # NumPy views, no copies
    result.record                                        # the dict `camkit explain` writes
    result                                               # a notebook shows the overlay

    model = camkit.Model.from_torch(net, torch.zeros(1, 3, 224, 224), preset="imagenet")

The same library calls as the `camkit` command, so results equal its results bit for bit.
Errors are camkit.Error subclasses: InputError (1), UsageError (2), ModelError (3),
InternalError (4), BusyError (5); `e.code` is the command's exit code for them.
See docs/python.md.
"""

import io as _io
import json as _json

from ._camkit import (  # noqa: F401  (re-exported)
    BusyError,
    Error,
    InputError,
    InternalError,
    ModelError,
    Prediction,
    Result,
    UsageError,
    __version__,
    colormaps,
    methods,
    overlay,
    presets,
)
from ._camkit import Model as _Model

__all__ = ["Model", "Result", "Prediction", "overlay", "methods", "presets", "colormaps",
           "Error", "InputError", "UsageError", "ModelError", "InternalError", "BusyError"]


class Model(_Model):
    __doc__ = _Model.__doc__

    @classmethod
    def from_torch(cls, module, example_input, *, method="trace", labels=None, name="<torch>",
                   tolerance=1e-4, **options):
        """A live torch.nn.Module as a camkit Model, without a file.

        The module is put in eval mode and traced on example_input (method="trace"; the
        input size is then fixed) or scripted (method="script") with autograd enabled, as
        tools/export_model.py does: under torch.no_grad() some layers would record kernels
        without a derivative and gradient methods could not run. A torch.jit.ScriptModule is taken as it is. The
        TorchScript must reproduce the module's output on example_input and on a random
        input of its shape within `tolerance` (relative), else ModelError. labels: class
        names, embedded as the model's metadata with the example's input size. The other
        arguments are Model()'s: preset, resize, crop, size, mean, std give the preprocessing.
        name: the model's name in records.
        """
        import torch

        module.eval()
        if isinstance(module, torch.jit.ScriptModule):
            scripted = module
        else:
            with torch.enable_grad():
                if method == "trace":
                    # strict=False lets models that return dicts be traced.
                    scripted = torch.jit.trace(module, example_input, check_trace=False,
                                               strict=False)
                elif method == "script":
                    scripted = torch.jit.script(module)
                else:
                    raise UsageError(f"method {method!r}: use 'trace' or 'script'")
        _check_reproduces(module, scripted, example_input, tolerance, name)
        meta = _metadata(example_input, labels)
        buffer = _io.BytesIO()
        torch.jit.save(scripted, buffer, _extra_files={"camkit.json": _json.dumps(meta)})
        return cls(name, _bytes=buffer.getvalue(), **options)


def _first_tensor(out):
    import torch

    if torch.is_tensor(out):
        return out
    if isinstance(out, dict):
        return _first_tensor(out.get("logits", next(iter(out.values()))))
    if isinstance(out, (tuple, list)):
        return next(_first_tensor(o) for o in out if o is not None)
    raise ModelError(f"the model returns a {type(out).__name__}, not tensors")


def _check_reproduces(module, scripted, example_input, tolerance, name):
    """On the example and on another input of its shape: a trace records one path through
    the code, and a branch on the data is taken as it was for the example."""
    import torch

    other = torch.randn(example_input.shape, generator=torch.Generator().manual_seed(1),
                        dtype=example_input.dtype)
    for x in (example_input, other):
        with torch.no_grad():
            want = _first_tensor(module(x)).float()
            got = _first_tensor(scripted(x)).float()
        scale = want.abs().max().item()
        err = (got - want).abs().max().item() / (scale if scale > 0 else 1.0)
        if got.shape != want.shape or not err <= tolerance:
            raise ModelError(f"{name}: the TorchScript does not reproduce the module (max "
                             f"relative error {err:.3g} > {tolerance:g}); try method='script'")


def _metadata(example_input, labels):
    """The camkit.json (docs/export.md) of a traced module: its input from the example, and the
    labels given."""
    shape = tuple(example_input.shape)
    if len(shape) != 4:
        raise UsageError(f"example_input: expected a batch (N, C, H, W), not shape {shape}")
    meta = {"camkit_meta_version": 1,
            "input": {"channels": int(shape[1]), "height": int(shape[2]), "width": int(shape[3])}}
    if labels is not None:
        meta["labels"] = [str(label) for label in labels]
    return meta
