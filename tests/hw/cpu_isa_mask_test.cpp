// The ISA mask: named features and what depends on them are cleared, unknown names are refused, and the
// compiler flags keep generated code off the masked features.
#include <gtest/gtest.h>

#include <cstdlib>

#include "synaptix/core/error.h"
#include "synaptix/hw/cpu_isa_mask.h"

namespace synaptix::hw {

namespace {
CpuIsa everything() {
  CpuIsa i;
  i.sse42 = i.avx = i.avx2 = i.fma = i.f16c = true;
  i.avx512f = i.avx512bw = i.avx512vl = i.avx512_bf16 = i.avx512_vnni = true;
  return i;
}
}  // namespace

TEST(CpuIsaMask, ClearsTheFeatureAndWhatDependsOnIt) {
  CpuIsa i = everything();
  mask_isa(i, "avx512_bf16");
  EXPECT_FALSE(i.avx512_bf16);
  EXPECT_TRUE(i.avx512f && i.avx512vl && i.avx512_vnni && i.avx2);

  i = everything();
  mask_isa(i, " avx512f ");
  EXPECT_FALSE(i.avx512f || i.avx512bw || i.avx512vl || i.avx512_bf16 || i.avx512_vnni);
  EXPECT_TRUE(i.avx2 && i.fma && i.f16c);
  EXPECT_EQ(i.to_string(), "sse4.2,avx,avx2,fma,f16c");

  i = everything();
  mask_isa(i, "avx");
  EXPECT_EQ(i.to_string(), "sse4.2");

  i = everything();
  mask_isa(i, "");
  EXPECT_EQ(i.to_string(), everything().to_string());
}

TEST(CpuIsaMask, RefusesUnknownNames) {
  CpuIsa i = everything();
  try {
    mask_isa(i, "avx2,avx1024");
    FAIL() << "an unknown feature must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("avx1024"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("avx512_vnni"), std::string::npos) << "lists the known names: " << e.what();
  }
  EXPECT_THROW(isa_mask_compiler_flags("sse5"), Error);
}

TEST(CpuIsaMask, CompilerFlagsAndTheProbeFollowTheEnvironment) {
  EXPECT_EQ(isa_mask_compiler_flags("avx512f,avx512_bf16"),
            (std::vector<std::string>{"-mno-avx512f", "-mno-avx512bf16"}));
  EXPECT_TRUE(isa_mask_compiler_flags("").empty());

  const CpuProfile plain = probe_cpu(false);
  ::setenv("SYNAPTIX_CPU_MASK", "avx512f", 1);
  const CpuProfile masked = probe_cpu(false);
  ::unsetenv("SYNAPTIX_CPU_MASK");
  EXPECT_FALSE(masked.isa.avx512f);
  EXPECT_FALSE(masked.isa.avx512_vnni);
  EXPECT_EQ(masked.isa.avx2, plain.isa.avx2);
  if (plain.isa.avx512f) {
    EXPECT_NE(masked.fingerprint(), plain.fingerprint()) << "a masked CPU is another target";
  }
}

}  // namespace synaptix::hw
