#pragma once
// tune::GemvSchedule (the device-neutral plan's field) <-> kernels::cuda::GemvParams (the generator's point).
#include "synaptix/kernels/linear/cuda/gemv_bf16.h"
#include "synaptix/tune/whole_step_plan.h"

namespace synaptix::tune::cuda {

inline kernels::cuda::GemvParams to_gemv_params(const GemvSchedule& s) {
  return {s.warps, s.kslices, s.rows_per_warp, s.unroll, s.full_occupancy, s.persistent, s.prefetch_kb, s.stages, s.chunk_bytes};
}

inline GemvSchedule to_gemv_schedule(const kernels::cuda::GemvParams& p) {
  return {p.warps, p.kslices, p.rows_per_warp, p.unroll, p.full_occupancy, p.persistent, p.prefetch_kb, p.stages, p.chunk_bytes};
}

}  // namespace synaptix::tune::cuda
