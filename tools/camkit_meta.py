"""camkit metadata: the "camkit.json" extra file embedded in exported TorchScript models.

Schema (version 1) is documented in docs/export.md; this module is its one Python definition.
Used by tools/export_model.py, tests/python/fixtures_models.py and training scripts.

    meta = build_meta("resnet18", num_classes=1000, channels=3, height=224, width=224,
                      preset="imagenet", labels=parse_labels("synset_words.txt"))
    torch.jit.save(module, "model.pt", _extra_files={EXTRA_FILE: dumps(meta)})
    read_meta("model.pt")  # -> dict, or None when the file carries no camkit metadata
"""

import json
import re

META_VERSION = 1
EXTRA_FILE = "camkit.json"  # torch.jit.save stores it as <archive>/extra/camkit.json
TASKS = ("multiclass", "binary", "multilabel", "regression")

# One declarative table of preprocessing presets (STYLE.md: presets, not scattered constants).
PRESETS = {
    "imagenet": {
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
        "resize": 256,
        "crop": [224, 224],
    },
}


class MetaError(ValueError):
    """Metadata that is inconsistent or cannot be parsed; the message says what and where."""


_SYNSET = re.compile(r"^n\d{8}\s+\S")
_INDEXED = re.compile(r"^(\d+)[\s:,]+(\S.*)$")


def parse_labels_text(text, source="labels"):
    """Class names from the text of a labels file, in class-index order.

    Accepted, decided for the whole file (blank lines ignored, surrounding whitespace stripped):
    - synset_words style "n01440764 tench, Tinca tinca" -> "tench, Tinca tinca";
    - "index label" (also "index: label" / "index,label") when every line starts with an
      integer; the indices must be 0..K-1 or 1..K, in any order, each once;
    - otherwise one label per line, taken verbatim.
    """
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines:
        raise MetaError(f"{source}: no labels found")
    if all(_SYNSET.match(ln) for ln in lines):
        return [ln.split(None, 1)[1].strip() for ln in lines]
    matches = [_INDEXED.match(ln) for ln in lines]
    if all(matches):
        indexed = [(int(m.group(1)), m.group(2).strip()) for m in matches]
        indices = sorted(i for i, _ in indexed)
        base = indices[0]
        if base not in (0, 1) or indices != list(range(base, base + len(indices))):
            raise MetaError(
                f"{source}: lines start with integers but they are not the indices "
                f"0..{len(indices) - 1} or 1..{len(indices)} (each once)")
        return [label for _, label in sorted(indexed)]
    return lines


