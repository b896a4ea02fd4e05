
extern "C" __global__ void gather_rows(const float* __restrict__ src, const int* __restrict__ rows, float* dst, int dim) {
  pdl_wait();
  pdl_launch_dependents();
  const float* s = src + (long long)rows[blockIdx.x] * dim;
  float* d = dst + (long long)blockIdx.x * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) d[i] = s[i];
}
extern "C" __global__ void scatter_add_scaled(const float* __restrict__ src, const int* __restrict__ rows,
                                              const float* __restrict__ weights, float* dst, int dim) {
  pdl_wait();
  pdl_launch_dependents();
  const float w = weights[blockIdx.x];
  const float* s = src + (long long)blockIdx.x * dim;
  float* d = dst + (long long)rows[blockIdx.x] * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) d[i] = fmaf(w, s[i], d[i]);
}
