#!/usr/bin/python3
"""What camkit refuses about a model or its numbers, as a user meets it on the command line.

    /usr/bin/python3 tests/python/test_model_trust.py FIXTURES_DIR CAMKIT_BINARY

Invalid metadata embedded in a model (wrong counts, zero std, negative or absurd sizes, an
unknown version, labels or a task that do not fit the logits) is a model error (exit 3) naming
the file and the field, for explain, eval and info alike; a model file that is a FIFO or a
device fails at once; inputs whose prepared values overflow float32 (values near 3e38, a std of
1e-45) fail alone (exit 1) with and without the optimised graph; a FIFO given as an @list
fails at once.
"""

import json
import os
import subprocess
import sys

import numpy as np
import torch
from torch import nn

import camkit_testing as ct

H = W = 32


class Small(nn.Module):
    def __init__(self, k=6):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU())
        self.fc = nn.Linear(8, k)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


def good_meta(**changes):
    m = {"camkit_meta_version": 1, "architecture": "small", "num_classes": 6,
         "input": {"channels": 3, "height": H, "width": W}, "preprocess": {},
         "task": "multiclass"}
    m.update(changes)
    return m


def save(meta, name):
    torch.manual_seed(0)
    traced = torch.jit.trace(Small().eval(), torch.randn(1, 3, H, W))
    path = os.path.join(ct.TMP, name + ".pt")
    torch.jit.save(traced, path, _extra_files={"camkit.json": json.dumps(meta)})
    return path


def image(values=None, name="x.npy"):
    x = np.random.default_rng(1).standard_normal((3, H, W)).astype(np.float32)
    if values is not None:
        x[:] = values
    path = os.path.join(ct.TMP, name)
    np.save(path, x)
    return path


def test_invalid_metadata_is_a_model_error_naming_the_field():
    cases = {
        "mean_count": (good_meta(mean=[0.5, 0.5], std=[0.2, 0.2, 0.2]), "mean"),
        "five_channels": (good_meta(input={"channels": 5, "height": H, "width": W}),
                          "input.channels"),
        "negative_size": (good_meta(input={"channels": 3, "height": -4, "width": W}),
                          "input.height"),
        "zero_std": (good_meta(mean=[0.5] * 3, std=[0.2, 0.0, 0.2]), "std"),
        "huge_size": (good_meta(preprocess={"size": [100000, 100000]}), "preprocess.size"),
        "version": (good_meta(camkit_meta_version=7), "camkit_meta_version"),
        "labels": (good_meta(labels=["a", "b", "c"]), "labels"),
        "binary_task": (good_meta(task="binary"), "task"),
        "class_count": (good_meta(num_classes=4), "num_classes"),
        "unknown_task": (good_meta(task="ranking"), "task"),
    }
    x = image()
    for name, (meta, field) in cases.items():
        path = save(meta, name)
        for cmd in (["explain", path, x, "-o", os.path.join(ct.TMP, "o_" + name)],
                    ["info", path],
                    ["eval", path, x, "--faithfulness"]):
            r = ct.run(*cmd, expect=3)
            assert path in r.stderr and field in r.stderr, (name, cmd[0], r.stderr)
            assert "--mean" not in r.stderr, (name, r.stderr)  # no blame on flags never given
    # The same model with valid metadata runs.
    ct.run("explain", save(good_meta(), "valid"), x, "-o", os.path.join(ct.TMP, "o_valid"))


def test_a_model_that_is_a_fifo_or_a_device_fails_at_once():
    fifo = os.path.join(ct.TMP, "model_fifo.pt")
    os.mkfifo(fifo)
    x = image()
    for path in (fifo, "/dev/zero"):
        r = subprocess.run([ct.CAMKIT, "info", path], capture_output=True, text=True, timeout=30)
        assert r.returncode == 3 and "not a regular file" in r.stderr, (path, r.stderr)
    listing = os.path.join(ct.TMP, "list_fifo.txt")
    os.mkfifo(listing)
    r = subprocess.run([ct.CAMKIT, "explain", save(good_meta(), "m_list"), "@" + listing, "-o",
                        os.path.join(ct.TMP, "o_list")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "not a regular file" in r.stderr, r.stderr


def test_overflowing_inputs_fail_alone_with_and_without_the_optimised_graph():
    path = save(good_meta(), "overflow")
    good, huge = image(), image(3e38, "huge.npy")
    for optimize in ("on", "off"):
        out = os.path.join(ct.TMP, "o_overflow_" + optimize)
        r = ct.run("explain", path, good, huge, "-o", out, "--optimize", optimize, expect=1)
        assert "huge.npy" in r.stderr and "overflow" in r.stderr, r.stderr
        assert os.path.exists(os.path.join(out, "x.json")), os.listdir(out)
        assert not os.path.exists(os.path.join(out, "huge.json"))
        r = ct.run("explain", path, good, "-o", out + "_std", "--optimize", optimize,
                   "--mean", "0", "--std", "1e-45", expect=1)
        assert "not finite" in r.stderr or "overflow" in r.stderr, r.stderr


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(ct.main(globals()))
