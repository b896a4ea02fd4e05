# CUDA kernels live in real files (src/synaptix/**/cuda/*.cu and *.cuh); this embeds them into the CUDA
# library at build time as one generated C++ file (NVRTC compiles them at run time for the exact device).
file(GLOB_RECURSE SYNAPTIX_CUDA_KERNEL_FILES CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/src/synaptix/*.cu ${CMAKE_SOURCE_DIR}/src/synaptix/*.cuh)
list(FILTER SYNAPTIX_CUDA_KERNEL_FILES INCLUDE REGEX "/cuda/")
set(SYNAPTIX_CUDA_EMBEDDED ${CMAKE_BINARY_DIR}/generated/cuda_sources.cpp)
add_custom_command(
  OUTPUT ${SYNAPTIX_CUDA_EMBEDDED}
  COMMAND ${CMAKE_COMMAND} -DROOT=${CMAKE_SOURCE_DIR}/src/synaptix -DOUT=${SYNAPTIX_CUDA_EMBEDDED}
          -P ${CMAKE_SOURCE_DIR}/cmake/embed_cuda_sources.cmake
  DEPENDS ${SYNAPTIX_CUDA_KERNEL_FILES} ${CMAKE_SOURCE_DIR}/cmake/embed_cuda_sources.cmake
  COMMENT "Embedding CUDA kernel sources"
  VERBATIM)
