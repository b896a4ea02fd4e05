
extern "C" __global__ void __launch_bounds__(256)
weight_prefetch(const uint4* __restrict__ p, long long n16) {
  pdl_wait();
  pdl_launch_dependents();
  for (long long i = blockIdx.x * 256LL + threadIdx.x; i < n16; i += (long long)gridDim.x * 256) {
    unsigned int a, b, c, d;
    asm volatile("ld.global.cg.v4.u32 {%0,%1,%2,%3}, [%4];" : "=r"(a), "=r"(b), "=r"(c), "=r"(d) : "l"(p + i));
  }
}
