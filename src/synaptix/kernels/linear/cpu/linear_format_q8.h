#pragma once
// linear_format_q8: y[m, n] = x[m, k] W[n, k]^T (+ bias) with W in one of Synaptix's integer weight formats
// (quant/weight_format.h): int8-pc (an f32 scale per row, int8 codes) or int4-gG / int4-gG-asym (G = 32, 64,
// 128: an f16 scale, and a zero point, per group; nibble order), with 8-bit activations: each row of x is
// rounded once per call to 8 bits per 32 values (an f32 scale amax / 127 per block of 32, as linear_quant's
// act=q8), and every 32-value product is an integer dot product: AVX-512 VNNI vpdpbusd on 256-bit registers
// (isa avx512_vnni) or AVX2 vpmaddubsw + vpmaddwd (isa avx2), then one FMA by the weight and activation
// scales. int8 weights go through the sign trick (|w| times x with w's sign, so u8 x s8 pairs stay within
// int16); int4 codes are unsigned nibbles and the zero point (8, or the group's) is taken off with the block's
// sum of x. The activations are declared "q8" (CpuGenerator::activations), so the tuner verifies these
// kernels within q8_activation_error_bound (linear_quant.h) and keeps them only where the run allows q8 and
// the quality gate passes. act=f32 is the exact form (isa avx2: 32 codes widened to floats in registers,
// FMAs with x, f32 rounding only), so a run without rounded activations still has a family to search.
// width 512 (avx512_vnni, q8, rows or groups of at least 64): _mm512_dpbusd_epi32 on two blocks of x at once,
// each block's scales over its 8 lanes. Parameters: isa, act, width, n_tile (rows of W sharing each load of x), m_tile (rows of x
// sharing each decoded block), rows_per_task (the threading split), threads (all | one).
#include "synaptix/kernels/cpu_generator.h"

namespace synaptix::kernels {

class LinearFormatQ8Generator final : public CpuGenerator {
 public:
  std::string name() const override { return "linear_format_q8"; }
  bool applies(const graph::Op& op, const hw::CpuProfile& cpu) const override;
  std::vector<ParamDim> space(const graph::Op& op, const hw::CpuProfile& cpu) const override;
  bool valid(const graph::Op& op, const nlohmann::json& point) const override;
  KernelSource emit(const graph::Op& op, const nlohmann::json& point) const override;
  std::string activations(const nlohmann::json& point) const override { return point.value("act", "q8"); }
};

}  // namespace synaptix::kernels
