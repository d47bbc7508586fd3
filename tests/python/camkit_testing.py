"""What camkit's Python tests share: running the CLI and the test loop.

    import camkit_testing as ct
    r = ct.run(cli, "explain", model, image, expect=0)   # CompletedProcess; asserts the code
    sys.exit(ct.main(globals()))                           # runs every test_* function

A test file is run by CTest as `python3 tests/python/test_X.py FIXTURES_DIR CAMKIT_BINARY`;
main() prints one line per test and 'N passed, N failed', and returns 1 if any failed.
"""

import os
import subprocess
import sys
import tempfile
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))

CAMKIT = os.path.join(ROOT, "build", "camkit")
FIXTURES = os.path.join(ROOT, "build", "tests", "fixtures")
TMP = None  # a fresh temporary folder for the whole run


def run(*args, expect=0, env=None):
    """Runs camkit with args; asserts its exit code (None: any) and returns the result."""
    r = subprocess.run([CAMKIT, *map(str, args)], capture_output=True, text=True, env=env)
    if expect is not None and r.returncode != expect:
        raise AssertionError(f"camkit {' '.join(map(str, args))}: exit {r.returncode}, "
                             f"expected {expect}\nstdout: {r.stdout[-2000:]}\n"
                             f"stderr: {r.stderr[-2000:]}")
    return r


def main(namespace):
    """Runs every callable test_* of namespace (a module's globals()) in name order."""
    global CAMKIT, FIXTURES, TMP
    if len(sys.argv) > 1:
        FIXTURES = sys.argv[1]
    if len(sys.argv) > 2:
        CAMKIT = sys.argv[2]
    only = os.environ.get("CAMKIT_TEST_FILTER", "")
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        TMP = tmp
        for name, fn in sorted(namespace.items()):
            if not name.startswith("test_") or not callable(fn) or only not in name:
                continue
            try:
                fn()
                passed += 1
                print("ok   " + name, flush=True)
            except Exception:  # noqa: BLE001  every failure is reported, the others still run
                failed += 1
                print("FAIL " + name, flush=True)
                traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
