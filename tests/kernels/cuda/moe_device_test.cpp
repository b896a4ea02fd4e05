// MoE on the device against host references: the routing kernel against kernels::moe_route_reference
// (ids exactly, weights within 1e-6), the grouping of routed pairs by expert against a host stable sort,
// and the grouped expert GEMVs against a double-precision composition
// of gate/up, SwiGLU, down and the weighted sum on the same bf16 weights. Outputs are poisoned (NaN bytes)
// before each run so an element a kernel never writes fails. Needs a GPU (run by bench/gpu/run.sh).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/backend/cuda/launch/moe_experts.h"
#include "synaptix/backend/cuda/launch/moe_route.h"
#include "synaptix/backend/cuda/launch/moe_sort.h"
#include "synaptix/core/dtype.h"
#include "synaptix/core/error.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/kernels/moe/reference.h"
#include "support/cuda_device.h"

namespace bc = synaptix::backend::cuda;
namespace kc = synaptix::kernels::cuda;
namespace kr = synaptix::kernels;

namespace {

using synaptix::testing::device_sync;
using synaptix::testing::poisoned;
using synaptix::testing::upload;
void use_device() { synaptix::testing::cuda_context(); }
std::mt19937& rng() { return synaptix::testing::test_rng(); }

std::vector<float> random_f32(size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng());
  return v;
}


// Router logits for `tokens` tokens with the cases top-k must break the same way as the reference: every
// third token on a coarse grid (many exact ties, also across the k-th place), one token all equal, one with
// two equal maxima, the rest continuous.
std::vector<float> router_logits(int64_t tokens, int64_t experts) {
  auto v = random_f32(static_cast<size_t>(tokens * experts), -4.f, 4.f);
  std::uniform_int_distribution<int> level(-2, 2);
  for (int64_t t = 0; t < tokens; ++t) {
    float* row = v.data() + t * experts;
    if (t % 3 == 1)
      for (int64_t e = 0; e < experts; ++e) row[e] = 0.5f * static_cast<float>(level(rng()));
    if (t == 2) std::fill(row, row + experts, 0.25f);
    if (t == 4 && experts >= 3) row[experts - 1] = row[1] = *std::max_element(row, row + experts) + 1.f;
  }
  return v;
}

TEST(MoeRoute, MatchesTheReferenceIdsExactlyAndWeightsWithin1e6) {
  use_device();
  for (auto [E, K] : {std::pair<int64_t, int64_t>{8, 2}, {128, 8}, {4, 2}, {60, 4}, {8, 8}, {256, 8}, {1, 1}})
    for (int64_t T : {1, 7, 333})
      for (bool normalize : {true, false}) {
        const auto logits = router_logits(T, E);
        auto dl = upload(logits);
        auto di = poisoned(static_cast<size_t>(T * K) * 4), dw = poisoned(static_cast<size_t>(T * K) * 4);
        kc::moe_route(dl.ptr(), di.ptr(), dw.ptr(), T, E, K, normalize, nullptr);
        device_sync();
        const auto ids = di.to_host<int32_t>(static_cast<size_t>(T * K));
        const auto wts = dw.to_host<float>(static_cast<size_t>(T * K));
        int64_t bad = 0;
        for (int64_t t = 0; t < T; ++t) {
          const auto want = kr::moe_route_reference(logits.data() + t * E, E, K, normalize);
          for (int64_t s = 0; s < K; ++s) {
            const size_t i = static_cast<size_t>(t * K + s);
            const bool ok = ids[i] == want[static_cast<size_t>(s)].expert &&
                            std::fabs(wts[i] - want[static_cast<size_t>(s)].weight) <= 1e-6f;
            if (!ok && ++bad <= 5)
              ADD_FAILURE() << "E=" << E << " K=" << K << " T=" << T << " normalize=" << normalize << " token " << t
                            << " slot " << s << ": got expert " << ids[i] << " weight " << wts[i] << ", want "
                            << want[static_cast<size_t>(s)].expert << " " << want[static_cast<size_t>(s)].weight;
          }
        }
        EXPECT_EQ(bad, 0) << "E=" << E << " K=" << K << " T=" << T << " normalize=" << normalize;
      }
}

