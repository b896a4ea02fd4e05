// Static facts about the CPU from /proc/cpuinfo and sysfs (Linux): these, not measured numbers, make up the
// fingerprint, so the fingerprint does not wobble with load on a shared machine.
#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <sys/utsname.h>

#include <nlohmann/json.hpp>

#include "synaptix/core/hash.h"
#include "synaptix/hw/cpu_isa_mask.h"
#include "synaptix/hw/cpu_profile.h"

namespace synaptix::hw {
namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string read_line(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return trim(s);
}

// "32K", "1024K", "32M" as written by sysfs.
int64_t parse_size(const std::string& s) {
  if (s.empty()) return 0;
  int64_t v = std::atoll(s.c_str());
  switch (s.back()) {
    case 'K': return v << 10;
    case 'M': return v << 20;
    case 'G': return v << 30;
    default: return v;
  }
}

std::string human_size(int64_t b) {
  if (b >= (1 << 20) && b % (1 << 20) == 0) return std::to_string(b >> 20) + "M";
  if (b >= (1 << 10) && b % (1 << 10) == 0) return std::to_string(b >> 10) + "K";
  return std::to_string(b);
}

}  // namespace

std::string CpuIsa::to_string() const {
  std::string s;
  auto add = [&](bool on, const char* n) {
    if (!on) return;
    if (!s.empty()) s += ',';
    s += n;
  };
  add(sse42, "sse4.2");
  add(avx, "avx");
  add(avx2, "avx2");
  add(fma, "fma");
  add(f16c, "f16c");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vl, "avx512vl");
  add(avx512_bf16, "avx512_bf16");
  add(avx512_vnni, "avx512_vnni");
  add(neon, "neon");
  return s;
}

int64_t CpuProfile::last_level_cache_bytes() const {
  int64_t best = 0;
  int lvl = 0;
  for (const auto& c : caches)
    if (c.type != "Instruction" && c.level >= lvl) {
      lvl = c.level;
      best = c.size_bytes;
    }
  return best;
}

std::string CpuProfile::fingerprint() const {
  std::ostringstream os;
  os << "cpu|" << arch << '|' << model_name << '|' << isa.to_string() << '|' << logical_cores << "c";
  for (const auto& c : caches)
    if (c.type != "Instruction") os << "|L" << c.level << (c.type == "Data" ? "d" : "") << ':' << human_size(c.size_bytes);
  os << '|' << compiler.id;
  return os.str();
}

std::string CpuProfile::fingerprint_hash() const { return sha256_hex(fingerprint()).substr(0, 16); }

CpuProfile probe_cpu(bool measure) {
  CpuProfile p;
  struct utsname u{};
  if (::uname(&u) == 0) p.arch = u.machine;
  std::ifstream info("/proc/cpuinfo");
  std::string line;
  std::set<std::string> flags;
  std::set<std::pair<std::string, std::string>> cores;  // (physical id, core id)
  std::string phys;
  while (std::getline(info, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = trim(line.substr(0, colon)), val = trim(line.substr(colon + 1));
    if (key == "model name" && p.model_name.empty()) p.model_name = val;
    if (key == "Hardware" && p.model_name.empty()) p.model_name = val;
    if (key == "physical id") phys = val;
    if (key == "core id") cores.insert({phys, val});
    if ((key == "flags" || key == "Features") && flags.empty()) {
      std::istringstream fs(val);
      std::string f;
      while (fs >> f) flags.insert(f);
    }
  }
  auto has = [&](const char* f) { return flags.count(f) > 0; };
  p.isa.sse42 = has("sse4_2");
  p.isa.avx = has("avx");
  p.isa.avx2 = has("avx2");
  p.isa.fma = has("fma");
  p.isa.f16c = has("f16c");
  p.isa.avx512f = has("avx512f");
  p.isa.avx512bw = has("avx512bw");
  p.isa.avx512vl = has("avx512vl");
  p.isa.avx512_bf16 = has("avx512_bf16");
  p.isa.avx512_vnni = has("avx512_vnni");
  p.isa.neon = has("asimd") || has("neon") || p.arch == "aarch64";
  mask_isa(p.isa, isa_mask_from_env());  // SYNAPTIX_CPU_MASK: probe as a CPU without those features
  if (p.model_name.empty()) p.model_name = "unknown";
  p.logical_cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  p.physical_cores = cores.empty() ? p.logical_cores : static_cast<int>(cores.size());

  for (int i = 0; i < 8; ++i) {
    std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    std::string lvl = read_line(dir + "level");
    if (lvl.empty()) break;
    CacheLevel c;
    c.level = std::atoi(lvl.c_str());
    c.type = read_line(dir + "type");
    c.size_bytes = parse_size(read_line(dir + "size"));
    p.caches.push_back(c);
  }
  p.compiler = probe_host_compiler();
  if (measure) {
    int64_t llc = std::max<int64_t>(p.last_level_cache_bytes(), 8 << 20);
    p.mem_read_gbps = measure_read_bandwidth(p.logical_cores, std::max<int64_t>(8 * llc, 256 << 20), 5);
    p.fma_gflops = measure_fma_gflops(p.logical_cores, 5);
  }
  return p;
}

nlohmann::json to_json(const CpuProfile& p) {
  nlohmann::json caches = nlohmann::json::array();
  for (const auto& c : p.caches) caches.push_back({{"level", c.level}, {"type", c.type}, {"bytes", c.size_bytes}});
  return {{"model_name", p.model_name},
          {"arch", p.arch},
          {"isa", p.isa.to_string()},
          {"logical_cores", p.logical_cores},
          {"physical_cores", p.physical_cores},
          {"caches", caches},
          {"compiler", {{"command", p.compiler.command}, {"id", p.compiler.id}, {"version", p.compiler.version}}},
          {"mem_read_gbps", p.mem_read_gbps},
          {"fma_gflops", p.fma_gflops},
          {"fingerprint", p.fingerprint()},
          {"fingerprint_hash", p.fingerprint_hash()}};
}

std::string describe(const CpuProfile& p) {
  std::ostringstream os;
  os << "model:        " << p.model_name << " (" << p.arch << ")\n";
  os << "isa:          " << p.isa.to_string() << "\n";
  os << "cores:        " << p.logical_cores << " logical, " << p.physical_cores << " physical\n";
  for (const auto& c : p.caches)
    os << "cache L" << c.level << ":     " << human_size(c.size_bytes) << " " << c.type << "\n";
  os << "compiler:     " << p.compiler.id << " (" << p.compiler.command << ")\n";
  if (p.mem_read_gbps > 0) os << "mem read:     " << p.mem_read_gbps << " GB/s (measured)\n";
  if (p.fma_gflops > 0) os << "f32 fma:      " << p.fma_gflops << " GFLOP/s (measured)\n";
  os << "fingerprint:  " << p.fingerprint() << "\n";
  os << "hash:         " << p.fingerprint_hash() << "\n";
  return os.str();
}

}  // namespace synaptix::hw
