// Launchers refuse shapes outside their kernels before any launch (needs the driver library, not a GPU run).
#include <gtest/gtest.h>

#include "synaptix/backend/cuda/launch/moe_experts.h"
#include "synaptix/backend/cuda/launch/moe_route.h"
#include "synaptix/backend/cuda/launch/moe_sort.h"
#include "synaptix/core/error.h"

namespace kc = synaptix::kernels::cuda;

TEST(KernelSources, MoeShapesOutsideTheGroupedKernelsAreRejected) {
  EXPECT_TRUE(kc::moe_experts_supports(8, 8, 64, 48));
  EXPECT_FALSE(kc::moe_experts_supports(9, 2, 64, 48));   // more tokens than the decode kernels hold
  EXPECT_FALSE(kc::moe_experts_supports(8, 16, 64, 48));  // 128 pairs
  EXPECT_FALSE(kc::moe_experts_supports(1, 2, 64, 44));   // inter not a multiple of 8
  EXPECT_THROW(kc::moe_experts_source(9, 2), synaptix::Error);
  kc::MoeExpertsArgs a;
  a.tokens = 2, a.top_k = 2, a.experts = 4, a.hidden = 60, a.inter = 48;
  EXPECT_THROW(kc::moe_experts(a, nullptr), synaptix::Error);  // hidden 60: rejected before any launch
  EXPECT_THROW(kc::moe_route(0, 0, 0, 1, 4, 5, true, nullptr), synaptix::Error);  // top_k above the experts
  EXPECT_THROW(kc::moe_sort(0, 0, 0, 0, 0, 4, 2, kc::kMoeRouteMaxExperts + 1, nullptr), synaptix::Error);
}
