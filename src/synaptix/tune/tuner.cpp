#include "synaptix/tune/tuner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/core/hash.h"
#include "synaptix/kernels/cpu_generator.h"
#include "synaptix/tune/cost_model.h"
#include "synaptix/tune/cpu_target.h"
#include "synaptix/tune/search_space.h"

namespace synaptix::tune {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string fmt_time(double s) {
  std::ostringstream os;
  if (s >= 60) os << static_cast<int>(s / 60) << "m" << static_cast<int>(s) % 60 << "s";
  else os << static_cast<int>(std::ceil(s)) << "s";
  return os.str();
}

}  // namespace

double op_cost_us(const graph::Op& op, const hw::CpuProfile& cpu) {
  const double gbps = cpu.mem_read_gbps > 0 ? cpu.mem_read_gbps : 10.0;
  const double gflops = cpu.fma_gflops > 0 ? cpu.fma_gflops : 100.0;
  const double us = std::max(op.min_bytes() / (gbps * 1e3), op.flops() / (gflops * 1e3));
  return us * static_cast<double>(std::max<int64_t>(1, op.count));
}

std::string point_source(const graph::Op& op, const std::string& generator, const nlohmann::json& params,
                         std::vector<std::string>* libs) {
  auto src = kernels::cpu_generator(generator).emit(op, params);
  if (libs) *libs = src.libs;
  return src.code;
}

Tuner::Tuner(TuningDb& db, const Target& target, TuneOptions opt)
    : db_(db), target_plugin_(target), opt_(std::move(opt)), target_(target.target_hash()) {}

Tuner::Tuner(TuningDb& db, const backend::ModuleBuilder& builder, const hw::CpuProfile& cpu, TuneOptions opt)
    : db_(db),
      owned_(std::make_unique<CpuTarget>(builder, cpu, opt.activations)),
      target_plugin_(*owned_),
      opt_(std::move(opt)),
      target_(owned_->target_hash()) {}

TrialOutcome Tuner::checked(const graph::Op& op, TrialOutcome o) const {
  if (o.status != TrialStatus::Ok) return o;
  const std::string why = implausible_time(op, o.timing, target_plugin_.ceilings());
  if (!why.empty()) {
    o.status = TrialStatus::MeasurementFault;
    o.message = why;
  }
  return o;
}

void Tuner::emit_progress(const std::string& op_sig) const {
  if (!opt_.progress) return;
  std::ostringstream os;
  os << "ops " << ops_done_ << "/" << ops_total_ << " | trials " << trials_run_ << " | best speedup ";
  if (best_speedup_ > 0) os << std::fixed << std::setprecision(2) << best_speedup_ << "x";
  else os << "-";
  if (deadline_ > 0) os << " | " << fmt_time(std::max(0.0, deadline_ - now_s())) << " left";
  os << " | " << op_sig;
  opt_.progress(os.str());
}

TuneReport Tuner::tune(const std::vector<graph::Op>& ops) {
  TuneReport rep;
  const double t0 = now_s();
  deadline_ = opt_.budget_seconds > 0 ? t0 + opt_.budget_seconds : 0;
  ops_total_ = ops.size();
  std::vector<double> cost;
  for (const auto& op : ops) cost.push_back(target_plugin_.op_cost_us(op));
  double cost_left = 0;
  for (double c : cost) cost_left += c;
  constexpr double kEvenPart = 1.0 / 3.0;  // of the time left, shared evenly; the rest by cost
  for (size_t i = 0; i < ops.size(); ++i) {
    if (opt_.stop && opt_.stop->load()) break;
    // Share what is left of the time among the ops still to do: a third evenly, so that every op (prefill
    // included) gets trials, the rest by cost. Past the deadline an op gets no search (a tiny slice, not 0,
    // which would mean "no limit").
    const double left = deadline_ - now_s(), n_left = static_cast<double>(ops.size() - i);
    const double by_cost = cost_left > 0 ? cost[i] / cost_left : 1.0 / n_left;
    double slice = left * (kEvenPart / n_left + (1 - kEvenPart) * by_cost);
    slice = std::min(slice, left - (n_left - 1) * op_floor_s_);  // leave the ops after it their minimum
    slice = deadline_ > 0 ? std::max(1e-3, slice) : 0;
    cost_left -= cost[i];
    rep.ops.push_back(tune_op(ops[i], slice, rep));
    ++ops_done_;
    emit_progress(ops[i].signature());
  }
  rep.seconds = now_s() - t0;
  return rep;
}

