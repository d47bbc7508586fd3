#!/usr/bin/python3
"""Train camkit's demo models on the synthetic data of tools/make_datasets.py (CPU, minutes).

    /usr/bin/python3 tools/make_datasets.py --seed 1 --out /tmp/camkit-data
    /usr/bin/python3 tools/train_demo_models.py --data /tmp/camkit-data --out models

shapes_cnn: 6-class CNN (conv-BN-ReLU blocks, stride 8, GAP -> Linear) on 160x160 RGB.
xray_resnet: 1-channel single-logit ResNet (BasicBlocks, stride 8, GAP -> Linear(C, 1)) on
128x128 float radiographs, BCEWithLogits.

Both are exported with tools/export_model.export() (traced, camkit.json embedded). Reported:
held-out accuracy (and AUC for xray) and the CAM-paper localisation score: the class activation
map of the true class (positive class for xray), bilinearly upsampled to the input size
(align_corners=False), min-max normalised, thresholded at 0.2, bounding box of the largest
8-connected component; the share of held-out images whose box has IoU >= 0.5 with the ground
truth box (camkit's own definitions, src/render/box.cpp). The summary goes to stdout and to
OUT/demo_models.json.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision.models.resnet import BasicBlock

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import camkit_meta  # noqa: E402
import export_model  # noqa: E402
import make_datasets  # noqa: E402

SHAPES_MEAN, SHAPES_STD = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]
XRAY_MEAN, XRAY_STD = [0.49], [0.248]


# ---------------------------------------------------------------- models

def conv_bn(cin, cout, stride=1, kernel=3):
    return [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True)]


class ShapesCNN(nn.Module):
    """3x3 conv blocks (3 of stride 2): final map 20x20 for 160x160 inputs, GAP, Linear.

    The first block normalises per image (InstanceNorm): object and background colours are
    random, and without it the pooled features are dominated by the background colour, which
    makes learning the shapes very slow. The other blocks are conv-BN-ReLU."""

    def __init__(self, num_classes, widths=(16, 32, 48, 64, 96, 128), strides=(2, 2, 1, 2, 1, 1),
                 kernels=(3, 3, 3, 3, 3, 1)):
        super().__init__()
        layers = [nn.Conv2d(3, widths[0], kernels[0], strides[0], kernels[0] // 2, bias=False),
                  nn.InstanceNorm2d(widths[0], affine=True), nn.ReLU(inplace=True)]
        cin = widths[0]
        for w, s, k in zip(widths[1:], strides[1:], kernels[1:]):
            layers += conv_bn(cin, w, s, k)
            cin = w
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


class XrayResNet(nn.Module):
    """torchvision-style ResNet with BasicBlocks and reduced widths, 1 input channel."""

    def __init__(self, widths=(16, 32, 64), blocks=(1, 1, 1), num_outputs=1):
        super().__init__()
        self.conv1 = nn.Conv2d(1, widths[0], 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        stages, cin = [], widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks)):
            stride = 1 if i == 0 else 2
            down = None
            if stride != 1 or cin != w:
                down = nn.Sequential(nn.Conv2d(cin, w, 1, stride, bias=False), nn.BatchNorm2d(w))
            layer = [BasicBlock(cin, w, stride, down)] + [BasicBlock(w, w) for _ in range(n - 1)]
            stages.append(nn.Sequential(*layer))
            cin = w
        self.layers = nn.Sequential(*stages)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_outputs)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def features(self, x):
        return self.layers(self.relu(self.bn1(self.conv1(x))))

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


# ---------------------------------------------------------------- data

def load_split(root, split, read):
    """([read(file) per image], labels, boxes N x 4 (-1 where none), classes) of a split laid
    out as split/<class>/<file>, in class then file-name order."""
    classes = open(os.path.join(root, "classes.txt")).read().split()
    boxes = {r[0]: r[1:] for r in make_datasets.read_csv(os.path.join(root, "boxes.csv"))}
    images, labels, bxs = [], [], []
    for c, name in enumerate(classes):
        folder = os.path.join(root, split, name)
        for f in sorted(os.listdir(folder)):
            images.append(read(os.path.join(folder, f)))
            labels.append(c)
            bxs.append(boxes.get(f"{split}/{name}/{f}", [-1, -1, -1, -1]))
    return images, torch.tensor(labels), torch.tensor(bxs), classes


def load_shapes(root, split):
    """(uint8 N x 3 x H x W, labels, boxes N x 4, classes) of a single-object split."""
    images, y, b, classes = load_split(
        root, split, lambda path: np.asarray(Image.open(path).convert("RGB")))
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous(), y, b, classes


def load_xray(root, split):
    """(float N x 1 x H x W, labels, boxes N x 4 (-1 for negatives), classes)."""
    images, y, b, classes = load_split(root, split, np.load)
    return torch.from_numpy(np.stack(images))[:, None], y, b, classes


def normalise(x, mean, std):
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)
    return (x - m) / s


def augment(x, gen):
    """Random flips and 90-degree turns (every class is invariant to them)."""
    if torch.rand(1, generator=gen).item() < 0.5:
        x = x.flip(3)
    if torch.rand(1, generator=gen).item() < 0.5:
        x = x.flip(2)
    k = int(torch.randint(0, 4, (1,), generator=gen))
    return torch.rot90(x, k, (2, 3)) if k else x


# ---------------------------------------------------------------- localisation

def largest_component_box(disp, threshold=0.2):
    """Box (x0, y0, x1, y1; exclusive) of the largest 8-connected component of
    disp >= threshold * max(disp) (ties: the higher peak), or None when max(disp) <= 0.
    Union-find over the row runs of the mask (camkit: src/render/box.cpp)."""
    peak = float(disp.max())
    if not peak > 0:
        return None
    h, w = disp.shape
    padded = np.zeros((h, w + 2), dtype=np.int8)
    padded[:, 1:-1] = disp >= threshold * peak
    step = np.diff(padded, axis=1)
    ys, x0s = np.nonzero(step == 1)  # run starts, row-major order
    _, x1s = np.nonzero(step == -1)  # run ends (exclusive), same order
    parent = list(range(len(ys)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first = np.searchsorted(ys, np.arange(h + 1))
    for y in range(1, h):
        j, above_end = first[y - 1], first[y]
        for i in range(first[y], first[y + 1]):
            while j < above_end and x1s[j] < x0s[i]:
                j += 1
            k = j
            while k < above_end and x0s[k] <= x1s[i]:  # touching, diagonals included
                ri, rk = find(i), find(k)
                if ri != rk:
                    parent[max(ri, rk)] = min(ri, rk)
                k += 1
    roots = np.array([find(i) for i in range(len(ys))])
    area = np.bincount(roots, weights=x1s - x0s)
    flat = np.append(disp.reshape(-1), -np.inf)
    bounds = np.stack([ys * w + x0s, ys * w + x1s], 1).reshape(-1)
    run_top = np.maximum.reduceat(flat, bounds)[::2]
    top = np.full(len(area), -np.inf)
    np.maximum.at(top, roots, run_top)
    best = max(set(roots.tolist()), key=lambda r: (area[r], top[r]))
    sel = roots == best
    return (int(x0s[sel].min()), int(ys[sel].min()), int(x1s[sel].max()), int(ys[sel].max()) + 1)


def display_maps(cams, height, width):
    """camkit's display map without ReLU (as for CAM): bilinear upsampling with
    align_corners=False, then min-max to [0, 1] (a constant map becomes zeros)."""
    up = F.interpolate(cams[:, None].float(), size=(height, width), mode="bilinear",
                       align_corners=False)[:, 0]
    lo = up.amin((1, 2), keepdim=True)
    span = up.amax((1, 2), keepdim=True) - lo
    return torch.where(span > 0, (up - lo) / torch.where(span > 0, span, torch.ones_like(span)),
                       torch.zeros_like(up))


def cam_boxes(cams, height, width, threshold=0.2):
    """CAM-paper boxes of raw maps (N, h, w) at input resolution; (0, 0, 0, 0) if none."""
    disp = display_maps(cams, height, width).numpy()
    return torch.tensor([largest_component_box(d, threshold) or (0, 0, 0, 0) for d in disp])


def iou(a, b):
    """IoU of box tensors (N, 4), pixel-edge coordinates."""
    ix = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    iy = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp(min=0)
    inter = ix * iy
    area = lambda t: (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1])  # noqa: E731
    return inter.float() / (area(a) + area(b) - inter).float()


@torch.no_grad()
def evaluate(model, x, mean, std, classes, batch=100):
    """(logits, CAMs of the given class indices) over x in batches."""
    model.eval()
    logits, cams = [], []
    w = model.fc.weight
    for i in range(0, len(x), batch):
        xb = normalise(x[i:i + batch], mean, std)
        a = model.features(xb)
        y = model.fc(torch.flatten(model.avgpool(a), 1))
        c = classes[i:i + batch]
        cams.append(torch.einsum("nc,nchw->nhw", w[c], a))
        logits.append(y)
    return torch.cat(logits), torch.cat(cams)


def auc(scores, labels):
    """ROC AUC by the rank statistic (ties count half)."""
    s = scores.double()
    pos, neg = s[labels == 1], s[labels == 0]
    gt = (pos[:, None] > neg[None, :]).double().sum()
    eq = (pos[:, None] == neg[None, :]).double().sum()
    return float((gt + 0.5 * eq) / (len(pos) * len(neg)))


# ---------------------------------------------------------------- training

def train(model, x, loss_fn, correct, mean, std, epochs, batch, lr, seed, log, aug=True,
          wd=5e-4, nonneg_fc=False):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
    steps = epochs * ((len(x) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps,
                                                pct_start=0.2)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        total, right, t0 = 0.0, 0, time.time()
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            xb = normalise(x[idx], mean, std)
            if aug:
                xb = augment(xb, gen)
            out = model(xb)
            loss = loss_fn(out, idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if nonneg_fc:
                with torch.no_grad():
                    model.fc.weight.clamp_(min=0.0)
            total += float(loss) * len(idx)
            right += int(correct(out.detach(), idx))
        log(f"  epoch {epoch + 1}/{epochs}: loss {total / len(x):.4f}, train accuracy "
            f"{right / len(x):.3f} ({time.time() - t0:.0f}s)")
    return model.eval()


def train_shapes(data, out, args, log):
    root = os.path.join(data, "shapes")
    x, y, _, classes = load_shapes(root, "train")
    xv, yv, bv, _ = load_shapes(root, "val")
    log(f"shapes: {len(x)} train, {len(xv)} val images")
    torch.manual_seed(args.seed)
    model = ShapesCNN(len(classes), args.shapes_widths, args.shapes_strides, args.shapes_kernels)
    t0 = time.time()
    train(model, x, lambda o, idx: F.cross_entropy(o, y[idx]),
          lambda o, idx: (o.argmax(1) == y[idx]).sum(), SHAPES_MEAN, SHAPES_STD,
          args.shapes_epochs, 64, 3e-3, args.seed, log, nonneg_fc=args.nonneg_fc)
    seconds = time.time() - t0
    logits, cams = evaluate(model, xv, SHAPES_MEAN, SHAPES_STD, yv)
    acc = float((logits.argmax(1) == yv).float().mean())
    ious = iou(cam_boxes(cams, xv.shape[2], xv.shape[3]), bv)
    loc = float((ious >= 0.5).float().mean())
    h, w = x.shape[2], x.shape[3]
    meta = camkit_meta.build_meta("shapes_cnn", len(classes), 3, h, w, labels=classes,
                                  mean=SHAPES_MEAN, std=SHAPES_STD, size=(h, w))
    path = os.path.join(out, "shapes_cnn.pt")
    export_model.export(model, path, meta, method="trace", log=log)
    return {"val_images": len(xv), "val_accuracy": round(acc, 4),
            "localisation_iou50": round(loc, 4), "mean_iou": round(float(ious.mean()), 4),
            "train_seconds": round(seconds), "file_bytes": os.path.getsize(path)}


def train_xray(data, out, args, log):
    root = os.path.join(data, "xray")
    x, y, _, classes = load_xray(root, "train")
    xv, yv, bv, _ = load_xray(root, "val")
    log(f"xray: {len(x)} train, {len(xv)} val images")
    torch.manual_seed(args.seed)
    model = XrayResNet()
    yf = y.float()
    t0 = time.time()
    train(model, x, lambda o, idx: F.binary_cross_entropy_with_logits(o[:, 0], yf[idx]),
          lambda o, idx: ((o[:, 0] > 0).long() == y[idx]).sum(),
          XRAY_MEAN, XRAY_STD, args.xray_epochs, 64, 3e-3, args.seed, log,
          nonneg_fc=args.nonneg_fc)
    seconds = time.time() - t0
    logits, cams = evaluate(model, xv, XRAY_MEAN, XRAY_STD, torch.zeros_like(yv))
    scores = logits[:, 0]
    acc = float(((scores > 0).long() == yv).float().mean())
    pos = yv == 1
    ious = iou(cam_boxes(cams[pos], xv.shape[2], xv.shape[3]), bv[pos])
    loc = float((ious >= 0.5).float().mean())
    h, w = x.shape[2], x.shape[3]
    meta = camkit_meta.build_meta("xray_resnet", 1, 1, h, w, labels=classes,
                                  mean=XRAY_MEAN, std=XRAY_STD, size=(h, w))
    path = os.path.join(out, "xray_resnet.pt")
    export_model.export(model, path, meta, method="trace", log=log)
    return {"val_images": len(xv), "val_accuracy": round(acc, 4), "val_auc": round(auc(scores, yv), 4),
            "localisation_iou50": round(loc, 4), "positives": int(pos.sum()),
            "mean_iou": round(float(ious.mean()), 4), "train_seconds": round(seconds),
            "file_bytes": os.path.getsize(path)}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="train_demo_models.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", required=True, help="output folder of make_datasets.py")
    p.add_argument("--out", default="models", help="folder for the .pt files and the summary")
    p.add_argument("--which", choices=["shapes", "xray", "all"], default="all")
    p.add_argument("--seed", type=int, default=0, help="seed of initialisation and batching")
    p.add_argument("--shapes-epochs", type=int, default=8)
    p.add_argument("--xray-epochs", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--nonneg-fc", type=int, default=1,
                   help="1: keep the classifier weights >= 0 while training")
    ints = lambda t: tuple(int(v) for v in t.split(","))  # noqa: E731
    p.add_argument("--shapes-widths", type=ints, default=(16, 32, 48, 64, 96, 128))
    p.add_argument("--shapes-strides", type=ints, default=(2, 2, 1, 2, 1, 1))
    p.add_argument("--shapes-kernels", type=ints, default=(3, 3, 3, 3, 3, 1))
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    os.makedirs(args.out, exist_ok=True)
    summary_path = os.path.join(args.out, "demo_models.json")
    summary = {"models": {}}
    if os.path.isfile(summary_path):  # keep the other model's entry when training one
        with open(summary_path) as f:
            summary = json.load(f)
    recipe_path = os.path.join(args.data, "recipe.json")
    recipe = json.load(open(recipe_path)) if os.path.isfile(recipe_path) else None
    command = ("tools/train_demo_models.py --data DIR --out " + args.out +
               f" --which {args.which} --seed {args.seed} --shapes-epochs {args.shapes_epochs}"
               f" --xray-epochs {args.xray_epochs} --threads {args.threads}")
    trainers = {"shapes_cnn": train_shapes, "xray_resnet": train_xray}
    for name, fn in trainers.items():
        if args.which in ("all", name.split("_")[0]):
            entry = fn(args.data, args.out, args, log)
            entry.update({"data": recipe, "command": command, "torch": torch.__version__})
            summary["models"][name] = entry
    with open(summary_path, "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")
    cols = ["val_images", "val_accuracy", "val_auc", "localisation_iou50", "mean_iou",
            "train_seconds", "file_bytes"]
    print("model        " + " ".join(f"{c:>18}" for c in cols))
    for name, e in summary["models"].items():
        print(f"{name:<12} " + " ".join(f"{str(e.get(c, '-')):>18}" for c in cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
