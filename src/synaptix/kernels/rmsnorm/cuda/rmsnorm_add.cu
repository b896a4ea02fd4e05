
// residual[r] += t[r] / sqrt(mean(t[r]^2) + eps) * w: a sublayer's output normed before its residual add
// (gemma3's post-attention and post-MLP norms). One block per row, f32 math.
extern "C" __global__ void __launch_bounds__(256)
rmsnorm_add(const float* __restrict__ t, const float* __restrict__ w, float* __restrict__ residual, int dim,
            float eps) {
  pdl_wait();
  pdl_launch_dependents();
  __shared__ float red[8];
  const float* tr = t + (size_t)blockIdx.x * dim;
  float* rr = residual + (size_t)blockIdx.x * dim;
  float ss = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) { const float v = tr[i]; ss = fmaf(v, v, ss); }
  ss = warp_sum(ss);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = ss;
  __syncthreads();
  if (threadIdx.x < 32) {
    float s = threadIdx.x < (blockDim.x >> 5) ? red[threadIdx.x] : 0.f;
    s = warp_sum(s);
    if (threadIdx.x == 0) red[0] = s;
  }
  __syncthreads();
  const float inv = rsqrtf(red[0] / (float)dim + eps);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) rr[i] += tr[i] * inv * w[i];
}
