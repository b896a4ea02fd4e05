#pragma once
// Decode GEMV generator: y[m, n] (+)= x[m, k] * W[n, k]^T with W bf16 (16-byte loads, streamed past L1),
// x and y f32, f32 accumulation, m <= 8 rows of x applied to each weight row as it streams by, so weights
// are read once per call whatever m is. Memory-bound: the floor is n*k*2 bytes / HBM bandwidth.
//
// Schedule (the search space): a block of `warps` warps is split into `warps / kslices` row groups, each of
// `kslices` warps that share `rows_per_warp` weight rows and split their k range (split-K inside the block,
// reduced in shared memory: no atomics, deterministic). `unroll` 16-byte loads per lane are in flight per
// weight row before the first use.
//
// Two ways to keep weight bytes in flight: `stages` 0 loads them into registers (unroll x rows_per_warp
// 16-byte loads per lane, enough for an H100's bandwidth-latency product); `stages` S > 0 streams the
// block's rows through a ring of S shared-memory stages of `chunk_bytes` each (a [rows_per_block][chunk_bytes /
// (2 rows_per_block)] bf16 tile), filled by Hopper bulk asynchronous copies (cp.async.bulk, mbarrier
// completion) that one extra producer warp issues, so a block keeps up to S * chunk_bytes in flight without
// spending registers on them (the H200 needs ~1.4x the H100's bytes in flight per SM). Those copies of the
// first stages are issued before the PDL wait: W must not be written by the kernel launched just before.
#include <cstdint>
#include <string>
#include <vector>

#include <cuda.h>

namespace synaptix::kernels::cuda {

struct GemvParams {
  int warps = 4;
  int kslices = 1;
  int rows_per_warp = 1;
  int unroll = 2;
  // 1: ask the compiler for registers enough to hold a full SM of blocks (__launch_bounds__ min blocks),
  // so a grid of a few thousand blocks runs in fewer, fuller waves (less of the last wave's tail idle).
  int full_occupancy = 0;
  // 1: launch one full wave of blocks that loop over the row groups (no partial last wave).
  int persistent = 0;
  // KB of its weight rows a block pulls into L2 before waiting for the previous kernel (0: all of them).
  // A full wave of blocks with long rows would otherwise prefetch more than L2 holds and evict its own lines;
  // isolated timings (cold L2, no predecessor) cannot see this, the decode step can.
  int prefetch_kb = 0;
  // Shared-memory ring stages filled by bulk copies (0: the register path) and the bytes of one stage.
  int stages = 0;
  int chunk_bytes = 0;

  int rows_per_block() const { return warps / kslices * rows_per_warp; }
  std::string str() const;
  bool operator==(const GemvParams&) const = default;
};

// What the GEMV fuses around the product (decode path). Input:
//   plain   - x as given;
//   rmsnorm - x is the residual stream and the product uses x * rsqrt(ss_in[j] / k + eps) * gamma, ss_in[j]
//             being row j's sum of squares (written by the kernel that produced x): RMSNorm in the prologue.
// Output:
//   store / accumulate (the call's flag);
//   accumulate_sumsq - y += x W^T, and atomically adds each updated row's sum of squares into ss_out[j]
//                       (which must be zero before): the next RMSNorm's statistics, for free;
//   swiglu - W's rows are gate/up interleaved (2i gate i, 2i+1 up i); writes silu(g) * u to y[m, n / 2];
//   geglu  - as swiglu with gelu_tanh(g) in place of silu(g) (gemma3's MLP);
//   argmax - y stored, and each row's greedy choice (the largest y, the lower index on ties, never NaN)
//            max-combined as a 64-bit key (argmax_key in the device prelude) into one of the row's
//            kGemvArgmaxWords words (zero before; the reader re-zeroes them, see argmax_embedding): the LM
//            head's argmax with no pass over the logits. Word w of row j is u64 (j * kGemvArgmaxWords + w) *
//            kGemvArgmaxWordStride of argmax_words (gemv_argmax_words_bytes(m) bytes).
enum class GemvInput { Plain, RmsNorm };
enum class GemvOutput { Plain, AccumulateSumSq, SwiGlu, ArgMax, GeGlu };
// Whether the output is a gated activation over interleaved gate/up rows (even rows_per_warp, n / 2 outputs).
inline bool gemv_gated(GemvOutput o) { return o == GemvOutput::SwiGlu || o == GemvOutput::GeGlu; }
// Words per row for GemvOutput::ArgMax: the blocks spread their atomics over them (a row group's word is
// its index mod this), so tens of thousands of blocks do not queue on one address.
inline constexpr int kGemvArgmaxWords = 32;
// u64s from one word to the next: each on its own 128-byte line, so the atomics spread over L2 slices
// instead of queueing at the one slice that holds a shared line.
inline constexpr int kGemvArgmaxWordStride = 16;
inline constexpr int64_t gemv_argmax_words_bytes(int64_t rows) { return rows * kGemvArgmaxWords * kGemvArgmaxWordStride * 8; }

struct GemvFusion {
  GemvInput input = GemvInput::Plain;
  GemvOutput output = GemvOutput::Plain;
  CUdeviceptr gamma = 0;   // f32 [k] for RmsNorm
  CUdeviceptr ss_in = 0;   // f32 [m] for RmsNorm
  float eps = 1e-6f;
  CUdeviceptr ss_out = 0;  // f32 [m] for AccumulateSumSq
  // With RmsNorm: the normalised input x * rsqrt(ss / k + eps) * gamma is also written here, f32 [m, k] (by
  // the first row group's warps), for a later kernel that reads the same normalised rows (MoE experts).
  CUdeviceptr xn_out = 0;
  CUdeviceptr argmax_words = 0;  // for ArgMax: gemv_argmax_words_bytes(m) bytes
  std::string str() const;
};

// Dynamic shared memory of a point: the bulk-copy ring (0 on the register path).
inline int gemv_ring_bytes(const GemvParams& p) { return p.stages * p.chunk_bytes; }
// Threads per block: the consumer warps plus, on the bulk-copy path, the producer warp.
inline int gemv_threads(const GemvParams& p) { return (p.warps + (p.stages > 0 ? 1 : 0)) * 32; }

// A point of the space is valid when kslices divides warps and every field is in range (bulk-copy points:
// stages 2|3|4|6|8, chunk_bytes 4|8|16|32 KB holding whole 16-byte vectors of every row of the block, the
// ring at most 192 KB, no full_occupancy).
bool gemv_params_valid(const GemvParams& p, int m);
// The untuned default for a shape: a reasonable point chosen from the shape alone.
GemvParams gemv_default_params(int m, int64_t n, int64_t k);
// The space the tuner searches for one shape: the register points and the bulk-copy points.
std::vector<GemvParams> gemv_search_space(int m, int64_t n, int64_t k);
// Its bulk-copy points alone (stages > 0).
std::vector<GemvParams> gemv_bulk_search_space(int m, int64_t n, int64_t k);
// Its register points alone (stages == 0).
std::vector<GemvParams> gemv_register_search_space(int m, int64_t n, int64_t k);

// The nearest valid point to p for a fusion (SwiGlu and GeGlu need an even rows_per_warp).
GemvParams gemv_fit_params(GemvParams p, int m, const GemvFusion& f);

// CUDA C++ source of the kernel `gemv_bf16` for m rows of x under params p. The kernel prefetches its
// weight rows into L2 and then waits for the previous kernel (programmatic dependent launch), so under PDL
// its weight reads overlap the predecessor's tail.
std::string gemv_bf16_source(int m, const GemvParams& p, const GemvFusion& f = {});

}  // namespace synaptix::kernels::cuda
