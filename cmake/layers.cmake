# One static library per architecture layer (../shared/docs/ARCHITECTURE.md), each linking only the layers
# below it. Sources are globbed so that adding a file never means editing a shared build file. Files under a
# folder named `cuda/` go into synaptix_cuda, built only when the CUDA toolkit is found.
# quant (block formats and their reference (de)quantizers) sits below model: loaders dequantize GGUF blocks and
# kernels execute them; the quantization search that uses the engine and eval lives in agents.
set(SYNAPTIX_LAYERS core hw quant model graph kernels backend tune engine eval agents registry serve)
set(SYNAPTIX_DEFS SYNAPTIX_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
if(SYNAPTIX_HAVE_CUDA)
  list(APPEND SYNAPTIX_DEFS SYNAPTIX_HAVE_CUDA=1)
endif()

# The layer order by #include (cmake/check_layers.cmake), checked whenever a source changes, before any layer
# compiles. SYNAPTIX_LAYER_EXEMPT: files that still break it, each with the change that removes it.
set(SYNAPTIX_LAYER_EXEMPT
)
file(GLOB_RECURSE _layer_files CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/synaptix/*.h
     ${CMAKE_SOURCE_DIR}/src/synaptix/*.cpp)
string(REPLACE ";" "," _layer_list "${SYNAPTIX_LAYERS}")
string(REPLACE ";" "," _layer_exempt "${SYNAPTIX_LAYER_EXEMPT}")
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/layer_order.stamp
  COMMAND ${CMAKE_COMMAND} -DROOT=${CMAKE_SOURCE_DIR}/src/synaptix -DLAYERS=${_layer_list}
          -DEXEMPT=${_layer_exempt} -DSTAMP=${CMAKE_BINARY_DIR}/layer_order.stamp
          -P ${CMAKE_SOURCE_DIR}/cmake/check_layers.cmake
  DEPENDS ${_layer_files} ${CMAKE_SOURCE_DIR}/cmake/check_layers.cmake
  COMMENT "Checking the layer order of #includes"
  VERBATIM)
add_custom_target(synaptix_layer_order DEPENDS ${CMAKE_BINARY_DIR}/layer_order.stamp)

set(_below "")
set(SYNAPTIX_CUDA_SOURCES "")
set(SYNAPTIX_CUDA_SOURCE_GEN "")
foreach(layer IN LISTS SYNAPTIX_LAYERS)
  file(GLOB_RECURSE _srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/synaptix/${layer}/*.cpp)
  set(_cpu_srcs "")
  foreach(s IN LISTS _srcs)
    if(s MATCHES "/kernels/.*/cuda/[^/]*_source\\.cpp$" OR s MATCHES "/backend/cuda/nvrtc_compiler\\.cpp$")
      list(APPEND SYNAPTIX_CUDA_SOURCE_GEN ${s})
    elseif(s MATCHES "/cuda/")
      list(APPEND SYNAPTIX_CUDA_SOURCES ${s})
    else()
      list(APPEND _cpu_srcs ${s})
    endif()
  endforeach()
  set(_t synaptix_${layer})
  if(_cpu_srcs)
    add_library(${_t} STATIC ${_cpu_srcs})
    target_include_directories(${_t} PUBLIC ${CMAKE_SOURCE_DIR}/src)
    target_compile_definitions(${_t} PUBLIC ${SYNAPTIX_DEFS})
    target_link_libraries(${_t} PUBLIC ${_below} Threads::Threads nlohmann_json::nlohmann_json ${CMAKE_DL_LIBS})
  else()
    add_library(${_t} INTERFACE)
    target_include_directories(${_t} INTERFACE ${CMAKE_SOURCE_DIR}/src)
    target_compile_definitions(${_t} INTERFACE ${SYNAPTIX_DEFS})
    target_link_libraries(${_t} INTERFACE ${_below} Threads::Threads nlohmann_json::nlohmann_json ${CMAKE_DL_LIBS})
  endif()
  add_dependencies(${_t} synaptix_layer_order)
  set(_below ${_t})
endforeach()

# Third-party libraries, attached to the layer that uses them.
target_link_libraries(synaptix_core PUBLIC OpenSSL::Crypto)
target_link_libraries(synaptix_model PUBLIC PkgConfig::PCRE2 PkgConfig::UTF8PROC)
# A layer with no sources yet is an INTERFACE library, which takes its dependencies as INTERFACE.
function(synaptix_layer_link layer)
  get_target_property(_type ${layer} TYPE)
  if(_type STREQUAL "INTERFACE_LIBRARY")
    target_link_libraries(${layer} INTERFACE ${ARGN})
  else()
    target_link_libraries(${layer} PUBLIC ${ARGN})
  endif()
endfunction()
synaptix_layer_link(synaptix_tune SQLite::SQLite3)
# The replay benchmark (eval) is an HTTP client; the server (serve) sits above eval and inherits it.
synaptix_layer_link(synaptix_eval PkgConfig::HTTPLIB)
if(BLAS_FOUND)
  target_compile_definitions(synaptix_core PUBLIC SYNAPTIX_HAVE_BLAS=1)
endif()

# Two programs: `synaptix` never links the CUDA driver, so it starts on any machine (CI has the toolkit but
# no driver, and libcuda.so.1 comes only with a driver); `synaptix-cuda` is the same CLI plus the CUDA
# target. `synaptix` hands a command line that asks for CUDA to its sibling with exec (apps/synaptix/main.cpp).
file(GLOB_RECURSE _app_srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/apps/synaptix/*.cpp)
set(_app_cpu "")
set(_app_cuda "")
foreach(s IN LISTS _app_srcs)
  if(s MATCHES "/cuda/")
    list(APPEND _app_cuda ${s})
  else()
    list(APPEND _app_cpu ${s})
  endif()
endforeach()
add_executable(synaptix ${_app_cpu})
target_include_directories(synaptix PRIVATE ${CMAKE_SOURCE_DIR}/apps)
target_link_libraries(synaptix PRIVATE synaptix_serve CLI11::CLI11)

if(SYNAPTIX_HAVE_CUDA AND SYNAPTIX_CUDA_SOURCES)
  # The kernels' sources (embedded .cu files and the *_source.cpp generators) and NVRTC need no driver: a
  # library of their own lets CPU-only test executables compile every kernel for sm_90a without a GPU.
  include(${CMAKE_SOURCE_DIR}/cmake/cuda_sources.cmake)
  add_library(synaptix_cuda_sources STATIC ${SYNAPTIX_CUDA_SOURCE_GEN} ${SYNAPTIX_CUDA_EMBEDDED})
  # NVRTC by its file: FindCUDAToolkit's CUDA::nvrtc also pulls in the driver library (CUDA::cuda_driver).
  get_target_property(_nvrtc_lib CUDA::nvrtc IMPORTED_LOCATION)
  target_include_directories(synaptix_cuda_sources PUBLIC ${CUDAToolkit_INCLUDE_DIRS})
  target_link_libraries(synaptix_cuda_sources PUBLIC synaptix_core ${_nvrtc_lib})
  add_library(synaptix_cuda STATIC ${SYNAPTIX_CUDA_SOURCES})
  target_link_libraries(synaptix_cuda PUBLIC synaptix_serve synaptix_cuda_sources CUDA::cuda_driver CUDA::cublasLt)
  add_executable(synaptix-cuda ${_app_cpu} ${_app_cuda})
  target_include_directories(synaptix-cuda PRIVATE ${CMAKE_SOURCE_DIR}/apps)
  target_compile_definitions(synaptix-cuda PRIVATE SYNAPTIX_CUDA_BINARY=1)
  target_link_libraries(synaptix-cuda PRIVATE synaptix_cuda CLI11::CLI11)
  add_dependencies(synaptix synaptix-cuda)
endif()
