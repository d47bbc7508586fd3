"""Shared set-up of the Python module's tests (pytest; ctest runs them as py_module).

ctest passes the build through the environment: PYTHONPATH holds build/python (the module),
CAMKIT_CLI the camkit command, CAMKIT_FIXTURES the reference data folder.
"""

import json
import os
import subprocess

import pytest

import camkit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.environ.get("CAMKIT_CLI", os.path.join(ROOT, "build", "camkit"))
SQUEEZENET = os.path.join(ROOT, "models", "squeezenet1_1.pt")
XRAY = os.path.join(ROOT, "models", "xray_resnet.pt")
PHOTOS = "/usr/share/darknet/data"
DOG = os.path.join(PHOTOS, "dog.jpg")
XRAY_NPY = os.path.join(ROOT, "data", "demo", "xray", "positive", "0000.npy")
SHAPE_PNG = os.path.join(ROOT, "data", "demo", "shapes", "single", "disc", "0000.png")


def cli(*args, expect=0):
    """Runs the camkit command; asserts its exit code and returns the result."""
    r = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    assert r.returncode == expect, f"camkit {args}: exit {r.returncode}\n{r.stderr[-2000:]}"
    return r


def cli_records(out):
    """The records of a camkit explain output folder, by input path."""
    with open(os.path.join(out, "index.jsonl")) as f:
        return {rec["input"]: rec for rec in map(json.loads, f)}


@pytest.fixture(scope="session")
def squeezenet():
    """SqueezeNet 1.1 as loaded for a single input by camkit explain (graph as loaded)."""
    return camkit.Model(SQUEEZENET, optimize=False)


@pytest.fixture(scope="session")
def squeezenet_optimized():
    return camkit.Model(SQUEEZENET, optimize=True)


@pytest.fixture(scope="session")
def xray():
    return camkit.Model(XRAY, optimize=False)
