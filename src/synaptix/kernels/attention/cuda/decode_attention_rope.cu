// Decode steps (one new token per sequence, every sequence's earlier K/V already cached): RoPE of the token's
// q and k heads, its K/V written to the cache, attention over [lo, pos] split along the sequence, and the
// combine of the splits by the last block of each (token, KV head) to finish: one kernel instead of three.
// Every split block rotates the token's k itself and attends to position pos from its own copy (registers
// with REG_HEADS, else shared memory), so no block reads a cache row another block of this launch writes. DW warps per block, each taking DKPW keys at a time;
// the first keys' loads are issued before the RoPE work, so one memory round trip covers both.
// With CLUSTER (== S), the S split blocks form one cluster: every block pushes each other block the slice of
// its partial that block combines (distributed shared memory stores) and every block combines 1/S of the
// outputs from its own shared memory, so the combine costs one cluster barrier (plus an arrival at the start
// that the pushes wait for) instead of global writes, a fence, an atomic and L2 reads by one last block.
#if KV_F32
__device__ __forceinline__ float to_kv(float f) { return f; }
#elif KV_FP8
__device__ __forceinline__ unsigned char to_kv(float f) { return kv_f32_to_fp8(f); }
#elif KV_INT8
// int8 rows are written with their scale (kv_int8.cuh): see the two write paths below.
#else
__device__ __forceinline__ bf16_t to_kv(float f) { return f32_to_bf16(f); }
#endif

// This lane's elements of head h of the token's projection row (+ bias), zeros past D.
__device__ __forceinline__ void load_head(const float* row, const float* bias, int h, int lane, float (&v)[EPL]) {
  const int e0 = lane * EPL;
#if EPL == 4 && (D % 4 == 0)
  const float4 u = *reinterpret_cast<const float4*>(row + (long long)h * D + e0);
  v[0] = u.x; v[1] = u.y; v[2] = u.z; v[3] = u.w;
  if (bias) {
    const float4 b = *reinterpret_cast<const float4*>(bias + h * D + e0);
    v[0] += b.x; v[1] += b.y; v[2] += b.z; v[3] += b.w;
  }
#else
#pragma unroll
  for (int e = 0; e < EPL; ++e)
    v[e] = e0 + e < D ? row[(long long)h * D + e0 + e] + (bias ? bias[h * D + e0 + e] : 0.f) : 0.f;
#endif
}
// Rotation of this lane's elements with their partners on lane `src` (rotate_half layout), as rope_pair.
__device__ __forceinline__ void rotate_lane(float (&v)[EPL], const float (&c)[EPL], const float (&sn)[EPL], int src,
                                            bool first, bool rotated) {
#pragma unroll
  for (int e = 0; e < EPL; ++e) {
    const float p = __shfl_sync(0xffffffffu, v[e], src);
    if (rotated) v[e] = first ? v[e] * c[e] - p * sn[e] : v[e] * c[e] + p * sn[e];
  }
}

