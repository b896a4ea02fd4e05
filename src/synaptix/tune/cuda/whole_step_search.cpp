#include "synaptix/tune/cuda/whole_step_search.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <set>

#include "synaptix/core/error.h"
#include "synaptix/core/hash.h"
#include "synaptix/graph/forward_plan.h"
#include "synaptix/tune/cuda/cuda_linear_target.h"
#include "synaptix/tune/cuda/gemv_schedule.h"
#include "synaptix/tune/tuner.h"
#include "synaptix/tune/tuning_db.h"

namespace synaptix::tune::cuda {
namespace {

namespace kc = kernels::cuda;

// A later in-context candidate replaces the current choice only when it is this much faster: repeated
// decode timings of one plan differ by ~0.5%.
constexpr double kSwitchMargin = 1.005;
// The GEMV stage: a candidate timed once must beat the step in place by kScreenMargin, then the mean of two
// interleaved timings each by kConfirmMargin (timings of one plan repeat within ~0.1% on the H100).
constexpr double kScreenMargin = 1.002, kConfirmMargin = 1.001;

void erase_batch(std::map<LinearShapeKey, GemvSchedule>& gemv, int64_t b) {
  for (auto it = gemv.begin(); it != gemv.end();) it = std::get<0>(it->first) == b ? gemv.erase(it) : std::next(it);
}

std::string attention_name(const DecodeAttentionChoice& da, int64_t split) {
  return (da.warps ? "attention-fused-w" + std::to_string(da.warps) + "-k" + std::to_string(da.keys_per_warp)
                   : std::string("attention-3-kernels")) +
         (da.cluster ? "-cluster" : "") + "+split" + std::to_string(split);
}

}  // namespace

std::vector<LinearShape> step_linear_shapes(const model::Spec& s, const std::vector<int>& batches, int prompt) {
  // The forward plan's products with q|k|v and gate|up fused, as the executor holds them (graph/forward_plan.h).
  const graph::ForwardPlan plan = graph::build_forward_plan(s);
  std::set<std::tuple<int64_t, int64_t, int64_t>> out;
  auto add_step = [&](int64_t m, int64_t logit_rows) {
    for (const auto& [rows, n, k] : graph::step_linear_shapes(plan, m, logit_rows, true)) {
      if (rows <= 8) {
        for (int64_t r = 0; r < rows; r += 8) out.insert({std::min<int64_t>(8, rows - r), n, k});
      } else {
        out.insert({rows, n, k});
      }
    }
  };
  for (int64_t b : batches) add_step(b, b);
  add_step(prompt, 1);  // the prefill's head runs for its last token
  std::vector<LinearShape> v;
  for (auto [m, n, k] : out) v.push_back({m, n, k});
  return v;
}

void record_linear_trials(const std::string& db_path, const LinearTuneResult& r) {
  TuningDb db(db_path);
  const std::string target = cuda_target_hash(r.device_fingerprint);
  for (const LinearTrial& t : r.trials) {
    TrialRecord rec;
    rec.created = static_cast<double>(std::time(nullptr));
    rec.op = cuda_linear_op(t.shape).signature();
    rec.target = target;
    rec.generator = t.generator;
    rec.params = linear_trial_params(t);
    rec.status = t.ok ? TrialStatus::Ok : t.status;
    rec.median_us = t.median_us;
    rec.p10_us = t.p10_us;
    rec.p90_us = t.p90_us;
    rec.samples = t.ok ? 20 : 0;
    rec.message = t.message.empty() ? "device " + r.device_fingerprint : t.message;
    db.record(rec);
  }
}

WholeStepPlan plan_from_isolated(const std::vector<LinearShape>& shapes, const LinearTuneResult& r,
                                 nlohmann::json& report) {
  WholeStepPlan plan;
  report = nlohmann::json::array();
  for (size_t i = 0; i < shapes.size() && i < r.best.size(); ++i) {
    const int b = r.best[i], d = r.baseline[i];
    if (b < 0) continue;
    const LinearTrial& bt = r.trials[static_cast<size_t>(b)];
    const LinearShapeKey key{shapes[i].m, shapes[i].n, shapes[i].k};
    const bool gemv = bt.generator == "cuda_gemv_bf16";
    if (gemv) plan.gemv[key] = to_gemv_schedule(bt.gemv);
    else plan.blaslt_algorithm[key] = bt.algorithm;
    const double bytes = static_cast<double>(shapes[i].n * shapes[i].k * 2);
    const bool default_ok = d >= 0 && r.trials[static_cast<size_t>(d)].ok;
    report.push_back({{"m", shapes[i].m}, {"n", shapes[i].n}, {"k", shapes[i].k},
                      {"best", gemv ? bt.gemv.str() : "algo" + std::to_string(bt.algorithm)},
                      {"best_us", bt.median_us},
                      {"default_us", default_ok ? r.trials[static_cast<size_t>(d)].median_us : -1},
                      {"best_weight_gbps", bytes / (bt.median_us * 1e-6) / 1e9}});
  }
  return plan;
}

IsolatedTuning tune_isolated(const model::Spec& s, const std::vector<int>& batches, int prompt, int device,
                             const std::string& db_path, const IsolatedTuneOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  IsolatedTuning t;
  t.shapes = step_linear_shapes(s, batches, prompt);
  const CudaLinearTarget target(probe_cuda_device(device, t.shapes, true));
  t.result.device_fingerprint = target.facts().fingerprint;
  t.result.isolation = target.facts().isolation;
  // The tuning loop over the step's shapes, as on the CPU: remembered promotions reused, exhaustive where
  // the budget covers a shape's space, else evolution ranked by the cost model; finalists re-timed
  // interleaved with the default; every trial in the database.
  TuningDb db(db_path);
  TuneOptions topt;
  topt.budget_seconds = o.budget_seconds;
  topt.budget_trials = o.budget_trials;
  // No budget at all: every point of every shape, exhaustively (a trial budget that covers every space).
  if (o.budget_seconds <= 0 && o.budget_trials <= 0) topt.budget_trials = int64_t{1} << 40;
  topt.search_more = o.search_more;
  topt.jobs = 16;
  // A batch's trials share one child (one context and upload): larger batches than the CPU's amortise that.
  topt.batch = 32;
  topt.measure.min_samples = 10;
  topt.measure.max_seconds = 0.2;
  topt.limits.time_limit_s = 60;
  topt.progress = o.progress;
  topt.stop = o.stop;
  std::vector<graph::Op> ops;
  for (const auto& sh : t.shapes) ops.push_back(cuda_linear_op(sh));
  const TuneReport rep = Tuner(db, target, topt).tune(ops);
  // The trials as the whole-step search reads them: per shape, every trial the database holds for it on this
  // device, the promoted point as the best (none where the default won) and the default.
  t.result.best.assign(t.shapes.size(), -1);
  t.result.baseline.assign(t.shapes.size(), -1);
  for (size_t i = 0; i < t.shapes.size(); ++i) {
    const OpResult& r = rep.ops.at(i);
    for (const TrialRecord& rec : db.trials(ops[i].signature(), target.target_hash())) {
      LinearTrial lt = linear_trial_of(t.shapes[i], rec.generator, rec.params);
      lt.ok = rec.status == TrialStatus::Ok;
      lt.status = rec.status;
      lt.message = rec.message;
      lt.median_us = rec.median_us;
      lt.p10_us = rec.p10_us;
      lt.p90_us = rec.p90_us;
      t.result.trials.push_back(lt);
      const int idx = static_cast<int>(t.result.trials.size()) - 1;
      if (lt.is_default && (t.result.baseline[i] < 0 || lt.ok)) t.result.baseline[i] = idx;
      if (r.promoted && lt.ok && rec.generator == r.generator && rec.params == r.params) {
        t.result.trials.back().median_us = r.tuned_us;  // the interleaved re-timing that promoted it
        t.result.best[i] = idx;
      }
    }
  }
  nlohmann::json shapes;
  t.plan = plan_from_isolated(t.shapes, t.result, shapes);
  int failed = 0;
  for (const auto& tr : t.result.trials) failed += !tr.ok;
  t.report = {{"trials", t.result.trials.size()}, {"new_trials", rep.new_trials}, {"failed", failed},
              {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()},
              {"budget_seconds", o.budget_seconds}, {"budget_trials", o.budget_trials},
              {"db", db_path}, {"shapes", shapes}, {"device", t.result.device_fingerprint},
              {"ceilings", {{"hbm_read_gbps", target.ceilings().mem_gbps},
                            {"bf16_tensor_gflops", target.ceilings().flop_gflops}}},
              {"isolation", t.result.isolation.empty() ? "forked child per trial" : t.result.isolation},
              {"trace", rep.trace}};
  return t;
}

WholeStepPlan search_whole_step(WholeStepPlan plan, const LinearTuneResult& isolated, const StepTimer& time_step,
                                const WholeStepSearchOptions& o, nlohmann::json& trace) {
  auto progress = [&](const std::string& s) {
    if (o.progress) o.progress(s);
  };
  if (!trace.is_array()) trace = nlohmann::json::array();
  auto spent = [&] { return o.out_of_time && o.out_of_time(); };
  for (int b : o.batches) {
    if (b > o.gemv_max_rows) continue;
    if (spent()) {
      progress("in-context b=" + std::to_string(b) + ": budget spent, the isolated winners stay");
      trace.push_back({{"batch", b}, {"event", "budget spent before this batch"}});
      continue;
    }
    // One candidate timed over the whole decode step; one the device cannot run is recorded with 0 tok/s.
    auto try_plan = [&](const WholeStepPlan& p, const std::string& name) {
      double tok_s = 0;
      try {
        tok_s = time_step(p, b);
      } catch (const Error& e) {
        progress("in-context b=" + std::to_string(b) + " " + name + " failed: " + e.what());
        trace.push_back({{"batch", b}, {"choice", name}, {"tok_s", 0}, {"error", e.what()}});
        return 0.0;
      }
      trace.push_back({{"batch", b}, {"choice", name}, {"tok_s", tok_s}});
      progress("in-context b=" + std::to_string(b) + " " + name + ": " + std::to_string(tok_s) + " tok/s");
      return tok_s;
    };
    // Two plans timed in turn, twice each (A B A B), so a slow drift of the clock favours neither; the means.
    auto ab = [&](const WholeStepPlan& pa, const std::string& na, const WholeStepPlan& pb, const std::string& nb) {
      double ta = 0, tb = 0;
      for (int rep = 0; rep < 2; ++rep) ta += try_plan(pa, na), tb += try_plan(pb, nb);
      return std::pair<double, double>{ta / 2, tb / 2};
    };
    // 1. Isolated winners or default schedules, RMSNorm fused into the GEMV prologues or separate.
    WholeStepPlan best_plan = plan;
    double best = 0;
    std::string best_name = "none ran";
    for (bool tuned_params : {true, false})
      for (bool fuse : {true, false}) {
        WholeStepPlan p = plan;
        if (!tuned_params) erase_batch(p.gemv, b);
        p.fuse_decode[b] = fuse;
        const std::string name = std::string(tuned_params ? "tuned" : "default") + (fuse ? "+norm-fused" : "+norm-separate");
        const double tok_s = try_plan(p, name);
        if (tok_s > best) best = tok_s, best_plan = p, best_name = name;
      }
    erase_batch(plan.gemv, b);  // keep the winner's entries for this batch size only
    for (const auto& [key, s] : best_plan.gemv)
      if (std::get<0>(key) == b) plan.gemv[key] = s;
    plan.fuse_decode[b] = best_plan.fuse_decode.count(b) ? best_plan.fuse_decode.at(b) : true;
    // 2. The decode attention: RoPE + attention + combine as one kernel (warps per block, keys per warp,
    // cluster combine) or as three, each with its split size along the sequence; the two best A B A B.
    DecodeAttentionChoice best_da, second_da;
    int64_t best_split = 64, second_split = 64;
    double second = 0;
    std::string best_attn, second_attn;
    best = 0;
    for (DecodeAttentionChoice da : {DecodeAttentionChoice{0, 4}, DecodeAttentionChoice{4, 4}, DecodeAttentionChoice{8, 4},
                                     DecodeAttentionChoice{16, 4}, DecodeAttentionChoice{8, 8}, DecodeAttentionChoice{16, 8},
                                     DecodeAttentionChoice{8, 4, true}, DecodeAttentionChoice{16, 4, true},
                                     DecodeAttentionChoice{16, 8, true}})
      for (int64_t split : {16, 32, 64, 128}) {
        WholeStepPlan p = plan;
        p.decode_attention[b] = da;
        p.attention_split[b] = split;
        const std::string name = attention_name(da, split);
        const double tok_s = try_plan(p, name);
        if (tok_s > best) {
          second = best, second_da = best_da, second_split = best_split, second_attn = best_attn;
          best = tok_s, best_da = da, best_split = split, best_attn = name;
        } else if (tok_s > second) {
          second = tok_s, second_da = da, second_split = split, second_attn = name;
        }
      }
    // The first two are often within the drift of one pass over the candidates: A B A B decides.
    if (second > 0) {
      WholeStepPlan pa = plan, pb = plan;
      pa.decode_attention[b] = best_da, pa.attention_split[b] = best_split;
      pb.decode_attention[b] = second_da, pb.attention_split[b] = second_split;
      const auto [ta, tb] = ab(pa, best_attn + " (first)", pb, second_attn + " (second)");
      if (tb > ta) best_da = second_da, best_split = second_split;
    }
    plan.decode_attention[b] = best_da;
    plan.attention_split[b] = best_split;
    // 3. The chosen attention with the token's heads in registers (default) or in shared memory.
    {
      WholeStepPlan staged = plan;
      staged.decode_attention[b].reg_heads = false;
      const auto [in_regs, in_smem] = ab(plan, "attention-heads-in-registers", staged, "attention-heads-in-shared-memory");
      if (in_smem > in_regs * kSwitchMargin) plan.decode_attention[b].reg_heads = false;
    }
    // 4. MoE: the grouped down projection spread over (row block, expert) blocks or walked per row block.
    if (o.moe) {
      bool best_spread = true;
      double spread_tok_s = 0;
      for (bool spread : {true, false}) {
        WholeStepPlan p = plan;
        p.moe_down_spread[b] = spread;
        const double tok_s = try_plan(p, std::string("moe-down-") + (spread ? "spread" : "per-row-block"));
        if (spread) spread_tok_s = tok_s;
        else if (tok_s > spread_tok_s * kSwitchMargin) best_spread = false;
      }
      plan.moe_down_spread[b] = best_spread;
    }
    // 5. o_proj's weights prefetched into L2 beside RoPE/attention, or not.
    bool best_prefetch = false;
    for (bool prefetch : {false, true}) {
      WholeStepPlan p = plan;
      p.o_prefetch[b] = prefetch;
      const double tok_s = try_plan(p, std::string("o_prefetch=") + (prefetch ? "on" : "off"));
      if (!prefetch) best = tok_s;  // this run's own measure of the choice so far
      else if (tok_s > best * kSwitchMargin) best_prefetch = true;
    }
    plan.o_prefetch[b] = best_prefetch;
    // 6. Each GEMV shape of this batch size: its next-best isolated schedules, tried in the whole step.
    std::map<std::pair<int64_t, int64_t>, std::vector<const LinearTrial*>> finalists;
    for (const LinearTrial& t : isolated.trials)
      if (t.ok && t.shape.m == b && t.generator == "cuda_gemv_bf16") finalists[{t.shape.n, t.shape.k}].push_back(&t);
    double current = try_plan(plan, "in place");
    for (auto& [nk, trials] : finalists) {
      std::sort(trials.begin(), trials.end(), [](const auto* x, const auto* y) { return x->median_us < y->median_us; });
      const LinearShapeKey key{b, nk.first, nk.second};
      std::vector<kc::GemvParams> candidates;
      for (size_t i = 0; i < std::min<size_t>(5, trials.size()); ++i) candidates.push_back(trials[i]->gemv);
      // Plus the persistent form of the schedule in place: isolated timings cannot show what it gains in the
      // step (one wave whose blocks prefetch all their rows while the previous kernel runs).
      const auto cur = plan.gemv.find(key);
      const kc::GemvParams base = cur != plan.gemv.end() ? to_gemv_params(cur->second)
                                                         : kc::gemv_default_params(b, nk.first, nk.second);
      kc::GemvParams pers = base;
      pers.persistent = 1;
      candidates.push_back(pers);
      // And the schedule in place with its L2 prefetch capped: a full wave of blocks over long rows can
      // prefetch more than L2 holds.
      for (int kb : {16, 32}) {
        kc::GemvParams capped = base;
        capped.prefetch_kb = kb;
        candidates.push_back(capped);
      }
      // And, whatever their isolated rank, the schedules that won this stage for some shape on the H100
      // (w8_ks8_r2_u1, the default, and w8_ks4_r1_u4) with their neighbours: rows per block and warps per row
      // change how the step's kernels overlap, which isolated timings cannot see.
      for (const kc::GemvParams& s : {kc::GemvParams{8, 8, 2, 1}, kc::GemvParams{8, 8, 1, 4}, kc::GemvParams{8, 8, 1, 2},
                                      kc::GemvParams{16, 8, 2, 1}, kc::GemvParams{16, 8, 1, 4}, kc::GemvParams{8, 4, 2, 2},
                                      kc::GemvParams{8, 4, 1, 4}, kc::GemvParams{4, 4, 1, 4}, kc::GemvParams{16, 16, 2, 1}})
        if (kc::gemv_params_valid(s, b) && std::find(candidates.begin(), candidates.end(), s) == candidates.end())
          candidates.push_back(s);
      const std::string shape = std::to_string(nk.first) + "x" + std::to_string(nk.second) + " ";
      for (const kc::GemvParams& cand : candidates) {
        if (spent()) {
          trace.push_back({{"batch", b}, {"event", "budget spent in the GEMV stage"}, {"shape", shape}});
          break;
        }
        const auto it = plan.gemv.find(key);
        if (it != plan.gemv.end() && to_gemv_params(it->second) == cand) continue;
        WholeStepPlan p = plan;
        p.gemv[key] = to_gemv_schedule(cand);
        const double tok_s = try_plan(p, shape + cand.str() + " (vs " + std::to_string(current) + ")");
        if (tok_s <= current * kScreenMargin) continue;
        // A candidate that passes the screen is confirmed against the schedule in place, A B A B.
        const std::string in_place = it != plan.gemv.end() ? to_gemv_params(it->second).str() : std::string("default");
        const auto [now, with] = ab(plan, shape + in_place + " (in place)", p, shape + cand.str() + " (candidate)");
        if (with > now * kConfirmMargin) plan.gemv[key] = to_gemv_schedule(cand), current = with;
        else current = now;
      }
    }
    const DecodeAttentionChoice& da = plan.decode_attention[b];
    progress("in-context b=" + std::to_string(b) + ": chose " + best_name + ", attention " +
             (da.warps ? "fused (" + std::to_string(da.warps) + " warps" + (da.cluster ? ", cluster" : "") + ")"
                       : std::string("in 3 kernels")) +
             ", split " + std::to_string(plan.attention_split[b]) + ", o_proj prefetch " +
             (plan.o_prefetch[b] ? "on" : "off") + ", heads " + (da.reg_heads ? "in registers" : "in shared memory"));
  }
  return plan;
}

}  // namespace synaptix::tune::cuda
