#!/usr/bin/python3
"""Export a torchvision classifier to TorchScript for camkit, with camkit metadata embedded.

    /usr/bin/python3 tools/export_model.py resnet18 model.pt --weights best.ckpt --num-classes 5 \
        --labels labels.txt --preset imagenet
    /usr/bin/python3 tools/export_model.py resnet18 xray.pt --in-channels 1 --num-classes 1 \
        --size 224,224 --mean 0.49 --std 0.248
    /usr/bin/python3 tools/export_model.py --meta-only model.pt --labels labels.txt

Importable: build_model(), load_weights(), export() are what training scripts and the test
fixtures use. Exit codes: 0 ok, 1 the saved model does not reproduce the eager model or camkit
cannot explain it (the file is removed), 2 bad arguments or inputs (unknown architecture,
checkpoint that does not fit, bad labels, camkit not found).

The model is traced (or scripted) with autograd available, so the graph records the kernels
gradients flow through (traced under torch.no_grad(), nn.MultiheadAttention records an
inference-only kernel without a derivative). Before a file is accepted, camkit itself checks
it (`camkit info`: the CAM head or the default layer found, one gradient pass through it).
The metadata schema ("camkit.json") is in docs/export.md and tools/camkit_meta.py.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import camkit_meta  # noqa: E402  (sibling module, found through the line above)

import torch  # noqa: E402


from architectures import (  # noqa: E402,F401  (re-exported: training scripts and tests use them)
    AUX_MODULES, CONVS, FAMILIES, TRANSFORM_INPUT, InputError, build_model, drop_aux, family,
    first_conv_path, get_module, input_channels_and_rank, load_weights, read_state_dict,
    replace_first_conv, strip_prefixes)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ExportError(RuntimeError):
    """Exported TorchScript does not reproduce the eager model, or camkit cannot explain it
    (exit code 1)."""



# ---------------------------------------------------------------- export

def first_tensor(out):
    """The logits of a model output: the tensor itself, or the first element of a tuple
    (scripted googlenet returns GoogLeNetOutputs(logits, aux2, aux1))."""
    return select_output(out, None)


def select_output(out, output):
    """The logits of a model output: `output` (tuple index or dict key) when given, else the
    tensor itself, a dict's "logits", or a tuple's first tensor."""
    if isinstance(out, Mapping):
        key = output if output is not None else "logits"
        if key not in out:
            raise ExportError(f"model output is a dict without {key!r} (keys: "
                              f"{', '.join(map(str, out))}); pass --output KEY")
        return select_output(out[key], None)
    if isinstance(out, (tuple, list)):
        if output is not None:
            return select_output(out[int(output)], None)
        for item in out:
            if torch.is_tensor(item):
                return item
        return select_output(out[0], None)
    if not torch.is_tensor(out):
        raise ExportError(f"model output is a {type(out).__name__}, not a tensor")
    return out


def max_rel_error(got, ref):
    """max |got - ref| / max |ref| (0 for two all-zero tensors)."""
    scale = ref.abs().max().item()
    diff = (got - ref).abs().max().item()
    return diff / scale if scale > 0 else diff


def _atomic_save(module, path, extra):
    path = str(path)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        torch.jit.save(module, tmp, _extra_files=extra)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def find_camkit(given=None):
    """The camkit binary: `given`, $CAMKIT, the repository's build/camkit, or camkit on PATH;
    None when there is none."""
    candidates = [given] if given else [os.environ.get("CAMKIT"),
                                        os.path.join(ROOT, "build", "camkit"),
                                        shutil.which("camkit")]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def camkit_check(camkit, path, output=None, log=None):
    """camkit's own verdict on an exported file: `camkit info` must find the CAM head or a
    default layer, and gradients must reach it (one backward on a probe input). Returns the
    info dict; raises ExportError with camkit's message otherwise."""
    cmd = [camkit, "info", "--json", str(path)] + (["--output", str(output)] if output else [])
    r = subprocess.run(cmd, capture_output=True, text=True)
    why = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"
    if r.returncode != 0:
        raise ExportError(f"camkit cannot explain {path}: {why}")
    info = json.loads(r.stdout)
    if not info["gradients"]["available"]:
        raise ExportError(f"camkit cannot run gradient methods on {path}: "
                          f"{info['gradients']['reason']}")
    if log:
        layer = info["layer"]
        log(f"camkit: {'CAM head' if info['head']['found'] else 'no CAM head'}, layer "
            f"{layer['layer']} ({layer['layout']}), gradients reach it")
    return info


