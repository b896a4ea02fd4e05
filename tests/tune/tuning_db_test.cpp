#include <gtest/gtest.h>

#include <filesystem>

#include "synaptix/core/error.h"
#include "synaptix/tune/budget.h"
#include "synaptix/tune/tuning_db.h"
#include "tune_test_util.h"

namespace synaptix::tune {
namespace {

TrialRecord trial(const std::string& op, const std::string& target, int tile, double us,
                  TrialStatus st = TrialStatus::Ok) {
  TrialRecord r;
  r.op = op;
  r.target = target;
  r.generator = "linear_tiled";
  r.params = {{"n_tile", tile}};
  r.status = st;
  r.median_us = us;
  r.p10_us = us * 0.9;
  r.p90_us = us * 1.1;
  r.samples = 10;
  r.source_hash = "h" + std::to_string(tile);
  return r;
}

}  // namespace

TEST(TuningDb, RoundTripAcrossReopen) {
  const std::string path = testing::scratch_dir("db") + "/t.db";
  std::filesystem::remove(path);
  {
    TuningDb db(path);
    db.record(trial("linear m=1 n=64 k=64 w=bf16", "T1", 1, 50));
    db.record(trial("linear m=1 n=64 k=64 w=bf16", "T1", 2, 20));
    db.record(trial("linear m=1 n=64 k=64 w=bf16", "T1", 4, 0, TrialStatus::Crash));
    db.record(trial("linear m=1 n=64 k=64 w=bf16", "T2", 8, 5));
    Promotion p{"linear m=1 n=64 k=64 w=bf16", "T1", "linear_tiled", {{"n_tile", 2}}, 20, 60, 3, 0};
    db.promote(p);
  }
  TuningDb db(path);
  auto all = db.trials("linear m=1 n=64 k=64 w=bf16", "T1");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].params["n_tile"], 1);
  EXPECT_EQ(all[2].status, TrialStatus::Crash);
  EXPECT_DOUBLE_EQ(all[1].p90_us, 22);
  EXPECT_EQ(all[1].source_hash, "h2");
  auto best = db.best("linear m=1 n=64 k=64 w=bf16", "T1", 5);
  ASSERT_EQ(best.size(), 2u);  // the crash is not a point to start from
  EXPECT_EQ(best[0].params["n_tile"], 2);
  auto f = db.find("linear m=1 n=64 k=64 w=bf16", "T1", "linear_tiled", {{"n_tile", 4}});
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->status, TrialStatus::Crash);
  EXPECT_FALSE(db.find("linear m=1 n=64 k=64 w=bf16", "T1", "linear_tiled", {{"n_tile", 16}}).has_value());
  auto prom = db.promotion("linear m=1 n=64 k=64 w=bf16", "T1");
  ASSERT_TRUE(prom.has_value());
  EXPECT_EQ(prom->params["n_tile"], 2);
  EXPECT_DOUBLE_EQ(prom->baseline_us, 60);
  auto st = db.stats();
  EXPECT_EQ(st.trials, 4);
  EXPECT_EQ(st.targets, 2);
  EXPECT_EQ(st.promotions, 1);
  auto ex = db.export_json();
  EXPECT_EQ(ex["trials"].size(), 4u);
  EXPECT_EQ(ex["trials"][2]["status"], "crash");
  EXPECT_EQ(ex["promotions"].size(), 1u);
}

TEST(TuningDb, SimilarRanksOtherShapesAndTargetsByRelativeSpeed) {
  const std::string path = testing::scratch_dir("sim") + "/s.db";
  std::filesystem::remove(path);
  TuningDb db(path);
  // Another shape on this target: tile 4 is best there; another target: tile 8 is best there.
  db.record(trial("linear m=1 n=128 k=64 w=bf16", "T1", 4, 10));
  db.record(trial("linear m=1 n=128 k=64 w=bf16", "T1", 1, 40));
  db.record(trial("linear m=1 n=64 k=64 w=bf16", "T2", 8, 100));
  db.record(trial("linear m=1 n=64 k=64 w=bf16", "T2", 2, 300));
  db.record(trial("rmsnorm m=1 n=64", "T1", 16, 1));  // another op kind: never suggested
  auto s = db.similar("linear m=1 n=64 k=64 w=bf16", "T1", 10);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_TRUE((s[0].params["n_tile"] == 4 && s[1].params["n_tile"] == 8) ||
              (s[0].params["n_tile"] == 8 && s[1].params["n_tile"] == 4));
  for (const auto& r : s) EXPECT_NE(r.params["n_tile"], 16);
}

TEST(TuningDb, UnopenablePathIsAnError) { EXPECT_THROW(TuningDb("/proc/nope/x.db"), Error); }

TEST(Budget, Forms) {
  EXPECT_DOUBLE_EQ(parse_budget("90s").seconds, 90);
  EXPECT_DOUBLE_EQ(parse_budget("10m").seconds, 600);
  EXPECT_DOUBLE_EQ(parse_budget("1h").seconds, 3600);
  EXPECT_EQ(parse_budget("200").trials, 200);
  EXPECT_EQ(parse_budget("200 trials").trials, 200);
  EXPECT_THROW(parse_budget("ten"), Error);
  EXPECT_THROW(parse_budget("10x"), Error);
  EXPECT_THROW(parse_budget("0s"), Error);
}

}  // namespace synaptix::tune
