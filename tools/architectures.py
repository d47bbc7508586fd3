"""torchvision architectures and checkpoints for tools/export_model.py.

    model = build_model("resnet18", num_classes=5)        # seeded random init, never downloads
    load_weights(model, "best.ckpt", "resnet18")          # strict; names every mismatch

The architecture table (where each family's first convolution and classifier live), building
with torchvision's own defaults, adapting the input channels, and reading state dicts and
Lightning checkpoints. Errors are InputError (export_model.py's exit code 2).
"""

import os
import re
from collections.abc import Mapping

import torch
from torch import nn


class InputError(ValueError):
    """Bad architecture, checkpoint, labels or options (exit code 2)."""


# Where the first conv and the final classifier layer live, per torchvision family.
# (name pattern, first conv path, classifier path). Unknown names fall back to the first
# nn.Conv2d found; --num-classes is passed to the builder, which every classification
# builder accepts, so the classifier path is informational for the table's families.
FAMILIES = [
    (r"^(resnet|resnext|wide_resnet)", "conv1", "fc"),
    (r"^densenet", "features.conv0", "classifier"),
    (r"^mobilenet_v2$", "features.0.0", "classifier.1"),
    (r"^mobilenet_v3", "features.0.0", "classifier.3"),
    (r"^efficientnet", "features.0.0", "classifier.1"),
    (r"^squeezenet", "features.0", "classifier.1"),
    (r"^googlenet$", "conv1.conv", "fc"),
    (r"^inception_v3$", "Conv2d_1a_3x3.conv", "fc"),
    (r"^(vgg|alexnet)", "features.0", "classifier.6"),
    (r"^mnasnet", "layers.0", "classifier.1"),
    (r"^shufflenet", "conv1.0", "fc"),
    (r"^regnet", "stem.0", "fc"),
    (r"^convnext", "features.0.0", "classifier.2"),
]

# Families whose builders take transform_input: torchvision turns it on when it builds them
# with ImageNet weights, the usual start of a fine-tuned model; a random init leaves it off.
TRANSFORM_INPUT = ("googlenet", "inception_v3")
# Auxiliary classifiers (training only; eval mode returns the main logits): their modules.
AUX_MODULES = {"googlenet": ("aux1", "aux2"), "inception_v3": ("AuxLogits",)}


def family(arch):
    """(first conv path, classifier path) for arch, or (None, None) if not in FAMILIES."""
    for pattern, conv, clf in FAMILIES:
        if re.search(pattern, arch):
            return conv, clf
    return None, None


def get_module(model, path):
    """The submodule at a dotted path ("features.0.0"), or None."""
    try:
        return model.get_submodule(path)
    except AttributeError:
        return None


def _set_module(model, path, new):
    parent_path, _, leaf = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, leaf, new)


CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def first_conv_path(model, arch):
    """Dotted path of the input conv: the family table's, else the first convolution found."""
    path, _ = family(arch)
    if path and isinstance(get_module(model, path), CONVS):
        return path
    for name, mod in model.named_modules():
        if isinstance(mod, CONVS):
            return name
    raise InputError(f"{arch}: no convolution found to adapt to a new channel count")


def input_channels_and_rank(model, arch):
    """(channels, spatial rank) the model takes, from its first convolution."""
    conv = get_module(model, first_conv_path(model, arch))
    return conv.in_channels, {nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3}[type(conv)]


def replace_first_conv(model, arch, in_channels):
    """Swap the input conv for one with in_channels inputs and the same geometry."""
    path = first_conv_path(model, arch)
    old = get_module(model, path)
    if old.in_channels == in_channels:
        return path
    if old.groups != 1:
        raise InputError(f"{arch}: first conv {path} is grouped; cannot change its channels")
    new = type(old)(in_channels, old.out_channels, old.kernel_size, stride=old.stride,
                    padding=old.padding, dilation=old.dilation, bias=old.bias is not None,
                    padding_mode=old.padding_mode)
    nn.init.kaiming_normal_(new.weight, mode="fan_out", nonlinearity="relu")
    if new.bias is not None:
        nn.init.zeros_(new.bias)
    _set_module(model, path, new)
    return path


def build_model(arch, num_classes=None, in_channels=None, seed=None, transform_input=None):
    """A randomly initialised torchvision classifier (weights=None; never downloads), with the
    builder's own defaults (auxiliary classifiers included: they only run in training).

    num_classes goes to the builder (it replaces the final layer: fc / classifier[-1] /
    squeezenet's classifier.1 Conv2d(512, K, 1)); in_channels swaps the first conv (only when
    given); transform_input (googlenet, inception_v3) is passed when not None.
    """
    import torchvision.models as tvm

    if seed is not None:
        torch.manual_seed(seed)
    kwargs = {}
    if transform_input is not None and arch in TRANSFORM_INPUT:
        kwargs["transform_input"] = bool(transform_input)
    if num_classes is not None:
        kwargs["num_classes"] = int(num_classes)
    builder = None
    if hasattr(tvm, "get_model"):
        try:
            builder = tvm.get_model_builder(arch)
        except ValueError:
            builder = None
    if builder is None:
        builder = getattr(tvm, arch, None)
        if builder is None or not callable(builder) or arch.startswith("_"):
            known = ", ".join(tvm.list_models()) if hasattr(tvm, "list_models") else "?"
            raise InputError(f"unknown architecture {arch!r}; torchvision knows: {known}")
    try:
        model = builder(weights=None, **kwargs)
    except TypeError:  # very old builders take pretrained= instead of weights=
        model = builder(pretrained=False, **kwargs)
    if in_channels is not None:
        replace_first_conv(model, arch, int(in_channels))
    return model.eval()



