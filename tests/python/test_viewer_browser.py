#!/usr/bin/python3
"""The volume viewer of `camkit report` in a real browser, driven by real key presses and clicks.

    /usr/bin/python3 tests/python/test_viewer_browser.py FIXTURES_DIR CAMKIT_BINARY

Writes an explain output folder by hand (PIL + JSON, in the volume record format that
`camkit explain` writes for MRI/CT volumes): case 0001 in two planes (axial, coronal; two
explained classes), case 0002 in one plane (binary, a label with HTML metacharacters, one slice
picture missing), an image record beside them, and a volume record whose cams list is one short.
Every slice shows a bright disc that moves with the slice index, so each slice differs.
Then runs `camkit report` and drives headless Chromium over the DevTools protocol (through
--remote-debugging-pipe, so no port and no websocket): loads the page, checks that every
picture loads, presses ArrowRight, moves the slider, clicks the peak strip, takes screenshots of
the viewer at two slices and compares their pixels, toggles the overlay, switches plane and case.
Set CAMKIT_KEEP_TMP=1 to keep the temporary directory (it holds the screenshots).
Prints "N passed, N failed" last; exits 1 on any failure. Chromium missing is a failure.
"""

import base64
import io
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

S = 12  # slices per volume
SIZE = 64  # slice side, pixels
NASTY = '<b>tear</b> & "x"'
results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    results["passed" if ok else "failed"] += 1
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"), flush=True)
    return ok


# ---------------------------------------------------------------- the explain output folder


def disc(k, shift):
    """A grey slice: a bright disc whose centre and radius follow the slice index."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    cx, cy = 8 + k * 4 + shift, 20 + k * 2
    img = np.where((xx - cx) ** 2 + (yy - cy) ** 2 < (6 + k % 4) ** 2, 230, 40)
    return img.astype(np.uint8), (cx, cy)


def heat(centre, strength):
    """An opaque heat-map picture (as explain writes: colormap over black), peaking at centre."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    v = strength * np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / 120.0)
    return np.stack([255 * v, 255 * np.clip(2 * v - 1, 0, 1), 60 * (1 - v)], -1).astype(np.uint8)


def write_volume(out, plane, case, classes, shift, decision=None, slices=S):
    """out/<plane>/<case>.json with its pictures; classes: [(class, label, score, peak_slice)]."""
    folder = os.path.join(out, plane)
    os.makedirs(os.path.join(folder, case, "slices"), exist_ok=True)
    names, centres = [], []
    for k in range(slices):
        img, c = disc(k, shift)
        names.append(f"{case}/slices/{k:03d}.png")
        centres.append(c)
        Image.fromarray(img, mode="L").save(os.path.join(folder, names[-1]))
    explanations, predictions = [], []
    for j, (cls, label, score, peak) in enumerate(classes):
        sub = "cams" if j == 0 else f"cams.{cls}"
        os.makedirs(os.path.join(folder, case, sub), exist_ok=True)
        peaks = [round(1.0 / (1 + abs(k - peak)), 4) for k in range(S)]
        cams = []
        for k in range(S):
            cams.append(f"{case}/{sub}/{k:03d}.png")
            Image.fromarray(heat(centres[min(k, slices - 1)], peaks[k])).save(
                os.path.join(folder, cams[-1]))
        entry = {"class": cls, "label": label, "score": score, "logit": round(4 * score - 2, 3)}
        predictions.append(entry)
        explanations.append(dict(entry, cams=cams, slice_peaks=peaks, peak_slice=peak))
    record = {
        "input": f"data/mri/{plane}/{case}.npy",
        "image": {"width": SIZE, "height": SIZE, "channels": 1},
        "model": f"models/mri-{plane}.pt", "method": "cam", "feature_layer": "features",
        "options_hash": "0" * 16, "feature_shape": [16, 8, 8],
        "volume": {"slices": S, "mode": "stacked", "case": case, "plane": plane,
                   "slice_images": names},
        "predictions": predictions, "explanations": explanations,
    }
    if decision:
        record["decision"] = decision
    with open(os.path.join(folder, case + ".json"), "w") as f:
        json.dump(record, f, indent=2)


