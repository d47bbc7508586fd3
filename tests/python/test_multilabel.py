#!/usr/bin/python3
"""Multi-label models in camkit eval: several true labels per image, AUROC per class, F1.

    /usr/bin/python3 tests/python/test_multilabel.py FIXTURES_DIR CAMKIT_BINARY

A seeded 5-finding model (task multilabel) on 24 arrays; labels.csv gives each image zero to
three findings. camkit eval's AUROC of every class is compared with the pairwise definition
(the fraction of (positive, negative) image pairs the class's probability orders right, ties
counting half) computed here from the eager model's sigmoids, and the per-image F1 and exact
match of the findings predicted at the threshold with the labels.
"""

import json
import os
import sys

import numpy as np
import torch
from torch import nn

import camkit_testing as ct

H = W = 32
K = 5


class Findings(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU())
        self.fc = nn.Linear(8, K)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


def pairwise_auroc(scores, labels):
    pos = [s for s, l in zip(scores, labels) if l]
    neg = [s for s, l in zip(scores, labels) if not l]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def test_eval_reports_auroc_per_finding_and_f1():
    torch.manual_seed(2)
    model = Findings().eval()
    with torch.no_grad():
        model.fc.weight.mul_(6)
    meta = {"camkit_meta_version": 1, "architecture": "findings", "num_classes": K,
            "task": "multilabel", "input": {"channels": 3, "height": H, "width": W},
            "preprocess": {}}
    path = os.path.join(ct.TMP, "findings.pt")
    torch.jit.save(torch.jit.trace(model, torch.randn(1, 3, H, W)), path,
                   _extra_files={"camkit.json": json.dumps(meta)})
    rng = np.random.default_rng(3)
    folder = os.path.join(ct.TMP, "xrays")
    os.makedirs(folder)
    rows, probs, truth = ["path,class"], [], []
    for i in range(24):
        x = rng.standard_normal((3, H, W)).astype(np.float32)
        np.save(os.path.join(folder, f"{i:02d}.npy"), x)
        with torch.no_grad():
            probs.append(torch.sigmoid(model(torch.from_numpy(x)[None]))[0].numpy())
        labels = sorted(rng.choice(K, size=int(rng.integers(0, 4)), replace=False).tolist())
        truth.append(labels)
        rows += [f"xrays/{i:02d}.npy,{c}" for c in labels] or [f"xrays/{i:02d}.npy,"]
    csv = os.path.join(ct.TMP, "labels.csv")
    with open(csv, "w") as f:
        f.write("\n".join(rows) + "\n")
    r = ct.run("eval", path, folder, "--labels", csv, "--json", "--positive-threshold", "0.4",
               expect=None)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)["multilabel"]
    assert report["images"] == 24, report
    want = [pairwise_auroc([p[c] for p in probs], [c in t for t in truth]) for c in range(K)]
    for c in range(K):
        if want[c] is None:
            assert report["class_auroc"][c] is None, report
        else:
            assert abs(report["class_auroc"][c] - want[c]) < 1e-9, (c, report, want)
    defined = [w for w in want if w is not None]
    assert abs(report["mean_auroc"] - sum(defined) / len(defined)) < 1e-9, report
    f1s, exact = [], 0
    for p, t in zip(probs, truth):
        pred = {c for c in range(K) if p[c] >= 0.4}
        both = len(pred & set(t))
        f1s.append(1.0 if not pred and not t else 2 * both / (len(pred) + len(t)))
        exact += pred == set(t)
    assert abs(report["example_f1"] - np.mean(f1s)) < 1e-9, (report, np.mean(f1s))
    assert abs(report["exact_match"] - exact / 24) < 1e-9, report
    # The table says it too.
    r = ct.run("eval", path, folder, "--labels", csv)
    assert "multi-label: mean AUROC" in r.stdout, r.stdout


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(ct.main(globals()))
