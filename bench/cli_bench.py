#!/usr/bin/python3
"""The camkit command as users run it, against PyTorch on the same network, in one run.

    /usr/bin/python3 bench/cli_bench.py [--camkit build/camkit] [--threads 2] [--wait-idle 0.5]

ResNet18 of bench/make_bench_model.py (seeded weights), 224x224 photos (Debian darknet's,
in turn), wall-clock time everywhere:

1. References, in this process on --threads threads: PyTorch's eager forward of the
   torchvision module the file was traced from (no_grad, batch 1 and batch 8); the same
   module's Grad-CAM as Python users write it (a forward hook on layer4, autograd); the
   TorchScript file's forward through LibTorch as loaded and frozen + optimised for
   inference (torch.jit.freeze, optimize_for_inference), batch 1.
2. camkit explain per method: the marginal time per input, (T(N inputs) - T(1 input)) /
   (N - 1), N = 50 (fewer for the slow methods), so process start and model load are not
   counted; with --threads 1 beside it.
   Each measured --repeat times, interleaved with the --threads 1 runs: the median, the range
   and the busiest conditions are printed.
   Every input writes its overlay and record, as in a user's run.
3. Cold start: camkit explain of one photo, process start and model load included (median of
   5), and the peak RSS of that process.
4. A dataset run: 200 photos, CAM, overlays written, against the eager forward's throughput
   at batch 8.
5. With --vit: torchvision's ViT-B/16 (seeded weights, traced with autograd by
   tools/export_model.py): `camkit info` wall time, and Grad-CAM (default layer) and attention
   relevance per input against the same module's eager forward.

Each figure is printed with the load average (1 min) before it and the share of the CPUs
other processes used while it ran; figures count when both are low. --wait-idle waits (up to
10 minutes) for the load average to fall below the value before each figure. Run by hand
(bench/run.sh does); not a unit test.
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import make_bench_model  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tools"))
import architectures  # noqa: E402
import camkit_meta  # noqa: E402
import export_model  # noqa: E402

PHOTOS = "/usr/share/darknet/data"
TICK = os.sysconf("SC_CLK_TCK")
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def busy_seconds():
    """Busy CPU seconds of the whole machine so far, and of this process with its children."""
    with open("/proc/stat") as f:
        v = list(map(int, f.readline().split()[1:9]))
    t = os.times()
    return (sum(v) - v[3] - v[4]) / TICK, t.user + t.system + t.children_user + t.children_system


class Conditions:
    """The load before a measurement and the CPU share other processes took during it."""

    def __init__(self, wait_idle):
        self.wait_idle = wait_idle

    def __enter__(self):
        deadline = time.monotonic() + 600
        while self.wait_idle and os.getloadavg()[0] > self.wait_idle and \
                time.monotonic() < deadline:
            time.sleep(5)
        self.load = os.getloadavg()[0]
        self.start = time.monotonic(), *busy_seconds()
        return self

    def __exit__(self, *exc):
        t0, busy0, own0 = self.start
        busy1, own1 = busy_seconds()
        wall = time.monotonic() - t0
        self.others = max(0.0, (busy1 - busy0) - (own1 - own0)) / (wall * os.cpu_count())

    def __str__(self):
        return f"[load {self.load:.2f} before, others {100 * self.others:.0f}% of the CPUs]"


def median_seconds(fn, calls, rounds=5):
    """Median seconds per call over `rounds` rounds of `calls` calls, after a warm-up."""
    for _ in range(2):
        fn()
    per = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        per.append((time.perf_counter() - t) / calls)
    return statistics.median(per)


PHOTO_DIR = tempfile.mkdtemp(prefix="camkit-bench-photos-")


def photos(n):
    """n distinct files: darknet's photos in turn, copied under new names."""
    names = sorted(f for f in os.listdir(PHOTOS) if f.endswith(".jpg"))
    paths = []
    for i in range(n):
        path = os.path.join(PHOTO_DIR, f"{i:04d}.jpg")
        if not os.path.exists(path):
            shutil.copyfile(os.path.join(PHOTOS, names[i % len(names)]), path)
        paths.append(path)
    return paths


