#include "synaptix/kernels/linear/cpu/linear_quant.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/kernels/generated_abi.h"
#include "synaptix/kernels/linear/cpu/linear_isa.h"

namespace synaptix::kernels {
namespace {

// f16 -> f32 for the block scales (F16C where the compiler has it).
constexpr const char* kHalf = R"(
static inline float h2f(const uint8_t* p) {
  uint16_t h; memcpy(&h, p, 2);
#if defined(__F16C__) && defined(__x86_64__)
  return _cvtsh_ss(h);
#else
  uint32_t s = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
  if (e == 0) { if (m == 0) u = s; else { e = 127 - 15 + 1; while (!(m & 0x400)) { m <<= 1; --e; } m &= 0x3ff; u = s | (e << 23) | (m << 13); } }
  else if (e == 31) u = s | 0x7f800000u | (m << 13);
  else u = s | ((e + 127 - 15) << 23) | (m << 13);
  float f; memcpy(&f, &u, 4); return f;
#endif
}
)";

// Exact activations: decode(b) gives a block's 32 quants as 32 / VL float vectors q, its scale d and (Q4_1) its
// min, so that w = d * q + min. One version per isa.
constexpr const char* kDecodeAvx512 = R"(
typedef __m512 vf;
#define VL 16
static inline vf vzero(void) { return _mm512_setzero_ps(); }
static inline vf vload(const float* p) { return _mm512_loadu_ps(p); }
static inline vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline vf vset1(float a) { return _mm512_set1_ps(a); }
static inline float vsum(vf a) { return _mm512_reduce_add_ps(a); }
static inline void decode(const uint8_t* b, vf* q, float* d, float* mn) {
  *d = h2f(b);
  *mn = FMT == 1 ? h2f(b + 2) : 0.0f;
  if (FMT == 2) {
    for (int v = 0; v < 2; ++v) q[v] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(b + 2 + 16 * v))));
    return;
  }
  const __m128i raw = _mm_loadu_si128((const __m128i*)(b + (FMT == 1 ? 4 : 2))), mask = _mm_set1_epi8(0x0F);
  const __m512i off = _mm512_set1_epi32(FMT == 0 ? 8 : 0);
  q[0] = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_and_si128(raw, mask)), off));
  q[1] = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(raw, 4), mask)), off));
}
)";

constexpr const char* kDecodeAvx2 = R"(
typedef __m256 vf;
#define VL 8
static inline vf vzero(void) { return _mm256_setzero_ps(); }
static inline vf vload(const float* p) { return _mm256_loadu_ps(p); }
static inline vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf vset1(float a) { return _mm256_set1_ps(a); }
static inline float vsum(vf a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  s = _mm_hadd_ps(s, s); s = _mm_hadd_ps(s, s); return _mm_cvtss_f32(s);
}
static inline void decode(const uint8_t* b, vf* q, float* d, float* mn) {
  *d = h2f(b);
  *mn = FMT == 1 ? h2f(b + 2) : 0.0f;
  if (FMT == 2) {
    for (int v = 0; v < 4; ++v) q[v] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)(b + 2 + 8 * v))));
    return;
  }
  const __m128i raw = _mm_loadu_si128((const __m128i*)(b + (FMT == 1 ? 4 : 2))), mask = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_and_si128(raw, mask), hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);
  const __m256i off = _mm256_set1_epi32(FMT == 0 ? 8 : 0);
  q[0] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(lo), off));
  q[1] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)), off));
  q[2] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(hi), off));
  q[3] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)), off));
}
)";

constexpr const char* kDecodeScalar = R"(
typedef float vf;
#define VL 1
static inline vf vzero(void) { return 0.0f; }
static inline vf vload(const float* p) { return *p; }
static inline vf vmul(vf a, vf b) { return a * b; }
static inline vf vfma(vf a, vf b, vf c) { return a * b + c; }
static inline vf vset1(float a) { return a; }
static inline float vsum(vf a) { return a; }
static inline void decode(const uint8_t* b, vf* q, float* d, float* mn) {
  *d = h2f(b);
  *mn = FMT == 1 ? h2f(b + 2) : 0.0f;
  if (FMT == 2) { for (int j = 0; j < 32; ++j) q[j] = (float)(int8_t)b[2 + j]; return; }
  const uint8_t* qs = b + (FMT == 1 ? 4 : 2);
  for (int j = 0; j < 16; ++j) {
    q[j] = (float)((qs[j] & 0x0F) - (FMT == 0 ? 8 : 0));
    q[j + 16] = (float)((qs[j] >> 4) - (FMT == 0 ? 8 : 0));
  }
}
)";

