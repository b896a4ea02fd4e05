// Decode GEMV for Synaptix's weight formats (quant/weight_format.h): y[j, row] (+)= sum_i x[j, i] * W[row, i]
// for the M rows of x, W dequantized in registers as it streams by (never written out), f32 accumulation.
// A warp takes RPW consecutive weight rows, WARPS warps a block; each lane takes units (quant_decode.cuh) lane,
// lane + 32, ..., loading UNROLL of them of every row before using any, and reads each x element once for its
// RPW rows (a 4-bit weight is 1/8 of the bytes of its f32 x element: without that reuse the x reads from L1,
// not the weights from HBM, would bound the kernel). The warp's partial sums are reduced with shuffles.
// #defines from the generator (quant_gemv_source.cpp): the format's (QFMT, GROUP, ASYM), M, WARPS, RPW, UNROLL.
// x rows are f32, 16-byte aligned (k % 4 == 0); y is [M, n] f32.

extern "C" __global__ void __launch_bounds__(WARPS * 32)
quant_gemv(const float* __restrict__ x, const unsigned char* __restrict__ w, float* __restrict__ y, int n, int k,
           int accumulate) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int row0 = (blockIdx.x * WARPS + warp) * RPW;
  // x (and y, when accumulating) come from the kernel before: wait for it (programmatic dependent launch).
  pdl_wait();
  pdl_launch_dependents();
  if (row0 >= n) return;
  const long long row_bytes = qd_row_bytes(k);
  const unsigned char* wr[RPW];
  bool valid[RPW];
QD_UNROLL
  for (int r = 0; r < RPW; ++r) {
    valid[r] = row0 + r < n;
    wr[r] = w + (size_t)(valid[r] ? row0 + r : row0) * row_bytes;  // past the end: row0 again, never stored
  }
  const int units = qd_units(k);
  float acc[RPW][M];
QD_UNROLL
  for (int r = 0; r < RPW; ++r)
QD_UNROLL
    for (int j = 0; j < M; ++j) acc[r][j] = 0.f;
  for (int u0 = lane; u0 < units; u0 += 32 * UNROLL) {
    QdUnit q[UNROLL][RPW];
QD_UNROLL
    for (int v = 0; v < UNROLL; ++v) {
      const int u = u0 + 32 * v;
      if (u < units) {
QD_UNROLL
        for (int r = 0; r < RPW; ++r) q[v][r] = qd_load(wr[r], u);
      }
    }
QD_UNROLL
    for (int v = 0; v < UNROLL; ++v) {
      const int u = u0 + 32 * v;
      if (u >= units) break;
      float wv[RPW][QD_VALUES_PER_UNIT];
QD_UNROLL
      for (int r = 0; r < RPW; ++r) qd_values(q[v][r], wv[r]);
      const int e = qd_first(u);
QD_UNROLL
      for (int j = 0; j < M; ++j) {
        const float* xj = x + (size_t)j * k + e;
#if QD_VALUES_PER_UNIT == 4 && defined(QD_ROW_SCALE)
        const float4 xv = __ldg(reinterpret_cast<const float4*>(xj));
QD_UNROLL
        for (int r = 0; r < RPW; ++r) acc[r][j] += wv[r][0] * xv.x + wv[r][1] * xv.y + wv[r][2] * xv.z + wv[r][3] * xv.w;
#elif QD_VALUES_PER_UNIT == 4
        const float2 a = __ldg(reinterpret_cast<const float2*>(xj));
        const float2 b = __ldg(reinterpret_cast<const float2*>(xj + QD_SECOND_HALF));
QD_UNROLL
        for (int r = 0; r < RPW; ++r) acc[r][j] += wv[r][0] * a.x + wv[r][1] * a.y + wv[r][2] * b.x + wv[r][3] * b.y;
#else
        const float a = __ldg(xj), b = __ldg(xj + QD_SECOND_HALF);
QD_UNROLL
        for (int r = 0; r < RPW; ++r) acc[r][j] += wv[r][0] * a + wv[r][1] * b;
#endif
      }
    }
  }
#ifdef QD_ROW_SCALE
QD_UNROLL
  for (int r = 0; r < RPW; ++r) {
    const float s = qd_row_scale(wr[r]);
QD_UNROLL
    for (int j = 0; j < M; ++j) acc[r][j] *= s;
  }
#endif
QD_UNROLL
  for (int r = 0; r < RPW; ++r)
QD_UNROLL
    for (int j = 0; j < M; ++j) {
      const float v = warp_sum(acc[r][j]);
      if (lane == 0 && valid[r]) {
        float* out = y + (size_t)j * n + row0 + r;
        *out = accumulate ? *out + v : v;
      }
    }
}
