// The CUDA linear target of the tuning loop (tune/cuda/cuda_linear_target.h), without a device: its space is
// the generator's and the heuristic's; NVRTC builds its points for sm_90a and reports a source that does not
// compile; the host check holds an output to kernels::linear_reference (another implementation's output
// passes, a poisoned or perturbed element fails); and the one tuning loop (tune/tuner.h) searches it, with
// a synthetic device clock as the runner, finding the fastest point, recording every trial under the
// device's key, and refusing a time beyond the measured HBM bandwidth as a measurement fault.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <set>

#include "synaptix/kernels/linear/cuda/gemv_bf16.h"
#include "synaptix/kernels/linear/reference.h"
#include "synaptix/tune/cuda/cuda_linear_target.h"
#include "synaptix/tune/tuner.h"
#include "tune/tune_test_util.h"

namespace synaptix::tune::cuda {
namespace {

namespace kc = kernels::cuda;

CudaDeviceFacts h100_like() {
  CudaDeviceFacts f;
  f.fingerprint = "cuda:test device:sm_90a:132sm:drv13000";
  f.arch = "sm_90a";
  f.ceilings.mem_gbps = 3000;
  f.ceilings.flop_gflops = 700e3;
  f.ceilings.bandwidth_slack = 1.1;
  f.ceilings.flop_slack = 1.1;
  f.blaslt_algorithms[{64, 512, 256}] = 5;
  return f;
}

// y = x W^T by the runtime's own default (not the reference), on the target's inputs.
std::vector<float> default_output(const CudaLinearTarget::ShapeInputs& in) {
  const graph::Op& op = in.op;
  std::vector<float> y(static_cast<size_t>(op.m * op.n));
  kernels::linear_default({in.x.data(), in.w.data(), DType::BF16, nullptr, y.data(), op.m, op.n, op.k});
  return y;
}

}  // namespace

TEST(CudaLinearTarget, SpaceIsTheGeneratorsOrTheHeuristicsAndMovesStayInIt) {
  const CudaLinearTarget t(h100_like());
  const graph::Op gemv = cuda_linear_op({4, 1024, 512});
  const SearchSpace s = t.space(gemv, {});
  EXPECT_EQ(s.points.size(), kc::gemv_search_space(4, 1024, 512).size());
  ASSERT_FALSE(s.points.empty());
  EXPECT_EQ(s.points[0].generator, "cuda_gemv_bf16");
  std::set<std::string> keys;
  for (const auto& p : s.points) keys.insert(p.key());
  std::mt19937_64 rng(3);
  for (int i = 0; i < 50; ++i) {
    const Point& a = s.points[rng() % s.points.size()];
    EXPECT_TRUE(keys.count(t.mutate(a, s, gemv, rng).key()));
    EXPECT_TRUE(keys.count(t.crossover(a, s.points[rng() % s.points.size()], gemv, rng).key()));
  }
  const SearchSpace tc = t.space(cuda_linear_op({64, 512, 256}), {});
  ASSERT_EQ(tc.points.size(), 5u);
  EXPECT_EQ(tc.points[4].generator, "cublaslt_bf16");
  EXPECT_EQ(tc.points[4].params["algorithm"], 4);
  EXPECT_TRUE(t.space(cuda_linear_op({4, 1024, 512}), {"cublaslt_bf16"}).points.empty());
  EXPECT_EQ(t.target_hash(), cuda_target_hash(h100_like().fingerprint));
}

TEST(CudaLinearTarget, NvrtcBuildsPointsForTheDeviceArchAndReportsFailures) {
  const CudaLinearTarget t(h100_like());
  const graph::Op op = cuda_linear_op({1, 256, 512});
  const SearchSpace s = t.space(op, {});
  std::vector<backend::ModuleSource> srcs{t.emit(op, s.points.front()), t.emit(op, s.points.back())};
  // A point whose source does not compile (the point line the builder passes on, then broken CUDA C++).
  srcs.push_back({cuda_point_path(s.points.front()) + "\n__global__ void gemv( { this is not CUDA }\n", {}});
  const auto built = t.build_all(srcs, 2);
  ASSERT_EQ(built.size(), 3u);
  EXPECT_TRUE(built[0].ok) << built[0].error;
  EXPECT_TRUE(built[1].ok) << built[1].error;
  EXPECT_EQ(cuda_point_of_path(built[1].path).key(), s.points.back().key()) << "the runner gets the point";
  EXPECT_FALSE(built[2].ok);
  EXPECT_NE(built[2].error.find("NVRTC"), std::string::npos) << built[2].error;
  // A cuBLASLt algorithm has no source of ours: nothing to compile, nothing to fail.
  const graph::Op tc = cuda_linear_op({64, 512, 256});
  const auto blas = t.build_all({t.emit(tc, t.space(tc, {}).points[2])}, 1);
  EXPECT_TRUE(blas[0].ok);
  EXPECT_EQ(cuda_point_of_path(blas[0].path).params["algorithm"], 2);
}

TEST(CudaLinearTarget, HostCheckHoldsTheOutputToTheReference) {
  const CudaLinearTarget t(h100_like());
  for (const LinearShape& shape : {LinearShape{3, 96, 160}, LinearShape{64, 512, 256}}) {
    const auto& in = t.inputs(cuda_linear_op(shape), 11);
    EXPECT_EQ(in.rows.size(), shape.gemv() ? static_cast<size_t>(shape.m) : 8u);
    std::vector<float> y = default_output(in);
    EXPECT_EQ(check_linear_output(in, y, "when verified"), "") << "m=" << shape.m;
    // An element left as the NaN poison, anywhere (also outside the checked rows).
    std::vector<float> poisoned = y;
    poisoned[static_cast<size_t>(shape.m * shape.n / 2 + 5)] = std::numeric_limits<float>::quiet_NaN();
    EXPECT_NE(check_linear_output(in, poisoned, "when verified").find("unwritten"), std::string::npos);
    // One checked element off by a little more than rounding: a skipped term of k.
    std::vector<float> off = y;
    const size_t at = static_cast<size_t>(in.rows.back() * shape.n + shape.n - 1);
    off[at] += 0.05f;
    const std::string why = check_linear_output(in, off, "after the timed runs");
    EXPECT_NE(why.find("wrong result after the timed runs"), std::string::npos) << why;
  }
}

namespace {

// The CUDA target with a synthetic device clock as its runner: a GEMV point's time is a landscape whose
// minimum is w16_ks4_r1_u4 (persistent, not full occupancy); `too_fast` (when set) reports 1e-3 of its time.
// Its builder passes the points on without NVRTC (which the test above covers): hundreds of compiles under
// ASan would take minutes.
class SyntheticClock : public CudaLinearTarget {
 public:
  SyntheticClock(CudaDeviceFacts f, kc::GemvParams too_fast = {}) : CudaLinearTarget(std::move(f)), too_fast_(too_fast) {}