OpResult Tuner::tune_op(const graph::Op& op, double seconds_for_op, TuneReport& rep) {
  const std::string sig = op.signature();
  OpResult res;
  res.op = op;
  const double op_t0 = now_s();
  const double op_deadline = seconds_for_op > 0 ? op_t0 + seconds_for_op : 0;
  // The finalists' interleaved re-timing comes out of this op's share, not the next ops': the search stops
  // early enough to leave it time (at most half the share).
  const double retime_s = (opt_.finalists + 1) * opt_.measure.max_seconds * 1.5 + 1.0;
  const double search_deadline = op_deadline > 0 ? op_deadline - std::min(retime_s, 0.5 * seconds_for_op) : 0;
  emit_progress(sig);

  SearchSpace space = target_plugin_.space(op, opt_.generators);
  if (space.points.empty()) fail("no ", target_plugin_.kind(), " generator applies to ", sig);
  const int64_t remembered = db_.count(sig, target_);
  const int64_t cap = opt_.budget_trials > 0 ? opt_.budget_trials : static_cast<int64_t>(space.points.size());

  // Remembered decision: reuse unless asked to search more (or the trial budget grew past what it saw).
  // A time budget reuses any remembered promotion; a trial budget only one decided with at least as many.
  const auto known = db_.promotion(sig, target_);
  const bool reuse = known && !opt_.search_more &&
                     (opt_.budget_trials == 0 ||
                      known->trials >= std::min<int64_t>(cap, static_cast<int64_t>(space.points.size())));
  if (reuse) {
    res.remembered = res.finished = true;
    res.baseline_us = known->baseline_us;
    res.trials = remembered;
    res.promoted = known->generator != "default";
    if (res.promoted) {
      res.generator = known->generator;
      res.params = known->params;
      const auto src = target_plugin_.emit(op, {res.generator, res.params});
      res.source = src.code;
      res.libs = src.libs;
      res.source_hash = sha256_hex(res.source);
      res.tuned_us = known->tuned_us;
      best_speedup_ = std::max(best_speedup_, res.baseline_us / res.tuned_us);
    }
    rep.trace.push_back({{"event", "remembered"}, {"op", sig}, {"generator", known->generator}, {"params", known->params}});
    return res;
  }

  std::mt19937_64 rng(opt_.seed ^ fnv1a64(sig.data(), sig.size()));
  std::map<std::string, TrialRecord> done;  // by point key: what the database knows for this op and target
  for (auto& t : db_.trials(sig, target_)) done[t.generator + ":" + t.params.dump()] = t;
  std::set<std::string> in_space;
  for (const auto& p : space.points) in_space.insert(p.key());

  // Warm start: best known here, then the best points of similar ops (any target) that fit this space.
  std::vector<Point> queue;
  std::set<std::string> queued;
  auto enqueue = [&](const Point& p) {
    if (in_space.count(p.key()) && !done.count(p.key()) && queued.insert(p.key()).second) queue.push_back(p);
  };
  // The best transferred point goes first; then one point per generator (so vendor tactics always compete),
  // then the other transferred points, then random ones.
  const auto similar = db_.similar(sig, target_, 8);
  if (!similar.empty()) enqueue({similar[0].generator, similar[0].params});
  // Exhaustive when a trial budget covers the space (or the space is tiny); under a time budget the space
  // is searched by evolution, which reaches good points sooner than enumeration order would.
  const bool exhaustive = static_cast<int64_t>(space.points.size()) <= (opt_.budget_trials > 0 ? cap : 8);
  if (exhaustive) {
    for (const auto& p : space.points) enqueue(p);
  } else {
    for (const auto& [g, _] : space.dims) {
      std::vector<const Point*> own;
      for (const auto& p : space.points)
        if (p.generator == g) own.push_back(&p);
      if (!own.empty()) enqueue(*own[rng() % own.size()]);
    }
    for (const auto& t : similar) enqueue({t.generator, t.params});
    while (queue.size() < static_cast<size_t>(2 * opt_.batch)) enqueue(space.points[rng() % space.points.size()]);
  }
  rep.trace.push_back({{"event", "search"}, {"op", sig}, {"strategy", exhaustive ? "exhaustive" : "evolutionary"},
                       {"space", space.points.size()}, {"remembered_trials", remembered}});

  CostModel model;
  bool first_batch = true;  // runs even past the deadline, cut to one seed per generator
  double floor_s = 0;       // this op's first batch and finalists
  auto out_of_budget = [&] {
    if (opt_.stop && opt_.stop->load()) return true;
    if (static_cast<int64_t>(done.size()) >= cap) return true;
    if (!first_batch && search_deadline > 0 && now_s() >= search_deadline) return true;
    return false;
  };
  while (!out_of_budget()) {
    if (queue.empty()) {
      if (exhaustive || done.size() >= space.points.size()) break;
      // Evolve: children of the fastest points, ranked by the cost model; one random point for exploration.
      std::vector<std::pair<Point, double>> ok;
      for (const auto& [k, t] : done)
        if (t.status == TrialStatus::Ok && in_space.count(k)) ok.push_back({{t.generator, t.params}, t.median_us});
      std::sort(ok.begin(), ok.end(), [](auto& a, auto& b) { return a.second < b.second; });
      model.fit(ok);
      std::vector<Point> kids;
      std::set<std::string> seen;
      const size_t parents = std::min<size_t>(ok.size(), 6);
      for (int i = 0; i < 48 && parents > 0; ++i) {
        const Point& a = ok[rng() % parents].first;
        Point c = (i % 3 == 2) ? target_plugin_.crossover(a, ok[rng() % parents].first, op, rng) : a;
        c = target_plugin_.mutate(c, space, op, rng);
        if (in_space.count(c.key()) && !done.count(c.key()) && seen.insert(c.key()).second) kids.push_back(c);
      }
      std::sort(kids.begin(), kids.end(), [&](const Point& a, const Point& b) { return model.predict(a) < model.predict(b); });
      for (size_t i = 0; i + 1 < static_cast<size_t>(opt_.batch) && i < kids.size(); ++i) enqueue(kids[i]);
      for (int tries = 0; tries < 16 && queue.size() < static_cast<size_t>(opt_.batch); ++tries)
        enqueue(space.points[rng() % space.points.size()]);
      if (queue.empty()) break;
    }
    // One batch: generate, compile in parallel, then run each isolated and commit it.
    const size_t left = static_cast<size_t>(cap - static_cast<int64_t>(done.size()));
    size_t nb = std::min({queue.size(), static_cast<size_t>(opt_.batch), left});
    const double batch_t0 = now_s();
    if (first_batch && search_deadline > 0 && batch_t0 >= search_deadline) nb = std::min(nb, space.dims.size());
    std::vector<Point> batch(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(nb));
    queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(nb));
    std::vector<backend::ModuleSource> srcs;
    for (const auto& p : batch) srcs.push_back(target_plugin_.emit(op, p));
    auto built = target_plugin_.build_all(srcs, opt_.jobs);
    // A target that starts its isolated runs at a cost runs the batch's built candidates together.
    std::vector<TrialOutcome> batched(batch.size());
    if (target_plugin_.runs_batches()) {
      std::vector<std::string> paths;
      std::vector<uint64_t> seeds;
      std::vector<size_t> where;
      for (size_t i = 0; i < batch.size(); ++i)
        if (built[i].ok) paths.push_back(built[i].path), seeds.push_back(rng()), where.push_back(i);
      auto outs = target_plugin_.run_batch(op, paths, opt_.measure, opt_.limits, seeds);
      for (size_t j = 0; j < where.size(); ++j) batched[where[j]] = std::move(outs.at(j));
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (opt_.stop && opt_.stop->load()) break;
      TrialRecord r;
      r.op = sig;
      r.target = target_;
      r.generator = batch[i].generator;
      r.params = batch[i].params;
      r.source_hash = sha256_hex(srcs[i].code);
      if (!built[i].ok) {
        r.status = TrialStatus::CompileError;
        r.message = built[i].error;
      } else {
        auto o = checked(op, target_plugin_.runs_batches()
                                 ? batched[i]
                                 : target_plugin_.run(op, built[i].path, opt_.measure, opt_.limits, rng()));
        // Ctrl-C reaches the child too: a trial cut short by it is not a result, so it is not remembered.
        if (opt_.stop && opt_.stop->load()) break;
        r.status = o.status;
        r.message = o.message;
        r.median_us = o.timing.median_us;
        r.p10_us = o.timing.p10_us;
        r.p90_us = o.timing.p90_us;
        r.samples = o.timing.samples;
      }
      r.id = db_.record(r);
      done[batch[i].key()] = r;
      ++trials_run_;
      ++res.new_trials;
      emit_progress(sig);
    }
    if (first_batch) floor_s += now_s() - batch_t0;
    first_batch = false;
  }
  res.trials = static_cast<int64_t>(done.size());
  rep.new_trials += res.new_trials;
  if (opt_.stop && opt_.stop->load()) return res;

  if (done.empty()) {
    // Nothing measured (a trial budget of 0 left): deciding "default" here would be remembered as a search.
    rep.trace.push_back({{"event", "undecided"}, {"op", sig}, {"status", "no trials"}});
    return res;
  }
  // Finalists: the fastest distinct ok points, re-timed interleaved with the default.
  std::vector<TrialRecord> ok;
  for (const auto& [k, t] : done)
    if (t.status == TrialStatus::Ok && in_space.count(k)) ok.push_back(t);
  std::sort(ok.begin(), ok.end(), [](auto& a, auto& b) { return a.median_us < b.median_us; });
  if (ok.size() > static_cast<size_t>(opt_.finalists)) ok.resize(static_cast<size_t>(opt_.finalists));
  std::vector<std::string> paths{""};
  std::vector<std::string> sources;
  std::vector<std::vector<std::string>> libs;
  for (const auto& t : ok) {
    const auto src = target_plugin_.emit(op, {t.generator, t.params});
    sources.push_back(src.code);
    libs.push_back(src.libs);
    auto b = target_plugin_.build_all({src}, 1).at(0);
    paths.push_back(b.ok ? b.path : "/nonexistent/" + b.key);
  }
  // One child times them all, so it gets the time of one trial per implementation.
  RunLimits fin_limits = opt_.limits;
  fin_limits.time_limit_s *= static_cast<double>(paths.size());
  // Sampling time per implementation shrinks to what is left of the share (never below a few samples).
  MeasureOptions fin_measure = opt_.measure;
  if (op_deadline > 0)
    fin_measure.max_seconds = std::clamp((op_deadline - now_s()) / (1.5 * static_cast<double>(paths.size())), 0.02,
                                         opt_.measure.max_seconds);
  const double fin_t0 = now_s();
  auto outs = target_plugin_.run_interleaved(op, paths, fin_measure, fin_limits, rng());
  for (auto& o : outs) o = checked(op, std::move(o));
  floor_s += now_s() - fin_t0;
  op_floor_s_ = (op_floor_s_ * floor_samples_ + floor_s) / (floor_samples_ + 1);
  ++floor_samples_;
  if (outs[0].status != TrialStatus::Ok) {
    // Without a baseline nothing can be promoted; the trials stay in the database for the next run.
    rep.trace.push_back({{"event", "undecided"}, {"op", sig}, {"status", trial_status_name(outs[0].status)},
                         {"message", outs[0].message}});
    return res;
  }
  res.baseline_us = outs[0].timing.median_us;
  size_t win = 0;
  for (size_t i = 1; i < outs.size(); ++i)
    if (outs[i].status == TrialStatus::Ok && outs[i].timing.median_us < (win ? outs[win].timing.median_us : res.baseline_us))
      win = i;
  nlohmann::json fin = nlohmann::json::array();
  fin.push_back({{"generator", "default"}, {"median_us", res.baseline_us}});
  for (size_t i = 1; i < outs.size(); ++i)
    fin.push_back({{"generator", ok[i - 1].generator}, {"params", ok[i - 1].params},
                   {"status", trial_status_name(outs[i].status)}, {"median_us", outs[i].timing.median_us}});
  Promotion prom;
  prom.op = sig;
  prom.target = target_;
  prom.baseline_us = res.baseline_us;
  prom.trials = res.trials;
  if (win > 0) {
    const auto& t = ok[win - 1];
    res.promoted = true;
    res.generator = prom.generator = t.generator;
    res.params = prom.params = t.params;
    res.source = sources[win - 1];
    res.libs = libs[win - 1];
    res.source_hash = sha256_hex(res.source);
    res.tuned_us = prom.tuned_us = outs[win].timing.median_us;
    best_speedup_ = std::max(best_speedup_, res.baseline_us / res.tuned_us);
  } else {
    prom.generator = "default";
    prom.params = nlohmann::json::object();
    prom.tuned_us = res.baseline_us;
  }
  res.finished = true;
  db_.promote(prom);
  rep.trace.push_back({{"event", "promote"}, {"op", sig}, {"finalists", fin}, {"winner", prom.generator},
                       {"params", prom.params}, {"seconds", now_s() - op_t0}, {"new_trials", res.new_trials}});
  return res;
}

}  // namespace synaptix::tune
