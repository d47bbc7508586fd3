# What `cmake --install` puts under the prefix: the shared library, the public headers, the
# camkit command, the Python module, a CMake package (find_package(camkit) -> camkit::camkit)
# and a pkg-config file. Paths are relative, so `--prefix` moves all of it.
include(CMakePackageConfigHelpers)

set(CAMKIT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/camkit)
install(TARGETS camkit_shared EXPORT camkitTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY include/camkit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS camkit_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT camkitTargets NAMESPACE camkit:: DESTINATION ${CAMKIT_CMAKE_DIR})

configure_package_config_file(packaging/camkitConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/packaging/camkitConfig.cmake INSTALL_DESTINATION ${CAMKIT_CMAKE_DIR})
# 0.x: every minor version may change the C++ API (structs grow fields).
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/packaging/camkitConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/packaging/camkitConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/packaging/camkitConfigVersion.cmake DESTINATION ${CAMKIT_CMAKE_DIR})

file(RELATIVE_PATH CAMKIT_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(packaging/camkit.pc.in ${CMAKE_CURRENT_BINARY_DIR}/packaging/camkit.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/packaging/camkit.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
