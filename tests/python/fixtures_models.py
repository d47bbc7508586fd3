#!/usr/bin/python3
"""Reference TorchScript models for camkit's model/CLI tests.

    /usr/bin/python3 tests/python/fixtures_models.py FIXTURES_DIR [--force]

Writes only into FIXTURES_DIR/models/: for each model <name>.pt, <name>.input.npy ([1,C,H,W]),
<name>.logits.npy ([K], eager model); for positives (a CAM head: features -> global average
pool -> one affine map) also <name>.features.npy ([C,h,w], the pooled tensor A),
<name>.weight.npy ([K,C]), <name>.bias.npy ([K], zeros without bias) and <name>.cams.npy
([K,h,w] = einsum('kc,chw->khw', W, A): raw maps, no bias, no ReLU). manifest.json (written
last) lists every model with its feature/classifier facts. Weights are seeded random (never
downloaded); BatchNorm running stats are randomised so BN is not the identity.

Re-running with unchanged sources is a no-op (the manifest records a hash of them).
"""

import hashlib
import json
import os
import re
import sys
import time
import warnings
import zlib

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import camkit_meta  # noqa: E402
import export_model as em  # noqa: E402

MANIFEST_VERSION = 1
IDENTITY_RTOL = 1e-4  # mean(cam) + bias vs logits, relative to max |logit|

# ---------------------------------------------------------------- custom models


def backbone(c_in=3, width=32, final_relu=True):
    """Three stride-2 convs: H x W -> width x H/8 x W/8."""
    layers = [nn.Conv2d(c_in, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
              nn.Conv2d(16, 24, 3, 2, 1, bias=False), nn.BatchNorm2d(24), nn.ReLU(inplace=True),
              nn.Conv2d(24, width, 3, 2, 1)]
    if final_relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class _Custom(nn.Module):
    """backbone() as `features`, plus an nn.Linear `fc` (C -> K) and/or raw parameters
    `<params>weight` [K, C] and `<params>bias` [K]; subclasses only write the head."""

    def __init__(self, k=5, c=32, final_relu=True, fc=True, fc_bias=True, params=None):
        super().__init__()
        self.features = backbone(width=c, final_relu=final_relu)
        if fc:
            self.fc = nn.Linear(c, k, bias=fc_bias)
        if params is not None:
            setattr(self, f"{params}weight", nn.Parameter(torch.randn(k, c) * 0.2))
            setattr(self, f"{params}bias", nn.Parameter(torch.randn(k) * 0.2))


class GapFlattenLinear(_Custom):
    """F.adaptive_avg_pool2d(x, 1) -> torch.flatten -> nn.Linear."""

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.fc(torch.flatten(x, 1))


class MeanFLinear(_Custom):
    """x.mean((2, 3)) -> F.linear with parameters owned by the top module."""

    def __init__(self):
        super().__init__(fc=False, params="head_")

    def forward(self, x):
        x = self.features(x).mean((2, 3))
        return F.linear(x, self.head_weight, self.head_bias)


class MeanKeepdimView(_Custom):
    """x.mean(dim=[-2, -1], keepdim=True) -> view(N, -1) -> nn.Linear."""

    def forward(self, x):
        x = self.features(x).mean(dim=[-2, -1], keepdim=True)
        return self.fc(x.view(x.size(0), -1))


class AvgPoolWhole(_Custom):
    """F.avg_pool2d(x, kernel_size=int(x.shape[-1])) on a square map -> flatten -> nn.Linear.
    (x.shape[-1] is a tensor while tracing, which avg_pool2d rejects; int() makes the kernel
    a constant of the trace, as in code that writes F.avg_pool2d(x, 7).)"""

    def forward(self, x):
        x = self.features(x)
        x = F.avg_pool2d(x, kernel_size=int(x.shape[-1]))
        return self.fc(torch.flatten(x, 1))


class AvgPoolSize(_Custom):
    """F.avg_pool2d(x, x.size()[2:]) -> flatten -> nn.Linear: the kernel is computed from the
    map's size at run time (aten::size -> aten::Int in the traced graph, List[int] scripted)."""

    def forward(self, x):
        x = self.features(x)
        x = F.avg_pool2d(x, x.size()[2:])
        return self.fc(torch.flatten(x, 1))


class AddmmHead(_Custom):
    """adaptive_avg_pool2d(x, (1, 1)).flatten(1) -> torch.addmm(b, x, W.t())."""

    def __init__(self):
        super().__init__(fc=False, params="")

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1)).flatten(1)
        return torch.addmm(self.bias, x, self.weight.t())


