#!/usr/bin/python3
"""Convert the OpenVINO IR of Caffe SqueezeNet 1.1 into torchvision's squeezenet1_1 for camkit.

    /usr/bin/python3 tools/convert_squeezenet_ir.py [--ir models/squeezenet1.1] \
        [--out models/squeezenet1_1.pt]

Reads <ir>/squeezenet1.1.xml, <ir>/squeezenet1.1.bin (fp16 weights addressed by the offset/size
of each Const layer) and <ir>/synset_words.txt; writes a traced (224x224) TorchScript model with
camkit metadata (labels, ImageNet preprocessing). See models/squeezenet1.1/README.md.

How the IR becomes torchvision parameters:
- The graph is walked from its Parameter along the XML edges, in step with the modules of
  torchvision's squeezenet1_1: Convolution(+Add bias) <-> Conv2d, ReLU <-> ReLU, MaxPool <->
  MaxPool2d, squeeze / two expand branches / Concat <-> Fire, ReduceMean <-> AdaptiveAvgPool2d.
  Every op's attributes (kernel, strides, pads, dilations, max-pool rounding, concat axis and
  order, reduce axes) and every weight shape are checked against the module; the Caffe layer
  names are then checked against the expected mapping (conv1 -> features.0, fire2 ->
  features.3, ..., conv10 -> classifier.1). Any disagreement stops the conversion.
- The IR takes Caffe's input: BGR pixels in 0..255 minus the mean (104, 117, 123). That mean is
  NOT folded into this IR (conv1's bias is the raw Caffe bias; see CAFFE_MEAN_BGR).
  torchvision takes RGB x_t = (pixel/255 - mean)/std, i.e. pixel = 255 (x_t std + mean). conv1
  has no padding, so substituting that affine map into conv1 is exact (done in float64):
      W'[:, c] = W[:, bgr(c)] 255 std[c]
      b'       = b + sum_{c,kh,kw} W[:, bgr(c)] (255 mean[c] - caffe_mean[bgr(c)])
  with bgr(c) = 2 - c (IR channel 0 is blue).
- The IR ends in SoftMax; the torchvision model returns the logits (the pooled conv10 output)
  as every torchvision classifier does.

Deterministic: same inputs, same parameters and outputs. Exit codes: 0 written, 1 the IR does
not match torchvision's squeezenet1_1 or the export check failed, 2 missing or unreadable input.
"""

import argparse
import os
import sys
import xml.etree.ElementTree as ET

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import camkit_meta  # noqa: E402
import export_model  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

DEFAULT_IR = os.path.join(ROOT, "models", "squeezenet1.1")
DEFAULT_OUT = os.path.join(ROOT, "models", "squeezenet1_1.pt")
XML_NAME, BIN_NAME, SYNSET_NAME = "squeezenet1.1.xml", "squeezenet1.1.bin", "synset_words.txt"
ARCH = "squeezenet1_1"
IMAGENET = camkit_meta.PRESETS["imagenet"]
IR_TO_RGB = [2, 1, 0]  # IR channel order is BGR: RGB channel c is IR channel 2 - c
# The IR's input is the Caffe model's: BGR pixels 0..255 minus this per-channel (B, G, R) mean
# (Open Model Zoo's squeezenet1.1 model.yml and accuracy-check.yml give it for this Caffe model).
# This IR was converted without --mean_values (its rt_info lists no mean), no op sits between
# the input and conv1, and conv1's bias is the raw Caffe bias (|b| ~ 0.04 where a folded mean
# would give |b - W.mean| ~ 3..140), so the mean is NOT folded into the IR.
CAFFE_MEAN_BGR = (104.0, 117.0, 123.0)
# Model Optimizer options that would change the input convention assumed above.
INPUT_CONVENTION_OPTIONS = ("mean_values", "scale_values", "scale", "reverse_input_channels",
                            "mean_file", "layout", "source_layout")
MAX_SIZE = 6 * 1024 * 1024

# Caffe layer (the Add that carries the bias) -> torchvision parameter prefix. Only a cross-check
# of the mapping found by walking the graph; the walk, not this table, decides.
CAFFE_TO_TORCHVISION = {"conv1": "features.0", "conv10": "classifier.1"}
for _fire, _index in zip(range(2, 10), (3, 4, 6, 7, 9, 10, 11, 12)):
    for _caffe, _tv in (("squeeze1x1", "squeeze"), ("expand1x1", "expand1x1"),
                        ("expand3x3", "expand3x3")):
        CAFFE_TO_TORCHVISION[f"fire{_fire}/{_caffe}"] = f"features.{_index}.{_tv}"