constexpr const char* kTileF32 = R"(
template <int MTT, int NTT>
static inline void tile(const Ctx* c, int64_t i, int64_t n0) {
  vf acc[MTT][NTT];
  float off[MTT][NTT];
  for (int r = 0; r < MTT; ++r)
    for (int j = 0; j < NTT; ++j) acc[r][j] = vzero(), off[r][j] = 0.0f;
  for (int64_t b = 0; b < NB; ++b) {
    for (int j = 0; j < NTT; ++j) {
      vf q[32 / VL];
      float d, mn;
      decode(c->w + (n0 + j) * ROW + b * BB, q, &d, &mn);
      const vf vd = vset1(d);
      for (int r = 0; r < MTT; ++r) {
        const float* xb = c->x + (i + r) * K + b * 32;
        vf t = vmul(q[0], vload(xb));
        for (int v = 1; v < 32 / VL; ++v) t = vfma(q[v], vload(xb + v * VL), t);
        acc[r][j] = vfma(vd, t, acc[r][j]);
        if (FMT == 1) off[r][j] += mn * c->sx[(i + r) * NB + b];
      }
    }
  }
  for (int r = 0; r < MTT; ++r)
    for (int j = 0; j < NTT; ++j)
      c->y[(i + r) * N + n0 + j] = vsum(acc[r][j]) + off[r][j] + (c->bias ? c->bias[n0 + j] : 0.0f);
}
)";

// 8-bit activations: 32-byte integer dot products per block on 256-bit registers.
constexpr const char* kTileQ8 = R"(
// The block's 32 quants as bytes: Q4_0 signed (nibble - 8), Q4_1 unsigned nibbles, Q8_0 signed.
static inline __m256i wbytes(const uint8_t* b) {
  if (FMT == 2) return _mm256_loadu_si256((const __m256i*)(b + 2));
  const __m128i raw = _mm_loadu_si128((const __m128i*)(b + (FMT == 1 ? 4 : 2))), mask = _mm_set1_epi8(0x0F);
  __m256i q = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), mask), _mm_and_si128(raw, mask));
  if (FMT == 0) q = _mm256_sub_epi8(q, _mm256_set1_epi8(8));
  return q;
}
// 8 int32 sums of 4 products u8 * s8 each. maddubs pairs stay within int16: |u| <= 128, |s| <= 127.
static inline __m256i dot_us(__m256i u, __m256i s) {
#if USE_VNNI
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}
static inline __m256i dot_block(__m256i w, __m256i x) {
  if (FMT == 1) return dot_us(w, x);
  return dot_us(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));  // |w| times x with w's sign
}
static inline float hsum(__m256 a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  s = _mm_hadd_ps(s, s); s = _mm_hadd_ps(s, s); return _mm_cvtss_f32(s);
}
template <int MTT, int NTT>
static inline void tile(const Ctx* c, int64_t i, int64_t n0) {
  __m256 acc[MTT][NTT];
  float off[MTT][NTT];
  for (int r = 0; r < MTT; ++r)
    for (int j = 0; j < NTT; ++j) acc[r][j] = _mm256_setzero_ps(), off[r][j] = 0.0f;
  for (int64_t b = 0; b < NB; ++b) {
    for (int j = 0; j < NTT; ++j) {
      const uint8_t* blk = c->w + (n0 + j) * ROW + b * BB;
      const __m256i w = wbytes(blk);
      const float d = h2f(blk), mn = FMT == 1 ? h2f(blk + 2) : 0.0f;
      for (int r = 0; r < MTT; ++r) {
        const __m256i xq = _mm256_loadu_si256((const __m256i*)(c->qx + (i + r) * K + b * 32));
        const __m256 p = _mm256_cvtepi32_ps(dot_block(w, xq));
        acc[r][j] = _mm256_fmadd_ps(p, _mm256_set1_ps(d * c->dx[(i + r) * NB + b]), acc[r][j]);
        if (FMT == 1) off[r][j] += mn * c->sx[(i + r) * NB + b];
      }
    }
  }
  for (int r = 0; r < MTT; ++r)
    for (int j = 0; j < NTT; ++j)
      c->y[(i + r) * N + n0 + j] = hsum(acc[r][j]) + off[r][j] + (c->bias ? c->bias[n0 + j] : 0.0f);
}
)";

