#include "synaptix/tune/tuning_db.h"

#include <sqlite3.h>

#include <chrono>
#include <map>

#include "synaptix/backend/cache_dir.h"
#include "synaptix/core/error.h"

namespace synaptix::tune {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s_, nullptr) != SQLITE_OK)
      fail("tuning db: cannot prepare '", sql, "': ", sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, double v) {
    sqlite3_bind_double(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  bool step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail("tuning db: ", sqlite3_errmsg(db_));
  }
  std::string text(int c) const {
    auto p = sqlite3_column_text(s_, c);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  double real(int c) const { return sqlite3_column_double(s_, c); }
  int64_t integer(int c) const { return sqlite3_column_int64(s_, c); }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string e = err ? err : "?";
    sqlite3_free(err);
    fail("tuning db: ", e, " in '", sql, "'");
  }
}

constexpr const char* kTrialCols =
    "id, created, op, target, generator, params, status, median_us, p10_us, p90_us, samples, source_hash, message";

TrialRecord read_trial(const Stmt& s) {
  TrialRecord r;
  r.id = s.integer(0);
  r.created = s.real(1);
  r.op = s.text(2);
  r.target = s.text(3);
  r.generator = s.text(4);
  r.params = nlohmann::json::parse(s.text(5), nullptr, false);
  r.status = parse_trial_status(s.text(6));
  r.median_us = s.real(7);
  r.p10_us = s.real(8);
  r.p90_us = s.real(9);
  r.samples = static_cast<int>(s.integer(10));
  r.source_hash = s.text(11);
  r.message = s.text(12);
  return r;
}

std::string op_kind_of(const std::string& sig) { return sig.substr(0, sig.find(' ')); }

}  // namespace

const char* trial_status_name(TrialStatus s) {
  switch (s) {
    case TrialStatus::CompileError: return "compile_error";
    case TrialStatus::WrongResult: return "wrong_result";
    case TrialStatus::Crash: return "crash";
    case TrialStatus::Timeout: return "timeout";
    case TrialStatus::Ok: return "ok";
    case TrialStatus::MeasurementFault: return "measurement_fault";
  }
  return "?";
}

TrialStatus parse_trial_status(const std::string& s) {
  for (auto t : {TrialStatus::CompileError, TrialStatus::WrongResult, TrialStatus::Crash, TrialStatus::Timeout,
                 TrialStatus::Ok, TrialStatus::MeasurementFault})
    if (s == trial_status_name(t)) return t;
  fail("tuning db: unknown trial status '", s, "'");
}

std::string default_db_path() { return backend::default_cache_dir() + "/tuning.db"; }

