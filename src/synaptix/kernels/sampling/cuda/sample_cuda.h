#pragma once
// Non-greedy sampling on the device: per logits row, temperature, top-k, the top-p nucleus and min-p (the
// semantics of kernels/sampling/sample_reference.h, ties at a boundary broken by the lower id as the host
// sort does), then one token drawn from the renormalised kept set. Saves copying [rows, vocab] logits to
// the host each step. Penalties are not applied here (they need the token history: the host path does).
//
// One cluster of kSampleCluster blocks per row (Hopper, sm_90+): each block owns a slice of the row, and
// the blocks combine histograms through distributed shared memory. The boundaries are found by a radix
// descent on the logits' order keys (8 bits a pass; counts for top-k, probability masses in 2^-40 fixed
// point for top-p, so every block computes the same sums), and the token by Gumbel-max over the kept set,
// with a SplitMix64 stream per (seed, step, row) indexed by token id: deterministic for a given seed.
#include <cuda.h>

#include <cstdint>
#include <string>

namespace synaptix::kernels::cuda {

struct DeviceSampling {
  float temperature = 1.0f;  // > 0
  int top_k = 0;             // 0: off
  float top_p = 1.0f;        // >= 1: off
  float min_p = 0.0f;        // 0: off
  uint64_t seed = 0;
  uint64_t step = 0;  // the generation step: row r of step s draws from stream (seed, s, r)
};

inline constexpr int kSampleCluster = 8;   // blocks per row
inline constexpr int kSampleThreads = 1024;

std::string sample_source();

// Whether a device of this compute capability runs sample_rows (thread-block clusters need 9.0).
inline bool sample_rows_supported(int cc_major) { return cc_major >= 9; }

}  // namespace synaptix::kernels::cuda
