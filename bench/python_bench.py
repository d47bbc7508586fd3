#!/usr/bin/python3
"""camkit from Python against the same work done with torch in Python, in one process.

    PYTHONPATH=build/python /usr/bin/python3 bench/python_bench.py [--threads 2] [--wait-idle 0.5]

1. Per input (ResNet18 of bench/make_bench_model.py, one prepared 224x224 tensor): camkit's
   model.explain(x) with CAM and with Grad-CAM against the model's own forward pass called
   from Python torch (torch.jit.load, no_grad) on the same tensor; the ratios are the figures
   (goals: CAM within 1.1x, Grad-CAM within 1.3x).
2. 100 photos (Debian darknet's, in turn), an overlay each: model.explain_batch(paths) and
   result.overlay() against the loop Python users write: PIL and torchvision transforms, a
   forward hook on the eager network, autograd for Grad-CAM, cv2 resize and colormap, a NumPy
   blend.

Every figure is printed with the machine's load average (1 min) just before it was taken and
the share of the CPUs other processes used while it ran: other users' builds distort
timings, so figures count when both are low. --wait-idle waits (up to 10 minutes) for the
load average to fall below the value before each figure. Run by `make bench` (bench/run.sh)
or by hand; not a unit test.
"""

import argparse
import os
import statistics
import sys
import time

import cv2
import numpy as np
import torch
from PIL import Image
from torchvision import transforms

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_bench_model  # noqa: E402

import camkit  # noqa: E402

PHOTOS = "/usr/share/darknet/data"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds():
    """Busy CPU seconds of the whole machine, and of this process, so far."""
    with open("/proc/stat") as f:
        v = list(map(int, f.readline().split()[1:9]))
    t = os.times()
    return (sum(v) - v[3] - v[4]) / TICK, t.user + t.system


class Conditions:
    """The load before a measurement and what other processes used during it."""

    def __init__(self, wait_idle):
        self.wait_idle = wait_idle

    def __enter__(self):
        deadline = time.monotonic() + 600
        while self.wait_idle and os.getloadavg()[0] > self.wait_idle and \
                time.monotonic() < deadline:
            time.sleep(5)
        self.load = os.getloadavg()[0]
        self.start = time.monotonic(), *cpu_seconds()
        return self

    def __exit__(self, *exc):
        t0, busy0, own0 = self.start
        busy1, own1 = cpu_seconds()
        wall = time.monotonic() - t0
        self.others = max(0.0, (busy1 - busy0) - (own1 - own0)) / (wall * os.cpu_count())

    def __str__(self):
        return f"[load {self.load:.2f} before, others {100 * self.others:.0f}% of the CPUs]"


def timed(fn, calls, rounds):
    """Median seconds per call over `rounds` rounds of `calls` calls, after a warm-up."""
    for _ in range(3):
        fn()
    per_call = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        per_call.append((time.perf_counter() - start) / calls)
    return statistics.median(per_call)


def per_input(model_path, args):
    torch.manual_seed(0)
    x = torch.randn(1, 3, 224, 224)
    scripted = torch.jit.load(model_path).eval()
    frozen = torch.jit.optimize_for_inference(torch.jit.freeze(scripted))
    model = camkit.Model(model_path)                       # optimize=True, the default
    as_loaded = camkit.Model(model_path, optimize=False)

    def forward(m):
        def run():
            with torch.no_grad():
                m(x)
        return run

    cases = [
        ("bare forward: torch.jit.load(...)(x), no_grad", forward(scripted)),
        ("camkit explain, CAM (optimised graph, the default)", lambda: model.explain(x)),
        ("camkit explain, CAM, optimize=False", lambda: as_loaded.explain(x)),
        ("camkit explain, Grad-CAM at layer4", lambda: model.explain(x, method="gradcam")),
        ("frozen forward: optimize_for_inference(freeze(...))(x)", forward(frozen)),
    ]
    print(f"== per input: ResNet18, 1x3x224x224, {torch.get_num_threads()} intra-op threads, "
          f"median of {args.rounds} rounds of {args.calls} calls")
    base = None
    for name, fn in cases:
        with Conditions(args.wait_idle) as c:
            seconds = timed(fn, args.calls, args.rounds)
        base = base or seconds
        print(f"  {name:56s} {1000 * seconds:7.1f} ms  {seconds / base:5.2f}x  {c}",
              flush=True)


