
#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif
typedef unsigned short bf16_t;
__device__ __forceinline__ float bf16_lo(unsigned int v) { return __uint_as_float(v << 16); }
__device__ __forceinline__ float bf16_hi(unsigned int v) { return __uint_as_float(v & 0xffff0000u); }
__device__ __forceinline__ float bf16_to_f32(bf16_t h) { return __uint_as_float(((unsigned int)h) << 16); }
__device__ __forceinline__ bf16_t f32_to_bf16(float f) {
  unsigned int u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16_t)((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (bf16_t)(u >> 16);
}
// Weights are read once per step: bypass L1 so they do not evict the activations that are reused.
__device__ __forceinline__ uint4 load_stream_u4(const uint4* p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
  return r;
}
// Programmatic dependent launch (Hopper): a kernel launched with the PDL attribute may start while its
// predecessor is still running; pdl_wait() blocks until the predecessor has finished and its writes are
// visible, so every kernel calls it before touching memory an earlier kernel writes (reads of constant
// weights may come first). pdl_launch_dependents() lets the next kernel be scheduled early. Kernels call
// it after pdl_wait(), never before: with the trigger first (kernels two launches ahead resident early) the
// fused decode gave garbage logits on an H100 — our reading, not proven: a stale L1 line of an activation
// read with ld.global.nc by an earlier kernel on the same SM. Both are no-ops for a kernel launched
// without the attribute.
// Under a KernelTrace (kernel_trace.h) block (0,0,0) records the global timer around the wait.
__device__ __forceinline__ void pdl_wait() {
#ifdef SYNAPTIX_TRACE_BUF
  const bool traced = (blockIdx.x | blockIdx.y | blockIdx.z | threadIdx.x | threadIdx.y | threadIdx.z) == 0;
  unsigned long long t_enter = 0;
  if (traced) asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t_enter));
#endif
#if __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
#ifdef SYNAPTIX_TRACE_BUF
  if (traced) {
    unsigned long long t_exit;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t_exit));
    unsigned long long* buf = reinterpret_cast<unsigned long long*>(SYNAPTIX_TRACE_BUF);
    const unsigned long long i = atomicAdd(buf, 1ull);
    if (i < SYNAPTIX_TRACE_CAP) { buf[1 + 2 * i] = t_enter; buf[2 + 2 * i] = t_exit; }
  }
#endif
}
__device__ __forceinline__ void pdl_launch_dependents() {
#if __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
// A greedy candidate as one 64-bit key that atomicMax can combine: the value's bits ordered as an unsigned
// (a larger float gives a larger key; -0 counts as +0) above the complemented index (equal values: the lower
// index wins). NaN never wins: its key is 0, the empty key.
__device__ __forceinline__ unsigned long long argmax_key(float v, int i) {
  if (v != v) return 0ull;
  if (v == 0.f) v = 0.f;
  unsigned u = __float_as_uint(v);
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return ((unsigned long long)u << 32) | (unsigned)~i;
}
__device__ __forceinline__ int argmax_key_index(unsigned long long key) { return key ? (int)~(unsigned)key : 0; }
__device__ __forceinline__ unsigned long long warp_max_u64(unsigned long long v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const unsigned long long w = __shfl_xor_sync(0xffffffffu, v, o);
    v = w > v ? w : v;
  }
  return v;
}