// Routing then grouping by expert, as a prefill step runs them: counts per expert, and per expert its
// tokens ascending with their weights, exactly what a stable host sort of the reference routing gives.
TEST(MoeSort, GroupsTheRoutedPairsByExpertInTokenOrder) {
  use_device();
  for (auto [E, K] : {std::pair<int64_t, int64_t>{8, 2}, {128, 8}, {4, 2}, {60, 4}, {3, 3}})
    for (int64_t T : {1, 31, 33, 500, 4096}) {
      const auto logits = router_logits(T, E);
      std::vector<std::vector<std::pair<int32_t, float>>> by_expert(static_cast<size_t>(E));
      for (int64_t t = 0; t < T; ++t)
        for (const auto& c : kr::moe_route_reference(logits.data() + t * E, E, K, true))
          by_expert[static_cast<size_t>(c.expert)].push_back({static_cast<int32_t>(t), c.weight});
      std::vector<int32_t> want_counts, want_rows;
      std::vector<float> want_w;
      for (const auto& v : by_expert) {
        want_counts.push_back(static_cast<int32_t>(v.size()));
        for (const auto& [t, w] : v) want_rows.push_back(t), want_w.push_back(w);
      }
      const size_t P = static_cast<size_t>(T * K);
      auto dl = upload(logits);
      auto di = poisoned(P * 4), dw = poisoned(P * 4), dc = poisoned(static_cast<size_t>(E) * 4);
      auto dr = poisoned(P * 4), dsw = poisoned(P * 4);
      kc::moe_route(dl.ptr(), di.ptr(), dw.ptr(), T, E, K, true, nullptr);
      kc::moe_sort(di.ptr(), dw.ptr(), dc.ptr(), dr.ptr(), dsw.ptr(), T, K, E, nullptr);
      device_sync();
      EXPECT_EQ(dc.to_host<int32_t>(static_cast<size_t>(E)), want_counts) << "E=" << E << " K=" << K << " T=" << T;
      EXPECT_EQ(dr.to_host<int32_t>(P), want_rows) << "E=" << E << " K=" << K << " T=" << T;
      const auto got_w = dsw.to_host<float>(P);
      double err = 0;
      for (size_t i = 0; i < P; ++i)
        err = std::max(err, std::isfinite(got_w[i]) ? std::fabs(static_cast<double>(got_w[i]) - want_w[i]) : INFINITY);
      EXPECT_LE(err, 1e-6) << "E=" << E << " K=" << K << " T=" << T;
    }
}

struct ExpertsCase {
  int64_t tokens, top_k, experts, hidden, inter;
  bool shared;  // every token routed to the same experts (in different slot orders): the largest groups
};

// Per token `top_k` distinct experts, or (shared) one set of experts shuffled per token.
std::vector<int32_t> random_routing(const ExpertsCase& c) {
  std::vector<int32_t> all(static_cast<size_t>(c.experts)), ids;
  std::iota(all.begin(), all.end(), 0);
  std::shuffle(all.begin(), all.end(), rng());
  for (int64_t t = 0; t < c.tokens; ++t) {
    if (!c.shared) std::shuffle(all.begin(), all.end(), rng());
    std::vector<int32_t> pick(all.begin(), all.begin() + c.top_k);
    if (c.shared) std::shuffle(pick.begin(), pick.end(), rng());
    ids.insert(ids.end(), pick.begin(), pick.end());
  }
  return ids;
}

// gate_up [2 inter, hidden] with rows g0 u0 g1 u1 ..., down [hidden, inter], all bf16: what the executor
// uploads per expert.
struct HostExpert {
  std::vector<uint16_t> gate_up, down;
};

