
// W8A8 FP8 (E4M3) products on tensor cores: the pieces around cuBLASLt's E4M3 x E4M3 GEMM
// (backend/cuda/cublaslt_fp8.h). Codes are OFP8 E4M3 bytes (saturating, round to nearest even), the same
// bytes as the CPU's fp8-e4m3 format (quant/minifloat.h).

// 4 consecutive elements of x (f32: one 16-byte load; bf16 bits: one 8-byte load) as floats; i % 4 == 0.
__device__ __forceinline__ void fp8_load4(const float* x, int i, float v[4]) {
  const float4 f = *reinterpret_cast<const float4*>(x + i);
  v[0] = f.x, v[1] = f.y, v[2] = f.z, v[3] = f.w;
}
__device__ __forceinline__ void fp8_load4(const unsigned short* x, int i, float v[4]) {
  const uint2 u = *reinterpret_cast<const uint2*>(x + i);
  v[0] = __uint_as_float(u.x << 16), v[1] = __uint_as_float(u.x & 0xFFFF0000u);
  v[2] = __uint_as_float(u.y << 16), v[3] = __uint_as_float(u.y & 0xFFFF0000u);
}

// Each row of x ([m, k]) as E4M3 codes [m, k] and one f32 scale per row (per token), exactly as the
// fp8-e4m3-pc weight quantizer rounds a row (quant/weight_quantize.cpp): scale = amax / 448, code =
// e4m3(v / scale), an all-zero row scale 0 and codes 0. One block per row, 4 elements a thread per step
// (k % 4 == 0): the row is read twice (its amax, then the codes; the second read mostly from L2) at full
// load width, the codes written 4 at a time.
template <typename T>
__device__ __forceinline__ void fp8_quantize_row(const T* __restrict__ x, unsigned char* __restrict__ q,
                                                 float* __restrict__ scale, int k) {
  __shared__ float red[32];
  const int row = blockIdx.x;
  const T* xr = x + (size_t)row * k;
  pdl_wait();
  float amax = 0.f;
  for (int i = threadIdx.x * 4; i < k; i += blockDim.x * 4) {
    float v[4];
    fp8_load4(xr, i, v);
    amax = fmaxf(amax, fmaxf(fmaxf(fabsf(v[0]), fabsf(v[1])), fmaxf(fabsf(v[2]), fabsf(v[3]))));
  }
  amax = warp_max(amax);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = amax;
  __syncthreads();
  if (threadIdx.x < 32) {
    float v = threadIdx.x < (blockDim.x >> 5) ? red[threadIdx.x] : 0.f;
    v = warp_max(v);
    if (threadIdx.x == 0) red[0] = v;
  }
  __syncthreads();
  pdl_launch_dependents();
  const float s = red[0] / 448.f;  // IEEE division (NVRTC's default), as the CPU's
  if (threadIdx.x == 0) scale[row] = s;
  unsigned* qr = reinterpret_cast<unsigned*>(q + (size_t)row * k);
  for (int i = threadIdx.x * 4; i < k; i += blockDim.x * 4) {
    unsigned packed = 0;
    if (s > 0.f) {
      float v[4];
      fp8_load4(xr, i, v);
      unsigned short lo, hi;
      // The first operand goes to the upper byte: element i + 1 at the higher address.
      asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(lo) : "f"(v[1] / s), "f"(v[0] / s));
      asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(hi) : "f"(v[3] / s), "f"(v[2] / s));
      packed = (unsigned)lo | ((unsigned)hi << 16);
    }
    qr[i >> 2] = packed;
  }
}

extern "C" __global__ void fp8_quantize_rows(const float* __restrict__ x, unsigned char* __restrict__ q,
                                             float* __restrict__ scale, int k) {
  fp8_quantize_row(x, q, scale, k);
}

extern "C" __global__ void fp8_quantize_rows_bf16(const unsigned short* __restrict__ x, unsigned char* __restrict__ q,
                                                  float* __restrict__ scale, int k) {
  fp8_quantize_row(x, q, scale, k);
}

