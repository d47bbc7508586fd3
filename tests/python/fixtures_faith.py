#!/usr/bin/python3
"""Reference data for camkit's ROAD imputation and sanity-check similarities (tests/cpp/eval/).

Usage:
  fixtures_faith.py FIXTURES_DIR
      Writes FIXTURES_DIR/faith/ (float32 .npy):
      road_image.npy (C, H, W), road_removed.npy (H, W; 1 = removed) and road_imputed.npy:
        ROAD's noise-free linear imputation, the sparse system built here from the paper's
        definition and solved with scipy.sparse.linalg.spsolve;
      sim_a_<k>.npy, sim_b_<k>.npy (H, W maps in [0, 1]) and sim_ref_<k>.npy: [Spearman
        (scipy.stats.spearmanr), SSIM (skimage structural_similarity, Gaussian window sigma
        1.5, population covariance, data range 1), Pearson correlation of the HOGs];
        hog_a_<k>.npy: skimage.feature.hog of map a (9 orientations, 8x8 cells, 3x3 blocks,
        L2-Hys).
Deterministic (fixed seeds), well under a second.
"""
import os
import sys

import numpy as np
import scipy.ndimage
import scipy.sparse
import scipy.sparse.linalg
import scipy.stats
try:  # without skimage the similarity references are not written (their tests skip)
    from skimage.feature import hog
    from skimage.metrics import structural_similarity
except ImportError:
    hog = None

NEIGHBOURS = [((dy, dx), 1 / 6 if dy == 0 or dx == 0 else 1 / 12)
              for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def linear_impute(img, removed):
    """Each removed pixel = weighted mean of its in-image neighbours (removed ones unknown)."""
    c, h, w = img.shape
    idx = -np.ones((h, w), dtype=int)
    ys, xs = np.nonzero(removed)
    idx[ys, xs] = np.arange(len(ys))
    n = len(ys)
    a = scipy.sparse.lil_matrix((n, n))
    b = np.zeros((n, c))
    for i, (y, x) in enumerate(zip(ys, xs)):
        total = 0.0
        for (dy, dx), wt in NEIGHBOURS:
            ny, nx = y + dy, x + dx
            if not (0 <= ny < h and 0 <= nx < w):
                continue
            total += wt
            if removed[ny, nx]:
                a[i, idx[ny, nx]] -= wt
            else:
                b[i] += wt * img[:, ny, nx]
        a[i, i] = total
    sol = scipy.sparse.linalg.spsolve(scipy.sparse.csc_matrix(a), b)
    out = img.astype(np.float64).copy()
    out[:, ys, xs] = np.asarray(sol).reshape(n, c).T
    return out


def hog_of(m):
    return hog(m, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(3, 3),
               block_norm="L2-Hys", feature_vector=True)


def similarities(a, b):
    rho = scipy.stats.spearmanr(a.ravel(), b.ravel()).correlation
    ssim = structural_similarity(a.astype(np.float64), b.astype(np.float64), data_range=1.0,
                                 gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False)
    ha, hb = hog_of(a.astype(np.float64)), hog_of(b.astype(np.float64))
    return [rho, ssim, np.corrcoef(ha, hb)[0, 1]]


def main(root):
    out = os.path.join(root, "faith")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261201)
    img = rng.standard_normal((3, 17, 21)).astype(np.float32)
    removed = rng.random((17, 21)) < 0.6
    removed[0, :5] = True  # a corner block and border rows
    removed[-1, -4:] = True
    np.save(os.path.join(out, "road_image.npy"), img)
    np.save(os.path.join(out, "road_removed.npy"), removed.astype(np.float32))
    np.save(os.path.join(out, "road_imputed.npy"),
            linear_impute(img.astype(np.float64), removed).astype(np.float32))

    if hog is None:
        print("fixtures_faith.py: no skimage; similarity references not written")
        return

    def smooth(shape, sigma):
        m = scipy.ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
        return ((m - m.min()) / (m.max() - m.min())).astype(np.float32)

    base = smooth((40, 48), 4)
    pairs = [
        (base, np.clip(base + 0.3 * smooth((40, 48), 2), 0, 1)),   # related maps
        (base, smooth((40, 48), 4)),                               # unrelated maps
        (np.round(base * 4) / 4, np.round(smooth((40, 48), 3) * 3) / 3),  # many ties
    ]
    for k, (a, b) in enumerate(pairs):
        a, b = a.astype(np.float32), b.astype(np.float32)
        np.save(os.path.join(out, f"sim_a_{k}.npy"), a)
        np.save(os.path.join(out, f"sim_b_{k}.npy"), b)
        np.save(os.path.join(out, f"sim_ref_{k}.npy"),
                np.array(similarities(a, b), dtype=np.float32))
        np.save(os.path.join(out, f"hog_a_{k}.npy"), hog_of(a.astype(np.float64)).astype(np.float32))


if __name__ == "__main__":
    main(sys.argv[1])