class MatmulHead(_Custom):
    """x.mean((2, 3)) @ W.t() + b."""

    def __init__(self):
        super().__init__(fc=False, params="")

    def forward(self, x):
        x = self.features(x).mean((2, 3))
        return x @ self.weight.t() + self.bias


class DropoutHead(_Custom):
    """nn.AdaptiveAvgPool2d(1) -> flatten -> nn.Dropout (identity in eval) -> nn.Linear."""

    def __init__(self):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        x = torch.flatten(self.pool(self.features(x)), 1)
        return self.fc(self.drop(x))


class NoBiasHead(_Custom):
    """adaptive_avg_pool2d -> flatten -> nn.Linear(bias=False)."""

    def __init__(self):
        super().__init__(fc_bias=False)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.fc(torch.flatten(x, 1))


class GapReluLinear(_Custom):
    """Negative: pool -> ReLU -> Linear (features can be negative, so the ReLU matters)."""

    def __init__(self):
        super().__init__(final_relu=False)

    def forward(self, x):
        x = torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1)
        return self.fc(F.relu(x))


class GapLinearLinear(_Custom):
    """Negative: pool -> Linear -> Linear (two layers after the pool)."""

    def __init__(self, k=5, c=32):
        super().__init__(fc=False)
        self.fc1 = nn.Linear(c, 16)
        self.fc2 = nn.Linear(16, k)

    def forward(self, x):
        x = torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1)
        return self.fc2(self.fc1(x))


class NoPool(_Custom):
    """Negative: flatten -> Linear over every position (no global pooling)."""

    def __init__(self, k=5, c=32, hw=4):
        super().__init__(fc=False)
        self.fc = nn.Linear(c * hw * hw, k)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


# ---------------------------------------------------------------- model table


