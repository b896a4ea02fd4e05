// The stream form of the tensor-core product (kernels/linear/cuda/quant_mma_stream.cu) compiled for the host and
// run without a GPU: every CUDA thread of a block is a host thread (barriers for __syncthreads / __syncwarp,
// warp reductions and mma.m16n8k16 as warp-wide exchanges that place every lane's fragment registers where the
// PTX ISA puts them, cp.async as an immediate copy), blocks one after another on the grid the launcher's
// chooser (quant_mma_stream_grid) gives. Checks the kernel's own index logic (each warp's (tile, word) range
// across tiles, the rings, the k slices and their atomic adds, the block accumulator, x's per-slice scale, the
// RMSNorm prologue and the gated epilogue, x from the pre-pass) against the formats' CPU dequantization reference in double, for a
// few formats and compile-time schedules chosen to exercise them on small shapes (small x slices force several
// k slices). The kernel runs on a GPU in tests/kernels/cuda/quant_mma_device_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "synaptix/core/dtype.h"
#include "synaptix/kernels/linear/cuda/quant_gemv_cuda.h"
#include "synaptix/kernels/linear/quant_mma_layout.h"
#include "synaptix/quant/weight_format.h"
#include "synaptix/quant/weight_quantize.h"

namespace qs_host {

struct uint4 {
  unsigned x, y, z, w;
};
struct uint2 {
  unsigned x, y;
};
struct float4 {
  float x, y, z, w;
};
inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
inline uint2 make_uint2(unsigned a, unsigned b) { return {a, b}; }
struct Dim {
  unsigned x = 0, y = 0, z = 0;
};
inline thread_local Dim threadIdx, blockIdx;
inline Dim gridDim, blockDim;
using std::max;
using std::min;

// The block being run: its barriers, the warps' exchange slots and its dynamic shared memory.
struct Block {
  std::unique_ptr<std::barrier<>> all;
  std::vector<std::unique_ptr<std::barrier<>>> warp;
  std::vector<std::array<unsigned, 6 * 32>> regs;
  std::vector<std::array<float, 32>> red;
  std::vector<uint4> smem;
};
inline Block* blk = nullptr;
inline int warp_id() { return static_cast<int>(threadIdx.x) / 32; }
inline int lane_id() { return static_cast<int>(threadIdx.x) % 32; }
inline void __syncthreads() { blk->all->arrive_and_wait(); }
inline void __syncwarp() { blk->warp[static_cast<size_t>(warp_id())]->arrive_and_wait(); }
inline float warp_reduce(float v, bool is_max) {
  auto& r = blk->red[static_cast<size_t>(warp_id())];
  r[static_cast<size_t>(lane_id())] = v;
  __syncwarp();
  float o = r[0];
  for (int i = 1; i < 32; ++i) o = is_max ? std::max(o, r[static_cast<size_t>(i)]) : o + r[static_cast<size_t>(i)];
  __syncwarp();
  return o;
}
inline float warp_max(float v) { return warp_reduce(v, true); }
inline float warp_sum(float v) { return warp_reduce(v, false); }
template <class T>
T __ldg(const T* p) {
  return *p;
}
inline float __uint_as_float(unsigned u) { return std::bit_cast<float>(u); }
inline unsigned __float_as_uint(float f) { return std::bit_cast<unsigned>(f); }
inline float rsqrtf(float v) { return 1.f / std::sqrt(v); }
inline float atomicAdd(float* p, float v) { return std::atomic_ref<float>(*p).fetch_add(v); }
inline void pdl_wait() {}
inline void pdl_launch_dependents() {}
inline void qs_cp16(void* dst, const void* src) { std::memcpy(dst, src, 16); }
inline void qs_commit() {}
template <int N>
void qs_wait() {}
inline float half(unsigned v, int i) { return synaptix::f16_to_f32(static_cast<uint16_t>(v >> (16 * i))); }
// mma.m16n8k16 (f16 in, f32 accumulate) across the warp: A rows g / g + 8 at k slots 2q, 2q + 1 (a0, a1) and
// + 8 (a2, a3); B k slots 2q, 2q + 1 (b0) and + 8 (b1) of token column g; C rows g / g + 8, columns 2q, 2q + 1.
inline void qs_mma(float* c, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1) {
  auto& x = blk->regs[static_cast<size_t>(warp_id())];
  const int lane = lane_id();
  const unsigned mine[6] = {a0, a1, a2, a3, b0, b1};
  for (int i = 0; i < 6; ++i) x[static_cast<size_t>(6 * lane + i)] = mine[i];
  __syncwarp();
  float a[16][16], b[16][8];
  for (int l = 0; l < 32; ++l) {
    const int g = l / 4, q = l % 4;
    const unsigned* r = &x[static_cast<size_t>(6 * l)];
    for (int j = 0; j < 2; ++j) {
      a[g][2 * q + j] = half(r[0], j);
      a[g + 8][2 * q + j] = half(r[1], j);
      a[g][2 * q + 8 + j] = half(r[2], j);
      a[g + 8][2 * q + 8 + j] = half(r[3], j);
      b[2 * q + j][g] = half(r[4], j);
      b[2 * q + 8 + j][g] = half(r[5], j);
    }
  }
  __syncwarp();
  const int g = lane / 4, q = lane % 4;
  for (int ci = 0; ci < 4; ++ci) {
    const int row = g + 8 * (ci >> 1), col = 2 * q + (ci & 1);
    float s = c[ci];
    for (int kk = 0; kk < 16; ++kk) s += a[row][kk] * b[kk][col];
    c[ci] = s;
  }
}

}  // namespace qs_host

