#pragma once
// linear_quant: y[m, n] = x[m, k] W[n, k]^T (+ bias) with W in a GGUF block type (Q4_0, Q4_1, Q8_0: blocks of
// 32 weights with an f16 scale, and Q4_1's f16 min), read as the file stores it (row n = k/32 blocks).
// Two ways to treat the activations (the `act` parameter, a precision choice):
//  - "f32": exact. Each block is expanded to 32 floats in registers (nibbles or int8 -> f32) and applied to
//    m_tile rows of x with FMAs; the result differs from linear_quant_reference by f32 rounding only.
//  - "q8": llama.cpp's way. Each row of x is rounded once per call to 8 bits per 32 values (an f32 scale
//    amax/127 per block), and each block product is an integer dot product of 32 bytes: AVX-512 VNNI
//    vpdpbusd on 256-bit registers (isa avx512_vnni) or AVX2 vpmaddubsw + vpmaddwd (isa avx2), then one FMA
//    by the two scales. The activation rounding adds an error of at most sum_i |w_i| * amax_block / 254.
// Parameters: isa, act, n_tile (rows of W sharing each load of x), m_tile (rows of x sharing each decoded
// block), rows_per_task (the threading split), threads (all | one).
#include "synaptix/kernels/cpu_generator.h"

namespace synaptix::kernels {

class LinearQuantGenerator final : public CpuGenerator {
 public:
  std::string name() const override { return "linear_quant"; }
  bool applies(const graph::Op& op, const hw::CpuProfile& cpu) const override;
  std::vector<ParamDim> space(const graph::Op& op, const hw::CpuProfile& cpu) const override;
  bool valid(const graph::Op& op, const nlohmann::json& point) const override;
  KernelSource emit(const graph::Op& op, const nlohmann::json& point) const override;
  std::string activations(const nlohmann::json& point) const override { return point.value("act", "f32"); }
};

// The error the q8 activation rounding may add to one output y = sum_i w_i x_i (the tuner's and the tests'
// tolerance for act = q8), from s1 = sum_i |w_i| step_i and s2 = sum_i w_i^2 step_i^2, step_i = amax(x over
// i's block) / 127. Each x_i moves by at most step_i / 2, uniformly: the error is at most s1 / 2 and has a
// standard deviation of sqrt(s2 / 12); the bound is the smaller of s1 / 2 and 8 standard deviations, so that a
// kernel off by a block's worth of y fails while rounding never does.
double q8_activation_error_bound(double s1, double s2);

// Generated C: round_q8_block(xb, q, &d, &ds) rounds a 32-value block of x to nearest of amax / 127 steps
// (llama.cpp's quantize_row_q8_0), giving the codes, the step d and d times the sum of the codes. Every kernel
// that declares q8 activations emits this one text, so they round alike and the bound above holds for all.
extern const char* const kQ8BlockRounding;

}  // namespace synaptix::kernels