// residual + sum_s w[t, s] * down_e(silu(gate_e x_t) * up_e x_t), in double on the bf16 weights.
std::vector<float> experts_reference(const ExpertsCase& c, const std::vector<HostExpert>& ex, const std::vector<float>& x,
                                     const std::vector<float>& residual, const std::vector<int32_t>& ids,
                                     const std::vector<float>& wts) {
  const int64_t h = c.hidden, I = c.inter;
  std::vector<float> out(residual);
  std::vector<double> act(static_cast<size_t>(I));
  for (int64_t t = 0; t < c.tokens; ++t) {
    std::vector<double> moe(static_cast<size_t>(h), 0.0);
    for (int64_t s = 0; s < c.top_k; ++s) {
      const HostExpert& e = ex[static_cast<size_t>(ids[static_cast<size_t>(t * c.top_k + s)])];
      for (int64_t i = 0; i < I; ++i) {
        double g = 0, u = 0;
        for (int64_t k = 0; k < h; ++k) {
          const double xv = x[static_cast<size_t>(t * h + k)];
          g += static_cast<double>(synaptix::bf16_to_f32(e.gate_up[static_cast<size_t>((2 * i) * h + k)])) * xv;
          u += static_cast<double>(synaptix::bf16_to_f32(e.gate_up[static_cast<size_t>((2 * i + 1) * h + k)])) * xv;
        }
        act[static_cast<size_t>(i)] = g / (1.0 + std::exp(-g)) * u;
      }
      const double w = wts[static_cast<size_t>(t * c.top_k + s)];
      for (int64_t r = 0; r < h; ++r) {
        double d = 0;
        for (int64_t i = 0; i < I; ++i)
          d += static_cast<double>(synaptix::bf16_to_f32(e.down[static_cast<size_t>(r * I + i)])) * act[static_cast<size_t>(i)];
        moe[static_cast<size_t>(r)] += w * d;
      }
    }
    for (int64_t r = 0; r < h; ++r) out[static_cast<size_t>(t * h + r)] += static_cast<float>(moe[static_cast<size_t>(r)]);
  }
  return out;
}

