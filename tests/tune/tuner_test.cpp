// The tuning loop end to end on small ops: evolutionary search within a trial budget, every trial in the
// database, a promotion; a rerun remembers it without measuring; a larger budget resumes where it stopped.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "synaptix/core/error.h"
#include "synaptix/core/hash.h"
#include "synaptix/tune/cost_model.h"
#include "synaptix/tune/cpu_target.h"
#include "synaptix/tune/tuner.h"
#include "tune_test_util.h"

namespace synaptix::tune {
namespace {

TuneOptions quick(int64_t trials) {
  TuneOptions o;
  o.budget_trials = trials;
  o.batch = 3;
  o.finalists = 2;
  o.measure.max_seconds = 0.03;
  o.measure.min_samples = 5;
  o.limits.threads = 1;
  o.limits.time_limit_s = 60;
  return o;
}

}  // namespace

TEST(Tuner, SearchesRemembersAndResumes) {
  const std::string dir = testing::scratch_dir("tuner");
  std::filesystem::remove(dir + "/t.db");
  TuningDb db(dir + "/t.db");
  backend::ModuleBuilder builder(dir);
  const auto cpu = hw::probe_cpu(false);
  const auto op = testing::linear_op(1, 1, 64, 128);
  const std::string sig = op.signature();

  auto r1 = Tuner(db, builder, cpu, quick(6)).tune({op});
  ASSERT_EQ(r1.ops.size(), 1u);
  const auto& o1 = r1.ops[0];
  EXPECT_TRUE(o1.finished);
  EXPECT_FALSE(o1.remembered);
  EXPECT_EQ(o1.new_trials, 6);
  EXPECT_EQ(db.count(sig, cpu.fingerprint_hash()), 6);
  EXPECT_GT(o1.baseline_us, 0);
  ASSERT_TRUE(db.promotion(sig, cpu.fingerprint_hash()).has_value());
  if (o1.promoted) {
    EXPECT_LT(o1.tuned_us, o1.baseline_us);
    EXPECT_EQ(sha256_hex(o1.source), o1.source_hash);
  }
  EXPECT_EQ(r1.trace[0]["strategy"], "evolutionary");
  std::set<std::string> gens;
  for (const auto& t : db.trials(sig, cpu.fingerprint_hash())) gens.insert(t.generator);
  EXPECT_TRUE(gens.count("linear_openblas")) << "the vendor tactic must compete in every search";
  EXPECT_TRUE(gens.count("linear_tiled"));

  // Same budget again: the promotion is remembered, nothing is measured.
  auto r2 = Tuner(db, builder, cpu, quick(6)).tune({op});
  EXPECT_TRUE(r2.ops[0].remembered);
  EXPECT_EQ(r2.new_trials, 0);
  EXPECT_EQ(r2.ops[0].promoted, o1.promoted);
  EXPECT_EQ(r2.ops[0].generator, o1.generator);

  // A larger budget continues from the database: only the difference is run, no point twice.
  auto r3 = Tuner(db, builder, cpu, quick(9)).tune({op});
  EXPECT_FALSE(r3.ops[0].remembered);
  EXPECT_EQ(r3.new_trials, 3);
  auto all = db.trials(sig, cpu.fingerprint_hash());
  ASSERT_EQ(all.size(), 9u);
  std::set<std::string> points;
  for (const auto& t : all) points.insert(t.generator + t.params.dump());
  EXPECT_EQ(points.size(), 9u);
}

TEST(Tuner, ExhaustiveWhenTheSpaceFitsAndVendorTacticsCompete) {
  const std::string dir = testing::scratch_dir("exh");
  std::filesystem::remove(dir + "/t.db");
  TuningDb db(dir + "/t.db");
  backend::ModuleBuilder builder(dir);
  const auto cpu = hw::probe_cpu(false);
  auto opt = quick(10);
  opt.generators = {"linear_openblas"};
  auto r = Tuner(db, builder, cpu, opt).tune({testing::linear_op(1, 1, 48, 64)});
  EXPECT_EQ(r.trace[0]["strategy"], "exhaustive");
  EXPECT_EQ(r.new_trials, 2);  // gemv_at_m1 true and false
  for (const auto& t : db.trials(r.ops[0].op.signature(), cpu.fingerprint_hash())) {
    EXPECT_EQ(t.status, TrialStatus::Ok) << t.message;
    EXPECT_EQ(t.generator, "linear_openblas");
  }
}

TEST(Tuner, TimeBudgetGivesEveryOpTrialsAndHoldsTheDeadline) {
  // Three cheap decode ops first, then a costly prefill one: the by-cost split must neither starve the last
  // op nor let the finalists' re-timing overrun the run.
  const std::string dir = testing::scratch_dir("budget");
  std::filesystem::remove(dir + "/t.db");
  TuningDb db(dir + "/t.db");
  backend::ModuleBuilder builder(dir);
  const auto cpu = hw::probe_cpu(false);
  auto opt = quick(0);
  opt.budget_seconds = 16;
  graph::Op norm = testing::linear_op(1, 1, 256, 0);
  norm.kind = graph::OpKind::AddRmsNorm;
  const std::vector<graph::Op> ops{testing::linear_op(1, 1, 32, 64), norm, testing::linear_op(2, 4, 48, 64),
                                   testing::linear_op(65, 128, 256, 256)};
  EXPECT_GT(op_cost_us(ops[3], cpu), 10 * op_cost_us(ops[0], cpu));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = Tuner(db, builder, cpu, opt).tune(ops);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.ops.size(), ops.size());
  for (const auto& o : r.ops) {
    EXPECT_GE(o.new_trials, 1) << o.op.signature();
    EXPECT_TRUE(o.finished) << o.op.signature();
  }
  EXPECT_GE(r.ops[3].new_trials, r.ops[0].new_trials) << "the costly op gets at least the cheap one's trials";
  // One batch in flight may pass the deadline; the slack is for a loaded machine (ctest -j).
  EXPECT_LT(took, 2 * opt.budget_seconds + 10);
}

