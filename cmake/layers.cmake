# tlbscope_layer(TARGET DIR [SOURCES ...] [DEPS ...] [EXTERNAL ...])
#
# One layer of ARCHITECTURE.md: the folder DIR (relative to the project root)
# built as TARGET. Its headers are reachable only through
# ${CMAKE_BINARY_DIR}/layers/TARGET, a tree holding one link, DIR -> the
# folder, which TARGET exports PUBLIC. So a file sees "DIR/x.h" only if its
# target links the layer DIR, directly or through another layer's PUBLIC
# deps: an include across an edge the link does not have fails to compile
# ("vmm/devices/serial.h: No such file or directory"). DEPS are the layers
# this one may use (PUBLIC: a header of this layer may include theirs);
# EXTERNAL are libraries outside the project (PRIVATE unless a header needs
# them, in which case list them in PUBLIC_EXTERNAL).
function(tlbscope_layer target dir)
  cmake_parse_arguments(L "" "" "SOURCES;DEPS;EXTERNAL;PUBLIC_EXTERNAL" ${ARGN})
  set(root ${CMAKE_BINARY_DIR}/layers/${target})
  get_filename_component(parent ${root}/${dir} DIRECTORY)
  file(MAKE_DIRECTORY ${parent})
  file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${dir} ${root}/${dir} SYMBOLIC)
  if(L_SOURCES)
    add_library(${target} STATIC ${L_SOURCES})
    target_include_directories(${target} PUBLIC ${root})
    target_link_libraries(${target} PUBLIC ${L_DEPS} ${L_PUBLIC_EXTERNAL} PRIVATE ${L_EXTERNAL})
    target_compile_options(${target} PRIVATE -Wall -Wextra)
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${root})
    target_link_libraries(${target} INTERFACE ${L_DEPS} ${L_PUBLIC_EXTERNAL} ${L_EXTERNAL})
  endif()
endfunction()
