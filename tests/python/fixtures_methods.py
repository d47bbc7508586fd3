#!/usr/bin/python3
"""Reference raw maps of every CAM method, for camkit's C++ parity tests.

    /usr/bin/python3 tests/python/fixtures_methods.py FIXTURES_DIR [--force]

Writes only into FIXTURES_DIR/methods/. For each model <model>.pt (traced TorchScript,
seeded random weights, BN running stats randomised, no metadata): <model>.input.npy
([1,C,H,W] float32, already normalised), <model>.logits.npy ([K], eager model), for GAP
models <model>.weight.npy ([K,C], the linear layer after the pool). For each tapped layer
(dotted module path): <model>.<layer>.activations.npy ([C,h,w]), and for each class:
<model>.<layer>.<method>.<class>.npy ([h,w] float32 raw map: feature resolution, before ReLU,
upsampling, min-max), plus the intermediates the C++ method functions take:
<model>.<layer>.grad.<class>.npy (dy_c/dA [C,h,w]), <model>.<layer>.scorecam_scores.npy and
<model>.<layer>.ablation_logits.npy ([C,K]: logits of the masked / channel-ablated runs).
"gradcam++" is spelled "gradcampp" in file names. Maps come from tests/python/
camkit_reference.py (forward hooks on the eager model); manifest.json (written last) lists
everything with the file names, and the checked identity gradcam == cam / (h*w) at the GAP
input. Each layer's "variants" are maps of methods with options (eigen-smoothing,
aug-smoothing, Smooth Grad-CAM++, SS-CAM with seeded noise, IS-CAM) and FullGrad (at each
model's first layer; input resolution): method, options and files per class.

Re-running with unchanged sources is a no-op (the manifest records a hash of them).
"""

import hashlib
import json
import os
import sys
import time
import warnings
import zlib

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, HERE)
import camkit_meta  # noqa: E402
import camkit_reference as ref  # noqa: E402
import export_model as em  # noqa: E402

MANIFEST_VERSION = 1
IDENTITY_RTOL = 1e-5  # gradcam vs cam / (h*w), relative to max |cam / (h*w)|

# ---------------------------------------------------------------- models


