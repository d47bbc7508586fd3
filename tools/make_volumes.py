#!/usr/bin/python3
"""Synthetic knee-MRI-like volumes with exact lesion ground truth, for camkit's volume demo model.

    /usr/bin/python3 tools/make_volumes.py --seed 1 --out /tmp/camkit-data
    /usr/bin/python3 tools/make_volumes.py --seed 1 --out data/demo --demo-subset

A volume is a float32 .npy array (S, H, W) in [0, 1], S slices of H x W (one plane of an exam, as
in MRNet's sagittal/coronal/axial stacks): two bright rounded bone ends (femur above, tibia
below) separated by a dark joint space, a soft-tissue envelope, a fat pad, noise and a little
anatomy that drifts from slice to slice. A positive volume holds one bright ellipsoidal lesion
("bone bruise") inside a bone end, spanning a few consecutive slices; negatives hold none.

    knee/{train,val}/{negative,positive}/NNNN.npy
    knee/lesions.csv     path,slice,x0,y0,x1,y1 for every slice the lesion touches
                         (pixel-edge box, x1/y1 exclusive; the pixels whose centres lie inside
                         the lesion ellipsoid on that slice)
    knee/labels.csv      path,class_index (0 negative, 1 positive)
    knee/classes.txt

--demo-subset writes a few val volumes, byte-identical to the same volumes of the full set, as
knee/sagittal/<case>.npy (the plane folder the volume viewer groups by) with the csv files.
Every volume has its own random stream (tools/make_datasets.py: image_rng), so a volume does not
depend on how many others are made. CSV files have no header line; rows are sorted.
"""

import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_datasets as md  # noqa: E402

KNEE_CLASSES = ["negative", "positive"]
KNEE_SIZE = 64
KNEE_SLICES = (10, 16)  # min, max slices per volume (inclusive)
DEMO_KNEE_PER_CLASS = 2


