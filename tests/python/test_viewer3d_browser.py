#!/usr/bin/python3
"""The three-plane viewer of `camkit report` for 3-D models, in a real browser.

    /usr/bin/python3 tests/python/test_viewer3d_browser.py FIXTURES_DIR CAMKIT_BINARY

Runs the real CLI: exports a small seeded Conv3d classifier (one channel, 16x24x20 input, a
class label with HTML metacharacters) and a seeded 3-channel clip classifier (8 frames), writes
a NIfTI scan (nibabel, anisotropic voxels, a bright blob) and an MJPG .avi clip (OpenCV), runs
`camkit explain` on each and `camkit report` on the folder. Checks the slice mosaics explain
wrote against the scan as nibabel reads it (every plane of every axis, grey levels stretched
over the volume) and the map mosaics against matplotlib's jet of the NIfTI display map. Then
drives headless Chromium over the DevTools protocol (the Browser of test_viewer_browser.py):
the three planes render, a click in a plane moves the crosshair and the other planes show the
clicked voxel's slices, the sliders move one plane, jump-to-peak lands on the record's peak
voxel, the class select switches the map pictures, overlay toggle and alpha change the pixels,
the clip shows one frame slider with its overlay. A copy of the output with mosaic files
deleted still gives a page, with placeholders naming the files.
Prints "N passed, N failed" last; exits 1 on any failure. Chromium missing is a failure.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tools"))

from test_viewer_browser import Browser, check, chromium_binary, results  # noqa: E402

D, H, W = 16, 24, 20  # scan and model input (d, h, w)
SPACING = (2.0, 1.0, 1.5)
NASTY = '<b>lesion</b> & "x"'


# ---------------------------------------------------------------- models and inputs


def export_models(tmp):
    import torch
    import torch.nn as nn

    import export_model as em

    class Small3d(nn.Module):
        """Conv3d -> ReLU -> Conv3d (stride 2) -> ReLU -> global average pooling -> Linear."""

        def __init__(self, c):
            super().__init__()
            self.features = nn.Sequential(nn.Conv3d(c, 8, 3, padding=1), nn.ReLU(),
                                          nn.Conv3d(8, 12, 3, stride=2, padding=1), nn.ReLU())
            self.pool = nn.AdaptiveAvgPool3d(1)
            self.fc = nn.Linear(12, 3)

        def forward(self, x):
            return self.fc(torch.flatten(self.pool(self.features(x)), 1))

    torch.manual_seed(5)
    scan_model = os.path.join(tmp, "scan3d.pt")
    meta = {"camkit_meta_version": 1, "architecture": "small3d", "num_classes": 3,
            "task": "multiclass", "labels": ["normal", NASTY, "other"],
            "input": {"channels": 1, "depth": D, "height": H, "width": W}, "preprocess": {}}
    em.export(Small3d(1).eval(), scan_model, meta, example=torch.randn(1, 1, D, H, W))
    torch.manual_seed(13)
    clip_model = os.path.join(tmp, "clip3d.pt")
    meta = {"camkit_meta_version": 1, "architecture": "clip3d", "num_classes": 3,
            "task": "multiclass",
            "input": {"channels": 3, "depth": 8, "height": 16, "width": 16},
            "preprocess": {"frames": 8, "size": [16, 20], "crop": [16, 16]}}
    em.export(Small3d(3).eval(), clip_model, meta, example=torch.randn(1, 3, 8, 16, 16))
    return scan_model, clip_model


def write_scan(tmp):
    import nibabel as nib
    dd, hh, ww = np.mgrid[0:D, 0:H, 0:W]
    blob = np.exp(-((dd - 10) ** 2 / 8.0 + (hh - 6) ** 2 / 10.0 + (ww - 13) ** 2 / 6.0))
    noise = np.random.default_rng(3).standard_normal((D, H, W))
    data = (200 * blob + 20 * noise + 0.5 * hh).astype(np.float32)
    path = os.path.join(tmp, "in", "scan.nii.gz")
    nib.save(nib.Nifti1Image(data, np.diag([*SPACING, 1.0])), path)
    return path, np.asarray(nib.load(path).get_fdata(), dtype=np.float64)


def write_clip(tmp):
    import cv2
    path = os.path.join(tmp, "in", "clip.avi")
    w, h = 40, 32
    out = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10, (w, h))
    yy, xx = np.mgrid[0:h, 0:w]
    for t in range(21):
        img = np.stack([np.exp(-((xx - 3 - 1.5 * t) ** 2 + (yy - 10 - 0.5 * t) ** 2) /
                               (2 * (4 + c) ** 2)) for c in range(3)], axis=-1)
        out.write((img * 255).astype(np.uint8)[:, :, ::-1])
    out.release()
    return path


def run(camkit, *args, cwd):
    return subprocess.run([camkit, *args], capture_output=True, text=True, timeout=300, cwd=cwd)


# ---------------------------------------------------------------- mosaics against the scan


def tile(mosaic, grid, k):
    x0, y0 = (k % grid["columns"]) * grid["tile_width"], (k // grid["columns"]) * grid["tile_height"]
    return mosaic[y0:y0 + grid["tile_height"], x0:x0 + grid["tile_width"]]


def plane(volume, axis, k):
    return np.take(volume, k, axis=axis)  # rows and columns: the other axes in order


def check_mosaics(folder, scan):
    import matplotlib
    import nibabel as nib
    rec = json.load(open(os.path.join(folder, "scan.nii.json")))
    grids = rec["volume3d"]["mosaics"]
    check("explain writes one input mosaic per axis",
          [g["axis"] for g in grids] == ["d", "h", "w"]
          and [g["slices"] for g in grids] == [D, H, W], f"{grids}")
    lo, hi = scan.min(), scan.max()
    worst = 0.0
    for a, g in enumerate(grids):
        m = np.asarray(Image.open(os.path.join(folder, g["file"])).convert("RGB"), np.float64)
        for k in range(g["slices"]):
            want = np.round(255 * (plane(scan, a, k) - lo) / (hi - lo))
            got = tile(m, g, k)
            if got.shape[:2] != want.shape:
                worst = np.inf
                break
            worst = max(worst, float(np.abs(got - want[..., None]).max()))
    check("input mosaics hold every plane of the scan as nibabel reads it (one scale)",
          worst <= 1, f"max level difference {worst}")
    jet = matplotlib.colormaps["jet"]
    e = rec["explanations"][1]
    disp = np.asarray(nib.load(os.path.join(folder, e["nifti"])).get_fdata())
    worst = 0.0
    for a, (g, mm) in enumerate(zip(grids, e["mosaics"])):
        m = np.asarray(Image.open(os.path.join(folder, mm["file"])).convert("RGB"), np.float64)
        for k in (0, e["peak"]["voxel"][a], g["slices"] - 1):
            want = np.asarray(jet(plane(disp, a, k))[..., :3]) * 255
            worst = max(worst, float(np.abs(tile(m, g, k) - want).max()))
    # camkit's table entry round(v * 255) against matplotlib's floor(v * 256): a step or two.
    check("map mosaics hold matplotlib's jet of the NIfTI display map, plane by plane",
          worst <= 12, f"max level difference {worst:.1f}")
    return rec


# ---------------------------------------------------------------- the page


def state(b):
    return b.js("(function(){var d=document.body.dataset,o={voxel:d.v3Voxel.split(',').map(Number),"
                "cls:d.v3Class,name:d.v3Case,overlay:d.v3Overlay,alpha:d.v3Alpha};"
                "['d','h','w'].forEach(function(n){var c=document.getElementById('v3-canvas-'+n);"
                "o[n]={index:+c.dataset.index,src:c.dataset.src,map:c.dataset.map,"
                "hidden:document.getElementById('v3-plane-'+n).hidden,w:c.clientWidth,"
                "h:c.clientHeight};});return o;})()")


def open_page(b, url):
    b.call("Page.navigate", url="about:blank")
    b.call("Page.navigate", url=url)
    return b.wait("document.readyState==='complete'&&document.body&&"
                  "document.body.dataset.v3Ready==='1'")


def settle(b):
    """Waits until every mosaic the page asked for has loaded or failed, and one frame more."""
    return b.wait("document.body.dataset.v3Pending==='0'") and b.js(
        "new Promise(function(r){requestAnimationFrame(function(){r(true);});})")


def click_voxel(b, axis, row, col, rows, cols):
    """Clicks the centre of voxel (row, col) of the plane across `axis`."""
    r = b.js(f"(function(){{var r=document.getElementById('v3-canvas-{axis}')"
             ".getBoundingClientRect();return [r.x,r.y,r.width,r.height];})()")
    x, y = r[0] + (col + 0.5) / cols * r[2], r[1] + (row + 0.5) / rows * r[3]
    for kind in ("mousePressed", "mouseReleased"):
        b.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)


def choose(b, sel_id, value):
    b.js(f"(function(){{var s=document.getElementById('{sel_id}');s.value='{value}';"
         "s.dispatchEvent(new Event('change'));})()")


def set_range(b, el_id, value):
    b.js(f"(function(){{var s=document.getElementById('{el_id}');s.value={value};"
         "s.dispatchEvent(new Event('input'));})()")


def colourful(img):
    """Fraction of pixels that are not grey."""
    return float((np.abs(img[..., 0] - img[..., 2]) + np.abs(img[..., 1] - img[..., 2]) > 24)
                 .mean())


LOAD_ALL = """new Promise(function(done){
var d=JSON.parse(document.getElementById('volume3d-data').textContent),urls={},missing=0;
d.cases.forEach(function(r){r.axes.forEach(function(a){if(a){if(a.src)urls[a.src]=1;else missing++;}});
r.classes.forEach(function(c){c.maps.forEach(function(u){if(u)urls[u]=1;});});});
var list=Object.keys(urls),ok=0,ko=0;if(!list.length)done([0,0,missing]);
list.forEach(function(u){var im=new Image();
im.onload=function(){ok++;fin();};im.onerror=function(){ko++;fin();};im.src=u;});
function fin(){if(ok+ko===list.length)done([ok,ko,missing]);}})"""


def drive(b, index, scan_rec, clip_rec, tmp):
    check("page opens and the 3-D viewer's script finishes", open_page(b, "file://" + index))
    loaded, failed, missing = b.js(LOAD_ALL)
    # The scan: 3 input mosaics + 3 per class (3 classes); the clip: 1 + 1 per class (2).
    check("every mosaic the page names loads", (loaded, failed, missing) == (12 + 3, 0, 0),
          f"loaded={loaded} failed={failed} missing={missing}")
    case_names = b.js("JSON.parse(document.getElementById('volume3d-data').textContent)"
                      ".cases.map(function(c){return c.name;})")
    check("one case per 3-D record", case_names == ["clip/clip", "scan/scan.nii"], f"{case_names}")
    choose(b, "v3-case", 1)
    settle(b)
    s = state(b)
    peak0 = scan_rec["explanations"][0]["peak"]["voxel"]
    check("the scan opens at its first class's peak voxel", s["voxel"] == peak0,
          f"{s['voxel']} vs {peak0}")
    check("three planes are shown, each with a size",
          all(not s[n]["hidden"] and s[n]["w"] > 50 and s[n]["h"] > 30 for n in "dhw"), f"{s}")
    check("the planes keep the voxels' physical shape (2 x 1 x 1.5 mm)",
          abs(s["d"]["w"] / s["d"]["h"] - (W * 1.5) / (H * 1.0)) < 0.05
          and abs(s["h"]["w"] / s["h"]["h"] - (W * 1.5) / (D * 2.0)) < 0.05, f"{s}")
    check("each plane shows the crosshair's slice",
          [s[n]["index"] for n in "dhw"] == peak0, f"{s}")
    check("each plane draws its input and map mosaics",
          all(s[n]["src"].endswith(f"scan.nii.slices.{n}.png")
              and s[n]["map"].endswith(f"scan.nii.{scan_rec['explanations'][0]['class']}"
                                       f".slices.{n}.png") for n in "dhw"), f"{s}")
    shots = {n: b.shot(f"#v3-canvas-{n}", os.path.join(tmp, f"start-{n}.png")) for n in "dhw"}
    check("the three planes render pixels",
          all(float(shots[n].std()) > 10 for n in "dhw"),
          f"{[round(float(shots[n].std()), 1) for n in 'dhw']}")

    # A click in plane d (rows h, columns w) moves h and w; planes h and w follow.
    target = [peak0[0], (peak0[1] + 9) % H, (peak0[2] + 7) % W]
    click_voxel(b, "d", target[1], target[2], H, W)
    s = state(b)
    check("a click in plane d moves the crosshair to the clicked voxel", s["voxel"] == target,
          f"{s['voxel']} vs {target}")
    check("planes h and w now show the clicked voxel's slices, plane d stays",
          (s["d"]["index"], s["h"]["index"], s["w"]["index"]) == tuple(target), f"{s}")
    after = {n: b.shot(f"#v3-canvas-{n}", os.path.join(tmp, f"click-{n}.png")) for n in "hw"}
    diffs = [float(np.abs(after[n] - shots[n]).mean()) for n in "hw"]
    check("the pixels of planes h and w change", min(diffs) > 2, f"{diffs}")
    # A click in plane w (rows d, columns h) moves d and h.
    target2 = [(target[0] + 5) % D, (target[1] + 3) % H, target[2]]
    click_voxel(b, "w", target2[0], target2[1], D, H)
    s = state(b)
    check("a click in plane w moves d and h", s["voxel"] == target2, f"{s['voxel']} vs {target2}")
    set_range(b, "v3-slider-h", 2)
    s = state(b)
    check("plane h's slider moves only h", s["voxel"] == [target2[0], 2, target2[2]]
          and s["h"]["index"] == 2, f"{s}")
    b.click("#v3-peak")
    check("jump to peak lands on the record's peak voxel", state(b)["voxel"] == peak0)

    # Class switching keeps the crosshair and changes the map pictures.
    before = b.shot("#v3-canvas-d", os.path.join(tmp, "class0.png"))
    choose(b, "v3-class", 1)
    settle(b)
    s = state(b)
    c1 = scan_rec["explanations"][1]
    check("class select shows the second class on the same voxel",
          s["cls"] == str(c1["class"]) and s["voxel"] == peak0, f"{s}")
    check("the planes draw the second class's map mosaics",
          all(s[n]["map"].endswith(f"scan.nii.{c1['class']}.slices.{n}.png") for n in "dhw"),
          f"{s}")
    other = b.shot("#v3-canvas-d", os.path.join(tmp, "class1.png"))
    check("the map's pixels change with the class",
          float(np.abs(other - before).mean()) > 2, f"{float(np.abs(other - before).mean()):.2f}")
    b.click("#v3-peak")
    check("jump to peak goes to this class's peak voxel",
          state(b)["voxel"] == c1["peak"]["voxel"], f"{state(b)['voxel']}")
    check("labels stay text", b.js("document.querySelector('#viewer3d b')") is None
          and NASTY in b.js("document.getElementById('v3-class').textContent"))

    # Overlay toggle and alpha: the map is blended linearly, so its pixels move away from the
    # plain plane in proportion to alpha.
    b.click("#v3-overlay")
    s = state(b)
    plain = b.shot("#v3-canvas-d", os.path.join(tmp, "no-overlay.png"))
    check("overlay toggle hides the map: the plane is grey but for the crosshair",
          s["overlay"] == "0" and all(s[n]["map"] == "" for n in "dhw")
          and colourful(plain) < 0.08, f"{s['overlay']} colour {colourful(plain):.2f}")
    b.click("#v3-overlay")
    set_range(b, "v3-alpha", 0.9)
    strong = b.shot("#v3-canvas-d", os.path.join(tmp, "alpha9.png"))
    set_range(b, "v3-alpha", 0.2)
    weak = b.shot("#v3-canvas-d", os.path.join(tmp, "alpha2.png"))
    ratio = float(np.abs(strong - plain).mean()) / max(float(np.abs(weak - plain).mean()), 1e-6)
    check("alpha slider sets the map's weight (0.9 vs 0.2: 4.5 times the change)",
          state(b)["alpha"] == "0.2" and 3.5 < ratio < 5.5 and colourful(strong) > 0.5,
          f"ratio {ratio:.2f} colour {colourful(strong):.2f}")
    b.click("#v3-overlay")
    check("the toggle hides the map again", state(b)["overlay"] == "0")
    b.key("o", "KeyO", 79)
    check("O shows it again", state(b)["overlay"] == "1")

    # The clip: one frame slider with its overlay.
    choose(b, "v3-case", 0)
    settle(b)
    s = state(b)
    check("a clip shows one plane of frames (h and w hidden)",
          not s["d"]["hidden"] and s["h"]["hidden"] and s["w"]["hidden"], f"{s}")
    check("the frame slider spans the clip's 8 frames",
          b.js("document.getElementById('v3-slider-d').max") == "7"
          and b.js("document.getElementById('v3-label-d').textContent").startswith("frame "))
    check("the clip opens at its peak frame with its overlay",
          s["d"]["index"] == clip_rec["explanations"][0]["peak"]["voxel"][0]
          and s["d"]["map"].endswith("clip.0.slices.d.png".replace(
              "0", str(clip_rec["explanations"][0]["class"]), 1)), f"{s}")
    f0 = b.shot("#v3-canvas-d", os.path.join(tmp, "frame-a.png"))
    k = 0 if s["d"]["index"] >= 4 else 7
    set_range(b, "v3-slider-d", k)
    s = state(b)
    f1 = b.shot("#v3-canvas-d", os.path.join(tmp, "frame-b.png"))
    check("the frame slider shows another frame",
          s["d"]["index"] == k and float(np.abs(f1 - f0).mean()) > 1,
          f"{s['d']} {float(np.abs(f1 - f0).mean()):.2f}")
    check("no picture failed", b.js("document.body.dataset.v3Failed") == "0")
    b.shot("body", os.path.join(tmp, "page.png"))
    c2 = scan_rec["explanations"][2]["class"]
    open_page(b, "file://" + index + f"#input=scan/scan.nii&class={c2}&voxel=1,2,99")
    s = state(b)
    check("the address fragment sets input, class and voxel (clamped)",
          (s["name"], s["cls"], s["voxel"]) == ("scan/scan.nii", str(c2), [1, 2, W - 1]), f"{s}")


def drive_missing(b, index, tmp):
    check("a page with missing mosaics opens", open_page(b, "file://" + index))
    settle(b)
    s = state(b)
    miss = b.js("(function(){var m=document.getElementById('v3-missing-h');"
                "return [m.hidden,m.textContent];})()")
    check("the deleted input mosaic shows a placeholder naming it",
          not miss[0] and "scan.nii.slices.h.png" in miss[1], f"{miss}")
    note = b.js("document.getElementById('v3-note-w').textContent")
    check("the deleted map mosaic is named under its plane", "slices.w.png" in note, note)
    check("the other planes still draw", s["d"]["map"] != "" and s["d"]["src"] != "", f"{s}")
    shot = b.shot("#v3-canvas-d", os.path.join(tmp, "missing-d.png"))
    check("plane d still renders", float(shot.std()) > 10)


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
    tmp = tempfile.mkdtemp(prefix="camkit-viewer3d-browser-")
    try:
        os.makedirs(os.path.join(tmp, "in"))
        scan_model, clip_model = export_models(tmp)
        scan, scan_data = write_scan(tmp)
        clip = write_clip(tmp)
        out = os.path.join(tmp, "out")
        for model, x, sub, k in ((scan_model, scan, "scan", "3"), (clip_model, clip, "clip", "2")):
            p = run(camkit, "explain", model, x, "-k", k, "-o", os.path.join(out, sub), cwd=tmp)
            check(f"explain {sub} exits 0", p.returncode == 0, p.stderr[-800:])
        scan_rec = check_mosaics(os.path.join(out, "scan"), scan_data)
        clip_rec = json.load(open(os.path.join(out, "clip", "clip.json")))
        check("a clip gets the frame mosaic only",
              [m["axis"] for m in clip_rec["volume3d"]["mosaics"]] == ["d"]
              and clip_rec["volume3d"]["mosaics"][0]["slices"] == 8, f"{clip_rec['volume3d']}")
        p = run(camkit, "report", out, cwd=tmp)
        index = os.path.join(out, "index.html")
        check("report exits 0 and prints the index", p.returncode == 0
              and p.stdout.strip() == index, f"rc={p.returncode} {p.stderr}")
        html = open(index, encoding="utf-8").read()
        check("one self-contained page", "//" not in html and "src=\"/" not in html)
        check("the label cannot end the script or become markup",
              "\\u003cb>lesion\\u003c/b>" in html and "<b>lesion" not in html)
        # A copy with one input mosaic and one map mosaic deleted.
        out2 = os.path.join(tmp, "out2")
        shutil.copytree(os.path.join(out, "scan"), os.path.join(out2, "scan"))
        os.remove(os.path.join(out2, "scan", "scan.nii.slices.h.png"))
        os.remove(os.path.join(out2, "scan", scan_rec["explanations"][0]["mosaics"][2]["file"]))
        p = run(camkit, "report", out2, cwd=tmp)
        index2 = os.path.join(out2, "index.html")
        check("missing mosaics still give a page (exit 0)",
              p.returncode == 0 and os.path.isfile(index2), f"rc={p.returncode} {p.stderr}")
        check("the header counts the missing pictures",
              "Slice pictures missing</dt><dd>2<" in open(index2, encoding="utf-8").read())
        b = Browser(browser, tmp)
        try:
            drive(b, index, scan_rec, clip_rec, tmp)
            drive_missing(b, index2, tmp)
            check("no uncaught script error", not b.errors, f"{b.errors[:1]}")
        finally:
            b.close()
    except Exception as e:  # a crash of the harness is a failure, reported like the others
        import traceback
        traceback.print_exc()
        check("harness runs", False, repr(e))
    finally:
        if os.environ.get("CAMKIT_KEEP_TMP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