class VggSmall(nn.Module):
    """VGG-style, no global-average-pool head: the last conv block's ReLU (features.9,
    64x16x16 at 64x64) feeds MaxPool -> AdaptiveAvgPool2d(4) -> an MLP; CAM does not apply."""

    def __init__(self, k=6):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),     # 0-2
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(inplace=True),  # 3-5
            nn.MaxPool2d(2),                                                             # 6
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(inplace=True))  # 7-9
        self.pool = nn.Sequential(nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(4))
        self.classifier = nn.Sequential(nn.Linear(64 * 4 * 4, 32), nn.ReLU(inplace=True),
                                        nn.Linear(32, k))

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class XraySmall(nn.Module):
    """1-channel single-logit ResNet-ish: stem (stride 2) -> three torchvision BasicBlocks
    (layer2, layer3 stride 2) -> global average pool -> fc(64, 1). layer3 (the last block,
    64x8x8 at 64x64) is the GAP input."""

    def __init__(self):
        super().__init__()
        from torchvision.models.resnet import BasicBlock

        def down(c_in, c_out):
            return nn.Sequential(nn.Conv2d(c_in, c_out, 1, 2, bias=False), nn.BatchNorm2d(c_out))

        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU(inplace=True))
        self.layer1 = BasicBlock(16, 16)
        self.layer2 = BasicBlock(16, 32, stride=2, downsample=down(16, 32))
        self.layer3 = BasicBlock(32, 64, stride=2, downsample=down(32, 64))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, 1)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def kaiming(model):
    """torchvision's conv init (kaiming normal, fan_out): PyTorch's default init shrinks the
    activations layer by layer, and the randomised BN shift then kills most channels."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


# name, builder, input (C, H, W), layers, gap layer (its output is global-average-pooled into
# the linear layer `classifier`; None = no CAM head), preferred second class.
SPECS = [
    dict(name="resnet18", make=lambda: em.build_model("resnet18", num_classes=10),
         input=(3, 64, 64), layers=["layer4", "layer4.1.conv2"], gap_layer="layer4",
         classifier="fc", other_class=3,
         note="torchvision resnet18, 10 classes; layer4.1.conv2 is inside the last BasicBlock "
              "(before bn2, the residual add and the block's ReLU)"),
    dict(name="vgg_small", make=lambda: kaiming(VggSmall()), input=(3, 64, 64),
         layers=["features.9"], gap_layer=None, classifier=None, other_class=5,
         note=VggSmall.__doc__.strip()),
    dict(name="xray_small", make=lambda: kaiming(XraySmall()), input=(1, 64, 64),
         layers=["layer3"], gap_layer="layer3", classifier="fc", other_class=None,
         note=XraySmall.__doc__.strip()),
]

# ---------------------------------------------------------------- helpers


def seed_of(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def randomize(model, shape):
    """BN running stats randomised around the true statistics of random inputs (mean shifted
    by up to 0.2 std, variance scaled by 0.6..1.4) and random affine params, random linear
    biases; eval mode. Stats unrelated to the data (fixtures_models.py's uniform ones) kill
    most channels of a small net's last block; these keep BN far from the identity without."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batch
    gen = torch.Generator().manual_seed(12345)
    model.train()
    with torch.no_grad():
        model(torch.randn(8, *shape, generator=gen))
    for m in bns:
        std = m.running_var.sqrt()
        m.running_mean.add_(std * (torch.rand(std.shape, generator=gen) * 0.4 - 0.2))
        m.running_var.mul_(torch.rand(std.shape, generator=gen) * 0.8 + 0.6)
        if m.affine:
            m.weight.data.uniform_(0.6, 1.4, generator=gen)
            m.bias.data.uniform_(-0.1, 0.1, generator=gen)
    for m in model.modules():
        if isinstance(m, nn.Linear) and m.bias is not None:
            m.bias.data.uniform_(-0.2, 0.2, generator=gen)
    return model.eval()


def save_npy(path, array):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        np.save(f, np.ascontiguousarray(np.asarray(array), dtype=np.float32))
    os.replace(tmp, path)


def file_tag(method):
    return method.replace("+", "p")


def rel_err(got, want):
    scale = float(want.abs().max())
    diff = float((got - want).abs().max())
    return diff / scale if scale > 0 else diff


# ---------------------------------------------------------------- method options

# Smooth Grad-CAM++'s noise in the fixtures: the C++ test passes the same settings, and both
# sides draw the noise from a torch CPU generator seeded with SMOOTH["seed"].
SMOOTH = {"noise_sigma": 0.2, "samples": 5, "seed": 7}
EIGEN_SMOOTHED = ("gradcam", "gradcam++", "layercam", "gradcam-elementwise")
# SS-CAM's noise on the masks and IS-CAM's steps; FullGrad has no options and no layer.
SSCAM = {"noise_sigma": 0.3, "samples": 3, "seed": 7}
ISCAM = {"samples": 3}


def variants_for(weight, first=False, cache=None):
    """The maps of methods with options (eigen-smoothing, aug-smoothing, Smooth Grad-CAM++,
    SS-CAM, IS-CAM) and of FullGrad: name (file tag), method, the ExplainOptions fields the
    C++ test sets, reference maker. weight: the classifier after the pool at the GAP input,
    else None (no CAM there). first: the model's first listed layer, the only one SS-CAM,
    IS-CAM (C x N masked passes each) and FullGrad (layer-independent) are written for.
    cache: a dict kept per layer, so the channel scores serve every class."""
    out = []
    if first:
        cache = {} if cache is None else cache

        def scores(key, make):
            if key not in cache:
                cache[key] = make()
            return cache[key]

        out.append(dict(name="sscam", method="sscam", options=dict(SSCAM),
                        make=lambda model, x, layer, cls: ref.score_weighted(
                            model, x, layer, cls, scores("sscam", lambda: ref.sscam_scores(
                                model, x, layer, SSCAM["noise_sigma"], SSCAM["samples"],
                                SSCAM["seed"])))))
        out.append(dict(name="iscam", method="iscam", options=dict(ISCAM),
                        make=lambda model, x, layer, cls: ref.score_weighted(
                            model, x, layer, cls, scores("iscam", lambda: ref.iscam_scores(
                                model, x, layer, ISCAM["samples"])))))
        out.append(dict(name="fullgrad", method="fullgrad", options={},
                        make=lambda model, x, layer, cls: ref.fullgrad(model, x, cls)))
    for m in EIGEN_SMOOTHED:
        out.append(dict(name=f"{file_tag(m)}-eigensmooth", method=m,
                        options={"eigen_smooth": True},
                        make=lambda model, x, layer, cls, m=m: ref.eigen_smooth(m, model, x,
                                                                                layer, cls)))
    out.append(dict(name="gradcam-augsmooth", method="gradcam", options={"aug_smooth": True},
                    make=lambda model, x, layer, cls: ref.aug_smooth(ref.gradcam, model, x,
                                                                     layer, cls)))
    if weight is not None:
        def cam(model, x, layer, cls):
            return ref.cam(model, x, layer, cls, weight)
        out.append(dict(name="cam-augsmooth", method="cam", options={"aug_smooth": True},
                        make=lambda model, x, layer, cls: ref.aug_smooth(cam, model, x, layer,
                                                                         cls)))
    out.append(dict(name="smoothgradcampp", method="smoothgradcam++", options=dict(SMOOTH),
                    make=lambda model, x, layer, cls: ref.smoothgradcam_pp(
                        model, x, layer, cls, SMOOTH["noise_sigma"], SMOOTH["samples"],
                        SMOOTH["seed"])))
    return out


# ---------------------------------------------------------------- one model


def make_model(spec, out_dir):
    name = spec["name"]
    torch.manual_seed(seed_of(name))
    model = randomize(spec["make"](), spec["input"])
    c_in, height, width = spec["input"]
    gen = torch.Generator().manual_seed(seed_of(name) + 1)
    x = torch.randn(1, c_in, height, width, generator=gen)
    p = lambda suffix: os.path.join(out_dir, f"{name}.{suffix}")  # noqa: E731

    err = em.export(model, p("pt"), None, "trace", example=x * 0.5, check_input=x)
    with torch.no_grad():
        logits = em.first_tensor(model(x))[0]
    k = logits.numel()
    save_npy(p("input.npy"), x.numpy())
    save_npy(p("logits.npy"), logits.numpy())
    top1 = int(logits.argmax())
    if k == 1:
        classes = [0]
    else:
        other = spec["other_class"] if spec["other_class"] != top1 else (top1 + 1) % k
        classes = [top1, other]
    weight = None
    files = {"model": f"{name}.pt", "input": f"{name}.input.npy", "logits": f"{name}.logits.npy"}
    if spec["gap_layer"]:
        weight = model.get_submodule(spec["classifier"]).weight.detach().clone()
        save_npy(p("weight.npy"), weight.numpy())
        files["weight"] = f"{name}.weight.npy"

    layers = [make_layer(model, x, spec, path, classes, weight, logits, out_dir)
              for path in spec["layers"]]
    return {
        "name": name, "file": files["model"], "input": files["input"],
        "input_shape": [1, c_in, height, width], "num_classes": k,
        "single_logit": k == 1, "has_cam_head": spec["gap_layer"] is not None,
        "gap_layer": spec["gap_layer"],
        "classifier_weight": f"{spec['classifier']}.weight" if spec["classifier"] else None,
        "top1": top1, "classes": classes, "note": spec["note"],
        "torchscript_max_rel_err": err, "files": files, "layers": layers,
    }


def make_layer(model, x, spec, path, classes, weight, logits, out_dir):
    """Every method's raw map at one tapped layer, for each class; the intermediates; the
    Grad-CAM == CAM / (h*w) check at the GAP input."""
    layer = model.get_submodule(path)
    a, hook_logits = ref.activations(model, x, layer)
    if not torch.equal(hook_logits, logits):
        raise SystemExit(f"fixtures_methods: {spec['name']}: hooked forward changed logits")
    c, h, w = a.shape
    stem = f"{spec['name']}.{path}"
    files = {}

    def put(key, array):  # <model>.<layer>.<key>.npy
        files[key] = f"{stem}.{key}.npy"
        save_npy(os.path.join(out_dir, files[key]), array.numpy())

    scores = ref.scorecam_scores(model, x, layer)
    ablated = ref.ablation_logits(model, x, layer)
    put("activations", a)
    put("scorecam_scores", scores)
    put("ablation_logits", ablated)

    is_gap = path == spec["gap_layer"]
    methods = [m for m in ref.METHODS if m != "cam" or is_gap]
    maps = {}
    variants = {}
    identity = {}
    cache = {}
    for cls in classes:
        _, g, _ = ref.activations_and_gradient(model, x, layer, cls)
        put(f"grad.{cls}", g)
        raws = {
            "gradcam": ref.gradcam(model, x, layer, cls),
            "gradcam++": ref.gradcam_pp(model, x, layer, cls),
            "xgradcam": ref.xgradcam(model, x, layer, cls),
            "layercam": ref.layercam(model, x, layer, cls),
            "hirescam": ref.hirescam(model, x, layer, cls),
            "scorecam": ref.scorecam(model, x, layer, cls, scores=scores),
            "ablationcam": ref.ablationcam(model, x, layer, cls, ablated=ablated),
            "eigencam": ref.eigencam(model, x, layer),
            "gradcam-elementwise": ref.gradcam_elementwise(model, x, layer, cls),
            "eigengradcam": ref.eigengradcam(model, x, layer, cls),
            "guided-backprop": ref.guided_backprop(model, x, layer, cls),
            "guided-gradcam": ref.guided_gradcam(model, x, layer, cls),
        }
        if is_gap:
            raws["cam"] = ref.cam(model, x, layer, cls, weight)
            # At the GAP input y_c = mean_ij sum_k W[c,k] A_kij + b_c, so g_kij = W[c,k]/(h*w)
            # everywhere: Grad-CAM (and HiResCAM) reduce to CAM / (h*w).
            scaled = raws["cam"] / (h * w)
            # The same in float32 throughout (what a float32 implementation can expect).
            gc32 = torch.einsum("k,khw->hw", g.mean(dim=(1, 2)), a)
            cam32 = torch.einsum("k,khw->hw", weight[cls], a) / (h * w)
            identity[str(cls)] = {"gradcam": rel_err(raws["gradcam"], scaled),
                                  "hirescam": rel_err(raws["hirescam"], scaled),
                                  "gradcam_float32": rel_err(gc32.double(), cam32.double())}
            worst = max(identity[str(cls)].values())
            if not worst <= IDENTITY_RTOL:
                raise SystemExit(f"fixtures_methods: {stem}: gradcam != cam/(h*w) for class "
                                 f"{cls} (max rel err {worst:.3g})")
        for m in methods:
            fname = f"{stem}.{file_tag(m)}.{cls}.npy"
            save_npy(os.path.join(out_dir, fname), raws[m].numpy())
            maps.setdefault(m, {})[str(cls)] = fname
        for v in variants_for(weight if is_gap else None, path == spec["layers"][0], cache):
            fname = f"{stem}.{v['name']}.{cls}.npy"
            save_npy(os.path.join(out_dir, fname), v["make"](model, x, layer, cls).numpy())
            variant = variants.setdefault(v["name"], {"method": v["method"],
                                                      "options": v["options"], "maps": {}})
            variant["maps"][str(cls)] = fname

    _, sv = ref.eigencam_from_activations(a)
    entry = {
        "path": path, "shape": [c, h, w], "gap_input": is_gap, "methods": methods,
        "maps": maps, "files": files, "variants": variants,
        "eigencam_sv_ratio": float(sv[0] / sv[1]) if len(sv) > 1 and sv[1] > 0 else None,
        "scorecam_constant_channels": int((a.amax(dim=(1, 2)) == a.amin(dim=(1, 2))).sum()),
        # XGrad-CAM divides by sum_ij A_kij, near 0 for signed activations: rounding in A is
        # amplified up to max_k sum|A_k| / |sum A_k + 1e-7| times in w_k.
        "xgradcam_amplification": float((a.double().abs().sum(dim=(1, 2)) /
                                         (a.double().sum(dim=(1, 2)) + ref.XGRAD_EPS).abs())
                                        .max()),
    }
    if is_gap:
        entry["identity_gradcam_vs_cam_over_hw"] = identity
        entry["identity_max_rel_err"] = max(v for d in identity.values() for v in d.values())
    return entry


# ---------------------------------------------------------------- driver


def source_hash():
    h = hashlib.sha256()
    for path in (__file__, ref.__file__, em.__file__, camkit_meta.__file__):
        with open(path, "rb") as f:
            h.update(f.read())
    h.update(torch.__version__.encode())
    return h.hexdigest()[:16]


def all_files(manifest):
    for m in manifest["models"]:
        yield from m["files"].values()
        for layer in m["layers"]:
            yield from layer["files"].values()
            for per_class in layer["maps"].values():
                yield from per_class.values()
            for variant in layer.get("variants", {}).values():
                yield from variant["maps"].values()


def up_to_date(out_dir, digest):
    try:
        with open(os.path.join(out_dir, "manifest.json")) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return False
    if manifest.get("source_hash") != digest:
        return False
    return all(os.path.isfile(os.path.join(out_dir, f)) for f in all_files(manifest))


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    if len(args) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    out_dir = os.path.join(args[0], "methods")
    os.makedirs(out_dir, exist_ok=True)
    digest = source_hash()
    if "--force" not in argv and up_to_date(out_dir, digest):
        print(f"fixtures_methods: {out_dir} is up to date")
        return 0
    torch.set_num_threads(1)  # shared 2-core machine; also keeps the sums' order fixed
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    started = time.time()
    models = []
    for spec in SPECS:
        t0 = time.time()
        models.append(make_model(spec, out_dir))
        print(f"  {time.time() - t0:5.1f}s  {spec['name']}")
    import torchvision

    manifest = {
        "manifest_version": MANIFEST_VERSION, "source_hash": digest,
        "generator": "tests/python/fixtures_methods.py",
        "reference": "tests/python/camkit_reference.py", "torch": torch.__version__,
        "torchvision": torchvision.__version__, "methods": list(ref.METHODS),
        "conventions": {
            "maps": "<model>.<layer>.<method>.<class>.npy: raw map [h,w] float32 at feature "
                    "resolution, before ReLU, upsampling and min-max (computed in float64 from "
                    "float32 A and g); 'gradcam++' is written 'gradcampp' in file names; "
                    "layers[].maps[method][class] gives each file name",
            "logit": "y_c is the pre-softmax logit c (single-logit models: logit 0)",
            "cam": "only at the GAP input (gap_input true): sum_k W[c,k] A_k, W = "
                   "<model>.weight.npy, no bias",
            "eigencam": "class-independent: the same map is written for every class",
            "grad": "grad.<class>: dy_c/dA [C,h,w] float32, from a forward hook + "
                    "torch.autograd.grad",
            "scorecam_scores": "[C,K] logits of x * M_k, M_k = min-max(bilinear upsample of A_k "
                               "to H x W, align_corners=False), constant channel -> zero mask",
            "ablation_logits": "[C,K] logits with channel k of A set to 0",
            "conditioning": "eigencam_sv_ratio = s1/s2 of the centred activations (the "
                            "first singular vector moves by ~eps/(1 - s2/s1)); "
                            "xgradcam_amplification: see docs/methods.md",
            "identity": "identity_gradcam_vs_cam_over_hw: max|gradcam - cam/(h*w)| / "
                        "max|cam/(h*w)| (and the same for hirescam; gradcam_float32: both sides "
                        "computed in float32), per class",
            "display": "not stored: ReLU (all but cam), bilinear upsampling align_corners="
                       "False, min-max to [0,1]; docs/methods.md",
        },
        "models": models,
    }
    tmp = os.path.join(out_dir, f"manifest.json.tmp{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(tmp, os.path.join(out_dir, "manifest.json"))
    layers = [lay for m in models for lay in m["layers"]]
    n_maps = sum(len(per_class) for lay in layers for per_class in lay["maps"].values())
    worst = max(lay.get("identity_max_rel_err", 0.0) for lay in layers)
    print(f"fixtures_methods: {len(models)} models, {n_maps} maps in {out_dir}; "
          f"gradcam vs cam/(h*w) max rel err {worst:.3g}; {time.time() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
