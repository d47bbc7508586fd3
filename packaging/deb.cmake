# `cpack -G DEB` (in the build folder): one package "camkit" with the library, headers, the
# command and the Python module under /usr. Its dependencies on the Debian 12 runtime packages
# come from dpkg-shlibdeps on the installed binaries (libtorch1.13, libopencv-*406, libdcmtk17,
# libpng16-16, libjpeg62-turbo, libtiff6, zlib1g, libstdc++6, ...); the Python module adds
# what it imports. README, "Debian package".
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME camkit)
set(CPACK_PACKAGE_VENDOR camkit)
set(CPACK_PACKAGE_CONTACT "camkit maintainers <camkit@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "class activation maps (CAM, Grad-CAM, Score-CAM) for TorchScript image classifiers")
string(CONCAT CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "camkit explains the decisions of TorchScript image classifiers with class activation maps: "
  "the camkit command, the C++ library (libcamkit, with a CMake package and a pkg-config "
  "file) and the Python module camkit.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libcamkit itself is in the package: dpkg-shlibdeps resolves it there.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_INSTALL_LIBDIR})
# Debian's Python 3.11 and NumPy for the module; OpenBLAS because LibTorch's linear layers
# call the system BLAS, and the reference BLAS Debian falls back to is ~8x slower.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "python3 (>= 3.11), python3 (<< 3.12), python3-numpy")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libopenblas0-openmp")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "python3-torch")
set(CPACK_STRIP_FILES ON)
include(CPack)
