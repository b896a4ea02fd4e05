# libFuzzer targets (fuzz/<name>_fuzz.cpp -> fuzz_<name>), built in their own directory with Clang:
#   cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
#         -DSYNAPTIX_FUZZ=ON -DSYNAPTIX_TESTS=OFF -DSYNAPTIX_CUDA=OFF
# Included before the layers so that every library a target links is instrumented too (coverage for the
# fuzzer, ASan/UBSan for the crash). scripts/fuzz.sh builds and runs them; scripts/test.sh calls it.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "SYNAPTIX_FUZZ needs Clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++")
endif()
if(SYNAPTIX_SANITIZE)
  message(FATAL_ERROR "SYNAPTIX_FUZZ brings its own sanitizers; leave SYNAPTIX_SANITIZE off")
endif()

set(SYNAPTIX_FUZZ_SANITIZERS address,undefined)
add_compile_options(-fsanitize=fuzzer-no-link,${SYNAPTIX_FUZZ_SANITIZERS} -fno-sanitize-recover=undefined
                    -fno-omit-frame-pointer)
add_link_options(-fsanitize=${SYNAPTIX_FUZZ_SANITIZERS})

# The request-body target compiles the OpenAI schema parser (and the body limits it checks first) on its own:
# linking the serve layer would drag in the engine, kernels and tuner, none of which a request body reaches
# before it is validated.
set(_fuzz_extra_request_body "")
foreach(_f openai_api.cpp json_guard.cpp)
  if(EXISTS ${CMAKE_SOURCE_DIR}/src/synaptix/serve/${_f})
    list(APPEND _fuzz_extra_request_body ${CMAKE_SOURCE_DIR}/src/synaptix/serve/${_f})
  endif()
endforeach()

file(GLOB _fuzz_srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/*_fuzz.cpp)
set(SYNAPTIX_FUZZ_TARGETS "")
foreach(src IN LISTS _fuzz_srcs)
  get_filename_component(_name ${src} NAME_WE)
  string(REGEX REPLACE "_fuzz$" "" _name ${_name})
  add_executable(fuzz_${_name} ${src} ${_fuzz_extra_${_name}})
  target_link_libraries(fuzz_${_name} PRIVATE synaptix_model)
  target_include_directories(fuzz_${_name} PRIVATE ${CMAKE_SOURCE_DIR}/fuzz)
  target_compile_definitions(fuzz_${_name} PRIVATE SYNAPTIX_SHARED_DIR="${CMAKE_SOURCE_DIR}/../shared")
  target_link_options(fuzz_${_name} PRIVATE -fsanitize=fuzzer)
  list(APPEND SYNAPTIX_FUZZ_TARGETS fuzz_${_name})
endforeach()
add_custom_target(fuzz_all DEPENDS ${SYNAPTIX_FUZZ_TARGETS})
