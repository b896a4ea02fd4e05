#pragma once
// The CPU target: what it is (model, ISA, cores, caches, the compiler that builds kernels for it) and what it
// can do (measured memory read bandwidth and f32 FMA throughput). The fingerprint names the target in the
// tuning database and in recipes: two machines with the same fingerprint run the same generated code equally.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace synaptix::hw {

struct CpuIsa {
  bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512_bf16 = false, avx512_vnni = false;
  bool neon = false;
  // Flags joined by ',' in a fixed order (only those present).
  std::string to_string() const;
};

struct CacheLevel {
  int level = 0;
  std::string type;  // Data | Instruction | Unified
  int64_t size_bytes = 0;
};

struct HostCompiler {
  std::string command;  // as invoked ("c++" unless SYNAPTIX_CXX says otherwise)
  std::string id;       // first line of `--version`, e.g. "c++ (Debian 12.2.0-14) 12.2.0"
  std::string version;  // `-dumpfullversion`, e.g. "12.2.0"
};

struct CpuProfile {
  std::string model_name;
  std::string arch;  // x86_64 | aarch64 | ...
  CpuIsa isa;
  int logical_cores = 0;
  int physical_cores = 0;
  std::vector<CacheLevel> caches;
  HostCompiler compiler;
  // Measured ceilings; 0 when not measured.
  double mem_read_gbps = 0;
  double fma_gflops = 0;

  int64_t last_level_cache_bytes() const;
  // "cpu|<arch>|<model>|<isa>|<cores>c|L1d..|L2..|L3..|<compiler id>": stable across runs on one machine.
  std::string fingerprint() const;
  // First 16 hex digits of sha256(fingerprint()).
  std::string fingerprint_hash() const;
};

// The host compiler generated kernels are built with: $SYNAPTIX_CXX or "c++". Throws when it cannot be run.
HostCompiler probe_host_compiler();

// Probes the static facts; with `measure`, also runs the bandwidth and FLOP/s measurements (about a second).
CpuProfile probe_cpu(bool measure);

// Multi-threaded streaming read over `bytes` (>> last-level cache), best of `repeats`; GB/s.
double measure_read_bandwidth(int threads, int64_t bytes, int repeats);
// f32 FMA throughput with independent vector chains on every thread, best of `repeats`; GFLOP/s.
double measure_fma_gflops(int threads, int repeats);

nlohmann::json to_json(const CpuProfile& p);
// Human-readable, one fact a line.
std::string describe(const CpuProfile& p);

}  // namespace synaptix::hw
