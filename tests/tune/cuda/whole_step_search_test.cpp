// The whole-step search strategy (tune/cuda/whole_step_search.h) against a step timer whose fastest plan is
// known: it must find that plan, keep searching past a candidate the device refuses, leave the batch sizes
// off the GEMV path alone, and record every timing. No device is touched: the timer is the runner's seam.
// (Built with the GPU tests because the strategy lives in the CUDA library; run by bench/gpu/run.sh.)
#include <gtest/gtest.h>

#include <set>

#include "synaptix/core/error.h"
#include "synaptix/model/synth.h"
#include "synaptix/tune/cuda/gemv_schedule.h"
#include "synaptix/tune/cuda/whole_step_search.h"

namespace synaptix::tune::cuda {
namespace {

namespace kc = kernels::cuda;

const LinearShapeKey kQkv{1, 6144, 4096};

// tok/s of a plan at batch 1: a landscape whose maximum is norm separate, attention fused 16 warps x 8 keys
// with a cluster combine at split 32, heads in registers, no o_proj prefetch, and qkv's GEMV w16_ks8_r2_u1
// (not the isolated winner: only the in-context stage can find it). A 4-warp attention cannot run.
double landscape(const WholeStepPlan& p, int batch) {
  EXPECT_EQ(batch, 1) << "batch 32 is off the GEMV path and must not be timed";
  double t = 100;
  if (p.fuse_decode.count(1) && !p.fuse_decode.at(1)) t += 10;
  if (p.decode_attention.count(1)) {
    const DecodeAttentionChoice& d = p.decode_attention.at(1);
    if (d.warps == 4) throw Error("too few warps for the head dimension");
    if (d == DecodeAttentionChoice{16, 8, true, true} && p.attention_split.at(1) == 32) t += 5;
    if (!d.reg_heads) t -= 2;
  }
  if (p.o_prefetch.count(1) && p.o_prefetch.at(1)) t -= 1;
  if (p.gemv.count(kQkv) && p.gemv.at(kQkv) == to_gemv_schedule(kc::GemvParams{16, 8, 2, 1})) t += 3;
  return t;
}

LinearTuneResult isolated_trials() {
  LinearTuneResult r;
  for (const kc::GemvParams& g : {kc::GemvParams{8, 8, 2, 2}, kc::GemvParams{4, 4, 1, 2}, kc::GemvParams{8, 4, 1, 4}}) {
    LinearTrial t;
    t.shape = {1, 6144, 4096};
    t.generator = "cuda_gemv_bf16";
    t.gemv = g;
    t.ok = true;
    t.median_us = 20 + g.warps;
    r.trials.push_back(t);
  }
  r.best = {0};
  r.baseline = {0};
  return r;
}

TEST(WholeStepSearch, FindsTheFastestPlanOfAKnownLandscape) {
  const LinearTuneResult iso = isolated_trials();
  nlohmann::json report;
  WholeStepPlan start = plan_from_isolated({{1, 6144, 4096}}, iso, report);
  ASSERT_EQ(start.gemv.at(kQkv), to_gemv_schedule(kc::GemvParams{8, 8, 2, 2}));
  WholeStepSearchOptions o;
  o.batches = {1, 32};
  nlohmann::json trace;
  const WholeStepPlan plan = search_whole_step(start, iso, landscape, o, trace);
  EXPECT_FALSE(plan.fuse_decode.at(1));
  EXPECT_EQ(plan.decode_attention.at(1), (DecodeAttentionChoice{16, 8, true, true}));
  EXPECT_EQ(plan.attention_split.at(1), 32);
  EXPECT_FALSE(plan.o_prefetch.at(1));
  EXPECT_EQ(plan.gemv.at(kQkv), to_gemv_schedule(kc::GemvParams{16, 8, 2, 1}));
  EXPECT_EQ(landscape(plan, 1), 118);
  EXPECT_FALSE(plan.fuse_decode.count(32)) << "batch 32 runs cuBLASLt: nothing to choose in context";
  EXPECT_FALSE(plan.moe_down_spread.count(1)) << "a dense model has no MoE stage";
  // Every timing is in the trace, the refused candidates with their reason.
  ASSERT_TRUE(trace.is_array());
  int refused = 0;
  for (const auto& e : trace) refused += e.contains("error");
  EXPECT_EQ(refused, 4) << "the four splits of the 4-warp attention";
  EXPECT_GT(trace.size(), 40u);
}

TEST(WholeStepSearch, StepShapesCoverDecodeBatchesAndPrefill) {
  const model::Spec s = model::parse_spec(model::preset_config("llama-3.1-8b"), "llama-3.1-8b");
  std::set<std::tuple<int64_t, int64_t, int64_t>> got;
  for (const auto& sh : step_linear_shapes(s, {1, 8, 32}, 2048)) got.insert({sh.m, sh.n, sh.k});
  for (const auto& want : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {1, 6144, 4096}, {1, 4096, 4096}, {1, 28672, 4096}, {1, 4096, 14336}, {1, 128256, 4096},
           {8, 6144, 4096}, {8, 128256, 4096}, {32, 28672, 4096}, {2048, 6144, 4096}, {2048, 4096, 14336}})
    EXPECT_TRUE(got.count(want)) << std::get<0>(want) << "x" << std::get<1>(want) << "x" << std::get<2>(want);
  EXPECT_FALSE(got.count({2048, 128256, 4096})) << "the prefill's head runs for its last token only";
}

}  // namespace
}  // namespace synaptix::tune::cuda
