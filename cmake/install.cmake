# `cmake --install BUILD --prefix P` puts in P: bin/pareto, lib/libpareto.a
# (and libpareto.so), include/pareto/*, lib/cmake/pareto (find_package(pareto)
# gives pareto::pareto) and lib/pkgconfig/pareto.pc. tests/consumer builds a
# project outside the tree against it.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(PARETO_INSTALL_TARGETS pareto pareto_apps pareto_cli)
if(TARGET pareto_shared)
  list(APPEND PARETO_INSTALL_TARGETS pareto_shared pareto_apps_shared)
endif()
# In the export: pareto::pareto_static and pareto::apps_static, and where
# built pareto::pareto_shared and pareto::apps_shared; paretoConfig.cmake
# makes pareto::pareto and pareto::apps the shared ones where installed.
set_target_properties(pareto PROPERTIES EXPORT_NAME pareto_static)
set_target_properties(pareto_apps PROPERTIES EXPORT_NAME apps_static)
if(TARGET pareto_apps_shared)
  set_target_properties(pareto_apps_shared PROPERTIES EXPORT_NAME apps_shared)
endif()
install(TARGETS ${PARETO_INSTALL_TARGETS} EXPORT paretoTargets
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/pareto DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp" PATTERN "serve.hpp" EXCLUDE)
install(EXPORT paretoTargets NAMESPACE pareto:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pareto)
configure_package_config_file(cmake/paretoConfig.cmake.in ${PROJECT_BINARY_DIR}/paretoConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pareto)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/paretoConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/paretoConfig.cmake ${PROJECT_BINARY_DIR}/paretoConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pareto)

# pkg-config: pareto (the engine) and pareto-apps; the shared libraries by
# default, `--static` adds what the .a files need.
set(PARETO_PC_PRIVATE "-lstdc++ -lm")
if(PARETO_OPENMP)
  string(APPEND PARETO_PC_PRIVATE " -fopenmp")
endif()
# The .pc files find the prefix from their own folder (pcfiledir): one ".."
# per part of the library folder (lib, or lib/x86_64-linux-gnu) plus
# pkgconfig; an absolute library folder is written as it is.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(PARETO_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(PARETO_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  set(PARETO_PC_PREFIX "\${pcfiledir}/..")
  string(REPLACE "/" ";" libdir_parts "${CMAKE_INSTALL_LIBDIR}")
  foreach(part ${libdir_parts})
    string(APPEND PARETO_PC_PREFIX "/..")
  endforeach()
  set(PARETO_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
configure_file(cmake/pareto.pc.in ${PROJECT_BINARY_DIR}/pareto.pc @ONLY)
configure_file(cmake/pareto-apps.pc.in ${PROJECT_BINARY_DIR}/pareto-apps.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/pareto.pc ${PROJECT_BINARY_DIR}/pareto-apps.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
