#pragma once
// CUDA C++ source -> cubin for one exact architecture, through NVRTC, with an on-disk cache keyed by
// sha256(source, arch, NVRTC version, options). Compiling needs no GPU and no driver initialisation, so the
// tuner compiles candidates in the parent and runs them in isolated children.
#include <string>
#include <vector>

namespace synaptix::backend::cuda {

struct CompiledCubin {
  std::string cubin;  // the machine code, ready for cuModuleLoadData
  std::string key;    // the cache key (hex)
  std::string log;    // NVRTC's log (warnings), empty when loaded from the cache
  bool from_cache = false;
};

// "13.0"
std::string nvrtc_version();

// Directory of the cubin cache: $SYNAPTIX_CACHE_DIR/cubin, else $XDG_CACHE_HOME/synaptix/cubin, else
// $HOME/.cache/synaptix/cubin (created on first use).
std::string cubin_cache_dir();

// Compiles `source` for `arch` ("sm_90a"). Throws synaptix::Error carrying `name` and NVRTC's log when the
// source does not compile. A cache hit skips NVRTC; a cache file that cannot be written only costs time.
CompiledCubin compile_cubin(const std::string& source, const std::string& arch, const std::string& name,
                            const std::vector<std::string>& options = {});

}  // namespace synaptix::backend::cuda
