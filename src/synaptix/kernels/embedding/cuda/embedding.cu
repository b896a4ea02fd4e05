
struct StepMetaCopy {
  const int* src;
  int* dst;
  int off[6];
  int n[6];
  int steps;
  int step_stride;
  int per_step_regions;
};
extern "C" __global__ void __launch_bounds__(256)
embedding(const int* ids, unsigned long long* argmax_words, int* ids_out, int* host_ids, const bf16_t* __restrict__ table,
          float* out, int dim, float* ss, int ss_zero, StepMetaCopy mc) {
  __shared__ float red[8];
  __shared__ int tok_s;
  pdl_wait();
  int tok;
  if (argmax_words) {
    // The row's greedy token from the keys the LM head's GEMV combined (one word a lane), which go back to
    // zero for the next step's head.
    if (threadIdx.x < 32) {
      unsigned long long* word = argmax_words + ((size_t)blockIdx.x * 32 + threadIdx.x) * ARGMAX_STRIDE;
      const unsigned long long key = warp_max_u64(__ldcg(word));
      *word = 0ull;
      if (threadIdx.x == 0) {
        tok_s = argmax_key_index(key);
        ids_out[blockIdx.x] = tok_s;
        if (host_ids) host_ids[blockIdx.x] = tok_s;
      }
    }
    __syncthreads();
    tok = tok_s;
  } else {
    // The token first: its load (from pinned host memory when not chained) overlaps the metadata's.
    tok = __ldcv(ids + blockIdx.x);
  }
  // The metadata of the graph's steps, from pinned host memory into device memory, before any later kernel
  // reads it: every kernel triggers its dependents only after its own wait, so the next-but-one kernel
  // starts after this one has finished. Each thread issues four loads before its stores, so a block pays
  // one PCIe round trip (~1-2 us) for its share, not one per region or element.
  if (mc.dst) {
    int per_step = 0, once = 0;
    for (int r = 0; r < 6; ++r) (r < mc.per_step_regions ? per_step : once) += mc.n[r];
    const int repeated = per_step * mc.steps, total = repeated + once;
    const int stride = gridDim.x * blockDim.x;
    for (int base = blockIdx.x * blockDim.x + threadIdx.x; base < total; base += 4 * stride) {
      int v[4], at[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        int i = base + j * stride, r = 0;
        at[j] = -1;
        if (i < total) {
          int step = 0;
          if (i < repeated) {
            step = i / per_step;
            i -= step * per_step;
          } else {
            i -= repeated;
            r = mc.per_step_regions;
          }
          while (i >= mc.n[r]) i -= mc.n[r++];
          at[j] = step * mc.step_stride + mc.off[r] + i;
          v[j] = __ldcv(mc.src + at[j]);
        }
      }
#pragma unroll
      for (int j = 0; j < 4; ++j)
        if (at[j] >= 0) mc.dst[at[j]] = v[j];
    }
  }
  pdl_launch_dependents();
  if (mc.dst && threadIdx.x == 0) mc.dst[blockIdx.x] = tok;
  if (!table) return;
  const bf16_t* row = table + (size_t)tok * dim;
  float* o = out + (size_t)blockIdx.x * dim;
  float acc = 0.f;
  if ((dim & 7) == 0) {
    // 16-byte loads (8 values) and two float4 stores each: one round trip for a 4096-wide row at batch 1.
    for (int c = threadIdx.x; c < (dim >> 3); c += blockDim.x) {
      const uint4 u = reinterpret_cast<const uint4*>(row)[c];
      const float4 a = make_float4(bf16_lo(u.x), bf16_hi(u.x), bf16_lo(u.y), bf16_hi(u.y));
      const float4 b = make_float4(bf16_lo(u.z), bf16_hi(u.z), bf16_lo(u.w), bf16_hi(u.w));
      reinterpret_cast<float4*>(o)[2 * c] = a;
      reinterpret_cast<float4*>(o)[2 * c + 1] = b;
      acc = fmaf(a.x, a.x, acc); acc = fmaf(a.y, a.y, acc); acc = fmaf(a.z, a.z, acc); acc = fmaf(a.w, a.w, acc);
      acc = fmaf(b.x, b.x, acc); acc = fmaf(b.y, b.y, acc); acc = fmaf(b.z, b.z, acc); acc = fmaf(b.w, b.w, acc);
    }
  } else {
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
      const float v = bf16_to_f32(row[i]);
      o[i] = v;
      acc = fmaf(v, v, acc);
    }
  }
  if (!ss) return;
  // The row's sum of squares (the first RMSNorm's statistic), and zeroed accumulators for the later ones.
  if (blockIdx.x == 0)
    for (int i = threadIdx.x; i < ss_zero; i += blockDim.x) ss[gridDim.x + i] = 0.f;
  acc = warp_sum(acc);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = acc;
  __syncthreads();
  if (threadIdx.x == 0) {
    float t = 0.f;
    for (int w = 0; w < (int)(blockDim.x >> 5); ++w) t += red[w];
    ss[blockIdx.x] = t;
  }
}