TuningDb::TuningDb(const std::string& path) : path_(path) {
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) backend::make_dirs(path.substr(0, slash));
  if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
    std::string e = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    fail("cannot open tuning database ", path, ": ", e);
  }
  sqlite3_busy_timeout(db_, 10000);
  try {
    exec(db_, "PRAGMA journal_mode=WAL");
    exec(db_,
         "CREATE TABLE IF NOT EXISTS trials (id INTEGER PRIMARY KEY, created REAL NOT NULL, op TEXT NOT NULL, "
         "target TEXT NOT NULL, generator TEXT NOT NULL, params TEXT NOT NULL, status TEXT NOT NULL, "
         "median_us REAL, p10_us REAL, p90_us REAL, samples INTEGER, source_hash TEXT, message TEXT);"
         "CREATE INDEX IF NOT EXISTS trials_op_target ON trials(op, target);"
         "CREATE TABLE IF NOT EXISTS promotions (op TEXT NOT NULL, target TEXT NOT NULL, generator TEXT NOT NULL, "
         "params TEXT NOT NULL, tuned_us REAL, baseline_us REAL, trials INTEGER, created REAL, "
         "PRIMARY KEY (op, target));");
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

TuningDb::~TuningDb() {
  if (db_) sqlite3_close(db_);
}

int64_t TuningDb::record(const TrialRecord& r) {
  Stmt s(db_,
         "INSERT INTO trials (created, op, target, generator, params, status, median_us, p10_us, p90_us, samples, "
         "source_hash, message) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
  s.bind(1, r.created > 0 ? r.created : now_s()).bind(2, r.op).bind(3, r.target).bind(4, r.generator);
  s.bind(5, r.params.dump()).bind(6, std::string(trial_status_name(r.status))).bind(7, r.median_us);
  s.bind(8, r.p10_us).bind(9, r.p90_us).bind(10, static_cast<int64_t>(r.samples)).bind(11, r.source_hash);
  s.bind(12, r.message);
  s.step();
  return sqlite3_last_insert_rowid(db_);
}

std::vector<TrialRecord> TuningDb::query(const std::string& sql, const std::vector<std::string>& binds) const {
  Stmt s(db_, sql);
  for (size_t i = 0; i < binds.size(); ++i) s.bind(static_cast<int>(i + 1), binds[i]);
  std::vector<TrialRecord> out;
  while (s.step()) out.push_back(read_trial(s));
  return out;
}

std::vector<TrialRecord> TuningDb::trials(const std::string& op, const std::string& target) const {
  return query(std::string("SELECT ") + kTrialCols + " FROM trials WHERE op=? AND target=? ORDER BY id", {op, target});
}

std::optional<TrialRecord> TuningDb::find(const std::string& op, const std::string& target,
                                          const std::string& generator, const nlohmann::json& params) const {
  auto r = query(std::string("SELECT ") + kTrialCols +
                     " FROM trials WHERE op=? AND target=? AND generator=? AND params=? ORDER BY id DESC LIMIT 1",
                 {op, target, generator, params.dump()});
  if (r.empty()) return std::nullopt;
  return r[0];
}

std::vector<TrialRecord> TuningDb::best(const std::string& op, const std::string& target, int limit) const {
  return query(std::string("SELECT ") + kTrialCols +
                   " FROM trials WHERE id IN (SELECT id FROM trials t WHERE op=? AND target=? AND status='ok' AND "
                   "id = (SELECT id FROM trials u WHERE u.op=t.op AND u.target=t.target AND u.generator=t.generator "
                   "AND u.params=t.params ORDER BY id DESC LIMIT 1)) ORDER BY median_us LIMIT " +
                   std::to_string(limit),
               {op, target});
}

std::vector<TrialRecord> TuningDb::similar(const std::string& op, const std::string& target, int limit) const {
  // Rank each ok trial by median / (best median of its own op and target): shapes differ, ratios compare.
  auto rows = query(std::string("SELECT ") + kTrialCols +
                        " FROM trials WHERE status='ok' AND NOT (op=? AND target=?) AND substr(op, 1, instr(op, ' '))=?",
                    {op, target, op_kind_of(op) + " "});
  std::map<std::pair<std::string, std::string>, double> best;
  for (const auto& r : rows) {
    auto& b = best[{r.op, r.target}];
    if (b == 0 || r.median_us < b) b = r.median_us;
  }
  std::vector<std::pair<double, const TrialRecord*>> ranked;
  for (const auto& r : rows) ranked.push_back({r.median_us / std::max(1e-9, best[{r.op, r.target}]), &r});
  std::stable_sort(ranked.begin(), ranked.end(), [](auto& a, auto& b) { return a.first < b.first; });
  std::vector<TrialRecord> out;
  std::map<std::string, bool> seen;
  for (auto& [score, r] : ranked) {
    std::string key = r->generator + r->params.dump();
    if (seen[key]) continue;
    seen[key] = true;
    out.push_back(*r);
    if (static_cast<int>(out.size()) >= limit) break;
  }
  return out;
}

int64_t TuningDb::count(const std::string& op, const std::string& target) const {
  Stmt s(db_, "SELECT COUNT(*) FROM trials WHERE op=? AND target=?");
  s.bind(1, op).bind(2, target);
  s.step();
  return s.integer(0);
}

void TuningDb::promote(const Promotion& p) {
  Stmt s(db_,
         "INSERT OR REPLACE INTO promotions (op, target, generator, params, tuned_us, baseline_us, trials, created) "
         "VALUES (?,?,?,?,?,?,?,?)");
  s.bind(1, p.op).bind(2, p.target).bind(3, p.generator).bind(4, p.params.dump()).bind(5, p.tuned_us);
  s.bind(6, p.baseline_us).bind(7, p.trials).bind(8, p.created > 0 ? p.created : now_s());
  s.step();
}

std::optional<Promotion> TuningDb::promotion(const std::string& op, const std::string& target) const {
  Stmt s(db_,
         "SELECT op, target, generator, params, tuned_us, baseline_us, trials, created FROM promotions "
         "WHERE op=? AND target=?");
  s.bind(1, op).bind(2, target);
  if (!s.step()) return std::nullopt;
  Promotion p;
  p.op = s.text(0);
  p.target = s.text(1);
  p.generator = s.text(2);
  p.params = nlohmann::json::parse(s.text(3), nullptr, false);
  p.tuned_us = s.real(4);
  p.baseline_us = s.real(5);
  p.trials = s.integer(6);
  p.created = s.real(7);
  return p;
}

DbStats TuningDb::stats() const {
  DbStats st;
  {
    Stmt s(db_, "SELECT COUNT(*), COUNT(DISTINCT op), COUNT(DISTINCT target) FROM trials");
    s.step();
    st.trials = s.integer(0);
    st.ops = s.integer(1);
    st.targets = s.integer(2);
  }
  {
    Stmt s(db_, "SELECT COUNT(*) FROM promotions");
    s.step();
    st.promotions = s.integer(0);
  }
  {
    Stmt s(db_, "SELECT status, COUNT(*) FROM trials GROUP BY status ORDER BY status");
    while (s.step()) st.by_status.push_back({s.text(0), s.integer(1)});
  }
  {
    Stmt s(db_, "SELECT generator, COUNT(*) FROM trials GROUP BY generator ORDER BY generator");
    while (s.step()) st.by_generator.push_back({s.text(0), s.integer(1)});
  }
  return st;
}

nlohmann::json TuningDb::export_json() const {
  nlohmann::json trials = nlohmann::json::array();
  for (const auto& r : query(std::string("SELECT ") + kTrialCols + " FROM trials ORDER BY id", {}))
    trials.push_back({{"id", r.id},
                      {"created", r.created},
                      {"op", r.op},
                      {"target", r.target},
                      {"generator", r.generator},
                      {"params", r.params},
                      {"status", trial_status_name(r.status)},
                      {"median_us", r.median_us},
                      {"p10_us", r.p10_us},
                      {"p90_us", r.p90_us},
                      {"samples", r.samples},
                      {"source_hash", r.source_hash},
                      {"message", r.message}});
  nlohmann::json proms = nlohmann::json::array();
  Stmt s(db_, "SELECT op, target, generator, params, tuned_us, baseline_us, trials, created FROM promotions ORDER BY op");
  while (s.step())
    proms.push_back({{"op", s.text(0)},
                     {"target", s.text(1)},
                     {"generator", s.text(2)},
                     {"params", nlohmann::json::parse(s.text(3), nullptr, false)},
                     {"tuned_us", s.real(4)},
                     {"baseline_us", s.real(5)},
                     {"trials", s.integer(6)},
                     {"created", s.real(7)}});
  return {{"trials", trials}, {"promotions", proms}};
}

}  // namespace synaptix::tune
