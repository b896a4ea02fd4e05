// Decode GEMV for Synaptix's weight formats (quant/weight_format.h): y[j, row] (+)= sum_i x[j, i] * W[row, i]
// for the M rows of x, W dequantized in registers as it streams by (never written out), f32 accumulation.
// One warp per weight row, WARPS rows per block; each lane takes units (quant_decode.cuh) lane, lane + 32, ...,
// loading UNROLL of them before using any, and the warp's partial sums are reduced with shuffles.
// #defines from the generator (quant_gemv_source.cpp): the format's (QFMT, GROUP, ASYM), M, WARPS, UNROLL.
// x rows are f32, 16-byte aligned (k % 4 == 0); y is [M, n] f32.

extern "C" __global__ void __launch_bounds__(WARPS * 32)
quant_gemv(const float* __restrict__ x, const unsigned char* __restrict__ w, float* __restrict__ y, int n, int k,
           int accumulate) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int row = blockIdx.x * WARPS + warp;
  // x (and y, when accumulating) come from the kernel before: wait for it (programmatic dependent launch).
  pdl_wait();
  pdl_launch_dependents();
  if (row >= n) return;
  const unsigned char* wr = w + (size_t)row * qd_row_bytes(k);
  const int units = qd_units(k);
  float acc[M];
#pragma unroll
  for (int j = 0; j < M; ++j) acc[j] = 0.f;
  for (int u0 = lane; u0 < units; u0 += 32 * UNROLL) {
    QdUnit q[UNROLL];
#pragma unroll
    for (int v = 0; v < UNROLL; ++v) {
      const int u = u0 + 32 * v;
      if (u < units) q[v] = qd_load(wr, u);
    }
#pragma unroll
    for (int v = 0; v < UNROLL; ++v) {
      const int u = u0 + 32 * v;
      if (u >= units) break;
      float wv[QD_VALUES_PER_UNIT];
      qd_values(q[v], wv);
      const int e = qd_first(u);
#pragma unroll
      for (int j = 0; j < M; ++j) {
        const float* xj = x + (size_t)j * k + e;
#if QD_VALUES_PER_UNIT == 4 && defined(QD_ROW_SCALE)
        const float4 xv = __ldg(reinterpret_cast<const float4*>(xj));
        acc[j] += wv[0] * xv.x + wv[1] * xv.y + wv[2] * xv.z + wv[3] * xv.w;
#elif QD_VALUES_PER_UNIT == 4
        const float2 a = __ldg(reinterpret_cast<const float2*>(xj));
        const float2 b = __ldg(reinterpret_cast<const float2*>(xj + QD_SECOND_HALF));
        acc[j] += wv[0] * a.x + wv[1] * a.y + wv[2] * b.x + wv[3] * b.y;
#else
        acc[j] += wv[0] * __ldg(xj) + wv[1] * __ldg(xj + QD_SECOND_HALF);
#endif
      }
    }
  }
#ifdef QD_ROW_SCALE
  const float s = qd_row_scale(wr);
#pragma unroll
  for (int j = 0; j < M; ++j) acc[j] *= s;
#endif
#pragma unroll
  for (int j = 0; j < M; ++j) {
    const float v = warp_sum(acc[j]);
    if (lane == 0) {
      float* out = y + (size_t)j * n + row;
      *out = accumulate ? *out + v : v;
    }
  }
}
