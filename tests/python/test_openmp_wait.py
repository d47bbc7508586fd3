#!/usr/bin/python3
"""The camkit command runs LibTorch's OpenMP threads with a passive wait policy unless the
caller chose one (src/cli/openmp_wait.cpp, docs/batch.md "Threads").

    /usr/bin/python3 tests/python/test_openmp_wait.py FIXTURES_DIR CAMKIT_BINARY

libgomp reports the policy it took (OMP_DISPLAY_ENV=true); strace counts the program's
executions; a preloaded wrapper of __libc_start_main shows the environment main() gets. With an
entry the program may lend (the shell's "_", SHLVL ...) it starts once and main() sees the
caller's environment unchanged; without one it re-executes itself once with the variable added;
a caller's own policy is always kept.
"""

import os
import re
import subprocess
import sys

import camkit_testing as ct

# Writes the environment main() sees to $CAMKIT_TEST_ENV_LOG, then runs main().
PRELOAD_SOURCE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
typedef int (*main_fn)(int, char**, char**);
typedef int (*start_fn)(main_fn, int, char**, void (*)(void), void (*)(void), void (*)(void),
                        void*);
static main_fn real_main;
static int logging_main(int argc, char** argv, char** envp) {
  extern char** environ;
  FILE* f = fopen(getenv("CAMKIT_TEST_ENV_LOG"), "w");
  for (char** e = environ; *e; ++e) fprintf(f, "%s\n", *e);
  fclose(f);
  return real_main(argc, argv, envp);
}
int __libc_start_main(main_fn m, int argc, char** argv, void (*init)(void), void (*fini)(void),
                      void (*rtld_fini)(void), void* stack_end) {
  real_main = m;
  start_fn real = (start_fn)dlsym(RTLD_NEXT, "__libc_start_main");
  return real(logging_main, argc, argv, init, fini, rtld_fini, stack_end);
}
"""


def preload():
    lib = os.path.join(ct.TMP, "envlog.so")
    if not os.path.exists(lib):
        src = os.path.join(ct.TMP, "envlog.c")
        with open(src, "w") as f:
            f.write(PRELOAD_SOURCE)
        subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", lib, src, "-ldl"], check=True)
    return lib


def start(env):
    """`camkit --version` under strace: its successful execve calls, libgomp's report of the
    wait policy it took, and the environment main() got (None when not logged)."""
    trace = os.path.join(ct.TMP, "strace.log")
    r = subprocess.run(["strace", "-f", "-qq", "-v", "-s", "4096", "-e", "trace=execve", "-o",
                        trace, ct.CAMKIT, "--version"],
                       capture_output=True, text=True, env={**env, "OMP_DISPLAY_ENV": "true"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "camkit 0.1.0", r.stdout
    calls = [line for line in open(trace) if "execve(" in line and "= 0" in line]
    policy = re.findall(r"OMP_WAIT_POLICY = '(\w*)'", r.stderr)
    return calls, policy


def main_env(env):
    """The environment main() gets (LD_PRELOAD and the log's own variable left out)."""
    log = os.path.join(ct.TMP, "env.log")
    r = subprocess.run([ct.CAMKIT, "--version"], capture_output=True, text=True,
                       env={**env, "LD_PRELOAD": preload(), "CAMKIT_TEST_ENV_LOG": log})
    assert r.returncode == 0, r.stderr
    seen = open(log).read().splitlines()
    return [e for e in seen if not e.startswith(("LD_PRELOAD=", "CAMKIT_TEST_ENV_LOG="))]


def base_env():
    return {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}


def test_passive_policy_without_a_second_start():
    for lend in ({"_": "/usr/bin/camkit"}, {"SHLVL": "2"}, {"OLDPWD": "/tmp", "_": "x"}):
        env = {"PATH": os.environ["PATH"], "CAMKIT_TEST_MARK": "x y", **lend}
        calls, policy = start(env)
        assert len(calls) == 1, (lend, calls)
        assert policy == ["PASSIVE"], (lend, policy)
        # main() sees the caller's environment, in its order, the lent entry back in place.
        expected = [f"{k}={v}" for k, v in env.items()]
        assert main_env(env) == expected, (lend, main_env(env))


def test_passive_policy_added_once_when_nothing_can_be_lent():
    env = {"PATH": os.environ["PATH"], "CAMKIT_TEST_MARK": "x y"}
    calls, policy = start(env)
    assert policy == ["PASSIVE"], policy
    assert len(calls) == 2, calls
    assert "OMP_WAIT_POLICY" not in calls[0]
    assert calls[1].split("(", 1)[1].startswith('"/proc/self/exe"'), calls[1]
    assert len(re.findall(r'"OMP_WAIT_POLICY=PASSIVE"', calls[1])) == 1, calls[1]
    # The rest of the environment is passed on unchanged.
    assert '"CAMKIT_TEST_MARK=x y"' in calls[1], calls[1]


def test_the_callers_policy_is_kept():
    for policy in ("ACTIVE", "passive"):
        env = {**base_env(), "OMP_WAIT_POLICY": policy, "_": "x"}
        calls, taken = start(env)
        assert len(calls) == 1, (policy, calls)
        assert taken == [policy.upper()], (policy, taken)
        assert f"OMP_WAIT_POLICY={policy}" in main_env(env)
    calls, _ = start({**base_env(), "OMP_WAIT_POLICY": ""})
    assert len(calls) == 1, calls


def test_exit_codes_and_output_pass_through():
    for env in (base_env(), {"PATH": os.environ["PATH"]}):
        r = ct.run("explain", "/nonexistent-model.pt", "x.png", "-o", os.path.join(ct.TMP, "o"),
                   expect=3, env=env)
        assert "nonexistent-model.pt" in r.stderr and r.stderr.count("\n") <= 2, r.stderr


if __name__ == "__main__":
    sys.exit(ct.main(globals()))