def randomize(model, classifier_bias=None):
    """BN running stats / affine params to random values (so BN is not the identity at
    init), a random classifier bias (torchvision zero-inits some), eval mode."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(0.0, 0.3)
            m.running_var.uniform_(0.5, 1.5)
            if m.affine:
                m.weight.data.uniform_(0.6, 1.4)
                m.bias.data.uniform_(-0.1, 0.1)
    if classifier_bias:
        p = model.get_parameter(classifier_bias)
        p.data.uniform_(-0.2, 0.2)
    return model.eval()


def tv(arch, **kw):
    return lambda: em.build_model(arch, **kw)


def vgg11_small(k):
    """vgg11 with the MLP's hidden width cut from 4096 to 64 (same op structure: a 7x7
    adaptive pool, flatten, Linear-ReLU-Dropout-Linear-ReLU-Dropout-Linear) so the file is
    ~40 MB, not ~530 MB."""
    import torchvision

    # init_weights=False: skip initialising the 102M-parameter MLP that is replaced below.
    m = torchvision.models.vgg11(weights=None, num_classes=k, init_weights=False)
    for conv in m.features:
        if isinstance(conv, nn.Conv2d):
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(conv.bias)
    m.classifier = nn.Sequential(nn.Linear(512 * 7 * 7, 64), nn.ReLU(True), nn.Dropout(),
                                 nn.Linear(64, 64), nn.ReLU(True), nn.Dropout(), nn.Linear(64, k))
    return m


def _tv_positive(arch, methods, hw, k, feature_layer, classifier, head, note, **extra):
    weight = extra.pop("weight", f"{classifier}.weight")
    return dict(base=arch, arch=arch, make=tv(arch, num_classes=k), methods=methods, hw=hw,
                channels=3, kind="positive", feature_layer=feature_layer, classifier=classifier,
                classifier_weight=weight, classifier_bias=f"{classifier}.bias", head=head,
                note=note, **extra)


def _custom(cls, methods, hw, kind, classifier, weight, bias, head, note="", **extra):
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()
    return dict(base=f"custom_{snake}", arch=f"custom.{cls.__name__}", make=cls,
                methods=methods, hw=hw, channels=3, kind=kind, feature_layer="features",
                classifier=classifier, classifier_weight=weight, classifier_bias=bias,
                head=head, note=note or cls.__doc__.strip(), **extra)


BOTH = ("trace", "script")
SPECS = [
    _tv_positive("resnet18", BOTH, (224, 224), 1000, "layer4", "fc",
                 "layer4 -> avgpool (AdaptiveAvgPool2d(1)) -> flatten -> fc",
                 "A = output of layer4 (ends in a ReLU inside BasicBlock)", meta="variant"),
    _tv_positive("resnet50", ("trace",), (96, 96), 100, "layer4", "fc",
                 "layer4 -> avgpool -> flatten -> fc", "A = output of layer4"),
    _tv_positive("densenet121", BOTH, (96, 96), 10, "features", "classifier",
                 "features -> F.relu(inplace) -> F.adaptive_avg_pool2d((1,1)) -> flatten -> "
                 "classifier", "A = relu(output of features): the functional ReLU in "
                 "DenseNet.forward comes between features (which ends in BatchNorm norm5) and "
                 "the pool; in-place, so the tapped features value itself is overwritten",
                 feature_op="relu"),
    _tv_positive("mobilenet_v2", BOTH, (96, 96), 10, "features", "classifier.1",
                 "features -> F.adaptive_avg_pool2d((1,1)) -> flatten -> classifier "
                 "(Sequential(Dropout, Linear))", "A = output of features (ends in ReLU6)"),
    _tv_positive("efficientnet_b0", ("trace",), (96, 96), 10, "features", "classifier.1",
                 "features -> avgpool (AdaptiveAvgPool2d(1)) -> flatten -> classifier "
                 "(Sequential(Dropout, Linear))", "A = output of features (ends in SiLU)"),
    _tv_positive("squeezenet1_1", BOTH, (96, 96), 1000, "features", "classifier.1",
                 "features -> classifier.0 Dropout -> classifier.1 Conv2d(512,K,1) -> "
                 "classifier.2 ReLU -> classifier.3 AdaptiveAvgPool2d(1) -> flatten",
                 "A = output of features = input of the 1x1 conv classifier.1 (Dropout is the "
                 "identity in eval). The classifier comes BEFORE the pool and is followed by a "
                 "ReLU, so logits = mean(relu(cams + bias)), not mean(cams) + bias; "
                 "weight = classifier.1.weight[:, :, 0, 0]",
                 weight="classifier.1.weight", identity="mean_relu"),
    _tv_positive("googlenet", BOTH, (96, 96), 10, "inception5b", "fc",
                 "inception5b -> avgpool (AdaptiveAvgPool2d(1)) -> flatten -> dropout -> fc",
                 "A = output of inception5b (concat of branches ending in ReLU); built with "
                 "aux_logits=False, transform_input=False. The scripted model returns "
                 "GoogLeNetOutputs(logits, aux_logits2=None, aux_logits1=None): logits are "
                 "output element 0", script_output="tuple[0]"),
    dict(_tv_positive("resnet18", ("trace",), (224, 224), 1, "layer4", "fc",
                      "conv1 (1 channel) ... layer4 -> avgpool -> flatten -> fc (1 logit)",
                      "chest X-ray case: 1 input channel, single logit (sigmoid), metadata "
                      "size 224x224, mean 0.49, std 0.248 (embedded in the .pt itself)",
                      meta="embedded"),
         base="resnet18_xray_1ch", make=tv("resnet18", num_classes=1, in_channels=1),
         channels=1),
    _custom(GapFlattenLinear, BOTH, (64, 80), "positive", "fc", "fc.weight", "fc.bias",
            "features -> aten::adaptive_avg_pool2d(x, 1) -> flatten -> fc"),
    _custom(MeanFLinear, BOTH, (64, 80), "positive", "", "head_weight", "head_bias",
            "features -> mean((2,3)) -> F.linear(x, head_weight, head_bias)"),
    _custom(MeanKeepdimView, BOTH, (64, 80), "positive", "fc", "fc.weight", "fc.bias",
            "features -> mean(dim=[-2,-1], keepdim=True) -> view(N,-1) -> fc"),
    _custom(AvgPoolWhole, ("trace",), (64, 64), "positive", "fc", "fc.weight", "fc.bias",
            "features -> avg_pool2d(kernel_size=8) (whole 8x8 map; constant once traced) -> "
            "flatten -> fc"),
    _custom(AvgPoolSize, BOTH, (64, 80), "positive", "fc", "fc.weight", "fc.bias",
            "features -> avg_pool2d(kernel_size=x.size()[2:]) (whole 8x10 map, kernel from "
            "aten::size) -> flatten -> fc"),
    _custom(AddmmHead, BOTH, (64, 80), "positive", "", "weight", "bias",
            "features -> adaptive_avg_pool2d((1,1)).flatten(1) -> addmm(bias, x, weight.t())"),
    _custom(MatmulHead, BOTH, (64, 80), "positive", "", "weight", "bias",
            "features -> mean((2,3)) -> matmul(x, weight.t()) + bias"),
    _custom(DropoutHead, BOTH, (64, 80), "positive", "fc", "fc.weight", "fc.bias",
            "features -> pool (AdaptiveAvgPool2d(1)) -> flatten -> drop (Dropout) -> fc"),
    _custom(NoBiasHead, BOTH, (64, 80), "positive", "fc", "fc.weight", None,
            "features -> adaptive_avg_pool2d -> flatten -> fc (Linear without bias)"),
    dict(base="vgg11", arch="vgg11", make=lambda: vgg11_small(10), methods=("trace",),
         hw=(64, 64), channels=3, kind="negative", feature_layer="features",
         classifier="classifier", classifier_weight=None, classifier_bias=None,
         head="features (512x2x2 at 64x64) -> avgpool AdaptiveAvgPool2d((7,7)) -> flatten -> "
              "Linear(25088,64) -> ReLU -> Dropout -> Linear -> ReLU -> Dropout -> Linear",
         note="classifier hidden width cut from 4096 to 64 to keep the file small",
         reason="the adaptive pool outputs 7x7 (not 1x1; at 64x64 input it upsamples 2x2 to "
                "7x7) and feeds an MLP with ReLUs: no global-average-pool -> single affine map"),
    dict(base="mobilenet_v3_small", arch="mobilenet_v3_small",
         make=tv("mobilenet_v3_small", num_classes=10), methods=("trace",), hw=(96, 96),
         channels=3, kind="negative", feature_layer="features", classifier="classifier",
         classifier_weight=None, classifier_bias=None,
         head="features -> avgpool (1x1) -> flatten -> Linear(576,1024) -> Hardswish -> "
              "Dropout -> Linear(1024,K)",
         note="", reason="a nonlinear MLP (Linear -> Hardswish -> Linear) follows the pool"),
    _custom(GapReluLinear, BOTH, (64, 80), "negative", "fc", None, None,
            "features (no final ReLU) -> adaptive_avg_pool2d -> flatten -> relu -> fc",
            reason="ReLU between the pool and the linear layer"),
    _custom(GapLinearLinear, BOTH, (64, 80), "negative", "fc2", None, None,
            "features -> adaptive_avg_pool2d -> flatten -> fc1 -> fc2",
            reason="two Linear layers after the pool (camkit requires exactly one affine map "
                   "between the global pool and the logits)"),
    _custom(NoPool, BOTH, (32, 32), "negative", "fc", None, None,
            "features (32x4x4) -> flatten -> fc(512 -> K)",
            reason="no global pooling: the linear layer sees every position separately"),
]
for _s in SPECS:
    _s.setdefault("feature_op", None)
    _s.setdefault("identity", "mean" if _s["kind"] == "positive" else None)
    _s.setdefault("reason", None)
    _s.setdefault("meta", None)  # "variant": also <name>.meta.pt; "embedded": in <name>.pt
    _s.setdefault("script_output", "tensor")


# ---------------------------------------------------------------- writing


def save_npy(path, array):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        np.save(f, np.ascontiguousarray(array, dtype=np.float32))
    os.replace(tmp, path)


def seed_of(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def capture_features(model, spec, x):
    """Eager logits [K] and, for positives, A [C,h,w] from a forward hook on feature_layer."""
    store = {}
    handle = None
    if spec["kind"] == "positive":
        mod = model.get_submodule(spec["feature_layer"])
        handle = mod.register_forward_hook(
            lambda _m, _i, out: store.__setitem__("a", out.detach().clone()))
    with torch.no_grad():
        logits = em.first_tensor(model(x))[0]
    if handle:
        handle.remove()
    a = store.get("a")
    if a is not None:
        a = a[0]
        if spec["feature_op"] == "relu":
            a = F.relu(a)
    return logits, a


def head_kind(spec):
    """'linear' (pool, then one affine map), 'conv1x1' (a 1x1 conv classifier before the
    pool: squeezenet), 'none' (negatives)."""
    if spec["kind"] != "positive":
        return "none"
    return "conv1x1" if spec["arch"].startswith("squeezenet") else "linear"


def head_params(model, spec, k):
    w = model.get_parameter(spec["classifier_weight"]).detach()
    if w.dim() == 4:  # squeezenet's 1x1 conv classifier
        w = w[:, :, 0, 0]
    b = (model.get_parameter(spec["classifier_bias"]).detach() if spec["classifier_bias"]
         else torch.zeros(k))
    return w.clone(), b.clone()


def check_identity(spec, name, cams, bias, logits):
    """Proves the fixture's A and W are the right ones: they must reproduce the logits."""
    if spec["identity"] == "mean_relu":
        recon = F.relu(cams + bias[:, None, None]).mean((1, 2))
    else:
        recon = cams.mean((1, 2)) + bias
    err = em.max_rel_error(recon, logits)
    if not err <= IDENTITY_RTOL:
        raise SystemExit(f"fixtures_models: {name}: features/weights do not reproduce the "
                         f"logits (max rel err {err:.3g}); the fixture table is wrong")
    return err


