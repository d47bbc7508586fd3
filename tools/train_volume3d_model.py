#!/usr/bin/python3
"""Train camkit's demo 3-D CNN on the lesion volumes of tools/make_volumes3d.py (CPU, minutes).

    /usr/bin/python3 tools/make_volumes3d.py --seed 1 --out /tmp/camkit-data
    /usr/bin/python3 tools/train_volume3d_model.py --data /tmp/camkit-data --out models

lesion3d_cnn: a small 3-D CNN over a whole volume [1, 1, D, H, W] (D x H x W = 24 x 40 x 40):
three Conv3d-BatchNorm-ReLU blocks (the first two followed by 2x max pooling, so the last map is
6 x 10 x 10), global average pooling over D, H, W, one Linear layer to two classes (normal,
lesion) - the CAM architecture of Zhou et al. in three dimensions. Inputs are windowed as a
brain CT is read (centre 40, width 120 HU, clipped to [0, 1]) then normalised with mean/std;
the window is the model's metadata (`preprocess.window`), so camkit applies the same.

Reported on the held-out split: accuracy, and on its lesion volumes the localisation of the
lesion-class CAM, upsampled trilinearly (align_corners=False) to the volume: the pointing game
(its peak voxel inside the lesion mask, and closer than 3 voxels to it) and the 3-D IoU of the CAM
box (largest 26-connected component above 0.2 of the maximum; boxes3d.csv) with the lesion's
box. The summary goes to
stdout and into OUT/demo_models.json (key "lesion3d_cnn"); `camkit eval` reports the same
figures from the command line.
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

WINDOW = (40.0, 120.0)  # centre, width (HU)
MEAN, STD = [0.2], [0.3]
TOLERANCE = 3  # voxels, for the pointing game's tolerant variant


class Lesion3dCNN(nn.Module):
    def __init__(self, widths=(16, 32, 64)):
        super().__init__()
        layers, cin = [], 1
        for i, w in enumerate(widths):
            layers += [nn.Conv3d(cin, w, 3, padding=1, bias=False), nn.BatchNorm3d(w),
                       nn.ReLU(inplace=True)]
            if i < len(widths) - 1:
                layers.append(nn.MaxPool3d(2))
            cin = w
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(cin, 2)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def prepare(vol):
    """HU volume (D, H, W) -> the model's input (1, D, H, W), as camkit prepares it."""
    lo = WINDOW[0] - WINDOW[1] / 2
    x = torch.clamp((torch.as_tensor(vol) - lo) / WINDOW[1], 0.0, 1.0)
    return ((x - MEAN[0]) / STD[0])[None]


def load_split(root, split):
    """(inputs [N, 1, D, H, W], labels [N], [mask or None], [relative path])."""
    import nibabel as nib

    classes = open(os.path.join(root, "classes.txt")).read().split()
    xs, ys, masks, rels = [], [], [], []
    for c, name in enumerate(classes):
        folder = os.path.join(root, split, name)
        for f in sorted(os.listdir(folder)):
            rel = f"{split}/{name}/{f}"
            xs.append(prepare(np.asarray(nib.load(os.path.join(folder, f)).dataobj,
                                         dtype=np.float32)))
            ys.append(c)
            mpath = os.path.join(root, "masks", rel)
            masks.append(np.asarray(nib.load(mpath).dataobj) > 0 if os.path.exists(mpath)
                         else None)
            rels.append(rel)
    return torch.stack(xs), torch.tensor(ys), masks, rels


def augment(x, gen):
    """Left-right flips (the lesion may lie on either side)."""
    if torch.rand(1, generator=gen).item() < 0.5:
        x = x.flip(-1)
    return x


