#!/usr/bin/python3
"""Train camkit's demo volume model on the knee volumes of tools/make_volumes.py (CPU, minutes).

    /usr/bin/python3 tools/make_volumes.py --seed 1 --out /tmp/camkit-data
    /usr/bin/python3 tools/train_volume_model.py --data /tmp/camkit-data --out models

knee_mrnet: the MRNet architecture (Bien et al. 2018) at demo scale: one exam [1, S, 1, H, W] ->
squeeze -> a CNN over every slice -> global average pooling per slice -> maximum over slices ->
Linear(C, 1), one logit (lesion). Trained with BCEWithLogits on mini-batches of exams (slices
padded by repeating the last one, which leaves the maximum unchanged), exported traced with the
camkit metadata `"volume": "stacked"`.

Reported on the held-out split: accuracy, ROC AUC, and two localisation scores on the positive
volumes from the per-slice class activation maps M_s = W . A_s (the maps camkit draws): the share
whose highest-scoring slice (max of M_s) is a lesion slice, and the pointing game: the share whose
map maximum over the whole volume falls inside the lesion's box on that slice (strictly, and with
the pointing game's tolerance of 15 px at 224 px, scaled to the slice size). The summary goes to
stdout and into OUT/demo_models.json (key "knee_mrnet").
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import camkit_meta  # noqa: E402
import export_model  # noqa: E402
import make_datasets  # noqa: E402
import train_demo_models as tdm  # noqa: E402

MEAN, STD = [0.45], [0.25]


class KneeMRNet(nn.Module):
    """forward(): MRNet's exam-level forward, the form camkit explains; forward_batch(): the same
    function over a mini-batch of exams of equal slice count, for training."""

    def __init__(self, widths=(16, 32, 64, 96), strides=(2, 2, 2, 1)):
        super().__init__()
        layers, cin = [], 1
        for w, s in zip(widths, strides):
            layers += tdm.conv_bn(cin, w, s)
            cin = w
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(cin, 1)

    def forward(self, x):
        x = torch.squeeze(x, dim=0)  # [S, 1, H, W]: the slices as a batch
        x = self.features(x)
        x = self.pool(x)
        x = torch.flatten(x, 1)
        x = torch.max(x, 0, keepdim=True)[0]  # per feature, its largest slice value
        return self.classifier(x)

    def forward_batch(self, x):
        b, s = x.shape[:2]
        f = torch.flatten(self.pool(self.features(x.flatten(0, 1))), 1).view(b, s, -1)
        return self.classifier(f.max(1)[0])


def load_split(root, split):
    """([float S x 1 x H x W tensors], labels, {index: {slice: box}})."""
    classes = open(os.path.join(root, "classes.txt")).read().split()
    lesions = {}
    for row in make_datasets.read_csv(os.path.join(root, "lesions.csv")):
        lesions.setdefault(row[0], {})[row[1]] = row[2:]
    vols, labels, boxes = [], [], []
    for c, name in enumerate(classes):
        folder = os.path.join(root, split, name)
        for f in sorted(os.listdir(folder)):
            vols.append(torch.from_numpy(np.load(os.path.join(folder, f)))[:, None])
            labels.append(c)
            boxes.append(lesions.get(f"{split}/{name}/{f}", {}))
    return vols, torch.tensor(labels), boxes


def stack(vols):
    """Pads to the longest volume by repeating each one's last slice: [B, S, 1, H, W]."""
    s = max(len(v) for v in vols)
    return torch.stack([torch.cat([v, v[-1:].expand(s - len(v), -1, -1, -1)]) for v in vols])


def augment(x, gen):
    if torch.rand(1, generator=gen).item() < 0.5:
        x = x.flip(-1)
    return x