extern "C" __global__ void __launch_bounds__(DW * 32)
#if CLUSTER
__cluster_dims__(1, 1, CLUSTER)
#endif
decode_attention_rope(const float* __restrict__ qkv, long long q_stride, const float* __restrict__ bias,
                      const float* __restrict__ q_norm, const float* __restrict__ k_norm, float eps,
                      const int* __restrict__ positions, const int* __restrict__ slots, const float* __restrict__ inv_freq,
                      int rot, float attn_scale, kv_t* __restrict__ kc, kv_t* __restrict__ vc,
                      const int* __restrict__ token_seq, const int* __restrict__ block_tables, int table_stride,
                      int block_size, int KVH, int window, float scale, int split_size, float* __restrict__ partial,
                      unsigned int* __restrict__ counters, float* __restrict__ out) {
  // heads: the token's G query heads, then its K and V heads [(G + 2) * D]; freq [D / 2]; then acc
  // [DW][G][D], m [DW][G], l [DW][G]. With CLUSTER the split's partial [G * D + 2 * G] overlays heads and
  // freq (region sized for the larger): they are dead once combine_warps' __syncthreads has passed.
  extern __shared__ float sm[];
  float* heads = sm;
  float* ks = heads + G * D;
  float* vs = ks + D;
  float* freq = vs + D;
#if CLUSTER
  float* sm_acc = sm + ((G + 2) * D + D / 2 > G * D + 2 * G ? (G + 2) * D + D / 2 : G * D + 2 * G);
#else
  float* sm_acc = freq + D / 2;
#endif
  float* sm_m = sm_acc + DW * G * D;
  float* sm_l = sm_m + DW * G;
#if CLUSTER
  // What the cluster's blocks send this block: from each split r its slice of the unnormalised outputs
  // [PER], then its maxima [G] and sums [G] ([CLUSTER][PER + 2 * G], written by the other blocks).
  constexpr int PER = (G * D + CLUSTER - 1) / CLUSTER;
  float* inbox = sm_l + DW * G;
  // This block has started: the arrival the other blocks wait for before they write into its inbox.
  asm volatile("barrier.cluster.arrive.relaxed.aligned;" ::: "memory");
#endif
  const int t = blockIdx.x, kvh = blockIdx.y, s = blockIdx.z, S = gridDim.z;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int H = KVH * G;
  const int pos = positions[t];
  const int lo = window > 0 ? max(0, pos - window + 1) : 0;
  const int start = S > 1 ? lo + s * split_size : lo;
  const int end = S > 1 ? min(pos + 1, start + split_size) : pos + 1;
  const int* table = block_tables + (long long)token_seq[t] * table_stride;
  int j0 = start + warp * DKPW;
  // The step's metadata and the K/V rows of earlier positions were written by kernels that finished before
  // this one could launch (the qkv projection triggers its dependents only after its own wait): their loads
  // go out before waiting for it, and are converted after it.
  KvRaw kr[DKPW], vr[DKPW];
  load_keys_raw(kc, vc, table, block_size, KVH, kvh, j0, min(end, pos), lane, kr, vr);
#if REG_HEADS
  // Every warp keeps the token's heads in registers, lane i holding elements [i * EPL, i * EPL + EPL) as the
  // keys are held: no shared-memory staging and no block barriers before the attention. A lane's elements
  // all lie on one side of each rotation pair (the launcher checks (rot / 2) % EPL == 0), the partner element
  // sits on lane i +- rot / (2 * EPL). Its rotation frequencies are loaded before the wait.
  const int half = rot / 2;
  float fr[EPL];
#pragma unroll
  for (int e = 0; e < EPL; ++e) {
    const int idx = lane * EPL + e;
    fr[e] = idx < rot ? inv_freq[idx < half ? idx : idx - half] : 0.f;
  }
  pdl_wait();
  pdl_launch_dependents();
  float hq[G][EPL], hk[EPL], hv[EPL];
  {
    const float* row = qkv + (long long)t * q_stride;
#pragma unroll
    for (int g = 0; g < G; ++g) load_head(row, bias, kvh * G + g, lane, hq[g]);
    load_head(row, bias, H + kvh, lane, hk);
    load_head(row, bias, H + KVH + kvh, lane, hv);
  }
  if (half > 0) {
    const bool first = lane * EPL < half, rotated = lane * EPL < rot;
    const int src = !rotated ? lane : first ? lane + half / EPL : lane - half / EPL;
    float c[EPL], sn[EPL];
#pragma unroll
    for (int e = 0; e < EPL; ++e) {
      // As rope_pair: the angle in f32, cos and sin scaled by the attention scaling.
      sincosf((float)pos * fr[e], &sn[e], &c[e]);
      c[e] *= attn_scale; sn[e] *= attn_scale;
    }
    rotate_lane(hk, c, sn, src, first, rotated);
#pragma unroll
    for (int g = 0; g < G; ++g) rotate_lane(hq[g], c, sn, src, first, rotated);
  }
#if KV_INT8
  {
    // Every warp finds the rows' scales (max |x| over the warp, the lanes past D hold zeros), writes (split 0,
    // warp 0) and attends the codes the cache holds.
    float ak = 0.f, av = 0.f;
#pragma unroll
    for (int e = 0; e < EPL; ++e) { ak = fmaxf(ak, fabsf(hk[e])); av = fmaxf(av, fabsf(hv[e])); }
    const float sk = kv_int8_scale(warp_max(ak)), sv = kv_int8_scale(warp_max(av));
    const bool writer = s == 0 && warp == 0;
    const long long slot = slots[t];
    const long long off = writer ? kv_row_off(slot, block_size, KVH, kvh) : 0;
#pragma unroll
    for (int e = 0; e < EPL; ++e) {
      const int ck = kv_int8_code(hk[e], sk), cv = kv_int8_code(hv[e], sv);
      if (writer && lane * EPL + e < D) { kc[off + lane * EPL + e] = (signed char)ck; vc[off + lane * EPL + e] = (signed char)cv; }
      hk[e] = (float)ck * sk;
      hv[e] = (float)cv * sv;
    }
    if (writer && lane == 0) {
      const long long b = slot / block_size;
      const long long sat = kv_int8_scale_at(b, (int)(slot - b * block_size), block_size, KVH, kvh, D);
      *reinterpret_cast<float*>(reinterpret_cast<char*>(kc) + sat) = sk;
      *reinterpret_cast<float*>(reinterpret_cast<char*>(vc) + sat) = sv;
    }
  }
#else
#if !KV_F32
  // Position pos is attended with the values the cache holds (bf16 or fp8), as every later step will see it.
#pragma unroll
  for (int e = 0; e < EPL; ++e) { hk[e] = kv_round(hk[e]); hv[e] = kv_round(hv[e]); }
#endif
  if (s == 0 && warp == 0) {
    const long long off = ((long long)slots[t] * KVH + kvh) * D;
#pragma unroll
    for (int e = 0; e < EPL; ++e)
      if (lane * EPL + e < D) { kc[off + lane * EPL + e] = to_kv(hk[e]); vc[off + lane * EPL + e] = to_kv(hv[e]); }
  }
#endif
  float qv[G][EPL];
#pragma unroll
  for (int g = 0; g < G; ++g)
#pragma unroll
    for (int e = 0; e < EPL; ++e) qv[g][e] = lane * EPL + e < D ? hq[g][e] * scale : 0.f;
#else
  // The rotation frequencies are loaded before the wait into a register and stored after it: a store to
  // shared memory waits for its load, which would put the round trip before the wait.
  const float freq0 = (int)threadIdx.x < rot / 2 ? inv_freq[threadIdx.x] : 0.f;
  pdl_wait();
  pdl_launch_dependents();
  if ((int)threadIdx.x < rot / 2) freq[threadIdx.x] = freq0;
  for (int i = threadIdx.x + blockDim.x; i < rot / 2; i += blockDim.x) freq[i] = inv_freq[i];
  const float* row = qkv + (long long)t * q_stride;
  for (int i = threadIdx.x; i < (G + 2) * D; i += blockDim.x) {
    const int hi = i / D, e = i % D;
    const int h = hi < G ? kvh * G + hi : hi == G ? H + kvh : H + KVH + kvh;
    heads[i] = row[(long long)h * D + e] + (bias ? bias[h * D + e] : 0.f);
  }
  __syncthreads();
  if (q_norm || k_norm) {
    for (int hi = warp; hi <= G; hi += DW) {
      const float* nw = hi < G ? q_norm : k_norm;
      if (nw) head_rms_norm(heads + hi * D, nw, eps, D, lane);
    }
    __syncthreads();
  }
  const int half = rot / 2;
  for (int i = threadIdx.x; i < (G + 1) * half; i += blockDim.x)
    rope_pair(heads + (i / half) * D, i % half, half, (float)pos, freq[i % half], attn_scale);
  __syncthreads();
#if KV_INT8
  {
    // Each warp takes the two rows' scales from shared memory (every warp the same), then each element is
    // written (split 0) and replaced by the value the cache holds, by one thread.
    float ak = 0.f, av = 0.f;
    for (int e = lane; e < D; e += 32) { ak = fmaxf(ak, fabsf(ks[e])); av = fmaxf(av, fabsf(vs[e])); }
    const float sk = kv_int8_scale(warp_max(ak)), sv = kv_int8_scale(warp_max(av));
    __syncthreads();  // every warp has read the unrounded rows
    const long long slot = slots[t];
    const long long b = slot / block_size;
    const int o = (int)(slot - b * block_size);
    const long long off = kv_int8_row_at(b, o, block_size, KVH, kvh, D);
    for (int e = threadIdx.x; e < 2 * D; e += blockDim.x) {
      const float sc = e < D ? sk : sv;
      const int c = kv_int8_code(ks[e], sc);
      if (s == 0) (e < D ? kc : vc)[off + (e < D ? e : e - D)] = (signed char)c;
      ks[e] = (float)c * sc;
    }
    if (s == 0 && threadIdx.x == 0) {
      const long long sat = kv_int8_scale_at(b, o, block_size, KVH, kvh, D);
      *reinterpret_cast<float*>(reinterpret_cast<char*>(kc) + sat) = sk;
      *reinterpret_cast<float*>(reinterpret_cast<char*>(vc) + sat) = sv;
    }
    __syncthreads();
  }
#else
#if !KV_F32
  // Position pos is attended with the values the cache holds (bf16 or fp8), as every later step will see it.
  for (int e = threadIdx.x; e < 2 * D; e += blockDim.x) ks[e] = kv_round(ks[e]);
  __syncthreads();
#endif
  if (s == 0) {
    const long long off = ((long long)slots[t] * KVH + kvh) * D;
    for (int e = threadIdx.x; e < D; e += blockDim.x) { kc[off + e] = to_kv(ks[e]); vc[off + e] = to_kv(vs[e]); }
  }
#endif
  float qv[G][EPL];
#pragma unroll
  for (int g = 0; g < G; ++g)
#pragma unroll
    for (int e = 0; e < EPL; ++e) qv[g][e] = lane * EPL + e < D ? heads[g * D + lane * EPL + e] * scale : 0.f;
#endif
  float kf[DKPW][EPL], vf[DKPW][EPL];
#pragma unroll
  for (int u = 0; u < DKPW; ++u) {
    raw_to_f32(kr[u], kf[u]);
    raw_to_f32(vr[u], vf[u]);
  }
  float m[G], l[G], acc[G][EPL];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    m[g] = -INFINITY; l[g] = 0.f;
#pragma unroll
    for (int e = 0; e < EPL; ++e) acc[g][e] = 0.f;
  }
  while (j0 < end) {
    if (pos >= j0 && pos < j0 + DKPW) {
#pragma unroll
      for (int u = 0; u < DKPW; ++u)
        if (j0 + u == pos)
#pragma unroll
          for (int e = 0; e < EPL; ++e) {
#if REG_HEADS
            kf[u][e] = lane * EPL + e < D ? hk[e] : 0.f;
            vf[u][e] = lane * EPL + e < D ? hv[e] : 0.f;
#else
            kf[u][e] = lane * EPL + e < D ? ks[lane * EPL + e] : 0.f;
            vf[u][e] = lane * EPL + e < D ? vs[lane * EPL + e] : 0.f;
#endif
          }
    }
    attend_keys<DKPW>(qv, kf, vf, end - j0, m, l, acc);
    j0 += DW * DKPW;
    if (j0 < end) load_keys(kc, vc, table, block_size, KVH, kvh, j0, min(end, pos), lane, kf, vf);
  }
