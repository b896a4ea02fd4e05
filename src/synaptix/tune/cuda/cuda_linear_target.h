#pragma once
// The CUDA target of the tuning loop (tune/target.h) for the linear op y[m, n] = x W^T with bf16 W: the
// loop (tune/tuner.h) searches it as it searches the CPU, exhaustively or by evolution with the cost model,
// and records every trial in the same database. Per shape:
//   - space: its two generators behind the one generator interface (kernels/linear/cuda/linear_generators.h):
//     m <= 8 (the GEMV path) every point of the generated kernel's space ("cuda_gemv_bf16"); larger m every
//     algorithm cuBLASLt's heuristic offers on this device ("cublaslt_bf16");
//   - builder: NVRTC for the device's architecture into the cubin cache (in a forked child: NVRTC has left
//     a process unable to hand CUDA to forked children);
//   - runner: isolated children (backend/cuda/trial_runner.h: their own context, a time limit per trial; a
//     batch of trials shares one child until a trial fails), one timing type (CUDA events, L2 flushed before every repeat). Each candidate is verified on random inputs
//     with its output poisoned against kernels/linear/reference on the host (every output of a GEMV shape;
//     for larger m every column of eight rows, and every element checked written), timed, then its output of
//     the timed runs is checked again;
//   - ceilings: the device's measured HBM read bandwidth and bf16 tensor-core peak.
// The loop owns nothing of the device: the target must be made before this process initialises CUDA.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "synaptix/graph/op_graph.h"
#include "synaptix/kernels/linear/cuda/linear_generators.h"
#include "synaptix/tune/cuda/linear_trials.h"
#include "synaptix/tune/target.h"
#include "synaptix/tune/whole_step_plan.h"

namespace synaptix::tune::cuda {

// What the target knows of its device, probed once in an isolated child.
struct CudaDeviceFacts {
  int device = 0;
  std::string fingerprint;  // hw::cuda::DeviceProfile::fingerprint()
  std::string arch;         // "sm_90a"
  Ceilings ceilings;
  std::map<LinearShapeKey, int> blaslt_algorithms;  // per tensor-core shape: how many the heuristic offers
  std::string isolation;  // "": a forked child per trial; else why trials run in this process
};

// Probes device `device` (fingerprint, arch, measured ceilings when `measure_ceilings`, cuBLASLt algorithm
// counts of the shapes with m > 8) in a forked child; when a forked child cannot use CUDA, in this process
// and `isolation` says so. Throws naming the device when it cannot be probed at all.
CudaDeviceFacts probe_cuda_device(int device, const std::vector<LinearShape>& shapes, bool measure_ceilings);

// The linear op of a shape as the loop sees it (bf16 weights, f32 x and y).
graph::Op cuda_linear_op(const LinearShape& s);
// The database's target key for a device fingerprint.
std::string cuda_target_hash(const std::string& fingerprint);

class CudaLinearTarget : public Target {
 public:
  explicit CudaLinearTarget(CudaDeviceFacts facts);
  ~CudaLinearTarget() override;

  std::string kind() const override { return "cuda"; }
  std::string target_hash() const override;
  double op_cost_us(const graph::Op& op) const override;
  // The GEMV schedules (m <= 8) and cuBLASLt's algorithms (m > 8) of kernels/linear/cuda/linear_generators.h.
  std::vector<const kernels::Generator*> generators() const override { return generators_; }
  backend::ModuleSource emit(const graph::Op& op, const Point& p) const override;
  std::vector<backend::BuiltModule> build_all(const std::vector<backend::ModuleSource>& sources,
                                              int jobs) const override;
  TrialOutcome run(const graph::Op& op, const std::string& module_path, const MeasureOptions& mopt,
                   const RunLimits& lim, uint64_t seed) const override;
  // A compile batch's trials in one child (one context, the shape's inputs uploaded once); a failure ends
  // that child and a fresh one goes on with the next trial.
  bool runs_batches() const override { return true; }
  std::vector<TrialOutcome> run_batch(const graph::Op& op, const std::vector<std::string>& module_paths,
                                      const MeasureOptions& mopt, const RunLimits& lim,
                                      const std::vector<uint64_t>& seeds) const override;
  std::vector<TrialOutcome> run_interleaved(const graph::Op& op, const std::vector<std::string>& module_paths,
                                            const MeasureOptions& mopt, const RunLimits& lim,
                                            uint64_t seed) const override;
  Ceilings ceilings() const override { return facts_.ceilings; }
  const CudaDeviceFacts& facts() const { return facts_; }

  // The host side of a shape's check: random inputs from `seed` (bf16 W scaled by 1/sqrt(k), x uniform in
  // [-1, 1), bf16-rounded for a tensor-core shape) and kernels::linear_reference's outputs for the checked
  // rows (every row of a GEMV shape, eight spread over m otherwise), with the same product of |x| and |W| for
  // the tolerance. Made once per shape (the first trial's seed) in this process; trial children inherit it.
  struct ShapeInputs {
    graph::Op op;
    std::vector<uint8_t> w;        // [n, k] bf16
    std::vector<float> x;          // [m, k]
    std::vector<uint16_t> x_bf16;  // tensor-core shapes only
    std::vector<int64_t> rows;     // the checked rows
    std::vector<float> want;       // [rows, n]
    std::vector<float> magnitude;  // [rows, n]
  };
  const ShapeInputs& inputs(const graph::Op& op, uint64_t seed) const;

 private:
  CudaDeviceFacts facts_;
  kernels::cuda::GemvBf16Generator gemv_;
  kernels::cuda::BlasLtBf16Generator blaslt_;
  std::vector<const kernels::Generator*> generators_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::unique_ptr<ShapeInputs>> inputs_;
};

// "" when `got` ([m, n], as the device wrote it) is every element written (no NaN poison left) and within
// the tolerance of the reference on the checked rows; else "wrong result <when> ..." naming the first bad
// element. The tolerance is 1e-4 of the sum of |x w| (f32 accumulation in another order), the bound the
// device check has held on the H100 since the first CUDA tuner.
std::string check_linear_output(const CudaLinearTarget::ShapeInputs& in, const std::vector<float>& got,
                                const std::string& when);

// A point of the CUDA linear space as the builder passes it to the runner (BuiltModule::path), and back.
std::string cuda_point_path(const Point& p);
Point cuda_point_of_path(const std::string& path);

}  // namespace synaptix::tune::cuda
