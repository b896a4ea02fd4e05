#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/hw/cpu_profile.h"

namespace synaptix::hw {

TEST(CpuProfile, StaticFactsMatchTheBuildAndAreStable) {
  CpuProfile a = probe_cpu(false), b = probe_cpu(false);
  EXPECT_FALSE(a.model_name.empty());
  EXPECT_GE(a.logical_cores, 1);
  EXPECT_GE(a.logical_cores, a.physical_cores);
#if defined(__AVX2__)
  EXPECT_TRUE(a.isa.avx2);
#endif
#if defined(__FMA__)
  EXPECT_TRUE(a.isa.fma);
#endif
#if defined(__AVX512F__)
  EXPECT_TRUE(a.isa.avx512f);
#endif
  EXPECT_EQ(a.fingerprint(), b.fingerprint());
  EXPECT_EQ(a.fingerprint_hash().size(), 16u);
  EXPECT_NE(a.fingerprint().find(a.compiler.id), std::string::npos);
  EXPECT_FALSE(a.compiler.version.empty());
  auto j = to_json(a);
  EXPECT_EQ(j["fingerprint_hash"], a.fingerprint_hash());
}

TEST(CpuProfile, CachesFromSysfs) {
  CpuProfile p = probe_cpu(false);
  ASSERT_FALSE(p.caches.empty());
  for (const auto& c : p.caches) {
    EXPECT_GE(c.level, 1);
    EXPECT_GT(c.size_bytes, 0);
  }
  EXPECT_GE(p.last_level_cache_bytes(), p.caches.front().size_bytes);
}

TEST(CpuProfile, MeasuredCeilingsArePlausible) {
  // Small sizes keep the test fast; the numbers only need to be physically plausible.
  const double bw = measure_read_bandwidth(2, 64 << 20, 2);
  EXPECT_GT(bw, 0.5);
  EXPECT_LT(bw, 2000.0);
  const double gf = measure_fma_gflops(1, 1);
  EXPECT_GT(gf, 0.5);
  EXPECT_LT(gf, 100000.0);
}

}  // namespace synaptix::hw