def make_folder(tmp):
    out = os.path.join(tmp, "out")
    write_volume(out, "axial", "0001", [(1, "tear", 0.81, 7), (0, "normal", 0.19, 3)], 0)
    write_volume(out, "coronal", "0001", [(1, "tear", 0.64, 4), (0, "normal", 0.36, 9)], 6)
    write_volume(out, "axial", "0002", [(0, NASTY, 0.93, 2)], 3, decision="positive")
    os.remove(os.path.join(out, "axial", "0002", "slices", "005.png"))
    # A record whose heat-map list has one picture too few: skipped and reported.
    write_volume(out, "sagittal", "0003", [(1, "tear", 0.5, 1)], 0, slices=S - 1)
    with open(os.path.join(out, "sagittal", "0003.json")) as f:
        broken = json.load(f)
    broken["volume"]["slices"] = S - 1
    with open(os.path.join(out, "sagittal", "0003.json"), "w") as f:
        json.dump(broken, f)
    # An image record beside the volumes: the card grid stays under the viewer.
    os.makedirs(os.path.join(tmp, "in"))
    Image.fromarray(disc(3, 0)[0], mode="L").save(os.path.join(tmp, "in", "photo.png"))
    Image.fromarray(heat((20, 26), 1.0)).save(os.path.join(out, "photo.1.png"))
    entry = {"class": 1, "label": "tear", "score": 0.7, "logit": 0.8}
    with open(os.path.join(out, "photo.json"), "w") as f:
        json.dump({"input": "in/photo.png", "image": {"width": SIZE, "height": SIZE, "channels": 1},
                   "model": "models/mri-axial.pt", "method": "cam", "predictions": [entry],
                   "explanations": [dict(entry, overlay="photo.1.png", box=[10, 10, 30, 40])]}, f)
    return out


# ---------------------------------------------------------------- Chromium over DevTools


class Browser:
    """Headless Chromium with the DevTools protocol on a pipe: fd 3 in, fd 4 out, NUL-framed."""

    def __init__(self, binary, tmp):
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        profile = tempfile.mkdtemp(prefix="profile-", dir=tmp)
        args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"]
        # The shell moves our pipe ends to the fds Chromium expects.
        self.log = open(os.path.join(tmp, "chromium.log"), "w")
        self.proc = subprocess.Popen(
            ["/bin/sh", "-c", f'exec "$@" 3<&{to_child_r} 4>&{from_child_w}', "sh", *args],
            pass_fds=(to_child_r, from_child_w), stdout=self.log, stderr=self.log)
        os.close(to_child_r)
        os.close(from_child_w)
        self.buf, self.next_id, self.session, self.errors = b"", 0, None, []
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"],
                                 flatten=True)["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=900,
                  deviceScaleFactor=1, mobile=False)
        self.call("Runtime.enable")  # so that uncaught exceptions arrive as events

    def call(self, method, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + 30
        while time.time() < deadline:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("method") == "Runtime.exceptionThrown":
                    self.errors.append(reply["params"]["exceptionDetails"])
                if reply.get("id") == self.next_id:  # other events and replies are dropped
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
            if not select.select([self.from_child], [], [], max(0.0, deadline - time.time()))[0]:
                break
            chunk = os.read(self.from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buf += chunk
        raise RuntimeError(f"{method}: no reply in 30 s")

    def js(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait(self, expression, seconds=10):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.js(expression):
                return True
            time.sleep(0.05)
        return False

    def open(self, url):
        self.call("Page.navigate", url="about:blank")
        self.call("Page.navigate", url=url)
        return self.wait("document.readyState==='complete'&&"
                         "document.body&&document.body.dataset.viewerReady==='1'")

    def key(self, key, code, vk):
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key=key, code=code,
                      windowsVirtualKeyCode=vk, nativeVirtualKeyCode=vk)

    def click(self, selector):
        box = self.js(f"(function(){{var r=document.querySelector('{selector}')"
                      ".getBoundingClientRect();return [r.x+r.width/2,r.y+r.height/2];})()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left",
                      clickCount=1)

    def shot(self, selector, path):
        r = self.js(f"(function(){{var r=document.querySelector('{selector}')"
                    ".getBoundingClientRect();return [r.x,r.y,r.width,r.height];})()")
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": r[0], "y": r[1], "width": r[2], "height": r[3], "scale": 1})
        png = base64.b64decode(data["data"])
        with open(path, "wb") as f:
            f.write(png)
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float32)

    def close(self):
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self.to_child)
        os.close(self.from_child)
        self.log.close()


