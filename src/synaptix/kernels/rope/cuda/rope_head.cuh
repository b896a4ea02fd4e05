
// One warp: the per-head RMSNorm (qwen3's q_norm / k_norm) of v[0, dim) in place.
__device__ __forceinline__ void head_rms_norm(float* v, const float* nw, float eps, int dim, int lane) {
  float ss = 0.f;
  for (int i = lane; i < dim; i += 32) ss = fmaf(v[i], v[i], ss);
  const float inv = rsqrtf(warp_sum(ss) / (float)dim + eps);
  for (int i = lane; i < dim; i += 32) v[i] = v[i] * inv * nw[i];
}
// Rotation of pair (v[i], v[i + half]) by pos * inv_freq_i (rotate_half layout), cos and sin scaled by the yarn
// attention scaling.
__device__ __forceinline__ void rope_pair(float* v, int i, int half, float pos, float inv_freq_i, float attn_scale) {
  float s, c;
  sincosf(pos * inv_freq_i, &s, &c);
  c *= attn_scale; s *= attn_scale;
  const float a = v[i], b = v[i + half];
  v[i] = a * c - b * s;
  v[i + half] = b * c + a * s;
}
__device__ __forceinline__ void rope_head(float* v, const float* nw, float eps, int dim, int rot, const float* inv_freq,
                                          float pos, float attn_scale, int lane) {
  if (nw) {
    head_rms_norm(v, nw, eps, dim, lane);
    __syncwarp();
  }
  const int half = rot >> 1;
  for (int i = lane; i < half; i += 32) rope_pair(v, i, half, pos, inv_freq[i], attn_scale);
  __syncwarp();
}