// The codes of an fp8-e4m3-pc matrix held in its tensor-core layout (kernels/linear/quant_mma_layout.h:
// [n_tiles][kw][h][lane] 16-byte words; byte 4s + j of lane 4g + q is row tile * 16 + g + 8h, k = word * 64 +
// 16s + 4q + j) rewritten row-major [n, k], the only FP8 operand layout cuBLASLt takes on Hopper. The 4 bytes
// j = 0..3 are contiguous in both: one 32-bit word per thread, writes coalesced. k % 4 == 0.
extern "C" __global__ void fp8_codes_from_mma(const unsigned* __restrict__ mma, unsigned* __restrict__ codes, int n, int k,
                                              int kw) {
  pdl_wait();
  const int row_words = k >> 2;
  const long long total = (long long)n * row_words;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
    const int row = (int)(i / row_words), e = (int)(i % row_words) * 4;
    const int tile = row >> 4, r = row & 15, h = r >> 3, g = r & 7;
    const int word = e >> 6, s = (e >> 4) & 3, q = (e >> 2) & 3;
    codes[i] = mma[((((long long)tile * kw + word) * 2 + h) * 32 + 4 * g + q) * 4 + s];
  }
  pdl_launch_dependents();
}

// fp8-e4m3-pc rows ([f32 d][k codes], 4 + k bytes each, k % 4 == 0) as the GEMM reads them: codes [n, k]
// (16-byte aligned rows when k % 16 == 0) and scales [n]. One block per row.
extern "C" __global__ void fp8_unpack_weights(const unsigned char* __restrict__ packed, unsigned char* __restrict__ codes,
                                              float* __restrict__ scales, int k) {
  const int row = blockIdx.x;
  const unsigned char* src = packed + (size_t)row * (k + 4);
  pdl_wait();
  if (threadIdx.x == 0) scales[row] = *reinterpret_cast<const float*>(src);
  const unsigned* s4 = reinterpret_cast<const unsigned*>(src + 4);
  unsigned* d4 = reinterpret_cast<unsigned*>(codes + (size_t)row * k);
  for (int i = threadIdx.x; i < (k >> 2); i += blockDim.x) d4[i] = s4[i];
  pdl_launch_dependents();
}

// y[i, j] = (accumulate ? y[i, j] : 0) + acc[i, j] * (xs[i] * ws[j]) over f32 [m, n] (acc may be y when not
// accumulating): the per-row x per-column scales when cuBLASLt cannot apply them itself (its outer-vector
// scale mode; not offered on Hopper so far). A pass over m * n floats (read, written, and read once more when
// accumulating), so it runs at HBM speed: 4 columns a thread (n % 4 == 0, 16-byte aligned rows and ws), the
// thread's 4 weight scales loaded once for the rows blockIdx.y, + gridDim.y, ...
extern "C" __global__ void fp8_scale_outer(float* y, const float* acc, const float* __restrict__ xs,
                                           const float* __restrict__ ws, int m, int n, int accumulate) {
  pdl_wait();
  const int n4 = n >> 2;
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c < n4) {
    const float4 w = reinterpret_cast<const float4*>(ws)[c];
    for (int r = blockIdx.y; r < m; r += gridDim.y) {
      const float s = xs[r];
      const size_t i = (size_t)r * n4 + c;
      const float4 a = reinterpret_cast<const float4*>(acc)[i];
      float4 v = make_float4(a.x * (s * w.x), a.y * (s * w.y), a.z * (s * w.z), a.w * (s * w.w));
      if (accumulate) {
        const float4 o = reinterpret_cast<const float4*>(y)[i];
        v.x += o.x, v.y += o.y, v.z += o.z, v.w += o.w;
      }
      reinterpret_cast<float4*>(y)[i] = v;
    }
  }
  pdl_launch_dependents();
}
