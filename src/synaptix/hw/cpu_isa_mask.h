#pragma once
// Hiding ISA features from the tuner: SYNAPTIX_CPU_MASK=avx512f (comma-separated feature names as
// CpuIsa::to_string() prints them) makes this machine probe, fingerprint and compile generated kernels as a
// CPU without those features would. The tuner then searches only what such a CPU can run, and the recipe it
// writes is one for that CPU (its fingerprint names the masked ISA). The runtime's own defaults are built
// into the binary and are not affected.
#include <string>
#include <vector>

#include "synaptix/hw/cpu_profile.h"

namespace synaptix::hw {

// The names a mask may use, in CpuIsa::to_string()'s order.
const std::vector<std::string>& maskable_isa_features();

// Clears the named features and those that cannot exist without them (no AVX-512 extension without
// avx512f, no avx2/fma/f16c/AVX-512 without avx). Throws naming an unknown feature and the known ones.
void mask_isa(CpuIsa& isa, const std::string& names);

// $SYNAPTIX_CPU_MASK, or "" when unset.
std::string isa_mask_from_env();

// Host compiler flags that keep generated code off the masked features (after -march=native), e.g.
// "-mno-avx512f"; empty for an empty mask.
std::vector<std::string> isa_mask_compiler_flags(const std::string& names);

}  // namespace synaptix::hw
