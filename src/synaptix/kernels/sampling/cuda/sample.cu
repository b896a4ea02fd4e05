
#define NT 1024
#define CL 8
#define NO_IDX 0x7fffffff

// NaN counts as -inf (never drawn while a finite logit exists); -0 as +0 (equal values, equal keys).
__device__ __forceinline__ float load_logit(const float* row, int i) {
  const float v = row[i];
  return v == v ? v + 0.0f : -INFINITY;
}
// Unsigned keys in the order of the floats: the radix descent walks them from the top.
__device__ __forceinline__ unsigned order_key(float v) {
  const unsigned u = __float_as_uint(v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
// exp((v - max) / T) in units of 2^-40: integer sums are exact and the same in every block and order.
__device__ __forceinline__ unsigned long long fixed_mass(float v, float mx, float t) {
  return __float2ull_rn(expf((v - mx) / t) * 1099511627776.0f);
}
__device__ __forceinline__ unsigned long long mix64(unsigned long long z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
// log of an Exp(1) variate from 32 random bits, accurate at both ends of the uniform (log1p near 1).
__device__ __forceinline__ float log_exponential(unsigned h) {
  const float e = h < 0x80000000u ? -logf(((float)h + 0.5f) * 2.3283064365386963e-10f)
                                  : -log1pf(-(((float)(0xffffffffu - h) + 0.5f) * 2.3283064365386963e-10f));
  return logf(e);
}
__device__ __forceinline__ void better(float& bv, int& bi, float v, int i) {
  if (v > bv || (v == bv && i < bi)) { bv = v; bi = i; }
}

// A boundary in the sampling order (key descending, index ascending): kept means at or before it.
struct Bound { unsigned key; int idx; };
__device__ __forceinline__ bool within(const Bound& b, unsigned key, int i) {
  return key > b.key || (key == b.key && i <= b.idx);
}

struct Row { const float* p; int lo, hi; float mx, t; };

struct Pick { unsigned bin; unsigned long long above, bin_cnt, bin_mass; };
struct Smem {
  unsigned cnt[2][256];             // this block's histogram (double-buffered across passes)
  unsigned long long mass[2][256];
  unsigned full_cnt[256];           // the cluster's
  unsigned long long full_mass[256];
  unsigned long long stage[NT / 32][32];
  float wv[NT / 32]; int wi[NT / 32]; unsigned long long wz[NT / 32];
  float x_max; int x_idx; unsigned long long x_z; float x_score; int x_pick;  // exchanged once each
  Pick pick;
  float mx; int arg; unsigned long long z;
};

// Histogram of one 8-bit digit over this block's slice, combined across the cluster into full_cnt /
// full_mass. by_index: digit of the index among elements whose key == key_eq; else digit of the key among
// elements with (key & mask) == prefix. Lanes of a warp that share a bin add once (match_any): logits
// cluster in a few exponents, and a bin hit by 32 lanes would serialise 32 shared atomics.
__device__ void hist_pass(Smem& s, const Row& r, int buf, bool by_index, unsigned prefix, unsigned mask,
                          unsigned key_eq, int shift, bool with_mass) {
  unsigned* hc = s.cnt[buf];
  unsigned long long* hm = s.mass[buf];
  for (int t = threadIdx.x; t < 256; t += NT) { hc[t] = 0; hm[t] = 0; }
  __syncthreads();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int base = r.lo; base < r.hi; base += NT) {
    const int i = base + threadIdx.x;
    int bin = -1;
    unsigned long long m = 0;
    if (i < r.hi) {
      const float v = load_logit(r.p, i);
      const unsigned key = order_key(v);
      if (by_index) {
        if (key == key_eq && ((unsigned)i & mask) == prefix) bin = (i >> shift) & 255;
      } else if ((key & mask) == prefix) {
        bin = (key >> shift) & 255;
      }
      if (bin >= 0 && with_mass) m = fixed_mass(v, r.mx, r.t);
    }
    const unsigned peers = __match_any_sync(0xffffffffu, bin);
    if (with_mass) { s.stage[warp][lane] = m; __syncwarp(); }
    if (bin >= 0 && lane == __ffs(peers) - 1) {
      atomicAdd(&hc[bin], (unsigned)__popc(peers));
      if (with_mass) {
        unsigned long long sum = 0;
        for (unsigned q = peers; q; q &= q - 1) sum += s.stage[warp][__ffs(q) - 1];
        atomicAdd(&hm[bin], sum);
      }
    }
    if (with_mass) __syncwarp();
  }
  cluster_sync();
  for (int t = threadIdx.x; t < 256; t += NT) {
    unsigned c = 0;
    unsigned long long m = 0;
    for (unsigned q = 0; q < CL; ++q) {
      c += ld_remote_u32(&hc[t], q);
      if (with_mass) m += ld_remote_u64(&hm[t], q);
    }
    s.full_cnt[t] = c;
    s.full_mass[t] = m;
  }
  __syncthreads();
}

// The bin where the running total (of counts or masses; bins descending, or ascending when asc) first
// reaches need, and the total before it, into s.pick. need is clamped to the grand total.
__device__ void select_bin(Smem& s, bool asc, bool by_mass, unsigned long long need) {
  if (threadIdx.x < 32) {
    const int lane = threadIdx.x;
    unsigned long long sum = 0;
    for (int q = 0; q < 8; ++q) {
      const int b = asc ? 8 * lane + q : 255 - 8 * lane - q;
      sum += by_mass ? s.full_mass[b] : (unsigned long long)s.full_cnt[b];
    }
    unsigned long long incl = sum;
    for (int o = 1; o < 32; o <<= 1) {
      const unsigned long long up = __shfl_up_sync(0xffffffffu, incl, o);
      if (lane >= o) incl += up;
    }
    const unsigned long long total = __shfl_sync(0xffffffffu, incl, 31);
    if (need > total) need = total;
    if (need == 0) need = 1;
    const unsigned hit = __ballot_sync(0xffffffffu, incl >= need);
    if (hit == 0) {
      if (lane == 0) s.pick = Pick{0u, 0ull, 0ull, 0ull};  // an empty filter set: not reached by the callers
    } else if (lane == __ffs(hit) - 1) {
      unsigned long long acc = incl - sum;
      for (int q = 0; q < 8; ++q) {
        const int b = asc ? 8 * lane + q : 255 - 8 * lane - q;
        const unsigned long long v = by_mass ? s.full_mass[b] : (unsigned long long)s.full_cnt[b];
        if (acc + v >= need) {
          s.pick = Pick{(unsigned)b, acc, s.full_cnt[b], s.full_mass[b]};
          break;
        }
        acc += v;
      }
    }
  }
  __syncthreads();
}

// The last element of the shortest prefix of the sampling order holding `need` elements (by count) or
// `need` units of mass (by_mass). Four key passes; three index passes more only when the boundary value
// is tied and only some of its copies are kept (the lower ids, as the host's sort).
__device__ Bound descend(Smem& s, const Row& r, int& pass, bool by_mass, unsigned long long need) {
  unsigned prefix = 0, mask = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    hist_pass(s, r, pass++ & 1, false, prefix, mask, 0u, shift, by_mass);
    select_bin(s, false, by_mass, need);
    need = need > s.pick.above ? need - s.pick.above : 0;
    prefix |= s.pick.bin << shift;
    mask |= 0xffu << shift;
  }
  const unsigned long long cnt = s.pick.bin_cnt;
  unsigned long long keep = need;
  if (by_mass) {
    const unsigned long long each = cnt ? s.pick.bin_mass / cnt : 0;  // equal keys, equal masses
    keep = each ? (need + each - 1) / each : cnt;
  }
  if (keep > cnt) keep = cnt;
  if (keep < 1) keep = 1;
  Bound b{prefix, NO_IDX};
  if (keep < cnt) {
    unsigned ip = 0, im = 0;
    need = keep;
    for (int shift = 16; shift >= 0; shift -= 8) {
      hist_pass(s, r, pass++ & 1, true, ip, im, prefix, shift, false);
      select_bin(s, true, false, need);
      need = need > s.pick.above ? need - s.pick.above : 0;
      ip |= s.pick.bin << shift;
      im |= 0xffu << shift;
    }
    b.idx = (int)ip;
  }
  return b;
}

extern "C" __global__ void __cluster_dims__(CL, 1, 1) __launch_bounds__(NT)
sample_rows(const float* __restrict__ logits, int* ids, int vocab, float temperature, int top_k, float top_p,
            float min_p, unsigned long long seed, unsigned long long step) {
  pdl_wait();
  pdl_launch_dependents();
  __shared__ Smem s;
  const unsigned rank = blockIdx.x;  // the cluster spans x: rank == blockIdx.x
  const int row = blockIdx.y, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int per = (vocab + CL - 1) / CL;
  Row r;
  r.p = logits + (size_t)row * vocab;
  r.lo = min(vocab, (int)rank * per);
  r.hi = min(vocab, r.lo + per);
  r.t = temperature;

  // The maximum (and the first index holding it): the reference point of every mass, always kept.
  float bv = -INFINITY;
  int bi = NO_IDX;
  for (int i = r.lo + threadIdx.x; i < r.hi; i += NT) better(bv, bi, load_logit(r.p, i), i);
  for (int o = 16; o > 0; o >>= 1) better(bv, bi, __shfl_xor_sync(0xffffffffu, bv, o), __shfl_xor_sync(0xffffffffu, bi, o));
  if (lane == 0) { s.wv[warp] = bv; s.wi[warp] = bi; }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < NT / 32; ++w) better(bv, bi, s.wv[w], s.wi[w]);
    s.x_max = bv;
    s.x_idx = bi;
  }
  cluster_sync();
  if (threadIdx.x == 0) {
    bv = -INFINITY;
    bi = NO_IDX;
    for (unsigned q = 0; q < CL; ++q) better(bv, bi, __uint_as_float(ld_remote_u32(&s.x_max, q)), (int)ld_remote_u32(&s.x_idx, q));
    s.mx = bv;
    s.arg = bi == NO_IDX ? 0 : bi;
  }
  __syncthreads();
  r.mx = s.mx;
  const int arg = s.arg;
  int token = arg;

  if (r.mx > -INFINITY) {
    int pass = 0;
    Bound kb{0u, NO_IDX}, pb{0u, NO_IDX};  // key 0 is below every key load_logit yields: keep all
    if (top_k > 0 && top_k < vocab) kb = descend(s, r, pass, false, (unsigned long long)top_k);
    if (top_p < 1.0f) {
      // The mass of the top-k set, then the nucleus: the shortest prefix holding top_p of it.
      unsigned long long z = 0;
      for (int i = r.lo + threadIdx.x; i < r.hi; i += NT) {
        const float v = load_logit(r.p, i);
        if (within(kb, order_key(v), i)) z += fixed_mass(v, r.mx, r.t);
      }
      for (int o = 16; o > 0; o >>= 1) z += __shfl_xor_sync(0xffffffffu, z, o);
      if (lane == 0) s.wz[warp] = z;
      __syncthreads();
      if (threadIdx.x == 0) {
        for (int w = 1; w < NT / 32; ++w) z += s.wz[w];
        s.x_z = z;
      }
      cluster_sync();
      if (threadIdx.x == 0) {
        z = 0;
        for (unsigned q = 0; q < CL; ++q) z += ld_remote_u64(&s.x_z, q);
        s.z = z;
      }
      __syncthreads();
      z = s.z;
      const double want = ceil((double)top_p * (double)z);
      const unsigned long long need = want < 1.0 ? 1ull : want > (double)z ? z : (unsigned long long)want;
      pb = descend(s, r, pass, true, need);
    }
    // Gumbel-max over the kept set: argmax of (v - max) / T + Gumbel noise is a draw from the softmax.
    const unsigned long long stream = mix64(mix64(seed + 0x9E3779B97F4A7C15ull * (step + 1)) ^ (0xD1B54A32D192ED03ull * (unsigned long long)(row + 1)));
    float bs = -INFINITY;
    int bt = NO_IDX;
    for (int i = r.lo + threadIdx.x; i < r.hi; i += NT) {
      const float v = load_logit(r.p, i);
      const unsigned key = order_key(v);
      if (!within(kb, key, i) || !within(pb, key, i)) continue;
      const float sl = (v - r.mx) / r.t;
      if (min_p > 0.0f && i != arg && !(expf(sl) >= min_p)) continue;
      const unsigned h = (unsigned)(mix64(stream + 0x9E3779B97F4A7C15ull * (unsigned long long)(i + 1)) >> 32);
      better(bs, bt, sl - log_exponential(h), i);
    }
    for (int o = 16; o > 0; o >>= 1) better(bs, bt, __shfl_xor_sync(0xffffffffu, bs, o), __shfl_xor_sync(0xffffffffu, bt, o));
    if (lane == 0) { s.wv[warp] = bs; s.wi[warp] = bt; }
    __syncthreads();
    if (threadIdx.x == 0) {
      for (int w = 1; w < NT / 32; ++w) better(bs, bt, s.wv[w], s.wi[w]);
      s.x_score = bs;
      s.x_pick = bt;
    }
    cluster_sync();
    if (threadIdx.x == 0 && rank == 0) {
      bs = -INFINITY;
      bt = NO_IDX;
      for (unsigned q = 0; q < CL; ++q) better(bs, bt, __uint_as_float(ld_remote_u32(&s.x_score, q)), (int)ld_remote_u32(&s.x_pick, q));
      token = bt == NO_IDX ? arg : bt;
    }
  }
  if (threadIdx.x == 0 && rank == 0) ids[row] = token;
  cluster_sync();  // no block leaves while another may still read its shared memory
}
