# Layers as object libraries whose include roots encode what may use what.
#
# Sources include each other as "layer/file.h" from src/. Giving every target
# src/ would let any file include any layer, so each layer instead gets an
# include root of its own in the build tree holding one link, <root>/<layer>
# -> src/<layer>. A layer compiles with its root, the roots of the layers it
# lists in DEPS (not theirs in turn: a layer names every layer it includes),
# and include/ (the public headers). An #include of an undeclared layer is a
# "file not found" at compile time.

set(PARETO_LAYER_ROOTS ${PROJECT_BINARY_DIR}/layer-include)
option(PARETO_BUILD_SHARED "Build libpareto.so beside libpareto.a (not in sanitizer builds)" ON)

function(pareto_layer_root layer out)
  set(root ${PARETO_LAYER_ROOTS}/${layer})
  if(NOT EXISTS ${root}/${layer})
    file(MAKE_DIRECTORY ${root})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${layer} ${root}/${layer} SYMBOLIC)
  endif()
  set(${out} ${root} PARENT_SCOPE)
endfunction()

# pareto_layer(NAME SOURCES file... [DEPS layer...]) -> object library pareto_NAME
function(pareto_layer name)
  cmake_parse_arguments(L "" "" "SOURCES;DEPS" ${ARGN})
  add_library(pareto_layer_${name} OBJECT ${L_SOURCES})
  pareto_layer_root(${name} root)
  target_include_directories(pareto_layer_${name} PRIVATE ${root} ${PROJECT_SOURCE_DIR}/include)
  foreach(dep ${L_DEPS})
    pareto_layer_root(${dep} dep_root)
    target_include_directories(pareto_layer_${name} PRIVATE ${dep_root})
    # The edge itself: object libraries link nothing, but CMake refuses a
    # cycle among them at configure time (only static libraries may form one).
    target_link_libraries(pareto_layer_${name} PRIVATE pareto_layer_${dep})
  endforeach()
  set_target_properties(pareto_layer_${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  set_property(TARGET pareto_layer_${name} PROPERTY PARETO_LAYER_DEPS "${L_DEPS}")
  set_property(GLOBAL APPEND PROPERTY PARETO_LAYERS ${name})
endfunction()

# pareto_layer_part(LAYER PART FLAGS flag... SOURCES file...): sources of LAYER
# compiled with their own flags (ISA variants), under LAYER's include rules.
function(pareto_layer_part layer part)
  cmake_parse_arguments(L "" "" "FLAGS;SOURCES" ${ARGN})
  set(t pareto_layer_${layer}_${part})
  add_library(${t} OBJECT ${L_SOURCES})
  target_compile_options(${t} PRIVATE ${L_FLAGS})
  target_include_directories(${t} PRIVATE $<TARGET_PROPERTY:pareto_layer_${layer},INCLUDE_DIRECTORIES>)
  set_target_properties(${t} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  set_property(TARGET pareto_layer_${layer} APPEND PROPERTY PARETO_LAYER_PARTS ${t})
endfunction()

# The libraries users link: the engine (every layer but apps) in libpareto.a
# (target `pareto`) and, outside sanitizer builds, libpareto.so
# (`pareto_shared`); the apps layer (OCR, VAD, and the image codecs it needs)
# in libpareto_apps.a / .so on top, so that an engine user links no codec.
function(pareto_objects_of layer out)
  set(objects $<TARGET_OBJECTS:pareto_layer_${layer}>)
  get_target_property(parts pareto_layer_${layer} PARETO_LAYER_PARTS)
  if(parts)
    foreach(p ${parts})
      list(APPEND objects $<TARGET_OBJECTS:${p}>)
    endforeach()
  endif()
  set(${out} ${objects} PARENT_SCOPE)
endfunction()

function(pareto_library)
  set(engine)
  get_property(layers GLOBAL PROPERTY PARETO_LAYERS)
  foreach(layer ${layers})
    if(NOT layer STREQUAL apps AND NOT layer STREQUAL serve)
      pareto_objects_of(${layer} objects)
      list(APPEND engine ${objects})
    endif()
  endforeach()
  pareto_objects_of(apps apps_objects)
  set(kinds STATIC)
  if(PARETO_BUILD_SHARED AND NOT (PARETO_SANITIZE OR PARETO_FUZZ OR PARETO_TSAN))
    list(APPEND kinds SHARED)
  endif()
  foreach(kind ${kinds})
    set(suffix "")
    if(kind STREQUAL SHARED)
      set(suffix _shared)
    endif()
    add_library(pareto${suffix} ${kind} ${engine})
    set_target_properties(pareto${suffix} PROPERTIES OUTPUT_NAME pareto VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
    target_include_directories(pareto${suffix} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>)
    target_link_libraries(pareto${suffix} PUBLIC Threads::Threads)
    if(PARETO_OPENMP)
      target_link_libraries(pareto${suffix} PUBLIC OpenMP::OpenMP_CXX)
    endif()
    add_library(pareto_apps${suffix} ${kind} ${apps_objects})
    set_target_properties(pareto_apps${suffix} PROPERTIES OUTPUT_NAME pareto_apps VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
    target_link_libraries(pareto_apps${suffix} PUBLIC pareto${suffix} PRIVATE PNG::PNG JPEG::JPEG)
  endforeach()
  # The server: a static library for the CLI and the tests (not installed).
  pareto_objects_of(serve serve_objects)
  add_library(pareto_serve STATIC ${serve_objects})
  target_link_libraries(pareto_serve PUBLIC pareto_apps PRIVATE PkgConfig::HTTPLIB)
  target_include_directories(pareto_serve PUBLIC ${PROJECT_SOURCE_DIR}/src)
  # Tests, benchmarks and fuzz harnesses look inside the layers; nothing installed does.
  add_library(pareto_internal INTERFACE)
  target_link_libraries(pareto_internal INTERFACE pareto_apps pareto)
  target_include_directories(pareto_internal INTERFACE ${PROJECT_SOURCE_DIR}/src)
endfunction()