# ImageNet has two classes named "crane" and two named "maillot"; readable unique labels for
# them (the first synonym is used for every other class).
DISAMBIGUATE = {
    "n02012849": "crane (bird)",
    "n03126707": "crane (machine)",
    "n03710637": "maillot",
    "n03710721": "tank suit",
}

IR_DTYPES = {"f16": "<f2", "f32": "<f4", "i64": "<i8", "i32": "<i4"}


class ConvertError(RuntimeError):
    """The IR is not the SqueezeNet 1.1 that torchvision's squeezenet1_1 describes."""


def _ints(text):
    return tuple(int(v) for v in text.split(",")) if text.strip() else ()


class IRGraph:
    """The layers, edges and constants of an OpenVINO IR (v10/v11) .xml + .bin pair."""

    def __init__(self, xml_path, bin_path):
        root = ET.parse(xml_path).getroot()
        if root.tag != "net" or root.get("version") not in ("10", "11"):
            raise ConvertError(f"{xml_path}: not an OpenVINO IR v10/v11 network")
        check_input_convention(root)
        self.blob = np.fromfile(bin_path, dtype=np.uint8)
        self.layers = {int(el.get("id")): el for el in root.find("layers")}
        self.src = {}   # (to layer, to port) -> (from layer, from port)
        self.dst = {}   # from layer -> [(to layer, to port, from port)]
        for e in root.find("edges"):
            f, fp, t, tp = (int(e.get(k)) for k in ("from-layer", "from-port", "to-layer",
                                                    "to-port"))
            self.src[(t, tp)] = (f, fp)
            self.dst.setdefault(f, []).append((t, tp, fp))

    def type(self, lid):
        return self.layers[lid].get("type")

    def name(self, lid):
        return self.layers[lid].get("name")

    def data(self, lid):
        el = self.layers[lid].find("data")
        return dict(el.attrib) if el is not None else {}

    def _ports(self, lid, kind):
        el = self.layers[lid].find(kind)
        return [int(p.get("id")) for p in el] if el is not None else []

    def producer(self, lid, index):
        """The layer feeding the index-th input port (in port order) of lid."""
        ports = sorted(self._ports(lid, "input"))
        return self.src[(lid, ports[index])][0]

    def consumers(self, lid):
        """Layers fed by lid's first output (values; MaxPool-8's indices must be unused)."""
        first = min(self._ports(lid, "output"))
        uses = self.dst.get(lid, [])
        if any(fp != first for _, _, fp in uses):
            raise ConvertError(f"{self.name(lid)}: a secondary output is used")
        return sorted(t for t, _, _ in uses)

    def only_consumer(self, lid, want_type):
        users = self.consumers(lid)
        if len(users) != 1 or self.type(users[0]) != want_type:
            found = [f"{self.type(u)} {self.name(u)}" for u in users]
            raise ConvertError(f"{self.name(lid)} should feed one {want_type}; feeds {found}")
        return users[0]

    def const(self, lid):
        """Value of a Const layer, or of a Convert (decompression) of one, as float32/int64."""
        kind = self.type(lid)
        if kind == "Convert":
            return self.const(self.producer(lid, 0))
        if kind != "Const":
            raise ConvertError(f"{self.name(lid)}: expected a Const, found {kind}")
        d = self.data(lid)
        dtype = np.dtype(IR_DTYPES[d["element_type"]])
        shape = _ints(d["shape"])
        offset, size = int(d["offset"]), int(d["size"])
        if size != dtype.itemsize * int(np.prod(shape)) or offset + size > self.blob.size:
            raise ConvertError(f"{self.name(lid)}: offset/size outside the .bin or wrong size")
        value = self.blob[offset:offset + size].view(dtype).reshape(shape)
        return value.astype(np.float32 if dtype.kind == "f" else np.int64)


def _match_conv(g, cur, conv):
    """Convolution(+Add bias) after cur against nn.Conv2d conv: (caffe name, W, b, Add id)."""
    return _conv_at(g, g.only_consumer(cur, "Convolution"), conv)