namespace {

// The CPU target with a broken clock for generated candidates: every time they report is 10^4 times too
// short (the default keeps its honest timing). The ceilings are the machine's, measured.
class TooFastClock : public CpuTarget {
 public:
  TooFastClock(const backend::ModuleBuilder& b, const hw::CpuProfile& cpu) : CpuTarget(b, cpu) {}
  TrialOutcome run(const graph::Op& op, const std::string& path, const MeasureOptions& mo, const RunLimits& lim,
                   uint64_t seed) const override {
    return skew(CpuTarget::run(op, path, mo, lim, seed), path);
  }
  std::vector<TrialOutcome> run_interleaved(const graph::Op& op, const std::vector<std::string>& paths,
                                            const MeasureOptions& mo, const RunLimits& lim,
                                            uint64_t seed) const override {
    auto outs = CpuTarget::run_interleaved(op, paths, mo, lim, seed);
    for (size_t i = 0; i < outs.size(); ++i) outs[i] = skew(outs[i], paths[i]);
    return outs;
  }

 private:
  static TrialOutcome skew(TrialOutcome o, const std::string& path) {
    if (!path.empty()) o.timing.median_us /= 1e4, o.timing.p10_us /= 1e4, o.timing.p90_us /= 1e4;
    return o;
  }
};

}  // namespace

TEST(Tuner, TimesBeyondTheMeasuredCeilingsAreMeasurementFaultsNeverPromoted) {
  const std::string dir = testing::scratch_dir("fault");
  std::filesystem::remove(dir + "/t.db");
  TuningDb db(dir + "/t.db");
  backend::ModuleBuilder builder(dir);
  const auto cpu = hw::probe_cpu(true);  // the ceilings are measured
  ASSERT_GT(cpu.fma_gflops, 0);
  const auto op = testing::linear_op(1, 1, 64, 128);
  TooFastClock target(builder, cpu);
  auto r = Tuner(db, target, quick(4)).tune({op});
  ASSERT_EQ(r.ops.size(), 1u);
  EXPECT_TRUE(r.ops[0].finished);
  EXPECT_FALSE(r.ops[0].promoted) << "a too-fast time must never win: " << r.ops[0].generator;
  const auto trials = db.trials(op.signature(), cpu.fingerprint_hash());
  ASSERT_EQ(trials.size(), 4u);
  for (const auto& t : trials) {
    EXPECT_EQ(t.status, TrialStatus::MeasurementFault) << t.generator << " " << t.params.dump() << ": " << t.message;
    EXPECT_NE(t.message.find("measurement fault"), std::string::npos) << t.message;
    EXPECT_GT(t.median_us, 0) << "the faulty time is recorded";
  }
  EXPECT_EQ(db.promotion(op.signature(), cpu.fingerprint_hash())->generator, "default");
}

TEST(CostModel, LearnsAdditiveEffects) {
  // Time = 100 us x (n_tile 4: 0.25) x (isa avx512: 0.5): the model must rank the unseen best point first.
  auto t = [](int nt, const std::string& isa) { return 100.0 * (nt == 4 ? 0.25 : 1.0) * (isa == "avx512" ? 0.5 : 1.0); };
  auto pt = [](int nt, const std::string& isa) { return Point{"linear_tiled", {{"n_tile", nt}, {"isa", isa}}}; };
  std::vector<std::pair<Point, double>> data;
  for (auto [nt, isa] : std::vector<std::pair<int, std::string>>{{1, "avx2"}, {4, "avx2"}, {1, "avx512"}, {2, "avx512"}, {2, "avx2"}})
    data.push_back({pt(nt, isa), t(nt, isa)});
  CostModel m(0.01);
  EXPECT_FALSE(m.trained());
  m.fit(data);
  ASSERT_TRUE(m.trained());
  EXPECT_LT(m.predict(pt(4, "avx512")), m.predict(pt(4, "avx2")));
  EXPECT_LT(m.predict(pt(4, "avx512")), m.predict(pt(1, "avx512")));
  EXPECT_NEAR(m.predict(pt(4, "avx512")), t(4, "avx512"), 3.0);
}

}  // namespace synaptix::tune