def export(model, path, meta=None, method="trace", example=None, check_input=None, tol=1e-4,
           log=None, camkit=None, output=None):
    """Save model as TorchScript at path (atomically), with meta as camkit.json if given.

    method: "trace" (records the ops run on example, so sizes are fixed) or "script"; either
    runs with autograd enabled, so the graph keeps differentiable kernels.
    example: input for tracing and for the check; default: seeded randn of meta's input shape.
    output: the tuple index or dict key holding the logits (default: meta's "output", else the
    tensor, a dict's "logits" or a tuple's first tensor).
    The saved file is loaded back and run on check_input (default: another seeded randn);
    returns the max relative error against the eager model, and raises ExportError (and
    removes the file) when it exceeds tol, or when camkit (a binary path) cannot explain it.
    """
    model = model.eval()
    if output is None and meta is not None:
        output = meta.get("output")
    if example is None:
        if meta is None:
            raise ValueError("export(): give example or meta (for the input shape)")
        i = meta["input"]
        gen = torch.Generator().manual_seed(0)
        example = torch.randn(1, i["channels"], i["height"], i["width"], generator=gen)
    if check_input is None:
        gen = torch.Generator().manual_seed(1)
        check_input = torch.randn(example.shape, generator=gen)
    with torch.enable_grad():
        if method == "trace":
            # strict=False lets a dict of outputs be traced.
            module = torch.jit.trace(model, example, check_trace=False, strict=False)
        elif method == "script":
            module = torch.jit.script(model)
        else:
            raise ValueError(f"method must be 'trace' or 'script', not {method!r}")
    extra = {camkit_meta.EXTRA_FILE: camkit_meta.dumps(meta)} if meta is not None else {}
    _atomic_save(module, path, extra)

    loaded = torch.jit.load(str(path), map_location="cpu")
    with torch.no_grad():
        ref = select_output(model(check_input), output)
        got = select_output(loaded(check_input), output)
    if got.shape != ref.shape:
        os.remove(path)
        raise ExportError(f"{path}: TorchScript output shape {list(got.shape)} != eager "
                          f"{list(ref.shape)}; file removed")
    err = max_rel_error(got, ref)
    if log:
        log(f"verify: max relative error {err:.3g} (reloaded TorchScript vs eager, {method})")
    if not err <= tol:
        os.remove(path)
        raise ExportError(f"{path}: reloaded TorchScript differs from the eager model "
                          f"(max relative error {err:.3g} > {tol:g}); file removed")
    if camkit:
        try:
            camkit_check(camkit, path, output, log)
        except ExportError as e:
            os.remove(path)
            raise ExportError(f"{e}; file removed") from e
    return err


def rewrite_meta(path, meta, log=None):
    """Replace the camkit.json of an existing TorchScript file; the code is kept as is."""
    module = torch.jit.load(str(path), map_location="cpu")
    _atomic_save(module, path, {camkit_meta.EXTRA_FILE: camkit_meta.dumps(meta)})
    if log:
        log(f"rewrote metadata of {path}")


def infer_io(module, meta, in_channels, hw, output=None):
    """(channels, num_classes) of a TorchScript module: channels from the first 4-D weight
    (or the flag, or old metadata), num_classes by running it once on zeros."""
    channels = in_channels or (meta or {}).get("input", {}).get("channels")
    if channels is None:
        for _, p in module.named_parameters():
            if p.dim() == 4:
                channels = p.shape[1]
                break
    if channels is None:
        raise InputError("cannot tell the input channel count; pass --in-channels")
    with torch.no_grad():
        out = select_output(module(torch.zeros(1, channels, hw[0], hw[1])),
                            output if output is not None else (meta or {}).get("output"))
    return int(channels), int(out.shape[-1])


# ---------------------------------------------------------------- CLI