def _conv_at(g, cid, conv):
    """The Convolution layer cid and its bias Add against nn.Conv2d conv."""
    d = g.data(cid)
    w = g.const(g.producer(cid, 1))
    add = g.only_consumer(cid, "Add")
    bias_src = [g.producer(add, i) for i in (0, 1) if g.producer(add, i) != cid]
    if len(bias_src) != 1:
        raise ConvertError(f"{g.name(add)}: expected the convolution plus one constant")
    b = g.const(bias_src[0])
    name = g.name(add)
    want = {"strides": conv.stride, "dilations": conv.dilation, "pads_begin": conv.padding,
            "pads_end": conv.padding}
    for key, value in want.items():
        if _ints(d[key]) != tuple(value):
            raise ConvertError(f"{name}: {key} {d[key]} but torchvision has {tuple(value)}")
    if d.get("auto_pad", "explicit") not in ("explicit", "notset"):
        raise ConvertError(f"{name}: auto_pad {d['auto_pad']} not supported")
    if conv.groups != 1 or w.shape != tuple(conv.weight.shape) or b.size != conv.out_channels:
        raise ConvertError(f"{name}: weight {w.shape}, bias {b.shape} do not fit "
                           f"{tuple(conv.weight.shape)} (groups {conv.groups})")
    return name, w, b.reshape(-1), add


def _match_relu(g, cur):
    return g.only_consumer(cur, "ReLU")


def _match_maxpool(g, cur, pool):
    pid = g.only_consumer(cur, "MaxPool")
    d = g.data(pid)
    want = {"kernel": (pool.kernel_size,) * 2, "strides": (pool.stride,) * 2,
            "pads_begin": (pool.padding,) * 2, "pads_end": (pool.padding,) * 2,
            "dilations": (pool.dilation,) * 2}
    for key, value in want.items():
        if key in d and _ints(d[key]) != tuple(value):
            raise ConvertError(f"{g.name(pid)}: {key} {d[key]} but torchvision has {value}")
    rounding = d.get("rounding_type", "floor")
    if (rounding == "ceil") != bool(pool.ceil_mode):
        raise ConvertError(f"{g.name(pid)}: rounding_type {rounding} but torchvision has "
                           f"ceil_mode={pool.ceil_mode}")
    return pid


def _match_fire(g, cur, fire, found):
    """squeeze -> ReLU -> {expand1x1, expand3x3} -> ReLU -> Concat(axis 1) against a Fire."""
    name, w, b, cur = _match_conv(g, cur, fire.squeeze)
    found.append((name, w, b))
    cur = _match_relu(g, cur)
    users = g.consumers(cur)
    if len(users) != 2 or any(g.type(u) != "Convolution" for u in users):
        raise ConvertError(f"{g.name(cur)}: expected to feed two expand convolutions")
    # Follow each branch to the Concat; the Concat's input port order is the channel order.
    branch_end = {}
    for user in users:
        relu = g.only_consumer(g.only_consumer(user, "Add"), "ReLU")
        branch_end[user] = (g.only_consumer(relu, "Concat"), relu)
    concats = {c for c, _ in branch_end.values()}
    if len(concats) != 1:
        raise ConvertError(f"{g.name(cur)}: expand branches end in different layers")
    concat = concats.pop()
    if int(g.data(concat).get("axis", 1)) != 1:
        raise ConvertError(f"{g.name(concat)}: concat axis {g.data(concat)['axis']}, not 1")
    order = [g.producer(concat, 0), g.producer(concat, 1)]
    by_relu = {relu: conv for conv, (_, relu) in branch_end.items()}
    if set(order) != set(by_relu):
        raise ConvertError(f"{g.name(concat)}: inputs are not the two expand branches")
    # torchvision: torch.cat([expand1x1 branch, expand3x3 branch], 1); _conv_at checks that
    # the branch at concat port 0 has expand1x1's kernel/padding and port 1 expand3x3's.
    for relu, module in zip(order, (fire.expand1x1, fire.expand3x3)):
        name, w, b, _ = _conv_at(g, by_relu[relu], module)
        found.append((name, w, b))
    return concat


def _match_gap(g, cur):
    rid = g.only_consumer(cur, "ReduceMean")
    axes = sorted(int(a) for a in g.const(g.producer(rid, 1)).reshape(-1))
    if axes != [2, 3]:
        raise ConvertError(f"{g.name(rid)}: reduces axes {axes}, not [2, 3]")
    return rid