def state(b):
    return b.js("(function(){var d=document.body.dataset,c=document.getElementById('cam-image');"
                "return {slice:+d.slice,case:d.case,plane:d.plane,cls:d['class'],"
                "src:document.getElementById('slice-image').getAttribute('src'),"
                "cam:c.getAttribute('src'),camShown:getComputedStyle(c).display!=='none',"
                "opacity:getComputedStyle(c).opacity,label:document.getElementById('slice-label')"
                ".textContent};})()")


# Every picture the page names (viewer data and <img> tags), loaded: [loaded, failed, missing].
LOAD_ALL = """new Promise(function(done){
var d=JSON.parse(document.getElementById('volume-data').textContent),urls={},missing=0;
d.cases.forEach(function(c){c.records.forEach(function(r){
var lists=[r.images].concat(r.classes.map(function(x){return x.cams;}));
lists.forEach(function(l){l.forEach(function(u){if(u)urls[u]=1;else missing++;});});});});
Array.prototype.forEach.call(document.images,function(i){var s=i.getAttribute('src');
if(s)urls[s]=1;});
var list=Object.keys(urls),ok=0,ko=0;
list.forEach(function(u){var im=new Image();
im.onload=function(){ok++;fin();};im.onerror=function(){ko++;fin();};im.src=u;});
function fin(){if(ok+ko===list.length)done([ok,ko,missing]);}})"""


def choose(b, sel_id, value):
    b.js(f"(function(){{var s=document.getElementById('{sel_id}');s.value='{value}';"
         "s.dispatchEvent(new Event('change'));})()")


