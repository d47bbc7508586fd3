#!/usr/bin/python3
"""Several methods side by side: `camkit explain --method a,b,c` and `--method all` write each
method's maps below OUT/method-<name>/ (records naming the method, nothing colliding, methods
the model refuses skipped with a note under `all`), and `camkit report` shows them as one table
per input (one row per class, one column per method, a method's faithfulness figures from a
saved `camkit eval --faithfulness --json` in its column head), checked in headless Chromium.

    /usr/bin/python3 tests/python/test_method_compare.py FIXTURES_DIR CAMKIT_BINARY
"""

import json
import os
import re
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

import camkit_testing as ct

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import camkit_meta  # noqa: E402  (tools/, put on the path by camkit_testing)
import test_report_browser as browser  # noqa: E402

METHODS = ["gradcam", "scorecam", "eigencam"]
INPUTS = ["a", "b"]
STATE = {}


class Tiny(nn.Module):
    """Two stride-2 convs, then a global average pool -> linear (a CAM head), or with
    `flat` a flatten -> linear over the 8 x 8 map (no CAM head)."""

    def __init__(self, flat=False):
        super().__init__()
        self.flat = flat
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(),
                                      nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU())
        self.fc = nn.Linear(16 * 64 if flat else 16, 3)

    def forward(self, x):
        a = self.features(x)
        return self.fc(torch.flatten(a, 1) if self.flat else F.adaptive_avg_pool2d(a, 1)[:, :, 0, 0])


def save_model(path, flat):
    torch.manual_seed(3)
    traced = torch.jit.trace(Tiny(flat).eval(), torch.rand(1, 3, 32, 32))
    meta = camkit_meta.build_meta("tiny", num_classes=3, channels=3, height=32, width=32,
                                  labels=["cat", "tree", "car"], size=(32, 32), mean=[0.5] * 3,
                                  std=[0.25] * 3)
    torch.jit.save(traced, path, _extra_files={camkit_meta.EXTRA_FILE: camkit_meta.dumps(meta)})


def setup():
    if STATE:
        return STATE
    tmp = ct.TMP
    os.makedirs(os.path.join(tmp, "in"))
    rng = np.random.default_rng(1)
    for name in INPUTS:
        Image.fromarray((rng.random((40, 48, 3)) * 255).astype(np.uint8)).save(
            os.path.join(tmp, "in", name + ".png"))
    save_model(os.path.join(tmp, "head.pt"), False)
    save_model(os.path.join(tmp, "flat.pt"), True)
    STATE.update(head=os.path.join(tmp, "head.pt"), flat=os.path.join(tmp, "flat.pt"),
                 inputs=os.path.join(tmp, "in"))
    return STATE


def explain(model, out, method, expect=0):
    s = setup()
    return ct.run("explain", s[model], s["inputs"], "-o", os.path.join(ct.TMP, out), "-k", "2",
                  "--method", method, "--threads", "1", expect=expect)


def record(out, method, name):
    with open(os.path.join(ct.TMP, out, f"method-{method}", name + ".json")) as f:
        return json.load(f)


def test_list_writes_every_method():
    explain("head", "cmp", ",".join(METHODS))
    root = os.path.join(ct.TMP, "cmp")
    assert sorted(os.listdir(root)) == sorted(f"method-{m}" for m in METHODS), os.listdir(root)
    hashes = set()
    for m in METHODS:
        for name in INPUTS:
            rec = record("cmp", m, name)
            assert rec["method"] == m, (m, rec["method"])
            assert [e["class"] for e in rec["explanations"]] == \
                [p["class"] for p in rec["predictions"][:2]], rec
            for e in rec["explanations"]:
                assert e["overlay"] == f"{name}.{e['class']}.png", e
                assert os.path.isfile(os.path.join(root, f"method-{m}", e["overlay"]))
            hashes.add(rec["options_hash"])
        with open(os.path.join(root, f"method-{m}", "index.jsonl")) as f:
            lines = [json.loads(line) for line in f]
        assert [line["method"] for line in lines] == [m, m], lines
    assert len(hashes) == len(METHODS), hashes  # one options hash per method


def test_list_refuses_a_method_the_model_cannot_run():
    r = explain("flat", "bad", "gradcam,cam", expect=2)
    assert "--method cam" in r.stderr and "CAM head" in r.stderr, r.stderr


def test_all_skips_refused_methods():
    r = explain("flat", "all", "all")
    skipped = set(re.findall(r"note: skipping (\S+):", r.stderr))
    assert {"cam", "attention-relevance"} <= skipped, r.stderr
    written = {d[len("method-"):] for d in os.listdir(os.path.join(ct.TMP, "all"))}
    assert "cam" not in written and {"gradcam", "scorecam", "eigencam", "layercam"} <= written
    assert not written & skipped, (written, skipped)
    for m in written:
        assert record("all", m, "a")["method"] == m


def test_report_shows_one_column_per_method():
    s = setup()
    if not os.path.isdir(os.path.join(ct.TMP, "cmp")):
        test_list_writes_every_method()
    r = subprocess.run([ct.CAMKIT, "eval", s["head"], s["inputs"], "--faithfulness", "--method",
                        "gradcam", "--faithfulness-steps", "8", "--json", "--threads", "1"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    figures = json.loads(r.stdout)["faithfulness"]
    with open(os.path.join(ct.TMP, "cmp", "method-gradcam", "faithfulness.json"), "w") as f:
        f.write(r.stdout)
    out = os.path.join(ct.TMP, "cmp")
    ct.run("report", out)
    binary = browser.chromium_binary()
    assert binary, "no chromium on PATH: apt-get install -y chromium"
    rc, dom, err = browser.chromium(binary, ct.TMP, "--virtual-time-budget=5000", "--dump-dom",
                                    "file://" + os.path.join(out, "index.html"))
    assert rc == 0, err[-800:]
    tables = dom.split('<article class="card compare"')[1:]
    assert len(tables) == len(INPUTS), f"{len(tables)} comparison tables"
    for t in tables:
        t = t.split("</article>")[0]
        cols = re.findall(r'class="method" data-method="([^"]+)"', t)
        assert cols == sorted(METHODS), cols
        assert len(re.findall(r"<tr data-class=", t)) == 2, "one row per class"
        assert len(re.findall(r'<figure class="overlay"', t)) == 2 * len(METHODS)
        metrics = re.findall(r'data-metric="deletion_auc">([^<]+)<', t)
        assert metrics == [f"{figures['deletion_auc']:.4f}"], metrics
    body = re.search(r"<body[^>]*>", dom).group(0)
    loaded = int(re.search(r'data-images-loaded="(\d+)"', body).group(1))
    failed = int(re.search(r'data-images-failed="(\d+)"', body).group(1))
    # Per input: its picture and 2 classes x 3 methods; no separate cards for compared records.
    assert (loaded, failed) == (len(INPUTS) * 7, 0), (loaded, failed)
    assert '<article class="card"' not in dom


if __name__ == "__main__":
    sys.exit(ct.main(globals()))
