#include "synaptix/hw/cpu_isa_mask.h"

#include <cstdlib>
#include <sstream>

#include "synaptix/core/error.h"

namespace synaptix::hw {

namespace {

struct Feature {
  const char* name;
  bool CpuIsa::*flag;
  const char* gcc_off;  // the flag that keeps the compiler from emitting it
};

constexpr Feature kFeatures[] = {
    {"sse4.2", &CpuIsa::sse42, "-mno-sse4.2"},
    {"avx", &CpuIsa::avx, "-mno-avx"},
    {"avx2", &CpuIsa::avx2, "-mno-avx2"},
    {"fma", &CpuIsa::fma, "-mno-fma"},
    {"f16c", &CpuIsa::f16c, "-mno-f16c"},
    {"avx512f", &CpuIsa::avx512f, "-mno-avx512f"},
    {"avx512bw", &CpuIsa::avx512bw, "-mno-avx512bw"},
    {"avx512vl", &CpuIsa::avx512vl, "-mno-avx512vl"},
    {"avx512_bf16", &CpuIsa::avx512_bf16, "-mno-avx512bf16"},
    {"avx512_vnni", &CpuIsa::avx512_vnni, "-mno-avx512vnni"},
};

std::vector<std::string> split_names(const std::string& names) {
  std::vector<std::string> out;
  std::stringstream ss(names);
  std::string n;
  while (std::getline(ss, n, ',')) {
    const auto b = n.find_first_not_of(" \t"), e = n.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(n.substr(b, e - b + 1));
  }
  return out;
}

const Feature& feature(const std::string& name) {
  for (const auto& f : kFeatures)
    if (name == f.name) return f;
  std::string known;
  for (const auto& f : kFeatures) known += std::string(known.empty() ? "" : ", ") + f.name;
  fail("CPU feature mask: unknown feature '", name, "' (expected one of: ", known, ")");
}

}  // namespace

const std::vector<std::string>& maskable_isa_features() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& f : kFeatures) v.push_back(f.name);
    return v;
  }();
  return names;
}

void mask_isa(CpuIsa& isa, const std::string& names) {
  for (const auto& n : split_names(names)) isa.*feature(n).flag = false;
  // What a CPU cannot have without what was masked.
  if (!isa.avx) isa.avx2 = isa.fma = isa.f16c = false;
  if (!isa.avx2) isa.avx512f = false;
  if (!isa.avx512f) isa.avx512bw = isa.avx512vl = isa.avx512_bf16 = isa.avx512_vnni = false;
}

std::string isa_mask_from_env() {
  const char* m = std::getenv("SYNAPTIX_CPU_MASK");
  return m ? m : "";
}

std::vector<std::string> isa_mask_compiler_flags(const std::string& names) {
  std::vector<std::string> flags;
  for (const auto& n : split_names(names)) flags.push_back(feature(n).gcc_off);
  // -mno-avx and -mno-avx2 also switch off what depends on them in GCC and Clang; -mno-avx512f turns off
  // every AVX-512 extension.
  return flags;
}

}  // namespace synaptix::hw