constexpr const char* kCtx = R"(
struct Ctx {
  const float* x; const uint8_t* w; const float* bias; float* y; int64_t m;
  const float* sx;   // [m, NB]: the sum of x over each block (f32), or dx * the sum of its quants (q8)
  const int8_t* qx;  // q8: [m, K] x rounded to 8 bits per block
  const float* dx;   // q8: [m, NB] the scale of each block of x
};
#define TILE(MT_, NT_, i, n) tile<MT_, NT_>(c, i, n)
)";

constexpr const char* kEntry = R"(
extern "C" void synaptix_linear(const synaptix_runtime* rt, const float* x, const void* w, const float* bias,
                                float* y, int64_t m) {
  float* sx = (float*)malloc((size_t)(m * NB) * sizeof(float));
  float* dx = ACT_Q8 ? (float*)malloc((size_t)(m * NB) * sizeof(float)) : 0;
  int8_t* qx = ACT_Q8 ? (int8_t*)malloc((size_t)(m * K)) : 0;
  if (!sx || (ACT_Q8 && (!dx || !qx))) abort();
  for (int64_t r = 0; r < m; ++r)
    for (int64_t b = 0; b < NB; ++b) {
      const float* xb = x + r * K + b * 32;
      if (!ACT_Q8) {
        float s = 0.0f;
        for (int t = 0; t < 32; ++t) s += xb[t];
        sx[r * NB + b] = s;
        continue;
      }
      round_q8_block(xb, qx + r * K + b * 32, &dx[r * NB + b], &sx[r * NB + b]);
    }
  Ctx c = {x, (const uint8_t*)w, bias, y, m, sx, qx, dx};
  const int64_t tasks = (N + RPT - 1) / RPT;
  if (ALL_THREADS && rt && rt->parallel_for && rt->threads > 1 && tasks > 1)
    rt->parallel_for(rt->pool, tasks, task, &c);
  else
    task(&c, 0, tasks);
  free(sx);
  free(dx);
  free(qx);
}
)";

int64_t as_int(const nlohmann::json& p, const char* key) {
  if (!p.contains(key) || !p[key].is_number_integer()) fail("linear_quant: parameter '", key, "' must be an integer");
  return p[key].get<int64_t>();
}

// The format index the emitted code switches on (FMT), or -1 for weights this family does not take.
int format_index(DType w) {
  switch (w) {
    case DType::Q4_0: return 0;
    case DType::Q4_1: return 1;
    case DType::Q8_0: return 2;
    default: return -1;
  }
}

int64_t block_bytes(int fmt) { return fmt == 0 ? 18 : fmt == 1 ? 20 : 34; }

}  // namespace

const char* const kQ8BlockRounding = R"(
static inline void round_q8_block(const float* xb, int8_t* q, float* d_out, float* ds_out) {
  float amax = 0.0f;
  for (int t = 0; t < 32; ++t) amax = fabsf(xb[t]) > amax ? fabsf(xb[t]) : amax;
  const float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
  int s = 0;
  for (int t = 0; t < 32; ++t) {
    const int v = (int)nearbyintf(xb[t] * id);
    q[t] = (int8_t)v;
    s += v;
  }
  *d_out = d;
  *ds_out = d * (float)s;
}
)";

double q8_activation_error_bound(double s1, double s2) { return std::min(0.5 * s1, 8.0 * std::sqrt(s2 / 12.0)); }

bool LinearQuantGenerator::applies(const graph::Op& op, const hw::CpuProfile&) const {
  return (op.kind == graph::OpKind::Linear || op.kind == graph::OpKind::MoeExpert) && format_index(op.w_dtype) >= 0 &&
         op.n > 0 && op.k > 0 && op.k % 32 == 0 && op.m > 0;
}