def parse_labels(path):
    """Class names from a labels file (see parse_labels_text for the accepted formats)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise MetaError(f"cannot read labels file {path}: {e.strerror}") from e
    return parse_labels_text(text, source=str(path))


def parse_floats(text, what):
    """'0.485,0.456,0.406' -> [0.485, 0.456, 0.406]."""
    try:
        values = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError as e:
        raise MetaError(f"{what}: expected comma-separated numbers, got {text!r}") from e
    if not values:
        raise MetaError(f"{what}: no values in {text!r}")
    return values


def parse_hw(text, what):
    """'224,224' or '224' -> (224, 224)."""
    parts = [p for p in re.split(r"[,x]", str(text)) if p.strip()]
    try:
        values = [int(p) for p in parts]
    except ValueError as e:
        raise MetaError(f"{what}: expected H,W (positive integers), got {text!r}") from e
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) <= 0:
        raise MetaError(f"{what}: expected H,W (positive integers), got {text!r}")
    return values[0], values[1]


def build_meta(architecture, num_classes, channels, height, width, labels=None,
               preset=None, mean=None, std=None, resize=None, crop=None, size=None,
               volume=None, task=None, output=None):
    """A validated version-1 metadata dict.

    volume: None for image classifiers; "stacked" for models that take one exam as a
    [1, S, C, H, W] stack (MRNet), "batch" for models that take its S slices as the batch.
    task: how the outputs become scores (TASKS); default binary for one logit, else
    multiclass. output: the tuple index or dict key that holds the logits, for models that
    return several tensors.

    Explicit mean/std/resize/crop/size override the preset's. resize+crop and size are
    exclusive resize policies; none of them means "the caller decides" (preprocess = {}).
    Raises MetaError on any inconsistency (lengths, channel count, crop vs input size).
    """
    if preset and preset not in PRESETS:
        raise MetaError(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    base = dict(PRESETS[preset]) if preset else {}
    if size is not None:
        base.pop("resize", None)
        base.pop("crop", None)
    if resize is not None or crop is not None:
        base.pop("size", None)
    mean = mean if mean is not None else base.get("mean")
    std = std if std is not None else base.get("std")
    resize = resize if resize is not None else base.get("resize")
    crop = crop if crop is not None else base.get("crop")
    size = size if size is not None else base.get("size")

    meta = {
        "camkit_meta_version": META_VERSION,
        "architecture": str(architecture),
        "num_classes": int(num_classes),
        "input": {"channels": int(channels), "height": int(height), "width": int(width)},
        "task": task or ("binary" if int(num_classes) == 1 else "multiclass"),
    }
    if output is not None:
        meta["output"] = str(output)
    if labels is not None:
        meta["labels"] = [str(x) for x in labels]
    preprocess = {}
    if size is not None:
        if resize is not None or crop is not None:
            raise MetaError("give either --size or --resize/--crop, not both")
        preprocess["size"] = [int(v) for v in _pair(size)]
    else:
        if resize is not None:
            preprocess["resize"] = int(resize)
        if crop is not None:
            preprocess["crop"] = [int(v) for v in _pair(crop)]
    meta["preprocess"] = preprocess
    if volume is not None:
        meta["volume"] = str(volume)
    if mean is not None:
        meta["mean"] = [float(v) for v in mean]
    if std is not None:
        meta["std"] = [float(v) for v in std]
    validate_meta(meta)
    return meta


def _pair(v):
    if isinstance(v, int):
        return [v, v]
    v = list(v)
    return v * 2 if len(v) == 1 else v


def validate_meta(meta):
    """Raises MetaError unless meta is a consistent version-1 metadata dict."""
    if meta.get("camkit_meta_version") != META_VERSION:
        raise MetaError(f"camkit_meta_version must be {META_VERSION}")
    k = meta.get("num_classes")
    if not isinstance(k, int) or k < 1:
        raise MetaError("num_classes must be a positive integer")
    inp = meta.get("input", {})
    for key in ("channels", "height", "width"):
        if not isinstance(inp.get(key), int) or inp[key] < 1:
            raise MetaError(f"input.{key} must be a positive integer")
    c = inp["channels"]
    for key in ("mean", "std"):
        if key in meta and len(meta[key]) != c:
            raise MetaError(f"{key} has {len(meta[key])} values but the model takes {c} channel(s)")
    if "std" in meta and any(s <= 0 for s in meta["std"]):
        raise MetaError("std values must be positive")
    if ("mean" in meta) != ("std" in meta):
        raise MetaError("give mean and std together")
    labels = meta.get("labels")
    if labels is not None:
        allowed = (1, 2) if meta.get("task") == "binary" else (k,)
        if len(labels) not in allowed:
            want = "1 (the positive class) or 2 ([negative, positive])" if k == 1 else str(k)
            raise MetaError(f"{len(labels)} labels given but the model has {k} output(s): "
                            f"expected {want}")
    task = meta.get("task")
    if task not in TASKS:
        raise MetaError(f"task must be one of {', '.join(TASKS)}")
    if task == "binary" and k != 1:
        raise MetaError("task 'binary' needs num_classes == 1 (use 'multilabel' for several "
                        "independent sigmoids)")
    if task == "multiclass" and k == 1:
        raise MetaError("task 'multiclass' needs num_classes > 1 (one logit is 'binary')")
    if "output" in meta and not isinstance(meta["output"], str):
        raise MetaError("output must be a string (a tuple index or a dict key)")
    if meta.get("volume", "stacked") not in ("stacked", "batch"):
        raise MetaError("volume must be 'stacked' or 'batch'")
    pre = meta.get("preprocess", {})
    # Video clips (preprocess.frames): every frame is resized to 'size', then cropped
    # (torchvision's VideoClassification); volumes: 'size' is [D, H, W].
    video = "frames" in pre
    if "size" in pre and "resize" in pre or "size" in pre and "crop" in pre and not video:
        raise MetaError("preprocess: 'size' excludes 'resize'/'crop' (except for video: "
                        "'frames')")
    if video and (not isinstance(pre["frames"], int) or pre["frames"] < 1):
        raise MetaError("preprocess.frames must be a positive integer")
    size = pre.get("size")
    if size is not None and len(size) == 3:
        if inp.get("depth") not in (None, size[0]):
            raise MetaError(f"preprocess gives volumes of depth {size[0]} but input.depth is "
                            f"{inp['depth']}")
        size = size[1:]
    hw = pre.get("crop") if video and "crop" in pre else (size or pre.get("crop"))
    if hw is not None and list(hw) != [inp["height"], inp["width"]]:
        raise MetaError(f"preprocess gives {hw[0]}x{hw[1]} images but input is "
                        f"{inp['height']}x{inp['width']}")
    if "resize" in pre and not (isinstance(pre["resize"], int) and pre["resize"] > 0):
        raise MetaError("preprocess.resize must be a positive integer")


def dumps(meta):
    """The JSON text stored in the extra file (sorted keys: stable bytes for stable input)."""
    validate_meta(meta)
    return json.dumps(meta, sort_keys=True, indent=1)


def read_meta(path):
    """The metadata dict embedded in a TorchScript file, or None if it has none."""
    import torch  # local import: the parsing helpers above need no torch

    extra = {EXTRA_FILE: ""}
    torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    text = extra[EXTRA_FILE]
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return json.loads(text) if text else None