def train(model, x, y, epochs, batch, lr, seed, log):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    steps = epochs * ((len(x) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.2)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        total, right, t0 = 0.0, 0, time.time()
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            out = model(augment(x[idx], gen))
            loss = F.cross_entropy(out, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
            right += int((out.detach().argmax(1) == y[idx]).sum())
        log(f"  epoch {epoch + 1}/{epochs}: loss {total / len(x):.4f}, train accuracy "
            f"{right / len(x):.3f} ({time.time() - t0:.0f}s)")
    return model.eval()


def component_box(disp, threshold=0.2):
    """(z0, y0, x0, z1, y1, x1), *1 exclusive, of the largest 26-connected component of
    disp >= threshold * max(disp), or None when max(disp) <= 0."""
    from scipy import ndimage

    peak = float(disp.max())
    if not peak > 0:
        return None
    labels, n = ndimage.label(disp >= threshold * peak, structure=np.ones((3, 3, 3)))
    sizes = ndimage.sum(np.ones_like(disp), labels, index=range(1, n + 1))
    idx = np.nonzero(labels == 1 + int(np.argmax(sizes)))
    return tuple([int(i.min()) for i in idx] + [int(i.max()) + 1 for i in idx])


def iou3d(a, b):
    inter = np.prod([max(0, min(a[i + 3], b[i + 3]) - max(a[i], b[i])) for i in range(3)])
    vol = lambda r: np.prod([r[i + 3] - r[i] for i in range(3)])  # noqa: E731
    return float(inter / (vol(a) + vol(b) - inter))


@torch.no_grad()
def evaluate(model, x, y, masks):
    import make_volumes3d

    logits = model(x)
    acc = float((logits.argmax(1) == y).float().mean())
    feats = model.features(x)
    cams = torch.einsum("c,ncdhw->ndhw", model.fc.weight[1].detach(), feats)
    from scipy import ndimage

    hits, near, ious = [], [], []
    for cam, mask in zip(cams, masks):
        if mask is None:
            continue
        up = F.interpolate(cam[None, None], size=mask.shape, mode="trilinear",
                           align_corners=False)[0, 0].relu().numpy()
        peak = np.unravel_index(int(up.argmax()), up.shape)
        hits.append(bool(mask[peak]))
        # The pointing game with a tolerance (camkit eval's): a lesion voxel closer than TOLERANCE.
        near.append(bool(ndimage.distance_transform_edt(~mask)[peak] < TOLERANCE))
        box = component_box(up)
        ious.append(0.0 if box is None else iou3d(box, make_volumes3d.box3d(mask)))
    ious = np.array(ious)
    return {"val_volumes": len(x), "val_accuracy": round(acc, 4), "positives": len(hits),
            "pointing_game": round(float(np.mean(hits)), 4),
            "pointing_game_tolerance": round(float(np.mean(near)), 4),
            "pointing_tolerance_voxels": TOLERANCE,
            "localisation_iou50": round(float((ious >= 0.5).mean()), 4),
            "mean_iou": round(float(ious.mean()), 4)}


def main(argv=None):
    p = argparse.ArgumentParser(prog="train_volume3d_model.py",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", required=True, help="output folder of make_volumes3d.py")
    p.add_argument("--out", default="models")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    root = os.path.join(a.data, "lesion3d")
    x, y, _, _ = load_split(root, "train")
    xv, yv, mv, _ = load_split(root, "val")
    log(f"lesion3d: {len(x)} train, {len(xv)} val volumes")
    torch.manual_seed(a.seed)
    model = Lesion3dCNN()
    t0 = time.time()
    train(model, x, y, a.epochs, 16, a.lr, a.seed, log)
    entry = evaluate(model, xv, yv, mv)
    entry["train_seconds"] = round(time.time() - t0)
    d, h, w = x.shape[2:]
    meta = camkit_meta.build_meta("lesion3d_cnn", 2, 1, h, w, labels=["normal", "lesion"],
                                  mean=MEAN, std=STD, size=(d, h, w))
    meta["input"]["depth"] = int(d)
    meta["preprocess"]["window"] = list(WINDOW)
    camkit_meta.validate_meta(meta)
    path = os.path.join(a.out, "lesion3d_cnn.pt")
    export_model.export(model, path, meta, method="trace", log=log,
                        camkit=export_model.find_camkit())
    entry.update({"file_bytes": os.path.getsize(path), "torch": torch.__version__,
                  "command": f"tools/train_volume3d_model.py --data DIR --out models "
                             f"--seed {a.seed} --epochs {a.epochs} --lr {a.lr} "
                             f"--threads {a.threads}"})
    summary_path = os.path.join(a.out, "demo_models.json")
    summary = {"models": {}}
    if os.path.isfile(summary_path):
        with open(summary_path) as f:
            summary = json.load(f)
    summary["models"]["lesion3d_cnn"] = entry
    with open(summary_path + ".tmp", "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(summary_path + ".tmp", summary_path)
    print(json.dumps(entry, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