#if CLUSTER
  float* part = sm;
  combine_warps<DW, true>(m, l, acc, sm_acc, sm_m, sm_l, t, kvh, H, s, S, part, out);
  __syncthreads();  // the split's partial is complete
  // Every block of the cluster has started (its inbox is live): push each rank its slice of this split's
  // outputs and all of its maxima and sums, then one barrier; each block then combines from its own shared
  // memory, so no block reads another's after it and none has to wait for the others before leaving.
  asm volatile("barrier.cluster.wait.aligned;" ::: "memory");
  for (int i = threadIdx.x; i < G * D; i += blockDim.x) st_remote_f32(inbox + s * (PER + 2 * G) + i % PER, i / PER, part[i]);
  for (int i = threadIdx.x; i < 2 * G * CLUSTER; i += blockDim.x)
    st_remote_f32(inbox + s * (PER + 2 * G) + PER + i % (2 * G), i / (2 * G), part[G * D + i % (2 * G)]);
  cluster_sync();  // every split's slice has arrived
  // This block's slice of the G * D outputs, combined exactly as combine_splits does (the cluster spans z
  // and grid z == CLUSTER, so split r is cluster rank r).
  const int i_end = min(G * D, (s + 1) * PER);
  for (int i = s * PER + threadIdx.x; i < i_end; i += blockDim.x) {
    const int g = i / D, d = i % D, o = i - s * PER;
    float M = -INFINITY;
#pragma unroll
    for (int r = 0; r < CLUSTER; ++r)
      if (inbox[r * (PER + 2 * G) + PER + G + g] > 0.f) M = fmaxf(M, inbox[r * (PER + 2 * G) + PER + g]);
    float L = 0.f, O = 0.f;
#pragma unroll
    for (int r = 0; r < CLUSTER; ++r) {
      const float* in = inbox + r * (PER + 2 * G);
      if (in[PER + G + g] > 0.f) {
        const float c = expf(in[PER + g] - M);
        L = fmaf(in[PER + G + g], c, L);
        O = fmaf(in[o], c, O);
      }
    }
    out[(long long)t * H * D + (long long)(kvh * G + g) * D + d] = O / L;
  }
#else
  __shared__ int is_last;
  combine_warps<DW>(m, l, acc, sm_acc, sm_m, sm_l, t, kvh, H, s, S, partial, out);
  if (S == 1) return;
  // The last split block of this (token, KV head) to finish combines the partials (as attention_combine),
  // then re-arms the counter for the next launch.
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) is_last = atomicAdd(&counters[t * KVH + kvh], 1u) == (unsigned)(S - 1);
  __syncthreads();
  if (!is_last) return;
  __threadfence();
  for (int i = threadIdx.x; i < G * D; i += blockDim.x) {
    const int g = i / D, d = i % D, h = kvh * G + g;
    out[(long long)t * H * D + (long long)h * D + d] = combine_splits(partial + ((long long)t * H + h) * S * (D + 2), d, S);
  }
  if (threadIdx.x == 0) counters[t * KVH + kvh] = 0u;
#endif
}
