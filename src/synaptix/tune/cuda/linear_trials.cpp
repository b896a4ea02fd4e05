#include "synaptix/tune/cuda/linear_trials.h"

#include "synaptix/tune/cuda/cuda_linear_target.h"

namespace synaptix::tune::cuda {

namespace kc = kernels::cuda;

LinearTrial linear_trial_of(const LinearShape& s, const std::string& generator, const nlohmann::json& params) {
  LinearTrial t;
  t.shape = s;
  t.generator = generator;
  if (generator == "cuda_gemv_bf16") {
    t.gemv.warps = params.value("warps", t.gemv.warps);
    t.gemv.kslices = params.value("kslices", t.gemv.kslices);
    t.gemv.rows_per_warp = params.value("rows_per_warp", t.gemv.rows_per_warp);
    t.gemv.unroll = params.value("unroll", t.gemv.unroll);
    t.gemv.full_occupancy = params.value("full_occupancy", t.gemv.full_occupancy);
    t.gemv.persistent = params.value("persistent", t.gemv.persistent);
    t.gemv.prefetch_kb = params.value("prefetch_kb", t.gemv.prefetch_kb);
    t.gemv.stages = params.value("stages", t.gemv.stages);
    t.gemv.chunk_bytes = params.value("chunk_bytes", t.gemv.chunk_bytes);
    t.is_default = t.gemv == kc::gemv_default_params(static_cast<int>(s.m), s.n, s.k);
  } else {
    t.algorithm = params.value("algorithm", 0);
    t.is_default = t.algorithm == 0;
  }
  return t;
}

nlohmann::json linear_trial_params(const LinearTrial& t) {
  if (t.generator != "cuda_gemv_bf16") return {{"algorithm", t.algorithm}};
  const kc::GemvParams& g = t.gemv;
  return {{"warps", g.warps}, {"kslices", g.kslices}, {"rows_per_warp", g.rows_per_warp}, {"unroll", g.unroll},
          {"full_occupancy", g.full_occupancy}, {"persistent", g.persistent}, {"prefetch_kb", g.prefetch_kb},
          {"stages", g.stages}, {"chunk_bytes", g.chunk_bytes}};
}

LinearTuneResult tune_linear_shapes(const std::vector<LinearShape>& shapes, const LinearTuneOptions& opt) {
  LinearTuneResult res;
  const CudaLinearTarget target(probe_cuda_device(opt.device, shapes, true));
  res.device_fingerprint = target.facts().fingerprint;
  res.isolation = target.facts().isolation;
  res.best.assign(shapes.size(), -1);
  res.baseline.assign(shapes.size(), -1);
  MeasureOptions mo;
  mo.min_samples = opt.repeats / 2;
  RunLimits lim;
  lim.time_limit_s = opt.trial_timeout_s;
  for (size_t si = 0; si < shapes.size(); ++si) {
    const graph::Op op = cuda_linear_op(shapes[si]);
    const SearchSpace space = target.space(op, {});
    std::vector<backend::ModuleSource> srcs;
    for (const auto& p : space.points) srcs.push_back(target.emit(op, p));
    const auto built = target.build_all(srcs, 16);
    // Every built point of the shape in one batch: one child (a fresh one after a failure).
    std::vector<std::string> paths;
    std::vector<uint64_t> seeds;
    for (const auto& b : built)
      if (b.ok) paths.push_back(b.path), seeds.push_back(1 + si);
    const auto outs = target.run_batch(op, paths, mo, lim, seeds);
    size_t next = 0;
    for (size_t i = 0; i < space.points.size(); ++i) {
      LinearTrial t = linear_trial_of(shapes[si], space.points[i].generator, space.points[i].params);
      TrialOutcome o;
      if (!built[i].ok) {
        o.status = TrialStatus::CompileError;
        o.message = built[i].error;
      } else {
        o = outs.at(next++);
        if (o.status == TrialStatus::Ok) {
          const std::string why = implausible_time(op, o.timing, target.ceilings());
          if (!why.empty()) o.status = TrialStatus::MeasurementFault, o.message = why;
        }
      }
      t.ok = o.status == TrialStatus::Ok;
      t.status = o.status;
      t.message = o.message;
      t.median_us = o.timing.median_us;
      t.p10_us = o.timing.p10_us;
      t.p90_us = o.timing.p90_us;
      res.trials.push_back(t);
      const int idx = static_cast<int>(res.trials.size()) - 1;
      int& best = res.best[si];
      if (t.ok && (best < 0 || t.median_us < res.trials[static_cast<size_t>(best)].median_us)) best = idx;
      if (t.is_default) res.baseline[si] = idx;
    }
  }
  return res;
}

}  // namespace synaptix::tune::cuda
