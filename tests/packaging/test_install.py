"""`cmake --install` into a temporary prefix: the library, headers, command, Python module,
CMake package and pkg-config file land there; examples/explain_service builds against it
through find_package(camkit) alone and runs; the Python module imports from it."""

import json
import os
import re
import subprocess

import pytest

from conftest import BUILD, PYTHON, ROOT, has_python_module, run

DOG = "/usr/share/darknet/data/dog.jpg"
MODEL = os.path.join(ROOT, "models", "squeezenet1_1.pt")


def loaded_camkit(binary):
    """The libcamkit the dynamic loader picks for `binary`."""
    for line in run("ldd", binary).stdout.splitlines():
        if line.strip().startswith("libcamkit.so"):
            return os.path.normpath(line.split("=>")[1].split("(")[0].strip())
    return None


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    prefix = tmp_path_factory.mktemp("prefix")
    run("cmake", "--install", BUILD, "--prefix", prefix)
    return prefix


def test_layout(prefix):
    for path in ["bin/camkit", "lib/libcamkit.so", "include/camkit/explain.hpp",
                 "include/camkit/record.hpp", "lib/cmake/camkit/camkitConfig.cmake",
                 "lib/cmake/camkit/camkitConfigVersion.cmake", "lib/cmake/camkit/camkitTargets.cmake",
                 "lib/pkgconfig/camkit.pc"]:
        assert (prefix / path).exists(), path
    assert os.path.realpath(prefix / "lib/libcamkit.so").endswith("libcamkit.so.0.1.0")
    if has_python_module():
        package = prefix / "lib/python3/dist-packages/camkit"
        assert (package / "__init__.py").exists()
        assert any(f.startswith("_camkit.cpython") for f in os.listdir(package))


def test_public_headers_include_only_camkit_and_the_standard_library(prefix):
    for name in os.listdir(prefix / "include/camkit"):
        text = (prefix / "include/camkit" / name).read_text()
        for included in re.findall(r'#include\s*[<"]([^>"]+)[>"]', text):
            standard = "/" not in included and "." not in included  # <vector>, <cstdint>
            assert included.startswith("camkit/") or standard, f"{name} includes {included}"
        code = "\n".join(line.split("//")[0] for line in text.splitlines())
        assert not re.search(r"\b(torch|at|c10|cv)::", code), name


def test_the_installed_command_runs_on_the_installed_library(prefix, tmp_path):
    out = run(prefix / "bin/camkit", "explain", MODEL, DOG, "-o", tmp_path / "out", "--json")
    record = json.loads(out.stdout.splitlines()[0])
    assert loaded_camkit(prefix / "bin/camkit") == str(prefix / "lib/libcamkit.so.0.1")
    assert record["predictions"][0]["class"] == 537


def test_example_builds_through_find_package_and_runs(prefix, tmp_path):
    build = tmp_path / "build"
    run("cmake", "-S", os.path.join(ROOT, "examples", "explain_service"), "-B", build,
        "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_PREFIX_PATH={prefix}")
    run("cmake", "--build", build)
    binary = build / "explain_service"
    assert loaded_camkit(binary) == str(prefix / "lib/libcamkit.so.0.1")
    missing = tmp_path / "missing.jpg"
    r = subprocess.run([binary, MODEL], input=f"{DOG}\n{missing}\n", capture_output=True,
                       text=True)
    assert r.returncode == 1, r.stderr
    ok, failed = map(json.loads, r.stdout.splitlines())
    assert ok["input"] == DOG and ok["class"] == 537 and ok["label"] == "dogsled"
    assert ok["box"] == [130, 101, 588, 540]
    assert failed == {"input": str(missing), "error": f"{missing}: no such file"}


def test_pkg_config(prefix, tmp_path):
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib/pkgconfig"))
    flags = run("pkg-config", "--cflags", "--libs", "camkit", env=env).stdout.split()
    # The prefix is found from the .pc file's own place: the tree may have been moved.
    normal = [f[:2] + os.path.normpath(f[2:]) if f[:2] in ("-I", "-L") else f for f in flags]
    assert sorted(normal) == sorted([f"-I{prefix}/include", f"-L{prefix}/lib", "-lcamkit"])
    source = tmp_path / "methods.cpp"
    source.write_text('#include <camkit/explain.hpp>\n#include <iostream>\n'
                      'int main() { for (auto& m : camkit::method_names()) std::cout << m << "\\n"; }\n')
    run("g++", "-std=c++17", source, "-o", tmp_path / "methods", *flags)
    r = run(tmp_path / "methods", env=dict(os.environ, LD_LIBRARY_PATH=str(prefix / "lib")))
    assert r.stdout.split()[:2] == ["cam", "gradcam"]


@pytest.mark.skipif(not has_python_module(), reason="the build has no Python module")
def test_python_module_imports_from_the_prefix(prefix):
    code = ("import camkit, json; m = camkit.Model(%r); r = m.explain(%r);"
            "maps = open('/proc/self/maps').read();"
            "print(json.dumps([camkit.__file__, r.classes, "
            "[l.split()[-1] for l in maps.splitlines() if 'libcamkit.so' in l][0]]))"
            % (MODEL, DOG))
    env = dict(os.environ, PYTHONPATH=str(prefix / "lib/python3/dist-packages"))
    file, classes, library = json.loads(run(PYTHON, "-c", code, env=env, cwd="/").stdout)
    assert file.startswith(str(prefix)) and classes == [537]
    assert library.startswith(str(prefix))
