"""Shared set-up of the packaging tests (pytest; ctest runs each file as packaging.<name>).

ctest passes CAMKIT_BUILD_DIR, the build folder that `cmake --install` and cpack read; nothing
is built again besides the small example program."""

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("CAMKIT_BUILD_DIR", os.path.join(ROOT, "build"))
PYTHON = "/usr/bin/python3"


def run(*args, **kw):
    """Runs a command; asserts it succeeds and returns its result (text)."""
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
    assert r.returncode == 0, (f"{' '.join(map(str, args))}: exit {r.returncode}\n"
                               f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def has_python_module():
    package = os.path.join(BUILD, "python", "camkit")
    return os.path.isdir(package) and any(f.startswith("_camkit") for f in os.listdir(package))
