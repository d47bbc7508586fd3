#!/usr/bin/python3
"""Synthetic data sets with exact localisation ground truth, for camkit's demo models.

    /usr/bin/python3 tools/make_datasets.py --seed 1 --out /tmp/camkit-data
    /usr/bin/python3 tools/make_datasets.py --seed 1 --out data/demo --demo-subset

"shapes": 160x160 RGB PNGs of one of six shapes (disc, square, triangle, star, cross, ring) of
random size, position, rotation and colour on cluttered backgrounds (colour gradients,
low-frequency colour noise, lines and small blobs of random colours, pixel noise). Colours are
drawn the same way for every class, so only the shape tells the class apart.
    shapes/{train,val}/<class>/NNNN.png   one object (ImageFolder layout)
    shapes/multi/NNNN.png                 two objects of different classes, boxes disjoint
    shapes/masks/<image path>.png         8-bit mask: 0 background, class index + 1 on an object
    shapes/boxes.csv                      path,x0,y0,x1,y1 per object (x1, y1 exclusive)
    shapes/labels.csv                     path,class_index per object
    shapes/classes.txt                    class names, one per line, in index order

"xray": 128x128 float32 radiograph-like .npy arrays (H, W) in [0, 1] (body outline, darker
lung fields, rib arcs, spine, noise; mean ~0.49, std ~0.248 over the set); positives carry a
soft elliptical opacity ("lesion") inside a lung field.
    xray/{train,val}/{negative,positive}/NNNN.npy
    xray/boxes.csv                        path,x0,y0,x1,y1 of each positive's lesion
    xray/labels.csv, xray/classes.txt     as for shapes (0 negative, 1 positive)

Boxes use pixel-edge coordinates: x0, y0 of the first pixel, x1, y1 one past the last. A
shapes box is the bounding box of its object's mask; an object is opaque and drawn without
anti-aliasing, so the mask holds exactly its pixels. A lesion box bounds the pixels whose
centres lie inside the lesion ellipse (where the opacity is non-zero).

Every image has its own random stream, seeded by (seed, data set, split, class, index), so
an image does not depend on how many others are made: --demo-subset writes a few val images
that are byte-identical to the same images of the full set, in a flatter layout:
    shapes/single/<class>/NNNN.png, shapes/multi/NNNN.png (+ masks, csv files as above)
    xray/{negative,positive}/NNNN.npy (+ boxes.csv, labels.csv, classes.txt)
CSV files have no header line; rows are sorted by path.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
from PIL import Image, ImageDraw

SHAPE_CLASSES = ["disc", "square", "triangle", "star", "cross", "ring"]
XRAY_CLASSES = ["negative", "positive"]
SHAPES_SIZE = 160
XRAY_SIZE = 128
# Object size is its circumscribed diameter in pixels.
SINGLE_DIAMETER = (40, 84)
MULTI_DIAMETER = (36, 64)

# Demo subset: which val indices per class, and how many multi images.
DEMO_SHAPES_PER_CLASS = 2
DEMO_SHAPES_MULTI = 4
DEMO_XRAY_PER_CLASS = 4

_DATASET_ID = {"shapes": 1, "xray": 2, "knee": 3, "lesion3d": 4}
_SPLIT_ID = {"train": 1, "val": 2, "multi": 3}


def image_rng(seed, dataset, split, cls, index):
    """The random stream of one image: depends only on these five values."""
    ss = np.random.SeedSequence([int(seed), _DATASET_ID[dataset], _SPLIT_ID[split],
                                 int(cls), int(index)])
    return np.random.Generator(np.random.PCG64(ss))


# ---------------------------------------------------------------- geometry

def _grid(size):
    c = np.arange(size, dtype=np.float64) + 0.5  # pixel centres
    return np.meshgrid(c, c)  # xs, ys


def _polygon_mask(xs, ys, pts):
    """Even-odd point-in-polygon test at pixel centres (exact, no anti-aliasing)."""
    inside = np.zeros(xs.shape, dtype=bool)
    n = len(pts)
    for i in range(n):
        x1, y1 = pts[i]
        x2, y2 = pts[(i + 1) % n]
        if y1 == y2:
            continue
        crosses = (y1 > ys) != (y2 > ys)
        xint = (x2 - x1) * (ys - y1) / (y2 - y1) + x1
        inside ^= crosses & (xs < xint)
    return inside


def _rotated(pts, cx, cy, theta):
    c, s = math.cos(theta), math.sin(theta)
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in pts]


def shape_mask(name, cx, cy, radius, theta, size, rng):
    """Boolean mask of a shape with circumradius `radius` centred at (cx, cy), rotated."""
    xs, ys = _grid(size)
    r = radius
    if name in ("disc", "ring"):
        d2 = (xs - cx) ** 2 + (ys - cy) ** 2
        mask = d2 <= r * r
        if name == "ring":
            inner = r * rng.uniform(0.45, 0.62)
            mask &= d2 >= inner * inner
        return mask
    if name == "square":
        a = r / math.sqrt(2.0)
        pts = [(-a, -a), (a, -a), (a, a), (-a, a)]
    elif name == "triangle":
        pts = [(r * math.cos(t), r * math.sin(t))
               for t in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)]
    elif name == "star":
        inner = r * rng.uniform(0.38, 0.5)
        pts = []
        for i in range(10):
            t = -math.pi / 2 + i * math.pi / 5
            rr = r if i % 2 == 0 else inner
            pts.append((rr * math.cos(t), rr * math.sin(t)))
    elif name == "cross":
        w = r * rng.uniform(0.2, 0.3)  # half-width of an arm
        arm = math.sqrt(r * r - w * w)  # so that the arm corners lie on the circumcircle
        pts = [(-w, -arm), (w, -arm), (w, -w), (arm, -w), (arm, w), (w, w), (w, arm),
               (-w, arm), (-w, w), (-arm, w), (-arm, -w), (-w, -w)]
    else:
        raise ValueError(f"unknown shape {name!r}")
    return _polygon_mask(xs, ys, _rotated(pts, cx, cy, theta))


def mask_box(mask):
    """(x0, y0, x1, y1), pixel edges, x1/y1 exclusive, of a non-empty boolean mask."""
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


# ---------------------------------------------------------------- shapes images

def _smooth_noise(rng, size, cells, channels):
    """Low-frequency noise in [-1, 1]: a cells x cells random grid, bilinearly upsampled."""
    grid = rng.uniform(-1.0, 1.0, size=(cells + 1, cells + 1, channels))
    pos = (np.arange(size) + 0.5) * cells / size
    i0 = np.clip(np.floor(pos).astype(int), 0, cells - 1)
    f = (pos - i0)[:, None]
    rows = grid[i0] * (1 - f[:, :, None]) + grid[i0 + 1] * f[:, :, None]  # (size, cells+1, ch)
    cols = rows[:, i0] * (1 - f.T[:, :, None]) + rows[:, i0 + 1] * f.T[:, :, None]
    return cols


def _random_colour(rng):
    return rng.uniform(0.0, 1.0, size=3)


def _background(rng, size):
    """Cluttered RGB background in [0, 1], float64 (size, size, 3)."""
    c0, c1 = _random_colour(rng), _random_colour(rng)
    t = rng.uniform(0, 2 * math.pi)
    xs, ys = _grid(size)
    ramp = ((xs - size / 2) * math.cos(t) + (ys - size / 2) * math.sin(t)) / size + 0.5
    ramp = np.clip(ramp, 0, 1)[:, :, None]
    img = c0 * (1 - ramp) + c1 * ramp
    img += rng.uniform(0.1, 0.25) * _smooth_noise(rng, size, int(rng.integers(3, 7)), 3)
    img = np.clip(img, 0, 1)
    # Lines and small blobs of random colours, drawn on an 8-bit copy.
    pil = Image.fromarray((img * 255 + 0.5).astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    for _ in range(int(rng.integers(3, 9))):
        x0, y0, x1, y1 = rng.uniform(-20, size + 20, size=4)
        col = tuple(int(v) for v in rng.integers(0, 256, size=3))
        draw.line([(x0, y0), (x1, y1)], fill=col, width=int(rng.integers(1, 4)))
    for _ in range(int(rng.integers(3, 10))):
        cx, cy = rng.uniform(0, size, size=2)
        rx, ry = rng.uniform(2, 7, size=2)
        col = tuple(int(v) for v in rng.integers(0, 256, size=3))
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=col)
    return np.asarray(pil, dtype=np.float64) / 255.0


def _object_colour(rng, under):
    """A random colour that stands out from the mean colour under the object."""
    mean = under.reshape(-1, 3).mean(0)
    best, best_d = None, -1.0
    for _ in range(20):
        c = _random_colour(rng)
        d = float(np.abs(c - mean).sum())
        if d >= 0.6:
            return c
        if d > best_d:
            best, best_d = c, d
    return best


def _paint(rng, img, mask):
    """Fills mask with a random colour and a faint internal gradient (opaque, exact edges)."""
    col = _object_colour(rng, img[mask])
    shade = 1.0 + rng.uniform(0.0, 0.25) * _smooth_noise(rng, img.shape[0], 2, 1)
    obj = np.clip(col * shade, 0, 1)
    img[mask] = obj[mask]


def _finish(rng, img):
    img = img + rng.uniform(0.02, 0.06) * rng.standard_normal(img.shape)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def _place(rng, size, diameter, taken, margin=4):
    """(cx, cy, radius) of a circle inside the image whose box misses the boxes in taken."""
    for _ in range(200):
        r = rng.uniform(*diameter) / 2
        cx, cy = rng.uniform(r + 1, size - r - 1, size=2)
        box = (cx - r - margin, cy - r - margin, cx + r + margin, cy + r + margin)
        if all(box[2] <= t[0] or t[2] <= box[0] or box[3] <= t[1] or t[3] <= box[1]
               for t in taken):
            return cx, cy, r
    raise RuntimeError("could not place an object")  # unreachable for the sizes used


def shapes_single(rng, cls, size=SHAPES_SIZE, diameter=SINGLE_DIAMETER):
    """(uint8 image HxWx3, uint8 mask, [(class, box)]) with one object of class cls."""
    img = _background(rng, size)
    cx, cy, r = _place(rng, size, diameter, [])
    m = shape_mask(SHAPE_CLASSES[cls], cx, cy, r, rng.uniform(0, 2 * math.pi), size, rng)
    _paint(rng, img, m)
    mask = np.where(m, cls + 1, 0).astype(np.uint8)
    return _finish(rng, img), mask, [(cls, mask_box(m))]


def shapes_multi(rng, size=SHAPES_SIZE, diameter=MULTI_DIAMETER):
    """Two objects of different classes with disjoint boxes."""
    img = _background(rng, size)
    classes = rng.choice(len(SHAPE_CLASSES), size=2, replace=False)
    mask = np.zeros((size, size), dtype=np.uint8)
    objects, taken = [], []
    for cls in (int(c) for c in classes):
        cx, cy, r = _place(rng, size, diameter, taken)
        taken.append((cx - r, cy - r, cx + r, cy + r))
        m = shape_mask(SHAPE_CLASSES[cls], cx, cy, r, rng.uniform(0, 2 * math.pi), size, rng)
        _paint(rng, img, m)
        mask[m] = cls + 1
        objects.append((cls, mask_box(m)))
    return _finish(rng, img), mask, objects


# ---------------------------------------------------------------- xray images

# Affine map applied to every raw radiograph so that the data set has mean ~0.49, std ~0.248
# (the statistics of the reference chest X-ray workflow); measured on 400 raw images, seed 99.
XRAY_GAIN = 0.8925
XRAY_OFFSET = 0.0605


def _soft(x, width):
    return 1.0 / (1.0 + np.exp(-x / width))


def xray_image(rng, positive, size=XRAY_SIZE):
    """(float32 HxW image in [0, 1], lesion box or None)."""
    xs, ys = _grid(size)
    u, v = xs / size, ys / size
    # Body: a bright ellipse on a dark surround.
    bx, by = 0.5 + rng.uniform(-0.03, 0.03), 0.56 + rng.uniform(-0.03, 0.03)
    ax, ay = rng.uniform(0.42, 0.5), rng.uniform(0.5, 0.6)
    body_r = np.sqrt(((u - bx) / ax) ** 2 + ((v - by) / ay) ** 2)
    body = _soft(1.0 - body_r, 0.03)
    img = 0.06 + body * (rng.uniform(0.62, 0.72) + 0.08 * (v - 0.5))
    # Lung fields: two darker ellipses.
    lungs = []
    lung = np.zeros_like(u)
    for side in (-1, 1):
        lx = 0.5 + side * rng.uniform(0.17, 0.21)
        ly = rng.uniform(0.40, 0.46)
        lax, lay = rng.uniform(0.12, 0.15), rng.uniform(0.24, 0.3)
        lungs.append((lx, ly, lax, lay))
        lr = np.sqrt(((u - lx) / lax) ** 2 + ((v - ly) / lay) ** 2)
        lung = np.maximum(lung, _soft(1.0 - lr, 0.06))
    img -= lung * rng.uniform(0.42, 0.5) * body
    # Spine / mediastinum: a bright vertical band.
    img += 0.12 * np.exp(-((u - 0.5) / rng.uniform(0.05, 0.07)) ** 2) * body
    # Ribs: arcs descending from the spine, mirrored on both sides.
    rib_amp = rng.uniform(0.07, 0.12)
    dx = np.abs(u - 0.5)
    y0 = rng.uniform(0.14, 0.2)
    step = rng.uniform(0.075, 0.09)
    curve = rng.uniform(0.7, 1.1)
    for i in range(8):
        yc = y0 + i * step - 0.3 * dx + curve * dx ** 2
        width = 0.010 + 0.004 * rng.random()
        rib = np.exp(-((v - yc) / width) ** 2) * (dx > 0.04) * (dx < 0.42)
        img += rib_amp * rib * body
    # Lesion: a soft elliptical opacity inside a lung field.
    box = None
    if positive:
        lx, ly, lax, lay = lungs[int(rng.integers(0, 2))]
        t = rng.uniform(0, 2 * math.pi)
        rho = math.sqrt(rng.uniform(0, 1)) * 0.6
        cx = (lx + rho * lax * math.cos(t)) * size
        cy = (ly + rho * lay * math.sin(t)) * size
        rx, ry = rng.uniform(7, 18, size=2)
        th = rng.uniform(0, math.pi)
        c, s = math.cos(th), math.sin(th)
        dxp, dyp = xs - cx, ys - cy
        r2 = ((dxp * c + dyp * s) / rx) ** 2 + ((-dxp * s + dyp * c) / ry) ** 2
        inside = r2 < 1.0
        profile = np.where(inside, (1.0 - r2) ** 2, 0.0)
        texture = 1.0 + 0.15 * _smooth_noise(rng, size, 16, 1)[:, :, 0]
        img += rng.uniform(0.2, 0.4) * profile * texture
        box = mask_box(inside)
    # Noise: low-frequency mottling and pixel noise.
    img += 0.035 * _smooth_noise(rng, size, 8, 1)[:, :, 0]
    img += rng.uniform(0.015, 0.03) * rng.standard_normal(img.shape)
    img = img * XRAY_GAIN + XRAY_OFFSET
    return np.clip(img, 0.0, 1.0).astype(np.float32), box


# ---------------------------------------------------------------- writers

class _Writer:
    """Writes files under root and collects csv rows (sorted on close)."""

    def __init__(self, root, classes):
        self.root = root
        self.boxes, self.labels = [], []
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(root, "classes.txt"), "w") as f:
            f.write("".join(c + "\n" for c in classes))

    def path(self, rel):
        full = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        return full

    def png(self, rel, array):
        Image.fromarray(array).save(self.path(rel), optimize=False)

    def npy(self, rel, array):
        np.save(self.path(rel), array)

    def close(self, with_labels=True):
        def dump(name, rows):
            rows = sorted(rows)
            with open(os.path.join(self.root, name), "w") as f:
                f.write("".join(",".join(str(v) for v in row) + "\n" for row in rows))
        dump("boxes.csv", self.boxes)
        if with_labels:
            dump("labels.csv", self.labels)


def write_shapes(out, seed, n_train, n_val, n_multi, demo=False, log=None,
                 diameter=SINGLE_DIAMETER, multi_diameter=MULTI_DIAMETER):
    w = _Writer(os.path.join(out, "shapes"), SHAPE_CLASSES)
    splits = [("val", DEMO_SHAPES_PER_CLASS)] if demo else [("train", n_train), ("val", n_val)]
    for split, n in splits:
        for cls, name in enumerate(SHAPE_CLASSES):
            for i in range(n):
                img, mask, objs = shapes_single(image_rng(seed, "shapes", split, cls, i), cls,
                                                diameter=diameter)
                rel = f"single/{name}/{i:04d}.png" if demo else f"{split}/{name}/{i:04d}.png"
                _emit(w, rel, img, mask, objs)
        if log:
            log(f"shapes/{split}: {n * len(SHAPE_CLASSES)} images")
    n_multi = DEMO_SHAPES_MULTI if demo else n_multi
    for i in range(n_multi):
        img, mask, objs = shapes_multi(image_rng(seed, "shapes", "multi", 0, i),
                                       diameter=multi_diameter)
        _emit(w, f"multi/{i:04d}.png", img, mask, objs)
    if log:
        log(f"shapes/multi: {n_multi} images")
    w.close()


def _emit(w, rel, img, mask, objs):
    w.png(rel, img)
    w.png("masks/" + rel, mask)
    for cls, box in objs:
        w.boxes.append((rel,) + tuple(box))
        w.labels.append((rel, cls))


def write_xray(out, seed, n_train, n_val, demo=False, log=None):
    w = _Writer(os.path.join(out, "xray"), XRAY_CLASSES)
    splits = [("val", DEMO_XRAY_PER_CLASS)] if demo else [("train", n_train), ("val", n_val)]
    for split, n in splits:
        for cls, name in enumerate(XRAY_CLASSES):
            for i in range(n):
                img, box = xray_image(image_rng(seed, "xray", split, cls, i), cls == 1)
                rel = f"{name}/{i:04d}.npy" if demo else f"{split}/{name}/{i:04d}.npy"
                w.npy(rel, img)
                w.labels.append((rel, cls))
                if box is not None:
                    w.boxes.append((rel,) + tuple(box))
        if log:
            log(f"xray/{split}: {n * len(XRAY_CLASSES)} images")
    w.close()


def read_csv(path):
    """Rows of a boxes.csv / labels.csv: [path, int, ...]."""
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                p, *nums = line.split(",")
                rows.append([p] + [int(v) for v in nums])
    return rows


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="make_datasets.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--seed", type=int, required=True, help="master seed")
    p.add_argument("--out", required=True, help="output folder (shapes/ and xray/ go under it)")
    p.add_argument("--which", choices=["shapes", "xray", "all"], default="all")
    p.add_argument("--n-train", type=int, default=700, help="shapes train images per class")
    p.add_argument("--n-val", type=int, default=100, help="shapes val images per class")
    p.add_argument("--n-multi", type=int, default=120, help="shapes two-object images")
    pair = lambda t: tuple(int(v) for v in t.split(","))  # noqa: E731
    p.add_argument("--diameter", type=pair, default=SINGLE_DIAMETER,
                   help="MIN,MAX object size (circumscribed diameter, px) in single images")
    p.add_argument("--multi-diameter", type=pair, default=MULTI_DIAMETER,
                   help="MIN,MAX object size in two-object images")
    p.add_argument("--n-xray-train", type=int, default=1000, help="xray train images per class")
    p.add_argument("--n-xray-val", type=int, default=200, help="xray val images per class")
    p.add_argument("--demo-subset", action="store_true",
                   help=f"only the demo inputs: {DEMO_SHAPES_PER_CLASS} val images per shape "
                   f"class, {DEMO_SHAPES_MULTI} multi images, {DEMO_XRAY_PER_CLASS} xray val "
                   "images per class, in the flat demo layout")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def write_recipe(a):
    """OUT/recipe.json: the arguments that make the set (no paths, so it is reproducible)."""
    recipe = {k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(vars(a).items())
              if k not in ("out", "quiet")}
    text = lambda v: ",".join(map(str, v)) if isinstance(v, list) else str(v)  # noqa: E731
    recipe["command"] = "tools/make_datasets.py " + " ".join(
        f"--{k.replace('_', '-')}" + ("" if v is True else f" {text(v)}")
        for k, v in recipe.items() if v is not False) + " --out DIR"
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "recipe.json"), "w") as f:
        json.dump(recipe, f, indent=1, sort_keys=True)
        f.write("\n")


def main(argv=None):
    a = parse_args(argv)
    log = None if a.quiet else (lambda m: print(m, file=sys.stderr))
    write_recipe(a)
    if a.which in ("shapes", "all"):
        write_shapes(a.out, a.seed, a.n_train, a.n_val, a.n_multi, a.demo_subset, log,
                     a.diameter, a.multi_diameter)
    if a.which in ("xray", "all"):
        write_xray(a.out, a.seed, a.n_xray_train, a.n_xray_val, a.demo_subset, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
