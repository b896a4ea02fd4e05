# The layer order by #include, for CPU and CUDA code alike (cmake -P; layers.cmake runs it whenever a
# source changes). A file under src/synaptix/<layer>/ may include headers of its own layer and of the layers
# below it, never above: the CPU libraries' link order only catches calls into a higher layer, and all CUDA
# code links into one library, so the includes are what a check can rely on. Kernel source generators
# (kernels/**/cuda/*_source.cpp, the driver-free library synaptix_cuda_sources) include neither hw/cuda nor
# backend/ headers: they only write CUDA C++ for NVRTC.
# Inputs: ROOT (src/synaptix), LAYERS (bottom up, comma-separated), EXEMPT (paths under ROOT, comma-separated,
# files that still break the order), STAMP (touched when the check passes).
cmake_minimum_required(VERSION 3.22)
string(REPLACE "," ";" LAYERS "${LAYERS}")
string(REPLACE "," ";" EXEMPT "${EXEMPT}")
file(GLOB_RECURSE files RELATIVE ${ROOT} ${ROOT}/*.h ${ROOT}/*.cpp)
list(SORT files)
set(errors "")
foreach(f IN LISTS files)
  if(f IN_LIST EXEMPT)
    continue()
  endif()
  string(REGEX MATCH "^[^/]+" layer "${f}")
  list(FIND LAYERS "${layer}" rank)
  if(rank EQUAL -1)
    string(APPEND errors "  src/synaptix/${f}: not inside a layer folder (${LAYERS})\n")
    continue()
  endif()
  file(STRINGS ${ROOT}/${f} includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"synaptix/")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"(synaptix/[^\"]*)\".*" "\\1" header "${line}")
    string(REGEX REPLACE "^synaptix/([^/]+)/.*" "\\1" target "${header}")
    list(FIND LAYERS "${target}" target_rank)
    if(target_rank GREATER rank)
      string(APPEND errors "  src/synaptix/${f} includes ${header}: ${layer}/ sits below ${target}/\n")
    endif()
    if(f MATCHES "/cuda/[^/]*_source\\.cpp$" AND header MATCHES "^synaptix/(hw/cuda|backend)/")
      string(APPEND errors "  src/synaptix/${f} includes ${header}: a kernel source generator stays driver-free "
                           "(its launcher belongs in backend/cuda/launch/)\n")
    endif()
  endforeach()
endforeach()
if(errors)
  string(REPLACE ";" " < " order "${LAYERS}")
  message(FATAL_ERROR "Layer order (${order}; docs/ARCHITECTURE.md) broken by:\n${errors}")
endif()
file(TOUCH ${STAMP})
