# Tests mirror src/: tests/<layer>/*_test.cpp become one executable per layer, test_<layer>.
# Tests under tests/<layer>/cuda/ need a GPU and are built only with the CUDA target.
file(GLOB _test_dirs LIST_DIRECTORIES true ${CMAKE_SOURCE_DIR}/tests/*)
foreach(dir IN LISTS _test_dirs)
  if(NOT IS_DIRECTORY ${dir})
    continue()
  endif()
  get_filename_component(layer ${dir} NAME)
  file(GLOB_RECURSE _tsrcs CONFIGURE_DEPENDS ${dir}/*_test.cpp)
  set(_cpu_t "")
  set(_cuda_t "")
  foreach(s IN LISTS _tsrcs)
    if(s MATCHES "/cuda/")
      list(APPEND _cuda_t ${s})
    else()
      list(APPEND _cpu_t ${s})
    endif()
  endforeach()
  if(_cpu_t)
    add_executable(test_${layer} ${_cpu_t})
    target_link_libraries(test_${layer} PRIVATE synaptix_serve GTest::gtest_main)
    target_include_directories(test_${layer} PRIVATE ${CMAKE_SOURCE_DIR}/tests)
    target_compile_definitions(test_${layer} PRIVATE
      SYNAPTIX_SHARED_DIR="${CMAKE_SOURCE_DIR}/../shared"
      SYNAPTIX_BINARY="$<TARGET_FILE:synaptix>")
    add_dependencies(test_${layer} synaptix)
    # NVRTC compiles kernels without a GPU or driver: CPU tests may check that every kernel source compiles.
    if(TARGET synaptix_cuda_sources)
      target_link_libraries(test_${layer} PRIVATE synaptix_cuda_sources)
    endif()
    gtest_discover_tests(test_${layer} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600)
  endif()
  if(_cuda_t AND TARGET synaptix_cuda)
    add_executable(test_${layer}_cuda ${_cuda_t})
    target_link_libraries(test_${layer}_cuda PRIVATE synaptix_cuda GTest::gtest_main)
    target_include_directories(test_${layer}_cuda PRIVATE ${CMAKE_SOURCE_DIR}/tests)
    target_compile_definitions(test_${layer}_cuda PRIVATE
      SYNAPTIX_SHARED_DIR="${CMAKE_SOURCE_DIR}/../shared"
      SYNAPTIX_BINARY="$<TARGET_FILE:synaptix>")
    # GPU tests are run by bench/gpu/run.sh on the device machine, never by CI.
  endif()
endforeach()
