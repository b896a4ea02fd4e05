
extern "C" __global__ void __launch_bounds__(32) moe_route(const float* __restrict__ logits, int E, int K,
                                                           int normalize, int* __restrict__ ids,
                                                           float* __restrict__ weights) {
  extern __shared__ float p[];
  pdl_wait();
  pdl_launch_dependents();
  const int lane = threadIdx.x;
  const float* l = logits + (long long)blockIdx.x * E;
  float mx = -INFINITY;
  for (int e = lane; e < E; e += 32) {
    const float v = l[e];
    p[e] = v;
    mx = fmaxf(mx, v);
  }
  mx = warp_max(mx);
  // exp in double, rounded once to float: the correctly rounded expf that the host's libm gives in all
  // but the rarest cases, so the probabilities (and their order) match the reference bit for bit.
  for (int e = lane; e < E; e += 32) p[e] = (float)exp((double)(p[e] - mx));
  __syncwarp();
  float sum = 0.f;
  if (lane == 0)
    for (int e = 0; e < E; ++e) sum += p[e];  // index order, as the reference adds
  sum = __shfl_sync(0xffffffffu, sum, 0);
  for (int e = lane; e < E; e += 32) p[e] = p[e] / sum;
  __syncwarp();
  int* out_id = ids + (long long)blockIdx.x * K;
  float* out_w = weights + (long long)blockIdx.x * K;
  float total = 0.f;
  for (int i = 0; i < K; ++i) {
    // Keys: probabilities are >= 0, a NaN ranks below them (-0.5) and a taken expert lowest (-2), so every
    // round picks a valid, untaken expert even from garbage logits.
    float bv = -3.f;
    int bi = 0x7fffffff;
    for (int e = lane; e < E; e += 32) {
      const float v = p[e] == p[e] ? p[e] : -0.5f;
      if (v > bv) { bv = v; bi = e; }  // ascending e: the first of equal values is the lowest index
    }
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
      const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
      if (ov > bv || (ov == bv && oi < bi)) { bv = ov; bi = oi; }
    }
    if (lane == 0) {
      const float w = p[bi];
      out_id[i] = bi;
      out_w[i] = w;
      total += w;  // selection order, as the reference adds
      p[bi] = -2.f;
    }
    __syncwarp();
  }
  if (lane == 0 && normalize)
    for (int i = 0; i < K; ++i) out_w[i] = out_w[i] / total;
}