def make_model(spec, out_dir):
    torch.manual_seed(seed_of(spec["base"]))
    model = spec["make"]()
    randomize(model, spec["classifier_bias"] if spec["kind"] == "positive" else None)
    h, w = spec["hw"]
    gen = torch.Generator().manual_seed(seed_of(spec["base"]) + 1)
    x = torch.randn(1, spec["channels"], h, w, generator=gen)
    logits, a = capture_features(model, spec, x)
    k = logits.numel()
    entries = []
    for method in spec["methods"]:
        name = f"{spec['base']}_{'traced' if method == 'trace' else 'scripted'}"
        p = lambda suffix: os.path.join(out_dir, f"{name}.{suffix}")  # noqa: E731
        meta = meta_for(spec, k) if spec["meta"] and method == "trace" else None
        embedded = meta if spec["meta"] == "embedded" else None
        err = em.export(model, p("pt"), embedded, method, example=x * 0.5, check_input=x)
        files = {"model": f"{name}.pt", "input": f"{name}.input.npy",
                 "logits": f"{name}.logits.npy"}
        save_npy(p("input.npy"), x.numpy())
        save_npy(p("logits.npy"), logits.numpy())
        entry = {
            "name": name, "file": f"{name}.pt", "kind": spec["kind"], "method": method,
            "architecture": spec["arch"], "input_shape": [1, spec["channels"], h, w],
            "num_classes": k, "feature_layer": spec["feature_layer"],
            "feature_op": spec["feature_op"], "classifier": spec["classifier"],
            "classifier_weight": spec["classifier_weight"],
            "classifier_bias": spec["classifier_bias"], "head": head_kind(spec),
            "head_ops": spec["head"],
            "output": spec["script_output"] if method == "script" else "tensor",
            "note": spec["note"], "torchscript_max_rel_err": err,
        }
        if spec["kind"] == "positive":
            wgt, bias = head_params(model, spec, k)
            cams = torch.einsum("kc,chw->khw", wgt, a)
            entry["identity"] = spec["identity"]
            entry["identity_max_rel_err"] = check_identity(spec, name, cams, bias, logits)
            entry["feature_shape"] = list(a.shape)
            for key, arr in (("features", a), ("weight", wgt), ("bias", bias), ("cams", cams)):
                save_npy(p(f"{key}.npy"), arr.numpy())
                files[key] = f"{name}.{key}.npy"
        else:
            entry["reason"] = spec["reason"]
        if meta is not None and spec["meta"] == "variant":
            em.export(model, p("meta.pt"), meta, method, example=x * 0.5, check_input=x)
            files["meta_model"] = entry["meta_file"] = f"{name}.meta.pt"
        if meta is not None:  # labels are in the file; the manifest just counts them
            entry["meta"] = {key: v for key, v in meta.items() if key != "labels"}
            entry["meta"]["labels_count"] = len(meta.get("labels", []))
        entry["files"] = files
        entries.append(entry)
    return entries