#define __device__
#define __forceinline__ inline
#define __shared__ static
#define QM_UNROLL
#define QM_HOST_HALF_TO_FLOAT(h) synaptix::f16_to_f32(h)
#define QM_HOST_FLOAT_TO_HALF(f) synaptix::f32_to_f16(f)
#define QS_KERNEL void
#define QS_DYNAMIC_SMEM(name) uint4* name = ::qs_host::blk->smem.data()

// One compile-time configuration of the kernel in its own namespace (the includer defines the format's and the
// schedule's macros; they are undefined after).
#define QS_HOST_F16X2                                                                                            \
  inline unsigned int qm_f16x2(float lo, float hi) {                                                            \
    return static_cast<unsigned>(synaptix::f32_to_f16(lo)) | (static_cast<unsigned>(synaptix::f32_to_f16(hi)) << 16); \
  }

namespace cfg_g128 {
using namespace qs_host;
#define QFMT 1
#define GROUP 128
#define ASYM 0
#define M 3
#define WARPS 2
#define STAGES 3
#define QU 2
#define XCAP 256
#define YT 4
#define QS_NORM 0
#define QS_GLU 0
#include "synaptix/kernels/linear/cuda/quant_mma_decode.cuh"
QS_HOST_F16X2
#include "synaptix/kernels/linear/cuda/quant_mma_stream.cu"
#include "quant_mma_stream_emulated_undef.inc"
}  // namespace cfg_g128
namespace cfg_g32a_swiglu {
using namespace qs_host;
#define QFMT 1
#define GROUP 32
#define ASYM 1
#define M 1
#define WARPS 4
#define STAGES 2
#define QU 1
#define XCAP 1024
#define YT 8
#define QS_NORM 1
#define QS_GLU 1
#include "synaptix/kernels/linear/cuda/quant_mma_decode.cuh"
QS_HOST_F16X2
#include "synaptix/kernels/linear/cuda/quant_mma_stream.cu"
#include "quant_mma_stream_emulated_undef.inc"
}  // namespace cfg_g32a_swiglu
namespace cfg_fp8 {
using namespace qs_host;
#define QFMT 2
#define M 9
#define WARPS 1
#define STAGES 4
#define QU 3
#define XCAP 512
#define YT 8
#define QS_NORM 0
#define QS_GLU 0
#include "synaptix/kernels/linear/cuda/quant_mma_decode.cuh"
QS_HOST_F16X2
#include "synaptix/kernels/linear/cuda/quant_mma_stream.cu"
#include "quant_mma_stream_emulated_undef.inc"
}  // namespace cfg_fp8
namespace cfg_mxfp4_geglu {
using namespace qs_host;
#define QFMT 4
#define M 2
#define WARPS 3
#define STAGES 2
#define QU 2
#define XCAP 512
#define YT 4
#define QS_NORM 1
#define QS_GLU 2
#include "synaptix/kernels/linear/cuda/quant_mma_decode.cuh"
QS_HOST_F16X2
#include "synaptix/kernels/linear/cuda/quant_mma_stream.cu"
#include "quant_mma_stream_emulated_undef.inc"
}  // namespace cfg_mxfp4_geglu
namespace cfg_g64_pre {
using namespace qs_host;
#define QFMT 1
#define GROUP 64
#define ASYM 0
#define M 11
#define WARPS 2
#define STAGES 2
#define QU 2
#define XCAP 256
#define YT 4
#define QS_NORM 0
#define QS_GLU 0
#define XPRE 1
#include "synaptix/kernels/linear/cuda/quant_mma_decode.cuh"
QS_HOST_F16X2
#include "synaptix/kernels/linear/cuda/quant_mma_stream.cu"
#include "quant_mma_stream_emulated_undef.inc"
#undef XPRE
}  // namespace cfg_g64_pre
namespace cfg_int8_long {
using namespace qs_host;
#define QFMT 3
#define M 1
#define WARPS 1
#define STAGES 3
#define QU 2
#define XCAP 2048
#define YT 8
#define QS_NORM 1
#define QS_GLU 0
#include "synaptix/kernels/linear/cuda/quant_mma_decode.cuh"
QS_HOST_F16X2
#include "synaptix/kernels/linear/cuda/quant_mma_stream.cu"
#include "quant_mma_stream_emulated_undef.inc"
}  // namespace cfg_int8_long
namespace cfg_int8 {
using namespace qs_host;
#define QFMT 3
#define M 5
#define WARPS 2
#define STAGES 5
#define QU 1
#define XCAP 128
#define YT 3
#define QS_NORM 0
#define QS_GLU 0
#include "synaptix/kernels/linear/cuda/quant_mma_decode.cuh"
QS_HOST_F16X2
#include "synaptix/kernels/linear/cuda/quant_mma_stream.cu"
#include "quant_mma_stream_emulated_undef.inc"
}  // namespace cfg_int8