def map_ir(g, model):
    """[(caffe name, torchvision prefix, W, b)] found by walking the IR along model's modules.

    Raises ConvertError where an op, attribute, shape or name does not match.
    """
    params = [lid for lid in g.layers if g.type(lid) == "Parameter"]
    if len(params) != 1:
        raise ConvertError(f"expected one input, found {len(params)}")
    cur = params[0]
    in_shape = _ints(g.data(cur)["shape"])
    mapping = []
    for prefix, seq in (("features", model.features), ("classifier", model.classifier)):
        for index, module in enumerate(seq):
            path = f"{prefix}.{index}"
            found = []
            if isinstance(module, nn.Conv2d):
                name, w, b, cur = _match_conv(g, cur, module)
                found.append((name, w, b))
            elif isinstance(module, nn.ReLU):
                cur = _match_relu(g, cur)
            elif isinstance(module, nn.MaxPool2d):
                cur = _match_maxpool(g, cur, module)
            elif type(module).__name__ == "Fire":
                cur = _match_fire(g, cur, module, found)
            elif isinstance(module, nn.Dropout):
                pass  # identity at inference; Caffe's drop9 is not in the IR
            elif isinstance(module, nn.AdaptiveAvgPool2d):
                if tuple(np.broadcast_to(module.output_size, 2)) != (1, 1):
                    raise ConvertError(f"{path}: pool to {module.output_size}, not 1x1")
                cur = _match_gap(g, cur)
            else:
                raise ConvertError(f"{path}: no IR counterpart for {type(module).__name__}")
            subs = ["squeeze", "expand1x1", "expand3x3"] if len(found) == 3 else [None]
            for sub, (name, w, b) in zip(subs, found):
                mapping.append((name, f"{path}.{sub}" if sub else path, w, b))
    # torchvision flattens to logits; the IR goes on to SoftMax(axis 1) and its Result.
    soft = g.only_consumer(cur, "SoftMax")
    if int(g.data(soft).get("axis", 1)) != 1:
        raise ConvertError(f"{g.name(soft)}: softmax axis is not 1")
    g.only_consumer(soft, "Result")
    convs = sum(1 for lid in g.layers if g.type(lid) == "Convolution")
    if convs != len(mapping):
        raise ConvertError(f"the IR has {convs} convolutions; {len(mapping)} were mapped")
    for name, tv, _, _ in mapping:
        if CAFFE_TO_TORCHVISION.get(name) != tv:
            raise ConvertError(f"graph walk maps {name} to {tv}; its Caffe name says "
                               f"{CAFFE_TO_TORCHVISION.get(name)}")
    return in_shape, mapping


def fold_input_convention(w, b, mean, std, caffe_mean_bgr=CAFFE_MEAN_BGR):
    """conv1 for torchvision input from conv1 for the IR's input (exact: conv1 has no padding).

    The IR sees x_ir[j] = pixel[rgb(j)] - caffe_mean_bgr[j] with pixel = 255 (x_t std + mean),
    so conv1(x_ir) = sum_c W[:, bgr(c)] (255 std[c] x_t[c] + 255 mean[c] - caffe_mean_rgb[c]) + b.
    float64 arithmetic, float32 result.
    """
    w_rgb = w.astype(np.float64)[:, IR_TO_RGB]
    caffe_rgb = np.asarray(caffe_mean_bgr, np.float64)[IR_TO_RGB]
    scale = (255.0 * np.asarray(std, np.float64)).reshape(1, 3, 1, 1)
    shift = (255.0 * np.asarray(mean, np.float64) - caffe_rgb).reshape(1, 3, 1, 1)
    w_new = w_rgb * scale
    b_new = b.astype(np.float64) + (w_rgb * shift).sum(axis=(1, 2, 3))
    return w_new.astype(np.float32), b_new.astype(np.float32)


def check_input_convention(root):
    """Refuse an IR whose Model Optimizer run changed the input (mean/scale/channel order):
    the fold above assumes the raw Caffe convention."""
    params = root.find("rt_info/conversion_parameters")
    used = [el.tag for el in (params if params is not None else [])
            if el.tag in INPUT_CONVENTION_OPTIONS]
    if used:
        raise ConvertError(f"the IR was converted with {', '.join(used)}; this converter "
                           "expects Caffe's input (BGR 0..255 minus the mean, no MO options)")


