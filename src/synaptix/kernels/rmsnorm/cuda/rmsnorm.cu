
extern "C" __global__ void __launch_bounds__(256)
rmsnorm(const float* __restrict__ x, const int* __restrict__ rows, const float* __restrict__ w, void* y, int dim,
        float eps, int out_bf16) {
  pdl_wait();
  pdl_launch_dependents();
  __shared__ float red[8];
  const int out_row = blockIdx.x;
  const int in_row = rows ? rows[out_row] : out_row;
  const float* xr = x + (size_t)in_row * dim;
  float ss = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) { float v = xr[i]; ss = fmaf(v, v, ss); }
  ss = warp_sum(ss);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = ss;
  __syncthreads();
  if (threadIdx.x < 32) {
    float t = threadIdx.x < (blockDim.x >> 5) ? red[threadIdx.x] : 0.f;
    t = warp_sum(t);
    if (threadIdx.x == 0) red[0] = t;
  }
  __syncthreads();
  const float inv = rsqrtf(red[0] / (float)dim + eps);
  if (out_bf16) {
    bf16_t* yr = (bf16_t*)y + (size_t)out_row * dim;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = f32_to_bf16(xr[i] * inv * w[i]);
  } else {
    float* yr = (float*)y + (size_t)out_row * dim;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = xr[i] * inv * w[i];
  }
}
