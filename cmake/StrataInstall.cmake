# The SDK: include/strata/<module>/*.h, libstrata, and a CMake package exporting Strata::strata.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

foreach(module IN LISTS STRATA_MODULES)
  install(DIRECTORY ${CMAKE_SOURCE_DIR}/${module}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/strata/${module}
          FILES_MATCHING PATTERN "*.h")
endforeach()
install(FILES ${CMAKE_SOURCE_DIR}/strata.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/strata)

install(TARGETS strata EXPORT StrataTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS strata-run RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(STRATA_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Strata)
install(EXPORT StrataTargets NAMESPACE Strata:: DESTINATION ${STRATA_CMAKE_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/StrataConfig.cmake.in
  ${CMAKE_BINARY_DIR}/StrataConfig.cmake INSTALL_DESTINATION ${STRATA_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/StrataConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/StrataConfig.cmake ${CMAKE_BINARY_DIR}/StrataConfigVersion.cmake
        DESTINATION ${STRATA_CMAKE_DIR})
