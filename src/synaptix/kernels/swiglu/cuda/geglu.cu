
// GeGLU with the tanh form of GELU (gemma3's "gelu_pytorch_tanh"), over the same interleaved gate|up rows as
// swiglu: out[r, c] = gelu_tanh(gate) * up, f32 or bf16.
extern "C" __global__ void geglu_tanh(const float* __restrict__ gu, void* out, long long m, long long inter,
                                      int out_bf16) {
  pdl_wait();
  pdl_launch_dependents();
  const long long total = m * inter;
  const long long stride = (long long)gridDim.x * blockDim.x;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += stride) {
    const long long r = i / inter, c = i - r * inter;
    const float g = gu[r * 2 * inter + 2 * c], u = gu[r * 2 * inter + 2 * c + 1];
    const float v = 0.5f * g * (1.f + tanhf(0.7978845608028654f * (g + 0.044715f * g * g * g))) * u;
    if (out_bf16) ((bf16_t*)out)[i] = f32_to_bf16(v); else ((float*)out)[i] = v;
  }
}
