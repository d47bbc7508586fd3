"""`cpack -G DEB`: the package's control data (its dependencies are Debian 12 runtime
packages, each installed here, none a -dev package) and its file list."""

import glob
import os
import re
import subprocess

import pytest

from conftest import BUILD, has_python_module, run


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    run("cpack", "-G", "DEB", "-B", out, "--config", os.path.join(BUILD, "CPackConfig.cmake"))
    (path,) = glob.glob(str(out / "*.deb"))
    return path


def control(deb):
    text = run("dpkg-deb", "-f", deb).stdout
    fields, key = {}, None
    for line in text.splitlines():
        if line.startswith(" ") and key:
            fields[key] += "\n" + line.strip()
        else:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def test_control_data(deb):
    assert "Package: camkit" in run("dpkg-deb", "-I", deb).stdout
    c = control(deb)
    assert c["Package"] == "camkit" and c["Version"] == "0.1.0"
    assert c["Architecture"] == "amd64" and c["Section"] == "science"
    depends = [d.strip() for d in c["Depends"].split(",")]
    names = {re.match(r"[a-z0-9.+-]+", d).group(0) for d in depends}
    # What camkit links (dpkg-shlibdeps) and what the Python module imports.
    for lib in ["libtorch1.13", "libopencv-core406", "libopencv-imgproc406",
                "libopencv-imgcodecs406", "libdcmtk17", "libpng16-16", "libjpeg62-turbo",
                "libtiff6", "zlib1g", "libstdc++6", "libc6", "python3", "python3-numpy"]:
        assert lib in names, f"{lib} not in Depends: {c['Depends']}"
    assert not [n for n in names if n.endswith("-dev")], c["Depends"]
    for name in names:
        r = subprocess.run(["dpkg-query", "-W", name], capture_output=True, text=True)
        assert r.returncode == 0, f"{name}: not a package of this Debian 12 system"
    assert c.get("Recommends") == "libopenblas0-openmp"


def test_file_list(deb):
    listing = run("dpkg-deb", "-c", deb).stdout
    files = {line.split()[5].lstrip(".") for line in listing.splitlines()}
    expected = {"/usr/bin/camkit", "/usr/lib/libcamkit.so.0.1.0", "/usr/lib/libcamkit.so.0.1",
                "/usr/lib/libcamkit.so", "/usr/include/camkit/model.hpp",
                "/usr/include/camkit/explain.hpp", "/usr/lib/cmake/camkit/camkitConfig.cmake",
                "/usr/lib/cmake/camkit/camkitTargets.cmake", "/usr/lib/pkgconfig/camkit.pc"}
    if has_python_module():
        expected |= {"/usr/lib/python3/dist-packages/camkit/__init__.py"}
        assert any(f.startswith("/usr/lib/python3/dist-packages/camkit/_camkit.cpython")
                   for f in files)
    assert expected <= files, expected - files
    assert all(f.startswith("/usr/") or f in ("/", "/usr") for f in files), files