def drive(b, index, tmp):
    check("page opens and the viewer script finishes", b.open("file://" + index))
    total, failed, missing = b.js(LOAD_ALL)
    # 0001: 2 planes x (12 slices + 2 x 12 heat maps); 0002: 11 slices + 12; the image card: 2.
    check("every named picture loads", failed == 0 and total == 2 * 36 + 23 + 2,
          f"loaded={total} failed={failed}")
    check("the one deleted slice picture is known as missing", missing == 1, f"{missing}")
    check("no broken <img> in the image cards",
          b.js("document.body.dataset.imagesFailed") == "0")

    s = state(b)
    check("starts on case 0001, axial, class 1 at its peak slice 7",
          (s["case"], s["plane"], s["cls"], s["slice"]) == ("0001", "axial", "1", 7), f"{s}")
    check("slice label reads k / S", s["label"] == "8 / 12", s["label"])
    check("slice image is slice 7", s["src"] == "axial/0001/slices/007.png", s["src"])
    check("heat map is slice 7, blended at alpha 0.5",
          s["cam"] == "axial/0001/cams/007.png" and s["camShown"] and s["opacity"] == "0.5",
          f"{s}")
    b.wait("document.getElementById('slice-image').complete")
    first = b.shot("#stage", os.path.join(tmp, "slice7.png"))

    b.key("ArrowRight", "ArrowRight", 39)
    s = state(b)
    check("ArrowRight moves to slice 8", s["slice"] == 8 and s["src"].endswith("/008.png"),
          f"{s}")
    b.wait("document.getElementById('slice-image').complete&&"
           "document.getElementById('cam-image').complete")
    second = b.shot("#stage", os.path.join(tmp, "slice8.png"))
    diff = float(np.abs(first - second).mean()) if first.shape == second.shape else -1
    check("the viewer's pixels change with the slice", diff > 2.0, f"mean |diff| = {diff:.2f}")
    b.key("ArrowLeft", "ArrowLeft", 37)
    b.key("ArrowLeft", "ArrowLeft", 37)
    check("ArrowLeft twice: slice 6", state(b)["slice"] == 6)
    b.key("End", "End", 35)
    check("End: last slice", state(b)["slice"] == S - 1)

    b.js("(function(){var s=document.getElementById('slice-slider');s.value=3;"
         "s.dispatchEvent(new Event('input'));})()")
    check("slider input moves to slice 3", state(b)["slice"] == 3)
    b.click('#peak-strip span[data-k="10"]')
    check("clicking bar 10 of the peak strip shows slice 10", state(b)["slice"] == 10)
    check("the peak bar is marked",
          b.js("document.querySelector('#peak-strip .peak').dataset.k") == "7")
    b.click("#peak-button")
    check("jump to peak slice", state(b)["slice"] == 7)

    b.click("#overlay-toggle")
    s = state(b)
    check("overlay toggle hides the heat map", not s["camShown"], f"{s}")
    plain = b.shot("#stage", os.path.join(tmp, "no-overlay.png"))
    check("without the overlay the stage is grey",
          float(np.abs(plain[..., 0] - plain[..., 2]).max()) < 8, "colour left")
    b.key("o", "KeyO", 79)
    check("O shows it again", state(b)["camShown"])
    b.js("(function(){var a=document.getElementById('alpha-slider');a.value=0.8;"
         "a.dispatchEvent(new Event('input'));})()")
    check("alpha slider sets the heat map's opacity", state(b)["opacity"] == "0.8")

    choose(b, "class-select", 1)
    s = state(b)
    check("class select keeps the slice and switches heat maps",
          s["cls"] == "0" and s["slice"] == 7 and s["cam"] == "axial/0001/cams.0/007.png", f"{s}")
    check("plane select is shown for a case with two planes",
          b.js("getComputedStyle(document.getElementById('plane-field')).display") != "none")
    choose(b, "plane-select", 1)
    s = state(b)
    check("plane select shows coronal at the class's peak slice",
          (s["plane"], s["cls"], s["slice"]) == ("coronal", "0", 9)
          and s["src"] == "coronal/0001/slices/009.png", f"{s}")

    choose(b, "case-select", 1)
    s = state(b)
    check("case select shows case 0002 at its peak slice",
          (s["case"], s["plane"], s["slice"]) == ("0002", "axial", 2), f"{s}")
    check("one plane: the plane select is hidden",
          b.js("getComputedStyle(document.getElementById('plane-field')).display") == "none")
    check("labels stay text", b.js("document.querySelector('#predictions b')") is None
          and NASTY in b.js("document.getElementById('predictions').textContent"))
    b.key("ArrowRight", "ArrowRight", 39)
    b.key("ArrowRight", "ArrowRight", 39)
    b.key("ArrowRight", "ArrowRight", 39)
    check("a missing slice picture shows its placeholder",
          state(b)["slice"] == 5 and b.js("!document.getElementById('slice-missing').hidden&&"
                                          "document.getElementById('slice-missing').textContent"
                                          ".indexOf('005.png')>=0"))

    b.open("file://" + index + "#case=0001&plane=coronal&class=1&slice=2")
    s = state(b)
    check("the address fragment sets case, plane, class and slice",
          (s["case"], s["plane"], s["cls"], s["slice"]) == ("0001", "coronal", "1", 2), f"{s}")
    check("viewer counted no failed picture",
          b.js("document.body.dataset.viewerFailed||'0'") == "0")
    b.shot("body", os.path.join(tmp, "page.png"))
    check("no uncaught script error", not b.errors, f"{b.errors[:1]}")


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


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
    tmp = tempfile.mkdtemp(prefix="camkit-viewer-browser-")
    try:
        out = make_folder(tmp)
        p = subprocess.run([camkit, "report", out], capture_output=True, text=True, timeout=60,
                           cwd=tmp)
        index = os.path.join(out, "index.html")
        check("report exits 1 (one record skipped)", p.returncode == 1, f"rc={p.returncode}")
        check("the skipped record is named with its reason",
              "0003.json: explanations[0].cams: 12 entries for 11 slices" in p.stderr, p.stderr)
        check("report prints the index path", p.stdout.strip() == index, p.stdout)
        if not check("index.html written", os.path.isfile(index)):
            return 1
        html = open(index, encoding="utf-8").read()
        check("one self-contained page", "//" not in html and "src=\"/" not in html)
        check("the JSON cannot end its script",
              "\\u003cb>tear\\u003c/b> &" in html and "<b>tear" not in html)
        b = Browser(browser, tmp)
        try:
            drive(b, index, tmp)
        finally:
            b.close()
    except Exception as e:  # a crash of the harness is a failure, reported like the others
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