  std::vector<backend::BuiltModule> build_all(const std::vector<backend::ModuleSource>& sources, int) const override {
    std::vector<backend::BuiltModule> out;
    for (const auto& s : sources) out.push_back({true, s.code.substr(0, s.code.find('\n')), "", "", false, 0});
    return out;
  }

  TrialOutcome run(const graph::Op& op, const std::string& path, const MeasureOptions&, const RunLimits&,
                   uint64_t) const override {
    TrialOutcome o;
    o.status = TrialStatus::Ok;
    o.timing.median_us = o.timing.p10_us = o.timing.p90_us = time_of(op, path);
    o.timing.samples = 20;
    o.timing.cold = true;
    return o;
  }
  std::vector<TrialOutcome> run_batch(const graph::Op& op, const std::vector<std::string>& paths,
                                      const MeasureOptions& mo, const RunLimits& lim,
                                      const std::vector<uint64_t>& seeds) const override {
    EXPECT_EQ(paths.size(), seeds.size());
    ++batches;
    std::vector<TrialOutcome> out;
    for (const auto& p : paths) out.push_back(run(op, p, mo, lim, 0));
    return out;
  }
  std::vector<TrialOutcome> run_interleaved(const graph::Op& op, const std::vector<std::string>& paths,
                                            const MeasureOptions& mo, const RunLimits& lim,
                                            uint64_t seed) const override {
    std::vector<TrialOutcome> out;
    for (const auto& p : paths) out.push_back(run(op, p, mo, lim, seed));
    return out;
  }