def knee_volume(rng, positive, size=KNEE_SIZE):
    """(float32 S x H x W volume in [0, 1], [(slice, box)] of the lesion, empty if negative)."""
    n = int(rng.integers(KNEE_SLICES[0], KNEE_SLICES[1] + 1))
    xs, ys = md._grid(size)
    u, v = xs / size, ys / size
    joint_y = rng.uniform(0.46, 0.54)  # height of the joint space
    tilt = rng.uniform(-0.08, 0.08)
    bone_w = rng.uniform(0.26, 0.32)  # half-width of the bone ends at the centre slice
    gap = rng.uniform(0.025, 0.04)  # half-height of the joint space
    centre_x = 0.5 + rng.uniform(-0.04, 0.04)
    bone_level = rng.uniform(0.62, 0.72)
    soft_level = rng.uniform(0.3, 0.38)
    lesion = None
    if positive:
        s_len = rng.uniform(1.5, 3.0)  # half-extent in slices
        lesion = {
            "s": rng.uniform(0.3, 0.7) * (n - 1),
            "rs": s_len,
            "rx": rng.uniform(0.09, 0.14),
            "ry": rng.uniform(0.07, 0.11),
            "femur": bool(rng.integers(0, 2)),
            "dx": rng.uniform(-0.6, 0.6),
            "level": rng.uniform(0.25, 0.35),
        }
    slices, boxes = [], []
    for s in range(n):
        t = (s - (n - 1) / 2) / n  # -0.5 .. 0.5 through the stack
        # Bone ends get narrower towards the edges of the stack (a rounded condyle).
        w = bone_w * math.sqrt(max(0.05, 1 - (2 * t) ** 2))
        jy = joint_y + tilt * (u - 0.5)
        # Femur: a condyle, an ellipse whose lower edge sits on the joint space; tibia: a
        # plateau, a wide rounded rectangle below it. Both continue out of the picture.
        fr = np.sqrt(((u - centre_x) / w) ** 2 + ((v - (jy - gap - 0.3)) / 0.3) ** 2)
        femur = md._soft(1 - fr, 0.03) + md._soft(jy - gap - 0.3 - v, 0.01) * \
            md._soft(1 - np.abs((u - centre_x) / (0.7 * w)), 0.05)
        tr = np.maximum(np.abs((u - centre_x) / (1.05 * w)), (jy + gap + 0.3 - v) / 0.3)
        tibia = md._soft(1 - tr, 0.03) * md._soft(v - jy - gap, 0.01)
        bone = np.clip(femur + tibia, 0, 1)
        envelope = md._soft(1 - np.abs((u - 0.5) / (w + 0.16)), 0.05)
        img = 0.05 + envelope * soft_level + bone * (bone_level - soft_level) * envelope
        # Fat pad in front of the joint, brighter, drifting with the slice.
        fx, fy = centre_x + w + 0.05 + 0.05 * t, joint_y
        img += 0.18 * np.exp(-(((u - fx) / 0.06) ** 2 + ((v - fy) / 0.09) ** 2)) * envelope
        # Marrow texture and noise.
        img += 0.05 * md._smooth_noise(rng, size, 10, 1)[:, :, 0] * bone
        img += 0.025 * md._smooth_noise(rng, size, 6, 1)[:, :, 0]
        if lesion is not None:
            ds = (s - lesion["s"]) / lesion["rs"]
            if abs(ds) < 1:
                shrink = math.sqrt(1 - ds * ds)
                lx = centre_x + lesion["dx"] * w * 0.7
                ly = jy - gap - 0.11 if lesion["femur"] else jy + gap + 0.11
                ly = ly if np.isscalar(ly) else ly[0, int(lx * size) % size]
                r2 = ((u - lx) / (lesion["rx"] * shrink)) ** 2 + \
                    ((v - ly) / (lesion["ry"] * shrink)) ** 2
                inside = r2 < 1
                if inside.any():
                    img += lesion["level"] * np.where(inside, 1 - r2, 0.0) ** 0.5
                    boxes.append((s, md.mask_box(inside)))
        img += rng.uniform(0.015, 0.03) * rng.standard_normal(img.shape)
        slices.append(np.clip(img, 0, 1))
    return np.stack(slices).astype(np.float32), boxes


def write_knee(out, seed, n_train, n_val, demo=False, log=None):
    w = md._Writer(os.path.join(out, "knee"), KNEE_CLASSES)
    splits = [("val", DEMO_KNEE_PER_CLASS)] if demo else [("train", n_train), ("val", n_val)]
    for split, count in splits:
        for cls, name in enumerate(KNEE_CLASSES):
            for i in range(count):
                vol, boxes = knee_volume(md.image_rng(seed, "knee", split, cls, i), cls == 1)
                rel = (f"sagittal/{name}-{i:04d}.npy" if demo else
                       f"{split}/{name}/{i:04d}.npy")
                w.npy(rel, vol)
                w.labels.append((rel, cls))
                for s, box in boxes:
                    w.boxes.append((rel, s) + tuple(box))
        if log:
            log(f"knee/{split}: {count * len(KNEE_CLASSES)} volumes")
    w.close()
    os.replace(os.path.join(w.root, "boxes.csv"), os.path.join(w.root, "lesions.csv"))


def main(argv=None):
    p = argparse.ArgumentParser(prog="make_volumes.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--seed", type=int, required=True, help="master seed")
    p.add_argument("--out", required=True, help="output folder (knee/ goes under it)")
    p.add_argument("--n-train", type=int, default=250, help="train volumes per class")
    p.add_argument("--n-val", type=int, default=60, help="val volumes per class")
    p.add_argument("--demo-subset", action="store_true",
                   help=f"only {DEMO_KNEE_PER_CLASS} val volumes per class, as knee/sagittal/")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    log = None if a.quiet else (lambda m: print(m, file=sys.stderr))
    write_knee(a.out, a.seed, a.n_train, a.n_val, a.demo_subset, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
