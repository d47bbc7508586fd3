#!/usr/bin/env bash
# Installs the Debian 12 packages camkit needs that are missing. Usage: tools/install_deps.sh [extra...]
# libopenblas0-openmp: LibTorch's linear layers and matmuls call the system BLAS; without it Debian
# links the reference BLAS, which makes transformer models ~8x slower (convolutions use oneDNN).
# libnifti2-dev with libniftiio-dev and libznz-dev: NIfTI headers (nifti2_io.h, znzlib.h);
# python3-nibabel and ffmpeg write the 3-D tests' NIfTI files and videos, python3-pydicom their
# DICOM series; python3-scipy labels the connected components of the 3-D eval references.
# pybind11-dev, python3-dev: the Python module; python3-pytest: its tests; dpkg-dev: dpkg-shlibdeps
# for the .deb; python3-opencv: the Python benchmark's cv2 overlay loop; python3-scipy also
# serves the 3-D demo's training and tests (distances); strace: a test watches the
# command re-execute itself with its OpenMP wait policy; libeigen3-dev: ROAD's sparse solve.
set -euo pipefail
packages=(build-essential cmake pkg-config libtorch-dev libopencv-dev libcli11-dev
  nlohmann-json3-dev googletest libgtest-dev libbenchmark-dev python3-torch python3-torchvision
  python3-numpy python3-pil libdcmtk-dev dcmtk libopenblas0-openmp slurm-wlm munge libpng-dev
  libjpeg-dev zlib1g-dev libtiff-dev clang-14 libclang-rt-14-dev libnifti2-dev libniftiio-dev
  libznz-dev libopencv-videoio-dev python3-nibabel python3-pydicom ffmpeg pybind11-dev python3-dev
  python3-pytest dpkg-dev python3-opencv python3-scipy strace libeigen3-dev "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "camkit: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
