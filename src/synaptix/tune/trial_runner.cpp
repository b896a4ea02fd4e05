#include "synaptix/tune/trial_runner.h"

#include <nlohmann/json.hpp>

#include "synaptix/backend/isolated_run.h"
#include "synaptix/core/thread_pool.h"

namespace synaptix::tune {
namespace {

nlohmann::json timing_json(const Timing& t) {
  return {{"median_us", t.median_us}, {"p10_us", t.p10_us}, {"p90_us", t.p90_us}, {"samples", t.samples},
          {"cold", t.cold}, {"wrong_after", t.wrong_after}};
}

Timing timing_from(const nlohmann::json& j) {
  Timing t;
  t.median_us = j.at("median_us").get<double>();
  t.p10_us = j.at("p10_us").get<double>();
  t.p90_us = j.at("p90_us").get<double>();
  t.samples = j.at("samples").get<int>();
  t.cold = j.at("cold").get<bool>();
  t.wrong_after = j.at("wrong_after").get<std::string>();
  return t;
}

// A trial whose output went wrong during its timed runs is a wrong result, whatever its time.
TrialOutcome timed(const Timing& t) {
  TrialOutcome o;
  o.timing = t;
  if (!t.wrong_after.empty()) {
    o.status = TrialStatus::WrongResult;
    o.message = "after the timed runs: " + t.wrong_after;
  } else {
    o.status = TrialStatus::Ok;
  }
  return o;
}

TrialOutcome failed(const backend::IsolatedResult& r) {
  TrialOutcome o;
  o.status = r.status == backend::RunStatus::Timeout ? TrialStatus::Timeout : TrialStatus::Crash;
  o.message = r.message;
  if (r.status == backend::RunStatus::Error) o.message = "error: " + r.message;
  return o;
}

// In the child: a pool of its own (threads of the parent's pools do not exist after fork). The runtime's
// default paths use ThreadPool::global(), which is created fresh here as long as the parent never used it.
ThreadPool& child_pool(int threads) {
  if (threads <= 0) return ThreadPool::global();
  static ThreadPool pool(threads);
  return pool;
}

}  // namespace

TrialOutcome run_trial(const graph::Op& op, const std::string& module_path, const MeasureOptions& mopt,
                              const RunLimits& lim, uint64_t seed) {
  auto r = backend::run_isolated(
      [&]() -> std::string {
        ThreadPool& pool = child_pool(lim.threads);
        std::string bad = verify_impl(op, module_path, pool, seed);
        if (!bad.empty()) return nlohmann::json{{"wrong", bad}}.dump();
        return timing_json(time_impl(op, module_path, pool, mopt, seed + 1)).dump();
      },
      lim.time_limit_s);
  if (r.status != backend::RunStatus::Ok) return failed(r);
  auto j = nlohmann::json::parse(r.payload);
  TrialOutcome o;
  if (j.contains("wrong")) {
    o.status = TrialStatus::WrongResult;
    o.message = j["wrong"].get<std::string>();
    return o;
  }
  return timed(timing_from(j));
}

std::vector<TrialOutcome> run_interleaved(const graph::Op& op, const std::vector<std::string>& module_paths,
                                          const MeasureOptions& mopt, const RunLimits& lim, uint64_t seed) {
  auto r = backend::run_isolated(
      [&]() -> std::string {
        ThreadPool& pool = child_pool(lim.threads);
        nlohmann::json out = nlohmann::json::array();
        std::vector<std::string> good;
        std::vector<size_t> where;
        for (size_t i = 0; i < module_paths.size(); ++i) {
          std::string bad = verify_impl(op, module_paths[i], pool, seed + 7 * i);
          out.push_back(bad.empty() ? nlohmann::json(nullptr) : nlohmann::json{{"wrong", bad}});
          if (bad.empty()) {
            good.push_back(module_paths[i]);
            where.push_back(i);
          }
        }
        if (!good.empty()) {
          auto t = time_interleaved(op, good, pool, mopt, seed + 1);
          for (size_t i = 0; i < good.size(); ++i) out[where[i]] = timing_json(t[i]);
        }
        return out.dump();
      },
      lim.time_limit_s);
  std::vector<TrialOutcome> res(module_paths.size());
  if (r.status != backend::RunStatus::Ok) {
    for (auto& o : res) o = failed(r);
    return res;
  }
  auto j = nlohmann::json::parse(r.payload);
  for (size_t i = 0; i < res.size(); ++i) {
    if (j[i].contains("wrong")) {
      res[i].status = TrialStatus::WrongResult;
      res[i].message = j[i]["wrong"].get<std::string>();
    } else {
      res[i] = timed(timing_from(j[i]));
    }
  }
  return res;
}

}  // namespace synaptix::tune