# ---------------------------------------------------------------- checkpoints

def _is_state_dict(obj):
    return isinstance(obj, Mapping) and obj and all(torch.is_tensor(v) for v in obj.values())


def read_state_dict(path):
    """The tensors of a checkpoint: a plain state_dict, {'state_dict': ...} (Lightning .ckpt),
    {'model_state_dict': ...}, {'model': ...} or a pickled nn.Module. Raises InputError."""
    if not os.path.isfile(path):
        raise InputError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001  Lightning keeps hyper-parameters as objects
        try:
            obj = torch.load(path, map_location="cpu")
        except Exception as e:  # noqa: BLE001
            hint = ""
            if "constants.pkl" in str(e) or "torch.jit" in str(e):
                hint = " (it looks like a TorchScript file; use --meta-only to edit it)"
            raise InputError(f"cannot read checkpoint {path}: {e}{hint}") from e
    if isinstance(obj, nn.Module):
        return obj.state_dict()
    if _is_state_dict(obj):
        return dict(obj)
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model_state_dict", "model", "net"):
            if _is_state_dict(obj.get(key)):
                return dict(obj[key])
            if isinstance(obj.get(key), nn.Module):
                return obj[key].state_dict()
        keys = ", ".join(map(str, list(obj)[:10]))
        raise InputError(f"checkpoint {path} holds no state dict (top-level keys: {keys}); "
                         "expected a state_dict or a dict with 'state_dict'/'model_state_dict'")
    raise InputError(f"checkpoint {path} holds a {type(obj).__name__}, not a state dict")


def strip_prefixes(state, model_keys, log=None):
    """Remove the 'model.'/'module.' prefixes that Lightning and DataParallel add.

    A prefix shared by every key is stripped (repeatedly: 'model.module.'). If only some keys
    carry 'model.' (a LightningModule with a loss or metric beside the network) and those
    keys alone fit the model, the others are dropped, and log is told which.
    """
    prefixes = ("model.", "module.")
    while state and (p := next((p for p in prefixes if all(k.startswith(p) for k in state)),
                               None)):
        state = {k[len(p):]: v for k, v in state.items()}
        if log:
            log(f"stripped prefix '{p}' from {len(state)} keys")
    if set(state) != set(model_keys):
        for p in prefixes:
            sub = {k[len(p):]: v for k, v in state.items() if k.startswith(p)}
            need = {k for k in model_keys if not k.endswith("num_batches_tracked")}
            if sub and need <= set(sub) <= set(model_keys):
                dropped = sorted(k for k in state if not k.startswith(p))
                if log:
                    log(f"using the {len(sub)} keys under '{p}'; ignoring {len(dropped)} "
                        f"others: {', '.join(dropped[:5])}{' ...' if len(dropped) > 5 else ''}")
                return sub
    return state


def _listing(keys, n=8):
    keys = sorted(keys)
    more = f" ... (+{len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def drop_aux(model, arch, state, log=None):
    """Removes the auxiliary classifiers when the checkpoint has none of their weights (a model
    trained with aux_logits=False); they stay when it has them."""
    for name in AUX_MODULES.get(arch, ()):
        if get_module(model, name) is not None and not any(k.startswith(name + ".")
                                                           for k in state):
            setattr(model, name, None)
            model.aux_logits = False
            if log:
                log(f"the checkpoint has no {name} weights: built without auxiliary classifiers")


def load_weights(model, path, arch="", log=None):
    """Load a checkpoint strictly into model; InputError names every mismatch and a fix."""
    state = strip_prefixes(read_state_dict(path), model.state_dict().keys(), log)
    drop_aux(model, arch, state, log)
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in state if k in own and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        lines = [f"checkpoint {path} does not fit {arch or type(model).__name__}:"]
        if missing:
            lines.append(f"  missing keys ({len(missing)}): {_listing(missing)}")
        if unexpected:
            lines.append(f"  unexpected keys ({len(unexpected)}): {_listing(unexpected)}")
        for k in shapes[:8]:
            lines.append(f"  shape mismatch {k}: checkpoint {list(state[k].shape)} "
                         f"vs model {list(own[k].shape)}")
        conv, clf = family(arch)
        for k in shapes:
            if clf and k == f"{clf}.weight":
                lines.append(f"  hint: the checkpoint's classifier has {state[k].shape[0]} "
                             f"output(s): pass --num-classes {state[k].shape[0]}")
            if conv and k == f"{conv}.weight" and state[k].dim() == 4:
                lines.append(f"  hint: the checkpoint's first conv takes {state[k].shape[1]} "
                             f"channel(s): pass --in-channels {state[k].shape[1]}")
        if missing and unexpected and not shapes:
            lines.append("  hint: is --architecture right, or do keys carry another prefix?")
        raise InputError("\n".join(lines))
    model.load_state_dict(state, strict=True)
    return model
