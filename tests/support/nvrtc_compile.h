#pragma once
// What the NVRTC source tests share (no GPU needed): compile a kernel source for Hopper (sm_90a) into a cubin
// cache of this process's own, created on first use and removed at exit, so nothing is skipped as already
// compiled by an earlier run.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "synaptix/backend/cuda/nvrtc_compiler.h"

namespace synaptix::testing {

inline void use_fresh_cubin_cache() {
  static const bool done = [] {
    auto d = std::filesystem::temp_directory_path() / ("synaptix-nvrtc-test-" + std::to_string(::getpid()));
    std::filesystem::remove_all(d);
    ::setenv("SYNAPTIX_CACHE_DIR", d.c_str(), 1);
    std::atexit([] {  // by the variable, not `d`: statics may already be gone at exit
      std::error_code ec;
      if (const char* env = std::getenv("SYNAPTIX_CACHE_DIR")) std::filesystem::remove_all(env, ec);
    });
    return true;
  }();
  (void)done;
}

// Compiles `src` for sm_90a; a test failure (naming `name`) unless a cubin comes out.
inline void expect_compiles(const std::string& src, const std::string& name) {
  use_fresh_cubin_cache();
  auto c = backend::cuda::compile_cubin(src, "sm_90a", name);
  EXPECT_GT(c.cubin.size(), 100u) << name;
}

}  // namespace synaptix::testing