 private:
  double time_of(const graph::Op& op, const std::string& path) const {
    const double floor_us = op.min_bytes() / 3000e9 * 1e6;  // the HBM roofline
    if (path.empty()) return floor_us * 2.0;                // the default
    const auto j = cuda_point_of_path(path).params;
    const kc::GemvParams p{j["warps"].get<int>(),          j["kslices"].get<int>(),    j["rows_per_warp"].get<int>(),
                           j["unroll"].get<int>(),         j["full_occupancy"].get<int>(), j["persistent"].get<int>(),
                           j["prefetch_kb"].get<int>()};
    double t = floor_us * (1.1 + 0.05 * std::abs(p.warps - 16) / 4.0 + 0.04 * std::abs(p.kslices - 4) +
                           0.03 * (p.rows_per_warp - 1) + 0.02 * std::abs(p.unroll - 4) + 0.05 * p.full_occupancy +
                           0.05 * (1 - p.persistent));
    if (p == too_fast_) t *= 1e-3;
    return t;
  }
  kc::GemvParams too_fast_;

 public:
  mutable int batches = 0;  // run_batch calls: the loop hands the device a compile batch at a time
};

}  // namespace

TEST(CudaLinearTarget, TheTuningLoopSearchesItAndRefusesTimesBeyondTheHbmCeiling) {
  const std::string dir = tune::testing::scratch_dir("cuda_loop");
  std::filesystem::remove(dir + "/t.db");
  TuningDb db(dir + "/t.db");
  const graph::Op op = cuda_linear_op({1, 4096, 4096});
  TuneOptions o;
  o.finalists = 3;
  o.batch = 8;
  o.budget_trials = static_cast<int64_t>(CudaLinearTarget(h100_like()).space(op, {}).points.size());  // exhaustive
  {
    SyntheticClock t(h100_like());
    const auto rep = Tuner(db, t, o).tune({op});
    ASSERT_EQ(rep.ops.size(), 1u);
    const OpResult& r = rep.ops[0];
    ASSERT_TRUE(r.promoted);
    EXPECT_EQ(r.generator, "cuda_gemv_bf16");
    EXPECT_EQ(r.params["warps"], 16);
    EXPECT_EQ(r.params["kslices"], 4);
    EXPECT_EQ(r.params["rows_per_warp"], 1);
    EXPECT_EQ(r.params["unroll"], 4);
    EXPECT_EQ(r.params["persistent"], 1);
    EXPECT_EQ(db.count(op.signature(), t.target_hash()), static_cast<int64_t>(t.space(op, {}).points.size()));
    EXPECT_EQ(db.promotion(op.signature(), t.target_hash())->generator, "cuda_gemv_bf16");
    EXPECT_EQ(t.batches, static_cast<int>((t.space(op, {}).points.size() + 7) / 8)) << "one child per batch of 8";
  }
  // Again with the slowest-looking point reporting a time 1e3 too short: beyond 3000 GB/s x 1.1, it is a
  // measurement fault in the database and the honest winner stays.
  std::filesystem::remove(dir + "/t.db");
  TuningDb db2(dir + "/t.db");
  const kc::GemvParams liar{4, 1, 4, 1, 1, 0};
  ASSERT_TRUE(kc::gemv_params_valid(liar, 1));
  SyntheticClock t(h100_like(), liar);
  const auto rep = Tuner(db2, t, o).tune({op});
  EXPECT_EQ(rep.ops[0].params["warps"], 16);
  bool seen = false;
  for (const auto& rec : db2.trials(op.signature(), t.target_hash()))
    if (rec.params["warps"] == 4 && rec.params["kslices"] == 1 && rec.params["rows_per_warp"] == 4 &&
        rec.params["unroll"] == 1 && rec.params["full_occupancy"] == 1) {
      seen = true;
      EXPECT_EQ(rec.status, TrialStatus::MeasurementFault) << rec.message;
      EXPECT_NE(rec.message.find("GB/s"), std::string::npos) << rec.message;
    }
  EXPECT_TRUE(seen) << "the lying point was tried";
}

}  // namespace synaptix::tune::cuda
