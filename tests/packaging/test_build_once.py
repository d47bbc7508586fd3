"""`make demo` and `make test` configure one build folder identically, so that either after the
other only builds what the first did not (and this build is that configuration)."""

import os
import re

from conftest import BUILD, ROOT, run


def test_demo_and_test_configure_alike():
    dry = run("make", "-n", "demo", "test", f"BUILD={BUILD}", cwd=ROOT).stdout
    configures = {line.strip() for line in dry.splitlines() if line.strip().startswith("cmake -S")}
    assert len(configures) == 1, configures
    (line,) = configures
    assert f"-B {BUILD}" in line
    cache = open(os.path.join(BUILD, "CMakeCache.txt")).read()
    for name, value in re.findall(r"-D(\w+)=(\S+)", line):
        assert re.search(rf"^{name}:\w+={re.escape(value)}$", cache, re.M), (name, value)
