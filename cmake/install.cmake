# `cmake --install BUILD --prefix P` puts in P: bin/pareto, lib/libpareto.a
# (and libpareto.so), include/pareto/*, lib/cmake/pareto (find_package(pareto)
# gives pareto::pareto) and lib/pkgconfig/pareto.pc. tests/consumer builds a
# project outside the tree against it.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(PARETO_INSTALL_TARGETS pareto pareto_cli)
if(TARGET pareto_shared)
  list(APPEND PARETO_INSTALL_TARGETS pareto_shared)
  # The CLI sits in bin/, the library in lib/: find it from there once installed.
  set_target_properties(pareto_shared PROPERTIES INSTALL_RPATH "")
endif()
# In the export the static library is pareto::pareto_static; pareto::pareto is
# the shared one where it is built, the static one otherwise (paretoConfig.cmake).
set_target_properties(pareto PROPERTIES EXPORT_NAME pareto_static)
install(TARGETS ${PARETO_INSTALL_TARGETS} EXPORT paretoTargets
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/pareto DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")
install(EXPORT paretoTargets NAMESPACE pareto:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pareto)
configure_package_config_file(cmake/paretoConfig.cmake.in ${PROJECT_BINARY_DIR}/paretoConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pareto)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/paretoConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/paretoConfig.cmake ${PROJECT_BINARY_DIR}/paretoConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pareto)

# pkg-config: the shared library by default, `--static` adds what libpareto.a needs.
set(PARETO_PC_PRIVATE "-lpng -ljpeg -lstdc++ -lm")
if(PARETO_OPENMP)
  string(APPEND PARETO_PC_PRIVATE " -fopenmp")
endif()
# pareto.pc finds the prefix from its own folder (pcfiledir): one ".." per
# part of the library folder (lib, or lib/x86_64-linux-gnu) plus pkgconfig.
set(PARETO_PC_UP "..")
string(REPLACE "/" ";" libdir_parts "${CMAKE_INSTALL_LIBDIR}")
foreach(part ${libdir_parts})
  string(APPEND PARETO_PC_UP "/..")
endforeach()
configure_file(cmake/pareto.pc.in ${PROJECT_BINARY_DIR}/pareto.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/pareto.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
