
// x[i] *= scale over n floats: the embeddings of a model that scales them (gemma3: sqrt(hidden)). A pass of its
// own, not folded into the table, because the table is also the tied LM head.
extern "C" __global__ void scale_f32(float* __restrict__ x, long long n, float scale) {
  pdl_wait();
  pdl_launch_dependents();
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    x[i] *= scale;
}
