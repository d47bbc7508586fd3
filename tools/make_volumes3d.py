#!/usr/bin/python3
"""Synthetic head-CT-like NIfTI volumes with a blob-shaped lesion, for camkit's 3-D demo model.

    /usr/bin/python3 tools/make_volumes3d.py --seed 1 --out /tmp/camkit-data
    /usr/bin/python3 tools/make_volumes3d.py --seed 1 --out data/demo --demo-subset

A volume is a NIfTI-1 file (.nii.gz, float32, D x H x W = 24 x 40 x 40 voxels of 4 x 1.2 x 1.2 mm,
an oblique-free affine with its origin at the volume's centre) in Hounsfield-like units: air
around a rounded skull shell (bright), brain tissue inside with a slowly varying texture, a
dark midline ventricle pair, and noise. A "lesion" volume holds one bright ellipsoidal
haemorrhage-like blob somewhere in the brain (radii 4-7 voxels in plane, 2-3.5 deep); a
"normal" volume holds none. Every lesion's voxels are written as a mask on the same grid.

    lesion3d/{train,val}/{normal,lesion}/NNNN.nii.gz
    lesion3d/masks/<same path>            uint8 mask (1 = lesion), lesion volumes only
    lesion3d/boxes3d.csv                  path,z0,y0,x0,z1,y1,x1 (voxel edges, *1 exclusive)
    lesion3d/masks.csv                    path,mask,class (camkit eval --masks)
    lesion3d/labels.csv                   path,class_index (0 normal, 1 lesion)
    lesion3d/classes.txt

--demo-subset writes a few val volumes, byte-identical in content to the same volumes of the full
set, as lesion3d/scans/<class>-NNNN.nii.gz with their masks and csv files. Every volume has its
own random stream (tools/make_datasets.py: image_rng).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_datasets as md  # noqa: E402

CLASSES = ["normal", "lesion"]
SHAPE = (24, 40, 40)  # D, H, W voxels
SPACING = (4.0, 1.2, 1.2)  # mm per voxel along D, H, W
DEMO_PER_CLASS = 2


def affine():
    """Voxel (i, j, k) = (d, h, w) -> world mm, centred on the volume."""
    a = np.diag(list(SPACING) + [1.0])
    a[:3, 3] = [-(n - 1) / 2 * s for n, s in zip(SHAPE, SPACING)]
    return a


def smooth_noise3d(rng, shape, cells):
    """Low-frequency noise in [-1, 1]: a random grid of cells per axis, trilinearly upsampled."""
    grid = rng.uniform(-1.0, 1.0, size=tuple(cells + 1 for _ in shape))
    out = grid
    for axis, n in enumerate(shape):
        pos = (np.arange(n) + 0.5) * cells / n
        i0 = np.clip(np.floor(pos).astype(int), 0, cells - 1)
        f = pos - i0
        shape_f = [1] * len(shape)
        shape_f[axis] = n
        f = f.reshape(shape_f)
        out = np.take(out, i0, axis=axis) * (1 - f) + np.take(out, i0 + 1, axis=axis) * f
    return out


def volume(rng, positive):
    """(float32 D x H x W volume in HU-like units, bool lesion mask or None)."""
    d, h, w = SHAPE
    z, y, x = np.meshgrid(*[(np.arange(n) + 0.5) / n - 0.5 for n in SHAPE], indexing="ij")
    # The head: an ellipsoid, slightly shifted and sized per volume.
    c = rng.uniform(-0.03, 0.03, size=3)
    r = np.array([rng.uniform(0.40, 0.46), rng.uniform(0.38, 0.44), rng.uniform(0.34, 0.40)])
    q = np.sqrt(((z - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((x - c[2]) / r[2]) ** 2)
    skull = (q < 1.0) & (q > 0.86)
    brain = q <= 0.86
    vol = np.full(SHAPE, -1000.0)
    vol[skull] = rng.uniform(700, 1000)
    tissue = rng.uniform(28, 38) + 6 * smooth_noise3d(rng, SHAPE, 4)
    vol[brain] = tissue[brain]
    # Two dark ventricles beside the midline.
    for side in (-1, 1):
        vq = (((z - c[0]) / 0.16) ** 2 + ((y - c[1] + 0.02) / 0.12) ** 2 +
              ((x - c[2] - side * 0.07) / 0.04) ** 2)
        vol[(vq < 1) & brain] = rng.uniform(2, 8)
    mask = None
    if positive:
        # A blob inside the brain, away from the skull and the ventricles.
        while True:
            centre = np.array([rng.uniform(-0.22, 0.22), rng.uniform(-0.2, 0.2),
                               rng.uniform(-0.2, 0.2)]) + c
            if abs(centre[2] - c[2]) > 0.12:
                break
        radii = np.array([rng.uniform(2.0, 3.5) / d, rng.uniform(4.0, 7.0) / h,
                          rng.uniform(4.0, 7.0) / w])
        bq = (((z - centre[0]) / radii[0]) ** 2 + ((y - centre[1]) / radii[1]) ** 2 +
              ((x - centre[2]) / radii[2]) ** 2)
        mask = (bq < 1) & brain
        vol = np.where(mask, rng.uniform(60, 80) + 10 * (1 - bq), vol)
    vol = vol + rng.normal(0.0, rng.uniform(3, 5), size=SHAPE)
    return vol.astype(np.float32), mask


def box3d(mask):
    """(z0, y0, x0, z1, y1, x1), voxel edges, *1 exclusive, of a non-empty mask."""
    idx = np.nonzero(mask)
    lo = [int(i.min()) for i in idx]
    hi = [int(i.max()) + 1 for i in idx]
    return tuple(lo + hi)


def write_nifti(path, array):
    import nibabel as nib

    os.makedirs(os.path.dirname(path), exist_ok=True)
    img = nib.Nifti1Image(array, affine())
    img.header.set_xyzt_units("mm")
    img.set_qform(affine(), code=1)
    img.set_sform(affine(), code=1)
    # Written to a temporary name first: an interrupted run leaves no truncated volume.
    tmp = path + ".part.nii.gz"
    nib.save(img, tmp)
    os.replace(tmp, path)


def write_lesion3d(out, seed, n_train, n_val, demo=False, log=None):
    w = md._Writer(os.path.join(out, "lesion3d"), CLASSES)
    splits = [("val", DEMO_PER_CLASS)] if demo else [("train", n_train), ("val", n_val)]
    masks = []
    for split, count in splits:
        for cls, name in enumerate(CLASSES):
            for i in range(count):
                vol, mask = volume(md.image_rng(seed, "lesion3d", split, cls, i), cls == 1)
                rel = f"scans/{name}-{i:04d}.nii.gz" if demo else f"{split}/{name}/{i:04d}.nii.gz"
                write_nifti(w.path(rel), vol)
                w.labels.append((rel, cls))
                if mask is not None:
                    write_nifti(w.path(os.path.join("masks", rel)), mask.astype(np.uint8))
                    w.boxes.append((rel,) + box3d(mask))
                    masks.append((rel, "masks/" + rel))
        if log:
            log(f"lesion3d/{split}: {count * len(CLASSES)} volumes")
    w.close()
    os.replace(os.path.join(w.root, "boxes.csv"), os.path.join(w.root, "boxes3d.csv"))
    with open(os.path.join(w.root, "masks.csv"), "w") as f:
        f.write("".join(f"{rel},{mask},{CLASSES[1]}\n" for rel, mask in sorted(masks)))


def main(argv=None):
    p = argparse.ArgumentParser(prog="make_volumes3d.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--seed", type=int, required=True, help="master seed")
    p.add_argument("--out", required=True, help="output folder (lesion3d/ goes under it)")
    p.add_argument("--n-train", type=int, default=200, help="train volumes per class")
    p.add_argument("--n-val", type=int, default=50, help="val volumes per class")
    p.add_argument("--demo-subset", action="store_true",
                   help=f"only {DEMO_PER_CLASS} val volumes per class, as lesion3d/scans/")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    log = None if a.quiet else (lambda m: print(m, file=sys.stderr))
    write_lesion3d(a.out, a.seed, a.n_train, a.n_val, a.demo_subset, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