class _HelpFormatter(argparse.HelpFormatter):
    """Shows a flag's default unless it is unset or the help already says it."""

    def _get_help_string(self, action):
        text = action.help or ""
        unset = action.default is None or action.default is False
        if "default" not in text and not unset and action.default != argparse.SUPPRESS:
            text += " (default: %(default)s)"
        return text


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="export_model.py",
        description="Export a torchvision classifier to TorchScript with camkit metadata "
                    "(extra file camkit.json; schema in docs/export.md).",
        formatter_class=_HelpFormatter)
    p.add_argument("arch", nargs="?", help="torchvision architecture, e.g. resnet18")
    p.add_argument("output", nargs="?", help="output .pt (or use --out)")
    p.add_argument("--out", help="output .pt (same as the positional output)")
    p.add_argument("--weights", help="state dict (.pt/.pth) or Lightning checkpoint (.ckpt); "
                   "'model.'/'module.' prefixes are stripped; loaded strictly")
    p.add_argument("--in-channels", type=int, help="replace the first conv with one taking N "
                   "channels (default: the architecture's, 3)")
    p.add_argument("--num-classes", type=int, help="replace the final classifier layer with K "
                   "outputs (default: the architecture's, 1000); 1 = single-logit binary")
    p.add_argument("--method", choices=["trace", "script"], default="trace",
                   help="trace (records the ops run on one input; sizes fixed) or script")
    p.add_argument("--input-size", help="H,W of the model input (default: --crop or --size, "
                   "else 224,224)")
    p.add_argument("--labels", help="labels file: one per line, 'index label', or synset_words "
                   "'nXXXXXXXX name, synonyms'")
    p.add_argument("--preset", choices=sorted(camkit_meta.PRESETS),
                   help="preprocessing preset (imagenet: resize 256, crop 224, ImageNet mean/std)")
    p.add_argument("--mean", help="per-channel mean, comma list (after scaling to [0,1])")
    p.add_argument("--std", help="per-channel std, comma list")
    p.add_argument("--resize", type=int, help="resize the shorter side to N before --crop")
    p.add_argument("--crop", help="centre crop H,W (or N) after --resize")
    p.add_argument("--size", help="resize straight to H,W (no crop); excludes --resize/--crop")
    p.add_argument("--volume", choices=["stacked", "batch"],
                   help="the model takes exams: [1,S,C,H,W] (stacked, MRNet) or the S slices as "
                   "its batch; camkit then reads every input as a volume (docs/volumes.md)")
    p.add_argument("--task", choices=list(camkit_meta.TASKS),
                   help="how the outputs become scores: multiclass (softmax), binary (one "
                   "logit, sigmoid), multilabel (a sigmoid per class), regression (none); "
                   "default: binary for one output, else multiclass")
    p.add_argument("--output", dest="logits_output", metavar="NAME",
                   help="the tuple index or dict key that holds the logits, for "
                   "models that return several tensors (recorded in the metadata)")
    p.add_argument("--transform-input", choices=["on", "off"],
                   help="googlenet/inception_v3: torchvision's input re-normalisation; default "
                   "on with --weights (models fine-tuned from torchvision's ImageNet weights, "
                   "for which torchvision turns it on), off for a random init")
    p.add_argument("--camkit", help="camkit binary that checks the exported file (default: "
                   "$CAMKIT, build/camkit of this repository, or camkit on PATH)")
    p.add_argument("--skip-camkit-check", action="store_true",
                   help="write the file without camkit's check (it may not be explainable)")
    p.add_argument("--architecture", help="architecture name to record (default: arch)")
    p.add_argument("--seed", type=int, default=0, help="seed for random init (no --weights)")
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="max relative error allowed between reloaded TorchScript and eager")
    p.add_argument("--no-meta", action="store_true", help="do not embed camkit.json")
    p.add_argument("--meta-only", metavar="MODEL_PT",
                   help="only (re)write the metadata of an existing TorchScript file")
    args = p.parse_args(argv)
    if args.meta_only:
        if args.output or args.out or args.weights:
            p.error("--meta-only takes no output path and no --weights")
    else:
        if not args.arch:
            p.error("the architecture is required (e.g. resnet18)")
        if args.output and args.out and args.output != args.out:
            p.error("give the output path once (positional or --out)")
        args.out = args.out or args.output
        if not args.out:
            p.error("the output path is required")
    return args


