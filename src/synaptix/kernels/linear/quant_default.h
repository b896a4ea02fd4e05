#pragma once
// The untuned runtime's linear for GGUF block weights (Q4_0 .. Q6_K): what linear_default runs for a block
// dtype. Exact activations (x stays f32; the blocks are dequantized in registers), so it matches
// linear_quant_reference to f32 rounding.
//  - m <= 4 (decode) and Q4_0 / Q4_1 / Q8_0: each block is expanded to 32 floats in vector registers and
//    applied to every row of x at once; Q4_1's min enters as m * sum(x over the block), summed once per call.
//    W streams once, 4.5-8.5 bits a weight instead of bf16's 16.
//  - otherwise (prefill, and Q5_x / the k-quants): W is dequantized 16 rows at a time into an f32 panel
//    (quant/dequantize_simd.h's vectorised rows for Q5_0, Q5_1, Q4_K, Q6_K with AVX-512) and applied to all m
//    rows of x in 4 x 4 register tiles.
//  - Synaptix's weight formats (int8-pc, fp8-e4m3-pc, int4-gG[-asym], mxfp4; quant/weight_format.h):
//    quant_formats.h, units of 32 codes expanded in registers at decode, the same f32 panels otherwise.
// AVX-512 or AVX2+FMA where the build has them; plain C++ otherwise. Parallel over rows of W.
#include "synaptix/kernels/linear/reference.h"

namespace synaptix::kernels {

void linear_quant_default(const LinearArgs& a);
// Several products of one x (q, k, v; gate, up) at decode sizes in one parallel region, as
// linear_default_multi does for bf16; other parts run one by one.
void linear_quant_default_multi(std::span<const LinearArgs> parts);

}  // namespace synaptix::kernels