def train(model, vols, y, epochs, batch, lr, seed, log):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    steps = epochs * ((len(vols) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.2)
    yf = y.float()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(vols), generator=gen)
        total, right, t0 = 0.0, 0, time.time()
        for i in range(0, len(vols), batch):
            idx = perm[i:i + batch]
            xb = augment(tdm.normalise(stack([vols[j] for j in idx]).flatten(0, 1), MEAN, STD)
                         .view(len(idx), -1, 1, *vols[0].shape[2:]), gen)
            out = model.forward_batch(xb)[:, 0]
            loss = F.binary_cross_entropy_with_logits(out, yf[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
            right += int(((out.detach() > 0).long() == y[idx]).sum())
        log(f"  epoch {epoch + 1}/{epochs}: loss {total / len(vols):.4f}, train accuracy "
            f"{right / len(vols):.3f} ({time.time() - t0:.0f}s)")
    return model.eval()


@torch.no_grad()
def evaluate(model, vols, y, boxes):
    logits, peak_hit, pointing, near, positives = [], 0, 0, 0, 0
    w = model.classifier.weight[0]
    for v, label, bx in zip(vols, y.tolist(), boxes):
        x = tdm.normalise(v, MEAN, STD)
        a = model.features(x)  # [S, C, h, w]
        logits.append(float(model(x[None])[0, 0]))
        if label != 1:
            continue
        positives += 1
        cams = torch.einsum("c,schw->shw", w, a)
        s_best = int(cams.amax((1, 2)).argmax())
        peak_hit += s_best in bx
        # Peak of the upsampled map (pixel centres, align_corners=False) on the best slice.
        up = F.interpolate(cams[s_best][None, None], size=v.shape[2:], mode="bilinear",
                           align_corners=False)[0, 0]
        py, px = divmod(int(up.argmax()), up.shape[1])
        if s_best in bx:
            x0, y0, x1, y1 = bx[s_best]
            pointing += x0 <= px < x1 and y0 <= py < y1
            # The pointing game's tolerance (Zhang et al. 2016: 15 px at 224 px), scaled.
            tol = 15 * v.shape[2] / 224
            near += x0 - tol <= px + 0.5 <= x1 + tol and y0 - tol <= py + 0.5 <= y1 + tol
    scores = torch.tensor(logits)
    return {"val_volumes": len(vols), "val_accuracy": round(float(((scores > 0).long() == y)
                                                                 .float().mean()), 4),
            "val_auc": round(tdm.auc(scores, y), 4), "positives": positives,
            "peak_slice_in_lesion": round(peak_hit / positives, 4),
            "pointing_game": round(pointing / positives, 4),
            "pointing_game_tolerance": round(near / positives, 4)}


def main(argv=None):
    p = argparse.ArgumentParser(prog="train_volume_model.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", required=True, help="output folder of make_volumes.py")
    p.add_argument("--out", default="models")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    ints = lambda t: tuple(int(v) for v in t.split(","))  # noqa: E731
    p.add_argument("--strides", type=ints, default=(2, 2, 2, 1),
                   help="strides of the four conv blocks (their product: the map's cell size)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    root = os.path.join(a.data, "knee")
    vols, y, _ = load_split(root, "train")
    vval, yval, bval = load_split(root, "val")
    log(f"knee: {len(vols)} train, {len(vval)} val volumes")
    torch.manual_seed(a.seed)
    model = KneeMRNet(strides=a.strides)
    t0 = time.time()
    train(model, vols, y, a.epochs, 8, 3e-3, a.seed, log)
    entry = evaluate(model, vval, yval, bval)
    entry["train_seconds"] = round(time.time() - t0)
    h, w = vols[0].shape[2:]
    meta = camkit_meta.build_meta("knee_mrnet", 1, 1, h, w, labels=["negative", "positive"],
                                  mean=MEAN, std=STD, size=(h, w), volume="stacked")
    path = os.path.join(a.out, "knee_mrnet.pt")
    gen = torch.Generator().manual_seed(0)
    example = torch.randn(1, 16, 1, h, w, generator=gen)
    export_model.export(model, path, meta, method="trace", example=example,
                        check_input=torch.randn(1, 16, 1, h, w, generator=gen), log=log)
    # The traced graph must not have fixed the slice count.
    loaded = torch.jit.load(path)
    x12 = torch.randn(1, 12, 1, h, w, generator=gen)
    with torch.no_grad():
        err = float((loaded(x12) - model(x12)).abs().max())
    if err > 1e-4:
        raise SystemExit(f"{path}: traced model differs on 12 slices by {err}")
    entry.update({"file_bytes": os.path.getsize(path), "torch": torch.__version__,
                  "command": f"tools/train_volume_model.py --data DIR --out {a.out} "
                             f"--seed {a.seed} --epochs {a.epochs} --threads {a.threads} "
                             f"--strides {','.join(map(str, a.strides))}"})
    summary_path = os.path.join(a.out, "demo_models.json")
    summary = {"models": {}}
    if os.path.isfile(summary_path):
        with open(summary_path) as f:
            summary = json.load(f)
    summary["models"]["knee_mrnet"] = entry
    with open(summary_path, "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")
    print(json.dumps(entry, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