def read_labels(path):
    """(wnids, readable labels, full synonym lists) from synset_words.txt, in class order."""
    with open(path, encoding="utf-8") as f:
        lines = [ln.strip() for ln in f if ln.strip()]
    wnids = [ln.split(None, 1)[0] for ln in lines]
    full = camkit_meta.parse_labels_text("\n".join(lines), source=path)
    first = [DISAMBIGUATE.get(w, s.split(",")[0].strip()) for w, s in zip(wnids, full)]
    if len(set(first)) != len(first):
        dups = sorted({x for x in first if first.count(x) > 1})
        raise ConvertError(f"{path}: labels not unique after disambiguation: {dups}")
    return wnids, first, full


def convert(ir_dir, out, log=print):
    """Build the torchvision model from the IR in ir_dir and export it to out (TorchScript).

    Returns (model, meta, max relative export error)."""
    xml_path, bin_path, synset = (os.path.join(ir_dir, n) for n in (XML_NAME, BIN_NAME,
                                                                     SYNSET_NAME))
    for p in (xml_path, bin_path, synset):
        if not os.path.isfile(p):
            raise FileNotFoundError(f"{p} does not exist")
    g = IRGraph(xml_path, bin_path)
    model = export_model.build_model(ARCH, seed=0)
    in_shape, mapping = map_ir(g, model)
    if in_shape[:2] != (1, 3):
        raise ConvertError(f"IR input {in_shape}, expected 1x3xHxW")
    state = {}
    for name, tv, w, b in mapping:
        if tv == "features.0":
            if model.features[0].padding != (0, 0):  # zero padding would not fold exactly
                raise ConvertError("conv1 is padded; the input fold would not be exact")
            w, b = fold_input_convention(w, b, IMAGENET["mean"], IMAGENET["std"])
        state[f"{tv}.weight"] = torch.from_numpy(np.ascontiguousarray(w))
        state[f"{tv}.bias"] = torch.from_numpy(np.ascontiguousarray(b))
    model.load_state_dict(state, strict=True)
    model.eval()
    _, labels, _ = read_labels(synset)
    k = model.classifier[1].out_channels
    if len(labels) != k:
        raise ConvertError(f"{synset}: {len(labels)} labels for {k} classes")
    crop = IMAGENET["crop"]
    meta = camkit_meta.build_meta(ARCH, k, 3, crop[0], crop[1], labels=labels,
                                  preset="imagenet")
    out_dir = os.path.dirname(os.path.abspath(out))
    os.makedirs(out_dir, exist_ok=True)
    err = export_model.export(model, out, meta, method="trace")
    log(f"mapped {len(mapping)} convolutions ({mapping[0][0]} -> {mapping[0][1]}, ..., "
        f"{mapping[-1][0]} -> {mapping[-1][1]}); IR input {'x'.join(map(str, in_shape))} "
        f"BGR 0..255 minus {CAFFE_MEAN_BGR} folded into features.0 for RGB ImageNet-normalised "
        f"input")
    return model, meta, err


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Convert the OpenVINO IR of Caffe SqueezeNet 1.1 to a torchvision "
                    "squeezenet1_1 TorchScript file with camkit metadata.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--ir", default=os.path.relpath(DEFAULT_IR),
                   help=f"folder with {XML_NAME}, {BIN_NAME}, {SYNSET_NAME}")
    p.add_argument("--out", default=os.path.relpath(DEFAULT_OUT), help="TorchScript file")
    args = p.parse_args(argv)
    try:
        _, meta, err = convert(args.ir, args.out)
    except (OSError, ET.ParseError) as e:
        print(f"convert_squeezenet_ir.py: error: {e}", file=sys.stderr)
        return 2
    except (ConvertError, export_model.ExportError, camkit_meta.MetaError) as e:
        print(f"convert_squeezenet_ir.py: error: {e}", file=sys.stderr)
        return 1
    size = os.path.getsize(args.out)
    print(f"wrote {args.out} ({ARCH}, traced 1x3x224x224, {meta['num_classes']} classes, "
          f"{size / 1e6:.2f} MB, max relative error {err:.3g} reloaded vs eager)")
    if size > MAX_SIZE:
        print(f"convert_squeezenet_ir.py: warning: {args.out} is {size} bytes, over "
              f"{MAX_SIZE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