std::vector<ParamDim> LinearQuantGenerator::space(const graph::Op& op, const hw::CpuProfile& cpu) const {
  std::vector<nlohmann::json> isas;
  if (cpu.isa.avx512f) isas.push_back("avx512");
  if (cpu.isa.avx512_vnni && cpu.isa.avx512vl && cpu.isa.avx512bw) isas.push_back("avx512_vnni");
  if (cpu.isa.avx2 && cpu.isa.fma) isas.push_back("avx2");
  isas.push_back("scalar");
  std::vector<nlohmann::json> mt{1};
  for (int v : {2, 4})
    if (op.m >= v) mt.push_back(v);
  return {{"isa", isas},         {"act", {"f32", "q8"}},          {"n_tile", {1, 2, 4}},
          {"m_tile", mt},        {"rows_per_task", {8, 32, 128}}, {"threads", {"all", "one"}}};
}

bool LinearQuantGenerator::valid(const graph::Op& op, const nlohmann::json& p) const {
  try {
    const std::string isa = p.at("isa").get<std::string>(), act = p.at("act").get<std::string>();
    const int64_t nt = as_int(p, "n_tile"), mt = as_int(p, "m_tile"), rpt = as_int(p, "rows_per_task");
    if (act == "q8" && isa != "avx512_vnni" && isa != "avx2") return false;  // integer dots need 256-bit ints
    if (act == "f32" && isa != "avx512" && isa != "avx2" && isa != "scalar") return false;
    if (act != "q8" && act != "f32") return false;
    if (nt < 1 || mt < 1 || rpt < 1 || mt > op.m || mt * nt > 8 || rpt % nt != 0) return false;
    if (rpt > 8 && rpt >= 2 * op.n) return false;            // coarser than the rows: repeats another point
    if (p.at("threads") == "one" && rpt != 8) return false;  // one task: the split is moot
    return format_index(op.w_dtype) >= 0 && op.k % 32 == 0;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

KernelSource LinearQuantGenerator::emit(const graph::Op& op, const nlohmann::json& p) const {
  if (!valid(op, p)) fail("linear_quant: point ", p.dump(), " is not in the space for ", op.signature());
  const std::string isa = p.at("isa").get<std::string>();
  const bool q8 = p.at("act") == "q8";
  const int fmt = format_index(op.w_dtype);
  std::ostringstream os;
  os << "// linear_quant for " << op.signature() << "\n// params " << p.dump() << "\n";
  os << "#include <stdint.h>\n#include <string.h>\n#include <stdlib.h>\n#include <math.h>\n";
  os << "#if defined(__x86_64__)\n#include <immintrin.h>\n#endif\n";
  os << "extern \"C\" {\n" << kGeneratedAbiDecls << "\n}\n#define ABI_VERSION " << kGeneratedAbiVersion << "\n";
  os << "#define USE_VNNI " << (isa == "avx512_vnni" ? 1 : 0) << "\n";
  os << "static const int64_t N = " << op.n << ", K = " << op.k << ", NB = " << op.k / 32
     << ", BB = " << block_bytes(fmt) << ", ROW = " << op.k / 32 * block_bytes(fmt) << ";\n";
  os << "enum { FMT = " << fmt << ", ACT_Q8 = " << (q8 ? 1 : 0) << ", MT = " << as_int(p, "m_tile")
     << ", NT = " << as_int(p, "n_tile") << ", ALL_THREADS = " << (p.at("threads") == "all" ? 1 : 0) << " };\n";
  os << "static const int64_t RPT = " << as_int(p, "rows_per_task") << ", MB = 0;\n";
  os << kHalf << kQ8BlockRounding << kCtx;
  if (q8) os << kTileQ8;
  else os << (isa == "avx512" ? kDecodeAvx512 : isa == "avx2" ? kDecodeAvx2 : kDecodeScalar) << kTileF32;
  os << kTiledRowsDriver << kNoPackEntries << kEntry;
  return {os.str(), {}};
}

}  // namespace synaptix::kernels
