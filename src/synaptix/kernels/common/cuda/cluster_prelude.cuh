
__device__ __forceinline__ unsigned smem_addr(const void* p) {
  unsigned a;
  asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
  return a;
}
__device__ __forceinline__ unsigned remote_addr(const void* p, unsigned rank) {
  unsigned r;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(r) : "r"(smem_addr(p)), "r"(rank));
  return r;
}
__device__ __forceinline__ unsigned ld_remote_u32(const void* p, unsigned rank) {
  unsigned v;
  asm volatile("ld.shared::cluster.u32 %0, [%1];" : "=r"(v) : "r"(remote_addr(p, rank)) : "memory");
  return v;
}
__device__ __forceinline__ unsigned long long ld_remote_u64(const void* p, unsigned rank) {
  unsigned long long v;
  asm volatile("ld.shared::cluster.u64 %0, [%1];" : "=l"(v) : "r"(remote_addr(p, rank)) : "memory");
  return v;
}
__device__ __forceinline__ float ld_remote_f32(const float* p, unsigned rank) { return __uint_as_float(ld_remote_u32(p, rank)); }
__device__ __forceinline__ void st_remote_f32(float* p, unsigned rank, float v) {
  asm volatile("st.shared::cluster.f32 [%0], %1;" :: "r"(remote_addr(p, rank)), "f"(v) : "memory");
}
// Every thread of every block of the cluster arrives; writes before it are visible to reads after it.
__device__ __forceinline__ void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release.aligned;\n\tbarrier.cluster.wait.acquire.aligned;" ::: "memory");
}