using namespace synaptix;
namespace kc = synaptix::kernels::cuda;

namespace {

using Kernel = void (*)(const void*, const qs_host::uint4*, const void*, const unsigned char*, float*, int, int, int, int,
                        const float*, float, float*, const float*);

// A compile-time configuration: its format and the macros it was compiled with.
struct Config {
  const char* name;
  DType dtype;
  Kernel kernel;
  int m, warps, stages, unroll, x_cap, max_tiles;
  bool norm;
  int glu;           // 0 none, 1 SwiGLU, 2 GeGLU (tanh)
  bool pre = false;  // XPRE: x converted by the pre-pass (row-major f16, a scale per token over its whole row)
  int64_t k = 0;     // the row length (0: 384 for group formats, 420 for per-channel ones)
};

// Runs the grid block after block, each block's threads as host threads.
void run_grid(const Config& c, unsigned gx, unsigned gy, size_t smem_bytes, const std::function<void()>& body) {
  qs_host::gridDim = {gx, gy, 1};
  qs_host::blockDim = {static_cast<unsigned>(c.warps * 32), 1, 1};
  for (unsigned by = 0; by < gy; ++by)
    for (unsigned bx = 0; bx < gx; ++bx) {
      qs_host::Block b;
      b.all = std::make_unique<std::barrier<>>(c.warps * 32);
      for (int w = 0; w < c.warps; ++w) b.warp.push_back(std::make_unique<std::barrier<>>(32));
      b.regs.resize(static_cast<size_t>(c.warps));
      b.red.resize(static_cast<size_t>(c.warps));
      b.smem.assign(smem_bytes / 16 + 1, qs_host::uint4{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu});  // poisoned
      qs_host::blk = &b;
      std::vector<std::thread> threads;
      for (int t = 0; t < c.warps * 32; ++t)
        threads.emplace_back([&, t] {
          qs_host::threadIdx = {static_cast<unsigned>(t), 0, 0};
          qs_host::blockIdx = {bx, by, 0};
          body();
        });
      for (std::thread& th : threads) th.join();
      qs_host::blk = nullptr;
    }
}

void check_config(const Config& c, int64_t n, int64_t k, bool accumulate, int k_slices) {
  const quant::WeightFormat& f = *quant::weight_format(c.dtype);
  std::mt19937 rng(static_cast<unsigned>(n * 131 + k * 7 + c.m + (accumulate ? 1 : 0)));
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> wf(static_cast<size_t>(n * k)), x(static_cast<size_t>(c.m * k)), gamma(static_cast<size_t>(k));
  for (float& v : wf) v = u(rng) * (u(rng) > 0.9f ? 8.f : 1.f);
  for (int t = 0; t < c.m; ++t)
    for (int64_t i = 0; i < k; ++i) x[static_cast<size_t>(t * k + i)] = u(rng) * (t == 1 ? 1000.f : t == 2 ? 1e-3f : 1.f);
  for (float& g : gamma) g = 1.f + 0.5f * u(rng);
  std::vector<uint8_t> packed(static_cast<size_t>(n * quant::weight_row_bytes(f, k)));
  quant::quantize_rows(f, wf.data(), n, k, packed.data());
  std::vector<float> deq(wf.size());
  quant::dequantize_rows(f, packed.data(), n, k, deq.data());
  const kc::QuantMmaLayout l = kc::quant_mma_layout(f, n, k);
  const std::vector<uint8_t> w = kc::quant_mma_repack(f, packed.data(), n, k);

  // The grid the launcher would choose (2 blocks on each of 3 SMs), and y as it would find it.
  const kc::QuantMmaStreamGrid g =
      kc::quant_mma_stream_grid(c.m, l.n_tiles, l.kw, l.word_k, accumulate, c.x_cap, c.max_tiles, c.glu ? 1 : k_slices, 2, 3);
  ASSERT_TRUE(!c.glu || g.splits == 1) << c.name;
  const int64_t out_n = c.glu ? n / 2 : n;
  std::vector<float> y0(static_cast<size_t>(c.m * n));
  for (float& v : y0) v = u(rng);
  std::vector<float> y(y0.size(), std::nanf("")), act(static_cast<size_t>(c.m * out_n), std::nanf(""));
  if (accumulate) y = y0;
  else if (g.splits > 1) std::fill(y.begin(), y.end(), 0.f);  // the launcher's memset
  const int64_t groups_per_word = f.group ? l.word_k / f.group : 0;
  const int64_t sbytes = f.code == quant::CodeType::E2M1 ? groups_per_word * 16 : f.group ? groups_per_word * 32 : 0;
  const int64_t zbytes = f.code == quant::CodeType::Int4Asym ? groups_per_word * 16 : 0;
  const size_t smem = static_cast<size_t>(int64_t{c.warps} * c.stages * c.unroll * (1024 + sbytes + zbytes) +
                                          c.m * (c.x_cap + 16) * 2 + c.max_tiles * 16 * c.m * 4);
  const float eps = 1e-5f;
  // The pre-pass (quant_mma_x.cu with QX_ROWS) on the host: 2^sh with max |x| 2^sh in [2^14, 2^15).
  std::vector<uint16_t> xh(static_cast<size_t>(c.m * l.k_pad), 0);
  std::vector<float> x_inv(static_cast<size_t>(c.m), 1.f);
  for (int t = 0; t < c.m && c.pre; ++t) {
    float mx = 0;
    for (int64_t i = 0; i < k; ++i) mx = std::max(mx, std::fabs(x[static_cast<size_t>(t * k + i)]));
    int e = 0;
    std::frexp(mx, &e);
    const int sh = mx > 0 ? 15 - e : 0;
    x_inv[static_cast<size_t>(t)] = std::ldexp(1.f, -sh);
    for (int64_t i = 0; i < k; ++i) xh[static_cast<size_t>(t * l.k_pad + i)] = f32_to_f16(std::ldexp(x[static_cast<size_t>(t * k + i)], sh));
  }
  const void* x_arg = c.pre ? static_cast<const void*>(xh.data()) : static_cast<const void*>(x.data());
  run_grid(c, static_cast<unsigned>(g.gx), static_cast<unsigned>(g.splits), smem, [&] {
    c.kernel(x_arg, reinterpret_cast<const qs_host::uint4*>(w.data()), w.data() + l.scales_offset, w.data() + l.zeros_offset,
             y.data(), static_cast<int>(n), static_cast<int>(k), static_cast<int>(l.kw), accumulate ? 1 : 0, gamma.data(), eps,
             act.data(), x_inv.data());
  });

  // The reference: rmsnorm(x) in f32 as the kernel rounds it (with the norm), the product in double.
  std::vector<float> xin = x;
  if (c.norm)
    for (int t = 0; t < c.m; ++t) {
      double ss = 0;
      for (int64_t i = 0; i < k; ++i) ss += static_cast<double>(x[static_cast<size_t>(t * k + i)]) * x[static_cast<size_t>(t * k + i)];
      const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(k) + eps));
      for (int64_t i = 0; i < k; ++i)
        xin[static_cast<size_t>(t * k + i)] = x[static_cast<size_t>(t * k + i)] * inv * gamma[static_cast<size_t>(i)];
    }
  auto product = [&](int64_t r, int t, double* mag) {
    double s = 0;
    *mag = 0;
    for (int64_t i = 0; i < k; ++i) {
      const double p = static_cast<double>(deq[static_cast<size_t>(r * k + i)]) * xin[static_cast<size_t>(t * k + i)];
      s += p;
      *mag += std::fabs(p);
    }
    return s;
  };
  int bad = 0;
  for (int t = 0; t < c.m; ++t)
    for (int64_t o = 0; o < out_n; ++o) {
      double want, tol, got;
      if (c.glu) {
        double mg, mu;
        const double gt = product(2 * o, t, &mg), up = product(2 * o + 1, t, &mu);
        const double a = c.glu == 1 ? gt / (1 + std::exp(-gt)) : 0.5 * gt * (1 + std::tanh(0.7978845608028654 * (gt + 0.044715 * gt * gt * gt)));
        want = a * up;
        const double eg = mg * std::ldexp(1.0, -10), eu = mu * std::ldexp(1.0, -10);
        tol = 1.2 * (std::fabs(up) + eu) * eg + (std::fabs(a) + 1.2 * eg) * eu + 1e-6 * std::fabs(want) + 1e-30;
        got = act[static_cast<size_t>(t * out_n + o)];
      } else {
        double mag;
        const double base = accumulate ? y0[static_cast<size_t>(t * n + o)] : 0.0;
        want = base + product(o, t, &mag);
        tol = mag * std::ldexp(1.0, -10) + std::fabs(base) * 1e-6 + 1e-30;
        got = y[static_cast<size_t>(t * n + o)];
      }
      if (!(std::fabs(got - want) <= tol) && ++bad <= 3)
        ADD_FAILURE() << c.name << " n=" << n << " k=" << k << " token " << t << " out " << o << ": " << got << " vs " << want
                      << " (tolerance " << tol << ")" << (accumulate ? " accumulate" : "") << " grid " << g.gx << "x" << g.splits;
    }
  EXPECT_EQ(bad, 0) << c.name << " n=" << n << " k=" << k << " grid " << g.gx << "x" << g.splits;
}

}  // namespace