def eager_model():
    """The torchvision module bench/make_bench_model.py traces, rebuilt with its seed."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model


def references(model_path, wait_idle):
    model = eager_model()
    x1 = ((torch.rand(1, 3, 224, 224) - MEAN) / STD)
    x8 = x1.repeat(8, 1, 1, 1)
    out = {}
    with torch.no_grad():
        with Conditions(wait_idle) as c:
            out["eager"] = median_seconds(lambda: model(x1), 10)
        print(f"PyTorch eager forward, batch 1: {1e3 * out['eager']:.1f} ms/img {c}")
        with Conditions(wait_idle) as c:
            out["eager8"] = median_seconds(lambda: model(x8), 3) / 8
        print(f"PyTorch eager forward, batch 8: {1e3 * out['eager8']:.1f} ms/img "
              f"({1 / out['eager8']:.1f} img/s) {c}")

    feats = {}
    model.layer4.register_forward_hook(lambda m, i, o: feats.__setitem__("a", o))

    def gradcam():
        logits = model(x1)
        cls = int(logits.argmax())
        g, = torch.autograd.grad(logits[0, cls], feats["a"])
        w = g.mean((2, 3), keepdim=True)
        return torch.relu((w * feats["a"]).sum(1))

    with Conditions(wait_idle) as c:
        out["eager_gradcam"] = median_seconds(gradcam, 10)
    print(f"PyTorch eager Grad-CAM (hook + autograd): {1e3 * out['eager_gradcam']:.1f} ms/img {c}")

    scripted = torch.jit.load(model_path).eval()
    frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.load(model_path).eval()))
    with torch.no_grad():
        with Conditions(wait_idle) as c:
            out["libtorch"] = median_seconds(lambda: scripted(x1), 10)
        print(f"LibTorch forward as loaded, batch 1: {1e3 * out['libtorch']:.1f} ms/img {c}")
        with Conditions(wait_idle) as c:
            out["libtorch_opt"] = median_seconds(lambda: frozen(x1), 10)
        print(f"LibTorch forward frozen + optimised, batch 1: {1e3 * out['libtorch_opt']:.1f} "
              f"ms/img {c}")
    return out


def run_camkit(camkit, model, inputs, args, out_dir):
    """Wall seconds and peak RSS (bytes) of one camkit explain process."""
    shutil.rmtree(out_dir, ignore_errors=True)
    t = time.perf_counter()
    p = subprocess.Popen([camkit, "explain", model, *inputs, "-o", out_dir, *args],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - t
    err = p.stderr.read().decode()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"camkit explain {' '.join(args)} failed: {err.strip()}")
    return seconds, usage.ru_maxrss * 1024


def marginal(camkit, model, method, n, threads, tmp, wait_idle):
    """(T(n inputs) - T(1 input)) / (n - 1) for one method, and the conditions of the n run."""
    # Both runs on the graph `--optimize auto` picks for n inputs, so the freeze is not counted.
    optimize = "on" if n >= 8 or method in ("scorecam", "sscam", "iscam") else "off"
    args = ["--method", method, "--threads", str(threads), "--optimize", optimize]
    one, _ = run_camkit(camkit, model, photos(1), args, os.path.join(tmp, "one"))
    with Conditions(wait_idle) as c:
        many, _ = run_camkit(camkit, model, photos(n), args, os.path.join(tmp, "many"))
    return (many - one) / (n - 1), c


def spread(runs):
    """The range of repeated marginals, in ms."""
    ts = [1e3 * t for t, _ in runs]
    return f"({min(ts):.1f}-{max(ts):.1f})" if len(ts) > 1 else ""


def worst(conditions):
    """Of repeated measurements, the conditions of the one with the busiest machine."""
    return max(conditions, key=lambda c: (c.others, c.load))


def vit(camkit, threads, tmp, wait_idle):
    model = architectures.build_model("vit_b_16", seed=0).eval()
    # torchvision zero-initialises the head, which leaves every logit constant: camkit would
    # rightly refuse the model (no gradient reaches any layer). A trained head is never zero.
    torch.nn.init.normal_(model.heads.head.weight, std=0.02)
    path = os.path.join(tmp, "vit_b_16.pt")
    meta = camkit_meta.build_meta("vit_b_16", 1000, 3, 224, 224, preset="imagenet")
    export_model.export(model, path, meta, "trace")
    x1 = ((torch.rand(1, 3, 224, 224) - MEAN) / STD)
    with torch.no_grad(), Conditions(wait_idle) as c:
        eager = median_seconds(lambda: model(x1), 3, rounds=3)
    print(f"ViT-B/16 PyTorch eager forward, batch 1: {1e3 * eager:.0f} ms/img {c}")
    runs = []
    for _ in range(3):
        with Conditions(wait_idle) as c:
            t = time.perf_counter()
            subprocess.run([camkit, "info", path], check=True, stdout=subprocess.DEVNULL)
            runs.append(time.perf_counter() - t)
    print(f"ViT-B/16 camkit info (process start, load, probe): median "
          f"{statistics.median(runs):.2f} s {c}")
    for method in ("gradcam", "attention-relevance"):
        args = ["--method", method, "--threads", str(threads)]
        one, _ = run_camkit(camkit, path, photos(1), args, os.path.join(tmp, "one"))
        with Conditions(wait_idle) as c:
            many, rss = run_camkit(camkit, path, photos(5), args, os.path.join(tmp, "many"))
        t = (many - one) / 4
        print(f"ViT-B/16 {method:20s} {1e3 * t:6.0f} ms/img = {t / eager:.2f}x eager forward, "
              f"peak RSS {rss / 2**20:.0f} MiB {c}")


def main(argv=None):
    p = argparse.ArgumentParser(prog="cli_bench.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--camkit", default=os.path.join(ROOT, "build", "camkit"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--wait-idle", type=float, default=0.0)
    p.add_argument("--vit", action="store_true", help="also ViT-B/16 (section 5)")
    p.add_argument("--repeat", type=int, default=3,
                   help="marginals measured this many times each (median and range printed)")
    p.add_argument("--sections", default="methods,cold,dataset",
                   help="which of methods, cold, dataset to run (the references always run)")
    p.add_argument("--methods", default="cam,gradcam,gradcam++,xgradcam,layercam,hirescam,"
                                        "gradcam-elementwise,eigengradcam,eigencam,fullgrad,"
                                        "guided-gradcam,smoothgradcam++,scorecam,ablationcam")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, torch "
          f"{torch.__version__}, {args.threads} threads")
    tmp = tempfile.mkdtemp(prefix="camkit-bench-")
    try:
        model = os.path.join(tmp, "resnet18_bench.pt")
        make_bench_model.main(model)
        ref = references(model, args.wait_idle)
        sections = set(args.sections.split(",")) if args.sections else set()
        if "methods" in sections:
            print("== camkit explain, marginal wall time per input (start and load not counted)")
        for method in args.methods.split(",") if "methods" in sections else []:
            # Enough inputs that the start-up's own variation (a few tenths of a second)
            # moves the marginal by a few ms only.
            n = {"scorecam": 3, "ablationcam": 8, "sscam": 2, "iscam": 2,
                 "smoothgradcam++": 8, "fullgrad": 20, "guided-gradcam": 20}.get(method, 50)
            runs2, runs1 = [], []
            # Interleaved, so a drifting machine affects both; the slow methods once.
            for _ in range(args.repeat if n >= 50 else 1):
                runs2.append(marginal(args.camkit, model, method, n, args.threads, tmp,
                                      args.wait_idle))
                runs1.append(marginal(args.camkit, model, method, n, 1, tmp, args.wait_idle))
            t2, c2 = statistics.median(t for t, _ in runs2), worst(c for _, c in runs2)
            t1, c1 = statistics.median(t for t, _ in runs1), worst(c for _, c in runs1)
            print(f"{method:12s} {1e3 * t2:9.1f} ms/img {spread(runs2)} = {t2 / ref['eager']:5.2f}x "
                  f"eager forward {c2}; --threads 1: {1e3 * t1:.1f} ms {spread(runs1)} "
                  f"({t1 / t2:.2f}x) {c1}")
        if "methods" in sections:  # the machine may drift over a long run: measured again
            model_ref = eager_model()
            x1 = ((torch.rand(1, 3, 224, 224) - MEAN) / STD)
            with torch.no_grad(), Conditions(args.wait_idle) as c:
                again = median_seconds(lambda: model_ref(x1), 10)
            print(f"PyTorch eager forward, batch 1, after the methods: {1e3 * again:.1f} ms/img {c}")
        if "cold" in sections:
            cold_start(args, model)
        if "dataset" in sections:
            dataset(args, model, ref)
        if args.vit:
            print("== ViT-B/16, 224x224")
            vit(args.camkit, args.threads, tmp, args.wait_idle)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(PHOTO_DIR, ignore_errors=True)
    return 0


def cold_start(args, model):
    tmp = os.path.dirname(model)
    print("== cold start: camkit explain of one photo, process start and load included")
    runs = []
    for _ in range(5):
        with Conditions(args.wait_idle) as c:
            runs.append(run_camkit(args.camkit, model, photos(1),
                                   ["--threads", str(args.threads)], os.path.join(tmp, "cold")))
    seconds = statistics.median(r[0] for r in runs)
    print(f"median {seconds:.3f} s, peak RSS {max(r[1] for r in runs) / 2**20:.0f} MiB {c}")


def dataset(args, model, ref):
    tmp = os.path.dirname(model)
    print("== dataset: 200 photos, CAM, overlays and records written")
    with Conditions(args.wait_idle) as c:
        seconds, rss = run_camkit(args.camkit, model, photos(200),
                                  ["--threads", str(args.threads)], os.path.join(tmp, "set"))
    rate = 200 / seconds
    print(f"{rate:.1f} img/s (start and load included) = {rate * ref['eager8']:.2f}x the eager "
          f"forward at batch 8; peak RSS {rss / 2**20:.0f} MiB {c}")
    with Conditions(args.wait_idle) as c:
        bare, _ = run_camkit(args.camkit, model, photos(200),
                             ["--threads", str(args.threads), "--no-overlay"],
                             os.path.join(tmp, "set"))
    print(f"the same with --no-overlay (records only): {200 / bare:.1f} img/s; rendering and "
          f"encoding the overlays cost {1e3 * (seconds - bare) / 200:.1f} ms/img {c}")


if __name__ == "__main__":
    sys.exit(main())
