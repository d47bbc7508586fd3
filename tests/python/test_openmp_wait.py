#!/usr/bin/python3
"""The camkit command runs LibTorch's OpenMP threads with a passive wait policy unless the
caller chose one (src/cli/openmp_wait.cpp, docs/batch.md "Threads").

    /usr/bin/python3 tests/python/test_openmp_wait.py FIXTURES_DIR CAMKIT_BINARY

Watched with strace: the program re-executes itself once, before any library is initialised,
with OMP_WAIT_POLICY=PASSIVE added to an environment that lacks it, and never when the caller
set a policy.
"""

import os
import re
import subprocess
import sys

import camkit_testing as ct


def execs(env):
    """The execve calls of `camkit --version` (with their environments), and its stdout."""
    log = os.path.join(ct.TMP, "strace.log")
    r = subprocess.run(["strace", "-f", "-qq", "-v", "-s", "4096", "-e", "trace=execve", "-o", log,
                        ct.CAMKIT, "--version"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    calls = [line for line in open(log) if "execve(" in line and "= 0" in line]
    return calls, r.stdout


def base_env():
    return {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}


def test_passive_policy_added_once():
    calls, out = execs(base_env())
    assert out.strip() == "camkit 0.1.0", out
    assert len(calls) == 2, calls
    assert "OMP_WAIT_POLICY" not in calls[0]
    assert calls[1].split("(", 1)[1].startswith('"/proc/self/exe"'), calls[1]
    assert len(re.findall(r'"OMP_WAIT_POLICY=PASSIVE"', calls[1])) == 1, calls[1]
    # The rest of the environment is passed on unchanged.
    assert '"CAMKIT_TEST_MARK=x y"' in execs({**base_env(), "CAMKIT_TEST_MARK": "x y"})[0][1]


def test_the_callers_policy_is_kept():
    for policy in ("ACTIVE", "passive", ""):
        calls, out = execs({**base_env(), "OMP_WAIT_POLICY": policy})
        assert out.strip() == "camkit 0.1.0", out
        assert len(calls) == 1, (policy, calls)


def test_exit_codes_and_output_pass_through():
    r = ct.run("explain", "/nonexistent-model.pt", "x.png", "-o", os.path.join(ct.TMP, "o"),
               expect=3, env=base_env())
    assert "nonexistent-model.pt" in r.stderr and r.stderr.count("\n") <= 2, r.stderr


if __name__ == "__main__":
    sys.exit(ct.main(globals()))
