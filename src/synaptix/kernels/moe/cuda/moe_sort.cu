
extern "C" __global__ void __launch_bounds__(32) moe_sort(const int* __restrict__ ids, const float* __restrict__ weights,
                                                          int* __restrict__ counts, int* __restrict__ rows,
                                                          float* __restrict__ sorted_weights, int pairs, int K, int E) {
  extern __shared__ int next[];  // per expert: the next free place
  pdl_wait();
  pdl_launch_dependents();
  const int lane = threadIdx.x;
  for (int e = lane; e < E; e += 32) next[e] = 0;
  __syncwarp();
  for (int p = lane; p < pairs; p += 32) atomicAdd(&next[ids[p]], 1);
  __syncwarp();
  if (lane == 0) {
    int off = 0;
    for (int e = 0; e < E; ++e) {
      const int c = next[e];
      counts[e] = c;
      next[e] = off;
      off += c;
    }
  }
  __syncwarp();
  for (int base = 0; base < pairs; base += 32) {
    const int p = base + lane;
    const int e = p < pairs ? ids[p] : -1 - lane;  // past the end: a key no other lane has
    const unsigned peers = __match_any_sync(0xffffffffu, e);
    const int rank = __popc(peers & ((1u << lane) - 1u));
    if (p < pairs) {
      const int at = next[e] + rank;
      rows[at] = p / K;
      sorted_weights[at] = weights[p];
    }
    __syncwarp();
    if (p < pairs && rank == 0) next[e] += __popc(peers);
    __syncwarp();
  }
}