TEST(MoeExperts, GroupedGemvsMatchTheComposedReference) {
  use_device();
  // Mixtral-like (top-2 of 4 or 8) and Qwen3-MoE-like (top-8 of 128) routing at every decode size class,
  // tokens sharing experts (groups of up to 8 pairs), and hidden/inter sizes that leave partial warps and
  // partial row blocks (72 = 9 chunks of 8; inter 24 = 6 warps' units over 2 blocks).
  const std::vector<ExpertsCase> cases = {
      {1, 2, 4, 64, 160, false},  {3, 2, 4, 64, 160, false},  {8, 2, 8, 128, 48, false}, {8, 8, 128, 64, 48, false},
      {5, 4, 16, 256, 96, false}, {8, 8, 8, 64, 48, true},    {2, 1, 3, 72, 24, false},  {7, 2, 8, 1024, 512, false},
      {4, 8, 8, 64, 48, true},    {1, 8, 64, 1024, 64, false}};
  for (const ExpertsCase& c : cases) {
    const int64_t T = c.tokens, K = c.top_k, E = c.experts, h = c.hidden, I = c.inter;
    std::vector<HostExpert> ex(static_cast<size_t>(E));
    std::vector<bc::DeviceBuffer> dev;
    std::vector<uint64_t> gu_ptrs, dn_ptrs;
    for (HostExpert& e : ex) {
      for (float v : random_f32(static_cast<size_t>(2 * I * h), -1.f, 1.f))
        e.gate_up.push_back(synaptix::f32_to_bf16(v / std::sqrt(static_cast<float>(h))));
      for (float v : random_f32(static_cast<size_t>(h * I), -1.f, 1.f))
        e.down.push_back(synaptix::f32_to_bf16(v / std::sqrt(static_cast<float>(I))));
      dev.push_back(upload(e.gate_up));
      gu_ptrs.push_back(dev.back().ptr());
      dev.push_back(upload(e.down));
      dn_ptrs.push_back(dev.back().ptr());
    }
    const auto x = random_f32(static_cast<size_t>(T * h), -2.f, 2.f);
    const auto residual = random_f32(x.size(), -1.f, 1.f);
    const auto ids = random_routing(c);
    const auto wts = random_f32(ids.size(), 0.05f, 1.f);
    const auto want = experts_reference(c, ex, x, residual, ids, wts);
    double delta = 1e-6;  // the size of the MoE output itself, so the residual cannot hide an error
    for (size_t i = 0; i < want.size(); ++i) delta = std::max(delta, std::fabs(static_cast<double>(want[i]) - residual[i]));

    auto dx = upload(x), di = upload(ids), dw = upload(wts), dgu = upload(gu_ptrs), ddn = upload(dn_ptrs);
    std::vector<std::vector<float>> runs;
    // Runs 0, 1: one block per row block walks every expert; 2, 3: the spread down kernel (same arithmetic),
    // the second of them on the counters the first left.
    bc::DeviceBuffer scratch = poisoned(static_cast<size_t>(T * K * h) * 4);
    bc::DeviceBuffer counters(static_cast<size_t>(kc::moe_down_counters(h)) * 4);
    ASSERT_EQ(cuMemsetD32(counters.ptr(), 0, static_cast<size_t>(kc::moe_down_counters(h))), CUDA_SUCCESS);
    for (int run = 0; run < 4; ++run) {
      auto dres = upload(residual);
      auto dact = poisoned(static_cast<size_t>(T * K * I) * 4);
      kc::MoeExpertsArgs a;
      if (run >= 2) a.down_scratch = scratch.ptr(), a.down_counters = counters.ptr();
      a.x = dx.ptr();
      a.residual = dres.ptr();
      a.ids = di.ptr();
      a.weights = dw.ptr();
      a.gate_up_ptrs = dgu.ptr();
      a.down_ptrs = ddn.ptr();
      a.act = dact.ptr();
      a.tokens = T;
      a.top_k = K;
      a.experts = E;
      a.hidden = h;
      a.inter = I;
      // Runs 1 and 3 also add each token's sum of squares of its updated row (onto a non-zero start).
      std::vector<float> ss0(static_cast<size_t>(T));
      for (int64_t t = 0; t < T; ++t) ss0[static_cast<size_t>(t)] = 0.5f + static_cast<float>(t);
      auto dss = upload(ss0);
      if (run % 2) a.ss_out = dss.ptr();
      kc::moe_experts(a, nullptr);
      device_sync();
      runs.push_back(dres.to_host<float>(want.size()));
      if (run % 2) {
        const auto got = dss.to_host<float>(static_cast<size_t>(T));
        for (int64_t t = 0; t < T; ++t) {
          double ref = ss0[static_cast<size_t>(t)];
          for (int64_t i = 0; i < h; ++i) ref += static_cast<double>(want[static_cast<size_t>(t * h + i)]) * want[static_cast<size_t>(t * h + i)];
          EXPECT_NEAR(got[static_cast<size_t>(t)], ref, 1e-4 * ref) << "sum of squares, token " << t << " run " << run;
        }
      }
    }
    double err = 0;
    for (size_t i = 0; i < want.size(); ++i)
      err = std::max(err, std::isfinite(runs[0][i]) ? std::fabs(static_cast<double>(runs[0][i]) - want[i]) : INFINITY);
    EXPECT_LT(err / delta, 1e-4) << "T=" << T << " K=" << K << " E=" << E << " hidden=" << h << " inter=" << I
                                 << (c.shared ? " shared" : "");
    // No float atomics: a second run gives the same bits, and so does the spread down kernel, twice.
    EXPECT_EQ(runs[0], runs[1]) << "T=" << T << " K=" << K << " E=" << E;
    EXPECT_EQ(runs[2], runs[0]) << "spread down kernel, T=" << T << " K=" << K << " E=" << E;
    EXPECT_EQ(runs[3], runs[2]) << "spread down kernel re-run, T=" << T << " K=" << K << " E=" << E;
  }
}

