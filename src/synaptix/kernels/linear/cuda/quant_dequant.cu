// A weight-format matrix (quant/weight_format.h) expanded to bf16 [n, k], each element the f32 product the
// CPU reference (quant::dequantize_rows) computes, rounded to nearest even: the operand of the cuBLASLt
// product for steps too large for the decode GEMV. One thread per unit (quant_decode.cuh), grid-stride.
// #defines from the generator (quant_gemv_source.cpp): the format's (QFMT, GROUP, ASYM).

extern "C" __global__ void __launch_bounds__(256)
quant_dequant_bf16(const unsigned char* __restrict__ w, bf16_t* __restrict__ out, int n, int k) {
  // out may still be read by the product of the previous step: wait for the kernels before.
  pdl_wait();
  pdl_launch_dependents();
  const long long units = qd_units(k), total = (long long)n * units;
  const long long row_bytes = qd_row_bytes(k);
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
    const long long row = i / units;
    const int u = (int)(i - row * units);
    const unsigned char* wr = w + row * row_bytes;
    const QdUnit q = qd_load(wr, u);
    float v[QD_VALUES_PER_UNIT];
    qd_values(q, v);
    bf16_t* o = out + row * k + qd_first(u);
#ifdef QD_ROW_SCALE
    const float s = qd_row_scale(wr);
    o[0] = f32_to_bf16(s * v[0]);
    o[1] = f32_to_bf16(s * v[1]);
    o[2] = f32_to_bf16(s * v[2]);
    o[3] = f32_to_bf16(s * v[3]);
#elif QD_VALUES_PER_UNIT == 4
    o[0] = f32_to_bf16(v[0]);
    o[1] = f32_to_bf16(v[1]);
    o[QD_SECOND_HALF] = f32_to_bf16(v[2]);
    o[QD_SECOND_HALF + 1] = f32_to_bf16(v[3]);
#else
    o[0] = f32_to_bf16(v[0]);
    o[QD_SECOND_HALF] = f32_to_bf16(v[1]);
#endif
  }
}
