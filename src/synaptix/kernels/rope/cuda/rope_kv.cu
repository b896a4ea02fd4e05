
extern "C" __global__ void __launch_bounds__(128)
rope_kv_write(float* qkv, long long stride, const float* bias, const float* q_norm, const float* k_norm, float eps,
              const int* positions, const int* slots, const float* inv_freq, int rot, float attn_scale,
              void* kc, void* vc, int H, int KVH, int D, int kv_fmt, int block_size) {
  pdl_wait();
  pdl_launch_dependents();
  extern __shared__ float buf[];
  const int t = blockIdx.x, warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nwarps = blockDim.x >> 5;
  float* v = buf + warp * D;
  const float pos = (float)positions[t];
  const long long slot = slots[t];
  // blockIdx.y spreads a token's heads over blocks: at decode (one token) a single block would walk all
  // heads serially.
  for (int h = blockIdx.y * nwarps + warp; h < H + 2 * KVH; h += nwarps * gridDim.y) {
    float* src = qkv + (long long)t * stride + (long long)h * D;
    for (int i = lane; i < D; i += 32) v[i] = src[i] + (bias ? bias[h * D + i] : 0.f);
    __syncwarp();
    if (h < H + KVH) rope_head(v, h < H ? q_norm : k_norm, eps, D, rot, inv_freq, pos, attn_scale, lane);
    if (h < H) {
      for (int i = lane; i < D; i += 32) src[i] = v[i];
    } else {
      const int kvh = h < H + KVH ? h - H : h - H - KVH;
      const long long off = (slot * KVH + kvh) * D;
      void* base = h < H + KVH ? kc : vc;
      // kv_fmt 1: f32, 2: fp8-e4m3 codes (kv_fp8.cuh), 3: int8 codes and the row's scale (kv_int8.cuh), else bf16.
      if (kv_fmt == 3) {
        float amax = 0.f;
        for (int i = lane; i < D; i += 32) amax = fmaxf(amax, fabsf(v[i]));
        const float sc = kv_int8_scale(warp_max(amax));
        const long long b = slot / block_size;
        const int o = (int)(slot - b * block_size);
        signed char* dst = (signed char*)base + kv_int8_row_at(b, o, block_size, KVH, kvh, D);
        for (int i = lane; i < D; i += 32) dst[i] = (signed char)kv_int8_code(v[i], sc);
        if (lane == 0) *(float*)((char*)base + kv_int8_scale_at(b, o, block_size, KVH, kvh, D)) = sc;
      } else if (kv_fmt == 1) { float* dst = (float*)base + off; for (int i = lane; i < D; i += 32) dst[i] = v[i]; }
      else if (kv_fmt == 2) { unsigned char* dst = (unsigned char*)base + off; for (int i = lane; i < D; i += 32) dst[i] = kv_f32_to_fp8(v[i]); }
      else { bf16_t* dst = (bf16_t*)base + off; for (int i = lane; i < D; i += 32) dst[i] = f32_to_bf16(v[i]); }
    }
    __syncwarp();
  }
}
