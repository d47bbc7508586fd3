#!/usr/bin/python3
"""`camkit report` in a real browser: every image of index.html loads from file://.

    /usr/bin/python3 tests/python/test_report_browser.py FIXTURES_DIR CAMKIT_BINARY

Makes two tiny CAM models with torch (3-class RGB, labels with HTML metacharacters; 1-logit
grey), inputs (PNGs written with PIL, .npy arrays), runs `camkit explain` on them and then
`camkit report`, and renders the page in headless Chromium (Debian's `chromium` package):
the page counts its images' load/error events into <body data-images-loaded/-failed>, which
--dump-dom prints. Also takes a 1280x900 screenshot and checks it is not blank.
Set CAMKIT_KEEP_TMP=1 to keep the temporary directory (it holds screenshot.png).
Prints "N passed, N failed" last; exits 1 on any failure. Chromium missing is a failure.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import camkit_meta  # noqa: E402

NASTY_LABEL = '<b>cat</b> & "dog"'
results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    results["passed" if ok else "failed"] += 1
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"), flush=True)
    return ok


class Tiny(nn.Module):
    """Two stride-2 convs -> global average pool -> linear: a CAM head camkit detects."""

    def __init__(self, c_in, k):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(c_in, 8, 3, 2, 1), nn.ReLU(),
                                      nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU())
        self.fc = nn.Linear(16, k)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


def save_model(path, c_in, k, labels):
    torch.manual_seed(k)
    model = Tiny(c_in, k).eval()
    traced = torch.jit.trace(model, torch.rand(1, c_in, 32, 32))
    meta = camkit_meta.build_meta("tiny", num_classes=k, channels=c_in, height=32, width=32,
                                  labels=labels, size=(32, 32), mean=[0.5] * c_in,
                                  std=[0.25] * c_in)
    torch.jit.save(traced, path, _extra_files={camkit_meta.EXTRA_FILE: camkit_meta.dumps(meta)})


def make_inputs(tmp):
    rng = np.random.default_rng(0)
    os.makedirs(os.path.join(tmp, "in", "sub"))
    yy, xx = np.mgrid[0:48, 0:64]
    rgb = np.stack([xx * 4, yy * 5, 255 - xx * 3], axis=-1).clip(0, 255).astype(np.uint8)
    Image.fromarray(rgb).save(os.path.join(tmp, "in", "photo one.png"))
    grey = (rng.random((40, 40)) * 255).astype(np.uint8)
    Image.fromarray(grey, mode="L").save(os.path.join(tmp, "in", "sub", "grey.png"))
    np.save(os.path.join(tmp, "in", "planar.npy"), rng.random((3, 36, 44)).astype(np.float32))
    os.makedirs(os.path.join(tmp, "xray"))
    xray = np.hypot(*np.mgrid[-25:25, -20:20]).astype(np.float32) * 40.0
    np.save(os.path.join(tmp, "xray", "chest.npy"), xray)


def run(cmd, cwd=None, timeout=60):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium(binary, tmp, *args):
    profile = tempfile.mkdtemp(prefix="profile-", dir=tmp)
    return run([binary, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", *args], timeout=90)


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    camkit = os.path.abspath(sys.argv[2])
    browser = chromium_binary()
    if not check("chromium is installed", browser is not None,
                 "no chromium on PATH: apt-get install -y chromium"):
        print(f"{results['passed']} passed, {results['failed']} failed")
        return 1

    tmp = tempfile.mkdtemp(prefix="camkit-report-browser-")
    try:
        make_inputs(tmp)
        save_model(os.path.join(tmp, "multi.pt"), 3, 3, [NASTY_LABEL, "tree", "car"])
        save_model(os.path.join(tmp, "binary.pt"), 1, 1, ["opacity"])
        # Relative paths, as a user types them: the report finds inputs from DIR's parent.
        rc, _, err = run([camkit, "explain", "multi.pt", "in", "-k", "2", "-o", "out",
                          "--threads", "1"], cwd=tmp)
        check("explain (3 classes) succeeds", rc == 0, err)
        rc, _, err = run([camkit, "explain", "binary.pt", "xray/chest.npy", "-o", "out/xray",
                          "--threads", "1", "--raw"], cwd=tmp)
        check("explain (binary) succeeds", rc == 0, err)

        out = os.path.join(tmp, "out")
        rc, stdout, err = run([camkit, "report", out, "--title", "Browser <check>",
                               "--image-colormap", "bone"])
        index = os.path.join(out, "index.html")
        check("report exits 0", rc == 0, f"rc={rc} {err}")
        check("report prints the index path", stdout.strip() == index, stdout)
        if not os.path.isfile(index):
            check("index.html written", False, index)
            return 1
        html = open(index, encoding="utf-8").read()
        n_img = len(re.findall(r"<img\b", html))
        # 4 inputs + 3 x 2 overlays + 1 binary overlay.
        check("index.html holds 11 images", n_img == 11, f"{n_img}")
        check("no external URLs", not re.search(r"(https?:)?//", html.replace("file://", "")),
              "found a URL")
        check("labels are escaped", NASTY_LABEL not in html and "&lt;b&gt;cat" in html)

        rc, dom, err = chromium(browser, tmp, "--virtual-time-budget=5000", "--dump-dom",
                                "file://" + index)
        body = re.search(r"<body[^>]*>", dom)
        attrs = dict(re.findall(r'data-images-(loaded|failed)="(\d+)"', body.group(0))) \
            if body else {}
        loaded, failed = int(attrs.get("loaded", -1)), int(attrs.get("failed", -1))
        check("chromium renders the page", rc == 0 and body is not None, f"rc={rc} {err[-800:]}")
        check(f"all {n_img} images load", loaded == n_img, f"loaded={loaded}")
        check("no image fails", failed == 0, f"failed={failed}")
        check("labels stay text in the DOM", "<b>cat</b>" not in dom)
        check("the page's script runs to its end",
              body is not None and 'data-ready="1"' in body.group(0))
        rc, dom, err = chromium(browser, tmp, "--virtual-time-budget=3000", "--dump-dom",
                                "file://" + index + "#q=chest")
        shown = len(re.findall(r'class="card"', dom))
        hidden = len(re.findall(r'class="card hidden"', dom))
        check("#q=chest filters the cards", (shown, hidden) == (1, 3),
              f"{shown} shown, {hidden} hidden")
        check("the box outline is in the DOM", 'class="box"' in dom)

        shot = os.path.join(tmp, "screenshot.png")
        rc, _, err = chromium(browser, tmp, "--virtual-time-budget=5000",
                              "--window-size=1280,900", "--hide-scrollbars",
                              f"--screenshot={shot}", "file://" + index)
        ok = rc == 0 and os.path.isfile(shot)
        check("screenshot taken", ok, f"rc={rc} {err[-800:]}")
        if ok:
            im = Image.open(shot).convert("RGB")
            colours = im.getcolors(maxcolors=1 << 20) or []
            check("screenshot is 1280x900", im.size == (1280, 900), f"{im.size}")
            check("screenshot is not blank", len(colours) > 200, f"{len(colours)} colours")
        print(f"screenshot: {shot}")
    finally:
        if os.environ.get("CAMKIT_KEEP_TMP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