TEST(QuantMmaStreamEmulation, MatchesTheReferenceOnTheLaunchersGrids) {
  const Config configs[] = {
      {"int4-g128 m3 w2u2s3 x256", DType::W4_G128, cfg_g128::quant_mma_stream, 3, 2, 3, 2, 256, 4, false, 0},
      {"int4-g32-asym m1 w4u1s2 norm+swiglu", DType::W4A_G32, cfg_g32a_swiglu::quant_mma_stream, 1, 4, 2, 1, 1024, 8, true, 1},
      {"fp8 m9 w1u3s4", DType::FP8_PC, cfg_fp8::quant_mma_stream, 9, 1, 4, 3, 512, 8, false, 0},
      {"mxfp4 m2 w3u2s2 norm+geglu", DType::MXFP4, cfg_mxfp4_geglu::quant_mma_stream, 2, 3, 2, 2, 512, 4, true, 2},
      {"int8 m5 w2u1s5 x128", DType::W8_PC, cfg_int8::quant_mma_stream, 5, 2, 5, 1, 128, 3, false, 0},
      {"int4-g64 m11 w2u2s2 x256 pre-pass", DType::W4_G64, cfg_g64_pre::quant_mma_stream, 11, 2, 2, 2, 256, 4, false, 0, true},
      // One warp, a slice longer than the x a thread keeps in registers (1540 > 4 x 128), with the norm.
      {"int8 m1 w1u2s3 x2048 norm", DType::W8_PC, cfg_int8_long::quant_mma_stream, 1, 1, 3, 2, 2048, 8, true, 0, false, 1540},
  };
  for (const Config& c : configs) {
    const quant::WeightFormat& f = *quant::weight_format(c.dtype);
    // k: several words with a tail of padding for the per-channel formats; rows not a multiple of 16.
    const int64_t k = c.k ? c.k : f.group ? 384 : 420;
    for (const int64_t n : {int64_t{38}, int64_t{150}})
      for (bool acc : {false, true}) {
        if (c.glu && acc) continue;  // a gated activation stores
        check_config(c, n, k, acc, 0);
      }
    if (!c.glu) check_config(c, 150, k, true, 3);  // k slices asked for
  }
}