def _meta_from_args(args, arch, channels, num_classes, hw, base=None):
    base = base or {}
    pre = base.get("preprocess", {})
    labels = camkit_meta.parse_labels(args.labels) if args.labels else base.get("labels")
    policy_given = any(v is not None for v in (args.resize, args.crop, args.size, args.preset))
    return camkit_meta.build_meta(
        arch, num_classes, channels, hw[0], hw[1], labels=labels, preset=args.preset,
        mean=camkit_meta.parse_floats(args.mean, "--mean") if args.mean else
        (None if args.preset else base.get("mean")),
        std=camkit_meta.parse_floats(args.std, "--std") if args.std else
        (None if args.preset else base.get("std")),
        resize=args.resize if policy_given else pre.get("resize"),
        crop=camkit_meta.parse_hw(args.crop, "--crop") if args.crop else
        (None if policy_given else pre.get("crop")),
        size=camkit_meta.parse_hw(args.size, "--size") if args.size else
        (None if policy_given else pre.get("size")),
        volume=args.volume if args.volume else base.get("volume"),
        task=_task(args, base),
        output=args.logits_output if args.logits_output is not None else base.get("output"))


def _task(args, base):
    """--task, else a recorded multilabel/regression task (binary and multiclass follow from
    the class count, which --num-classes may have changed)."""
    if args.task:
        return args.task
    return base.get("task") if base.get("task") in ("multilabel", "regression") else None


def _input_hw(args, base=None):
    if args.input_size:
        return camkit_meta.parse_hw(args.input_size, "--input-size")
    if args.crop:
        return camkit_meta.parse_hw(args.crop, "--crop")
    if args.size:
        return camkit_meta.parse_hw(args.size, "--size")
    if args.preset:
        return tuple(camkit_meta.PRESETS[args.preset].get("crop", (224, 224)))
    if base and "input" in base:
        return base["input"]["height"], base["input"]["width"]
    return 224, 224


def _log(msg):
    print(msg, file=sys.stderr)


def _meta_only(args):
    path = args.meta_only
    if not os.path.isfile(path):
        raise InputError(f"{path} does not exist")
    try:
        base = camkit_meta.read_meta(path)
        module = torch.jit.load(path, map_location="cpu")
    except (RuntimeError, ValueError) as e:
        raise InputError(f"cannot load {path} as TorchScript: {e}") from e
    hw = _input_hw(args, base)
    channels, k = infer_io(module, base, args.in_channels, hw, args.logits_output)
    arch = args.architecture or args.arch or (base or {}).get("architecture", "unknown")
    meta = _meta_from_args(args, arch, channels, k, hw, base)
    rewrite_meta(path, meta, _log)
    print(f"wrote metadata to {path} ({arch}, {channels}x{hw[0]}x{hw[1]}, {k} classes)")
    return 0


def main(argv=None):
    args = parse_args(argv)
    try:
        if args.meta_only:
            return _meta_only(args)
        hw = _input_hw(args)
        camkit = None
        if not args.skip_camkit_check:
            camkit = find_camkit(args.camkit)
            if camkit is None:
                raise InputError("camkit not found (build it with make, or pass --camkit PATH); "
                                 "--skip-camkit-check writes the file without camkit's check")
        transform = args.transform_input
        if transform is None and args.arch in TRANSFORM_INPUT:
            transform = "on" if args.weights else "off"
            _log(f"{args.arch}: transform_input {transform} (--transform-input to change)")
        model = build_model(args.arch, args.num_classes, args.in_channels, seed=args.seed,
                            transform_input=None if transform is None else transform == "on")
        if args.weights:
            load_weights(model, args.weights, args.arch, _log)
        channels, rank = input_channels_and_rank(model, args.arch)
        if rank != 2:
            raise InputError(f"{args.arch} takes {rank}-D inputs; camkit explains 2-D image "
                             "classifiers")
        gen = torch.Generator().manual_seed(args.seed)
        example = torch.randn(1, channels, hw[0], hw[1], generator=gen)
        with torch.no_grad():
            k = int(select_output(model(example), args.logits_output).shape[-1])
        meta = None
        if not args.no_meta:
            meta = _meta_from_args(args, args.architecture or args.arch, channels, k, hw)
        err = export(model, args.out, meta, args.method, example, tol=args.tolerance, log=_log,
                     camkit=camkit, output=args.logits_output)
    except (InputError, camkit_meta.MetaError) as e:
        print(f"export_model.py: error: {e}", file=sys.stderr)
        return 2
    except ExportError as e:
        print(f"export_model.py: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({args.arch}, {args.method}, input 1x{channels}x{hw[0]}x{hw[1]}, "
          f"{k} classes, max relative error {err:.3g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