def meta_for(spec, k):
    h, w = spec["hw"]
    if spec["channels"] == 1:
        return camkit_meta.build_meta(spec["arch"], k, 1, h, w, labels=["abnormal"],
                                      size=(h, w), mean=[0.49], std=[0.248])
    labels = [f"class {i:03d}" for i in range(k)]
    return camkit_meta.build_meta(spec["arch"], k, 3, h, w, labels=labels, preset="imagenet")


def source_hash():
    h = hashlib.sha256()
    for path in (__file__, em.__file__, camkit_meta.__file__):
        with open(path, "rb") as f:
            h.update(f.read())
    h.update(torch.__version__.encode())
    return h.hexdigest()[:16]


def up_to_date(out_dir, digest):
    try:
        with open(os.path.join(out_dir, "manifest.json")) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return False
    if manifest.get("source_hash") != digest:
        return False
    return all(os.path.isfile(os.path.join(out_dir, f))
               for m in manifest["models"] for f in m["files"].values())


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    if len(args) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    out_dir = os.path.join(args[0], "models")
    os.makedirs(out_dir, exist_ok=True)
    digest = source_hash()
    if "--force" not in argv and up_to_date(out_dir, digest):
        print(f"fixtures_models: {out_dir} is up to date")
        return 0
    # One thread: with 2+ OpenMP threads on a busy 2-core machine (ctest -j) a 96x96
    # densenet forward went from 0.25 s to 6 s (spin-waiting threads).
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    warnings.filterwarnings("ignore", message="Scripted GoogleNet")
    started = time.time()
    models = []
    for spec in SPECS:
        t0 = time.time()
        entries = make_model(spec, out_dir)
        models += entries
        print(f"  {time.time() - t0:5.1f}s  {', '.join(e['name'] for e in entries)}")
    import torchvision

    manifest = {
        "manifest_version": MANIFEST_VERSION, "source_hash": digest,
        "generator": "tests/python/fixtures_models.py", "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "conventions": {
            "cams": "einsum('kc,chw->khw', weight, features): raw maps, no bias, no ReLU",
            "identity": "mean: mean_hw(cams[k]) + bias[k] == logits[k]; mean_relu "
                        "(squeezenet): mean_hw(relu(cams[k] + bias[k])) == logits[k]",
            "feature_layer": "dotted module path whose output is the feature map; "
                             "feature_op is applied to it before pooling when not null",
            "classifier": "dotted path of the module owning the classifier weight ('' = the "
                          "top module, for heads written with F.linear/addmm/matmul on its "
                          "own parameters); classifier_weight/_bias are parameter names",
            "head": "linear: global pool then one affine map; conv1x1: 1x1 conv classifier "
                    "then ReLU then global pool (squeezenet); none: negatives. head_ops "
                    "describes the ops",
            "output": "tensor, or tuple[0] when the logits are element 0 of a tuple output",
        },
        "models": models,
    }
    tmp = os.path.join(out_dir, f"manifest.json.tmp{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(tmp, os.path.join(out_dir, "manifest.json"))
    n_pos = sum(m["kind"] == "positive" for m in models)
    print(f"fixtures_models: {len(models)} models ({n_pos} positive) in {out_dir}, "
          f"{time.time() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