def python_loop(paths, method):
    """The usual pattern: eager network, a forward hook on layer4, autograd for Grad-CAM,
    cv2 for the map's resize and colours, NumPy for the blend."""
    net = make_bench_model.build()
    prepare = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224),
                                  transforms.ToTensor(),
                                  transforms.Normalize([0.485, 0.456, 0.406],
                                                       [0.229, 0.224, 0.225])])
    taps = {}
    net.layer4.register_forward_hook(lambda module, inputs, output: taps.update(a=output))
    overlays = []
    for path in paths:
        image = Image.open(path).convert("RGB")
        x = prepare(image)[None]
        if method == "cam":
            with torch.no_grad():
                c = int(net(x)[0].argmax())
                cam = torch.einsum("k,khw->hw", net.fc.weight[c], taps["a"][0])
        else:
            logits = net(x)
            c = int(logits[0].argmax())
            a = taps["a"]
            (g,) = torch.autograd.grad(logits[0, c], a)
            cam = torch.relu((g[0].mean((1, 2))[:, None, None] * a[0]).sum(0)).detach()
        cam = cam.numpy()
        cam = cv2.resize(cam, (224, 224), interpolation=cv2.INTER_LINEAR)
        cam = (cam - cam.min()) / max(float(cam.max() - cam.min()), 1e-12)
        heat = cv2.applyColorMap((255 * cam).astype(np.uint8), cv2.COLORMAP_JET)
        heat = cv2.cvtColor(heat, cv2.COLOR_BGR2RGB).astype(np.float32)
        # The map covers the centre crop: paste it back over the photo, as camkit draws it.
        w, h = image.size
        s = 256 / min(w, h)
        rw, rh = int(round(w * s)), int(round(h * s))
        x0, y0 = (rw - 224) // 2, (rh - 224) // 2
        picture = np.asarray(image).astype(np.float32)
        full = cv2.resize(picture, (rw, rh), interpolation=cv2.INTER_LINEAR)
        full[y0:y0 + 224, x0:x0 + 224] = 0.5 * full[y0:y0 + 224, x0:x0 + 224] + 0.5 * heat
        overlays.append(cv2.resize(full, (w, h)).astype(np.uint8))
    return overlays


def many_photos(model_path, args):
    photos = sorted(os.path.join(PHOTOS, f) for f in os.listdir(PHOTOS) if f.endswith(".jpg"))
    paths = [photos[i % len(photos)] for i in range(args.images)]
    model = camkit.Model(model_path)
    print(f"== {args.images} photos ({len(photos)} of darknet's in turn), an overlay each, "
          f"{torch.get_num_threads()} intra-op threads, best of {args.batch_rounds}")
    for method in ("cam", "gradcam"):
        def with_camkit():
            results = model.explain_batch(paths, batch_size=8, method=method)
            return [r.overlay(0) for r in results]

        figures = []
        for name, fn in ((f"camkit explain_batch + overlay, {method}", with_camkit),
                         (f"Python loop: hooks, autograd, cv2, {method}",
                          lambda: python_loop(paths, method))):
            fn()  # warm-up: first use of each graph
            with Conditions(args.wait_idle) as c:
                seconds = min(timed(fn, 1, 1) for _ in range(args.batch_rounds))
            figures.append(seconds)
            print(f"  {name:56s} {seconds:7.2f} s   {args.images / seconds:6.1f} images/s  {c}",
                  flush=True)
        print(f"  camkit / Python loop: {figures[0] / figures[1]:.2f}x the time")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="build/bench/resnet18_bench.pt",
                   help="ResNet18 of bench/make_bench_model.py (made when missing)")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads (process-wide)")
    p.add_argument("--calls", type=int, default=20, help="calls per round (per input)")
    p.add_argument("--rounds", type=int, default=7, help="rounds (per input)")
    p.add_argument("--images", type=int, default=100)
    p.add_argument("--batch-rounds", type=int, default=3, help="runs of the photo loops")
    p.add_argument("--wait-idle", type=float, default=0,
                   help="wait for the 1-min load average to fall below this before each figure")
    p.add_argument("--only", choices=["per-input", "photos"])
    args = p.parse_args()
    if not os.path.exists(args.model):
        os.makedirs(os.path.dirname(args.model) or ".", exist_ok=True)
        make_bench_model.main(args.model)
    torch.set_num_threads(args.threads)
    if args.only != "photos":
        per_input(args.model, args)
    if args.only != "per-input":
        many_photos(args.model, args)


if __name__ == "__main__":
    main()