// Routing and experts chained as the executor runs them, against the reference routing fed to the host
// composition: the ids and weights never leave the device.
TEST(MoeExperts, RoutedOnTheDeviceMatchesTheReferencePipeline) {
  use_device();
  const ExpertsCase c{6, 2, 8, 64, 160, false};
  const int64_t T = c.tokens, K = c.top_k, E = c.experts, h = c.hidden, I = c.inter;
  std::vector<HostExpert> ex(static_cast<size_t>(E));
  std::vector<bc::DeviceBuffer> dev;
  std::vector<uint64_t> ptrs(static_cast<size_t>(2 * E));  // gate_up pointers, then down: the executor's layout
  for (int64_t e = 0; e < E; ++e) {
    HostExpert& he = ex[static_cast<size_t>(e)];
    for (float v : random_f32(static_cast<size_t>(2 * I * h), -0.125f, 0.125f)) he.gate_up.push_back(synaptix::f32_to_bf16(v));
    for (float v : random_f32(static_cast<size_t>(h * I), -0.08f, 0.08f)) he.down.push_back(synaptix::f32_to_bf16(v));
    dev.push_back(upload(he.gate_up));
    ptrs[static_cast<size_t>(e)] = dev.back().ptr();
    dev.push_back(upload(he.down));
    ptrs[static_cast<size_t>(E + e)] = dev.back().ptr();
  }
  const auto logits = random_f32(static_cast<size_t>(T * E), -3.f, 3.f);
  const auto x = random_f32(static_cast<size_t>(T * h), -2.f, 2.f);
  const auto residual = random_f32(x.size(), -1.f, 1.f);
  std::vector<int32_t> ids;
  std::vector<float> wts;
  for (int64_t t = 0; t < T; ++t)
    for (const auto& ch : kr::moe_route_reference(logits.data() + t * E, E, K, true)) {
      ids.push_back(ch.expert);
      wts.push_back(ch.weight);
    }
  const auto want = experts_reference(c, ex, x, residual, ids, wts);
  double delta = 1e-6;
  for (size_t i = 0; i < want.size(); ++i) delta = std::max(delta, std::fabs(static_cast<double>(want[i]) - residual[i]));

  auto dl = upload(logits), dx = upload(x), dres = upload(residual), dptrs = upload(ptrs);
  auto di = poisoned(static_cast<size_t>(T * K) * 4), dw = poisoned(static_cast<size_t>(T * K) * 4);
  auto dact = poisoned(static_cast<size_t>(T * K * I) * 4);
  kc::moe_route(dl.ptr(), di.ptr(), dw.ptr(), T, E, K, true, nullptr);
  kc::MoeExpertsArgs a;
  a.x = dx.ptr();
  a.residual = dres.ptr();
  a.ids = di.ptr();
  a.weights = dw.ptr();
  a.gate_up_ptrs = dptrs.ptr();
  a.down_ptrs = dptrs.ptr() + static_cast<CUdeviceptr>(E) * 8;
  a.act = dact.ptr();
  a.tokens = T;
  a.top_k = K;
  a.experts = E;
  a.hidden = h;
  a.inter = I;
  kc::moe_experts(a, nullptr);
  device_sync();
  EXPECT_EQ(di.to_host<int32_t>(ids.size()), ids);
  const auto got = dres.to_host<float>(want.size());
  double err = 0;
  for (size_t i = 0; i < want.size(); ++i)
    err = std::max(err, std::isfinite(got[i]) ? std::fabs(static_cast<double>(got[i]) - want[i]) : INFINITY);
  EXPECT_LT(err / delta, 1e-4);
}

}  // namespace
