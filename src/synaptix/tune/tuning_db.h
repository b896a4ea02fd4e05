#pragma once
// The tuning database (SQLite): every trial ever run — op signature, target fingerprint, generator,
// parameters (JSON), status, timings — committed one row at a time so an interrupted run loses nothing, and
// the promotions (the winner chosen for an op on a target after the finalists were re-measured).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

struct sqlite3;

namespace synaptix::tune {

// compile_error | wrong_result | crash | timeout | ok | measurement_fault (a time beyond the target's measured
// ceilings, measurement_check.h: never promoted)
enum class TrialStatus { CompileError, WrongResult, Crash, Timeout, Ok, MeasurementFault };
const char* trial_status_name(TrialStatus s);
TrialStatus parse_trial_status(const std::string& s);

struct TrialRecord {
  int64_t id = 0;
  double created = 0;  // unix seconds
  std::string op;      // graph::Op::signature()
  std::string target;  // fingerprint hash
  std::string generator;
  nlohmann::json params = nlohmann::json::object();
  TrialStatus status = TrialStatus::Ok;
  double median_us = 0, p10_us = 0, p90_us = 0;
  int samples = 0;
  std::string source_hash;
  std::string message;
};

struct Promotion {
  std::string op, target, generator;
  nlohmann::json params;
  double tuned_us = 0, baseline_us = 0;
  int64_t trials = 0;  // trials for (op, target) when it was decided
  double created = 0;
};

struct DbStats {
  int64_t trials = 0, ops = 0, targets = 0, promotions = 0;
  std::vector<std::pair<std::string, int64_t>> by_status;
  std::vector<std::pair<std::string, int64_t>> by_generator;
};

class TuningDb {
 public:
  // Opens or creates the database (and its directory); throws naming the path on failure.
  explicit TuningDb(const std::string& path);
  ~TuningDb();
  TuningDb(const TuningDb&) = delete;
  TuningDb& operator=(const TuningDb&) = delete;

  // Inserts and commits one trial; returns its id.
  int64_t record(const TrialRecord& r);
  std::vector<TrialRecord> trials(const std::string& op, const std::string& target) const;
  // The trial already run for exactly this point, if any (the latest).
  std::optional<TrialRecord> find(const std::string& op, const std::string& target, const std::string& generator,
                                  const nlohmann::json& params) const;
  // The fastest ok trials of (op, target), fastest first, distinct points.
  std::vector<TrialRecord> best(const std::string& op, const std::string& target, int limit) const;
  // Warm start from elsewhere: the fastest ok points of ops of the same kind (the signature's first word)
  // on any target, ranked by their speed relative to the best of their own (op, target); excludes (op, target).
  std::vector<TrialRecord> similar(const std::string& op, const std::string& target, int limit) const;
  int64_t count(const std::string& op, const std::string& target) const;

  void promote(const Promotion& p);
  std::optional<Promotion> promotion(const std::string& op, const std::string& target) const;

  DbStats stats() const;
  // Every trial and promotion as JSON ({"trials": [...], "promotions": [...]}).
  nlohmann::json export_json() const;
  const std::string& path() const { return path_; }

 private:
  std::vector<TrialRecord> query(const std::string& sql, const std::vector<std::string>& binds) const;
  std::string path_;
  sqlite3* db_ = nullptr;
};

// --db, else <cache dir>/tuning.db.
std::string default_db_path();

}  // namespace synaptix::tune
