#include "synaptix/kernels/linear/cpu/linear_format_q8.h"

#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/kernels/generated_abi.h"
#include "synaptix/kernels/linear/cpu/linear_isa.h"
#include "synaptix/kernels/linear/cpu/linear_quant.h"
#include "synaptix/quant/weight_format.h"

namespace synaptix::kernels {
namespace {

// The emitted code: KIND 0 int8-pc, 1 int4-gG, 2 int4-gG-asym; G elements per group (K for int8-pc), GB bytes
// per group, HDR bytes before a group's codes, ROW bytes per row of W.
constexpr const char* kBody = R"(
static inline float h2f(const uint8_t* p) {
  uint16_t h; memcpy(&h, p, 2);
#if defined(__F16C__)
  return _cvtsh_ss(h);
#else
  uint32_t s = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
  if (e == 0) { if (m == 0) u = s; else { e = 127 - 15 + 1; while (!(m & 0x400)) { m <<= 1; --e; } m &= 0x3ff; u = s | (e << 23) | (m << 13); } }
  else if (e == 31) u = s | 0x7f800000u | (m << 13);
  else u = s | ((e + 127 - 15) << 23) | (m << 13);
  float f; memcpy(&f, &u, 4); return f;
#endif
}
// 8 int32 sums of 4 products u8 * s8 each. maddubs pairs stay within int16: |u| <= 127 (int8 via the sign
// trick) or 15 (nibbles), |s| <= 127.
static inline __m256i dot_us(__m256i u, __m256i s) {
#if USE_VNNI
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}
// Block t (32 values) of a group's nibble-order codes as unsigned bytes 0..15: element e < G/2 is the low
// nibble of byte e, element e >= G/2 the high nibble of byte e - G/2.
static inline __m256i nibbles(const uint8_t* codes, int t) {
  const __m256i mask = _mm256_set1_epi8(0x0F);
  if (G == 32) {
    const __m128i raw = _mm_loadu_si128((const __m128i*)codes), m4 = _mm_set1_epi8(0x0F);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), m4), _mm_and_si128(raw, m4));
  }
  if (32 * t < G / 2) return _mm256_and_si256(_mm256_loadu_si256((const __m256i*)(codes + 32 * t)), mask);
  const __m256i raw = _mm256_loadu_si256((const __m256i*)(codes + 32 * t - G / 2));
  return _mm256_and_si256(_mm256_srli_epi16(raw, 4), mask);
}
static inline float hsum(__m256 a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  s = _mm_hadd_ps(s, s); s = _mm_hadd_ps(s, s); return _mm_cvtss_f32(s);
}
#if WIDE
// Blocks t and t + 1 (t even, G >= 64) of a group's codes in one 512-bit register, in element order.
static inline __m512i nibbles2(const uint8_t* codes, int t) {
  if (G == 64) {
    const __m256i raw = _mm256_loadu_si256((const __m256i*)codes), m4 = _mm256_set1_epi8(0x0F);
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(raw, m4)),
                              _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4), 1);
  }
  const __m512i mask = _mm512_set1_epi8(0x0F);
  if (32 * t < G / 2) return _mm512_and_si512(_mm512_loadu_si512(codes + 32 * t), mask);
  return _mm512_and_si512(_mm512_srli_epi16(_mm512_loadu_si512(codes + 32 * t - G / 2), 4), mask);
}
// The two blocks' scales, each over its 8 lanes of a vpdpbusd result.
static inline __m512 scales2(float a, float b) {
  return _mm512_mask_blend_ps((__mmask16)0xFF00, _mm512_set1_ps(a), _mm512_set1_ps(b));
}
#endif

struct Ctx {
  const float* x; const uint8_t* w; const float* bias; float* y; int64_t m;
  const int8_t* qx;  // [m, K] x rounded to 8 bits per block of 32
  const float* dx;   // [m, NB] each block's scale
  const float* sx;   // [m, NB] dx * the sum of the block's codes (what a zero point takes off)
};

template <int MTT, int NTT>
static inline void tile(const Ctx* c, int64_t i, int64_t n0) {
  __m256 acc[MTT][NTT];
  float off[MTT][NTT];
  for (int r = 0; r < MTT; ++r)
    for (int j = 0; j < NTT; ++j) acc[r][j] = _mm256_setzero_ps(), off[r][j] = 0.0f;
#if WIDE
  // Two blocks of x per vpdpbusd: 16 lanes, the first 8 the first block's.
  __m512 acc2[MTT][NTT];
  for (int r = 0; r < MTT; ++r)
    for (int j = 0; j < NTT; ++j) acc2[r][j] = _mm512_setzero_ps();
#define WIDE_SUM(r, j) _mm512_reduce_add_ps(acc2[r][j])
#else
#define WIDE_SUM(r, j) 0.0f
#endif
  if (KIND == 0) {
    int64_t b0 = 0;
#if WIDE
    for (; b0 + 2 <= NB; b0 += 2)
      for (int j = 0; j < NTT; ++j) {
        const __m512i w = _mm512_loadu_si512(c->w + (n0 + j) * ROW + 4 + b0 * 32);
        const __m512i aw = _mm512_abs_epi8(w);
        const __mmask64 neg = _mm512_movepi8_mask(w);
        for (int r = 0; r < MTT; ++r) {
          const __m512i xq = _mm512_loadu_si512(c->qx + (i + r) * K + b0 * 32);
          const __m512i sx = _mm512_mask_sub_epi8(xq, neg, _mm512_setzero_si512(), xq);  // x with w's sign
          const __m512 p = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), aw, sx));
          const float* dx = c->dx + (i + r) * NB + b0;
          acc2[r][j] = _mm512_fmadd_ps(p, scales2(dx[0], dx[1]), acc2[r][j]);
        }
      }
#endif
    for (int64_t b = b0; b < NB; ++b)
      for (int j = 0; j < NTT; ++j) {
        const __m256i w = _mm256_loadu_si256((const __m256i*)(c->w + (n0 + j) * ROW + 4 + b * 32));
        const __m256i aw = _mm256_sign_epi8(w, w);
        for (int r = 0; r < MTT; ++r) {
          const __m256i xq = _mm256_loadu_si256((const __m256i*)(c->qx + (i + r) * K + b * 32));
          const __m256 p = _mm256_cvtepi32_ps(dot_us(aw, _mm256_sign_epi8(xq, w)));
          acc[r][j] = _mm256_fmadd_ps(p, _mm256_set1_ps(c->dx[(i + r) * NB + b]), acc[r][j]);
        }
      }
    for (int r = 0; r < MTT; ++r)
      for (int j = 0; j < NTT; ++j) {
        float d; memcpy(&d, c->w + (n0 + j) * ROW, 4);
        c->y[(i + r) * N + n0 + j] = d * (hsum(acc[r][j]) + WIDE_SUM(r, j)) + (c->bias ? c->bias[n0 + j] : 0.0f);
      }
    return;
  }
  for (int64_t g = 0; g < K / G; ++g)
    for (int j = 0; j < NTT; ++j) {
      const uint8_t* grp = c->w + (n0 + j) * ROW + g * GB;
      const float d = h2f(grp), zd = d * (float)(KIND == 2 ? grp[2] : 8);
      int t0 = 0;
#if WIDE
      for (; G >= 64 && t0 + 2 <= G / 32; t0 += 2) {
        const int64_t b = g * (G / 32) + t0;
        const __m512i w = nibbles2(grp + HDR, t0);
        for (int r = 0; r < MTT; ++r) {
          const __m512i xq = _mm512_loadu_si512(c->qx + (i + r) * K + b * 32);
          const __m512 p = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), w, xq));
          const float* dx = c->dx + (i + r) * NB + b;
          acc2[r][j] = _mm512_fmadd_ps(p, scales2(d * dx[0], d * dx[1]), acc2[r][j]);
          off[r][j] += zd * (c->sx[(i + r) * NB + b] + c->sx[(i + r) * NB + b + 1]);
        }
      }
#endif
      for (int t = t0; t < G / 32; ++t) {
        const int64_t b = g * (G / 32) + t;
        const __m256i w = nibbles(grp + HDR, t);
        for (int r = 0; r < MTT; ++r) {
          const __m256i xq = _mm256_loadu_si256((const __m256i*)(c->qx + (i + r) * K + b * 32));
          const __m256 p = _mm256_cvtepi32_ps(dot_us(w, xq));
          acc[r][j] = _mm256_fmadd_ps(p, _mm256_set1_ps(d * c->dx[(i + r) * NB + b]), acc[r][j]);
          off[r][j] += zd * c->sx[(i + r) * NB + b];
        }
      }
    }
  for (int r = 0; r < MTT; ++r)
    for (int j = 0; j < NTT; ++j)
      c->y[(i + r) * N + n0 + j] = hsum(acc[r][j]) + WIDE_SUM(r, j) - off[r][j] + (c->bias ? c->bias[n0 + j] : 0.0f);
}
#define TILE(MT_, NT_, i, n) (ACT_Q8 ? tile<MT_, NT_>(c, i, n) : tile_f32<MT_, NT_>(c, i, n))
)";

// Exact activations: each block of 32 codes widened to 4 x 8 floats (code - zero point) and applied to x with
// FMAs; the weight scale multiplies the block's sum (int8-pc: the row's sum), so the result differs from the
// reference by f32 rounding only.
constexpr const char* kTileF32 = R"(
static inline void widen(__m256i bytes, bool is_signed, float zero, __m256* q) {
  const __m128i lo = _mm256_castsi256_si128(bytes), hi = _mm256_extracti128_si256(bytes, 1);
  const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
  const __m256 z = _mm256_set1_ps(zero);
  for (int v = 0; v < 4; ++v)
    q[v] = _mm256_sub_ps(_mm256_cvtepi32_ps(is_signed ? _mm256_cvtepi8_epi32(parts[v]) : _mm256_cvtepu8_epi32(parts[v])), z);
}
template <int MTT, int NTT>
static inline void tile_f32(const Ctx* c, int64_t i, int64_t n0) {
  __m256 acc[MTT][NTT];
  for (int r = 0; r < MTT; ++r)
    for (int j = 0; j < NTT; ++j) acc[r][j] = _mm256_setzero_ps();
  for (int64_t b = 0; b < NB; ++b)
    for (int j = 0; j < NTT; ++j) {
      const uint8_t* row = c->w + (n0 + j) * ROW;
      __m256 q[4];
      float d = 1.0f;
      if (KIND == 0) {
        widen(_mm256_loadu_si256((const __m256i*)(row + 4 + b * 32)), true, 0.0f, q);
      } else {
        const uint8_t* grp = row + (b / (G / 32)) * GB;
        d = h2f(grp);
        widen(nibbles(grp + HDR, (int)(b % (G / 32))), false, (float)(KIND == 2 ? grp[2] : 8), q);
      }
      for (int r = 0; r < MTT; ++r) {
        const float* xb = c->x + (i + r) * K + b * 32;
        __m256 t = _mm256_mul_ps(q[0], _mm256_loadu_ps(xb));
        for (int v = 1; v < 4; ++v) t = _mm256_fmadd_ps(q[v], _mm256_loadu_ps(xb + 8 * v), t);
        acc[r][j] = KIND == 0 ? _mm256_add_ps(acc[r][j], t) : _mm256_fmadd_ps(_mm256_set1_ps(d), t, acc[r][j]);
      }
    }
  for (int r = 0; r < MTT; ++r)
    for (int j = 0; j < NTT; ++j) {
      float d = 1.0f;
      if (KIND == 0) memcpy(&d, c->w + (n0 + j) * ROW, 4);
      c->y[(i + r) * N + n0 + j] = d * hsum(acc[r][j]) + (c->bias ? c->bias[n0 + j] : 0.0f);
    }
}
)";

constexpr const char* kEntry = R"(
extern "C" void synaptix_linear(const synaptix_runtime* rt, const float* x, const void* w, const float* bias,
                                float* y, int64_t m) {
  int8_t* qx = ACT_Q8 ? (int8_t*)malloc((size_t)(m * K)) : 0;
  float* dx = ACT_Q8 ? (float*)malloc((size_t)(m * NB) * 2 * sizeof(float)) : 0;
  if (ACT_Q8 && (!qx || !dx)) abort();
  float* sx = ACT_Q8 ? dx + m * NB : 0;
  for (int64_t r = 0; ACT_Q8 && r < m; ++r)
    for (int64_t b = 0; b < NB; ++b)  // linear_quant's rounding (kQ8BlockRounding): the same declared bound
      round_q8_block(x + r * K + b * 32, qx + r * K + b * 32, &dx[r * NB + b], &sx[r * NB + b]);
  Ctx c = {x, (const uint8_t*)w, bias, y, m, qx, dx, sx};
  const int64_t tasks = (N + RPT - 1) / RPT;
  if (ALL_THREADS && rt && rt->parallel_for && rt->threads > 1 && tasks > 1)
    rt->parallel_for(rt->pool, tasks, task, &c);
  else
    task(&c, 0, tasks);
  free(qx);
  free(dx);
}
)";

int64_t as_int(const nlohmann::json& p, const char* key) {
  if (!p.contains(key) || !p[key].is_number_integer())
    fail("linear_format_q8: parameter '", key, "' must be an integer");
  return p[key].get<int64_t>();
}

// The weight format if this family takes it (int8-pc, int4-gG with or without zero points), else nullptr.
const quant::WeightFormat* integer_format(DType w) {
  const quant::WeightFormat* f = quant::weight_format(w);
  if (!f || (f->code != quant::CodeType::Int8 && f->code != quant::CodeType::Int4 && f->code != quant::CodeType::Int4Asym))
    return nullptr;
  return f;
}

bool shape_fits(const graph::Op& op) {
  const quant::WeightFormat* f = integer_format(op.w_dtype);
  return f && op.n > 0 && op.k > 0 && op.m > 0 && op.k % 32 == 0 && (f->group == 0 || op.k % f->group == 0);
}

}  // namespace

bool LinearFormatQ8Generator::applies(const graph::Op& op, const hw::CpuProfile& cpu) const {
  return (op.kind == graph::OpKind::Linear || op.kind == graph::OpKind::MoeExpert) && shape_fits(op) &&
         cpu.isa.avx2 && cpu.isa.fma;
}

std::vector<ParamDim> LinearFormatQ8Generator::space(const graph::Op& op, const hw::CpuProfile& cpu) const {
  std::vector<nlohmann::json> isas;
  if (cpu.isa.avx512_vnni && cpu.isa.avx512vl && cpu.isa.avx512bw) isas.push_back("avx512_vnni");
  isas.push_back("avx2");
  std::vector<nlohmann::json> mt{1};
  for (int v : {2, 4})
    if (op.m >= v) mt.push_back(v);
  return {{"isa", isas}, {"act", {"f32", "q8"}}, {"width", {256, 512}}, {"n_tile", {1, 2, 4}}, {"m_tile", mt}, {"rows_per_task", {8, 32, 128}},
          {"threads", {"all", "one"}}};
}

bool LinearFormatQ8Generator::valid(const graph::Op& op, const nlohmann::json& p) const {
  try {
    const std::string isa = p.at("isa").get<std::string>();
    const int64_t nt = as_int(p, "n_tile"), mt = as_int(p, "m_tile"), rpt = as_int(p, "rows_per_task");
    const std::string act = p.at("act").get<std::string>();
    if (isa != "avx512_vnni" && isa != "avx2") return false;
    if (act != "q8" && (act != "f32" || isa != "avx2")) return false;  // the exact form has no integer dots
    // 512-bit vpdpbusd takes two blocks of x at once: VNNI's, where a row (int8-pc) or a group has two.
    const int64_t width = p.value("width", int64_t{256});
    if (width != 256 && width != 512) return false;
    if (width == 512) {
      const quant::WeightFormat* f = integer_format(op.w_dtype);
      if (isa != "avx512_vnni" || act != "q8" || !f || (f->group == 0 ? op.k < 64 : f->group < 64)) return false;
    }
    if (nt < 1 || mt < 1 || rpt < 1 || mt > op.m || mt * nt > 8 || rpt % nt != 0) return false;
    if (rpt > 8 && rpt >= 2 * op.n) return false;            // coarser than the rows: repeats another point
    if (p.at("threads") == "one" && rpt != 8) return false;  // one task: the split is moot
    return shape_fits(op);
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

KernelSource LinearFormatQ8Generator::emit(const graph::Op& op, const nlohmann::json& p) const {
  if (!valid(op, p)) fail("linear_format_q8: point ", p.dump(), " is not in the space for ", op.signature());
  const quant::WeightFormat& f = *integer_format(op.w_dtype);
  const int kind = f.code == quant::CodeType::Int8 ? 0 : f.code == quant::CodeType::Int4 ? 1 : 2;
  const int64_t group = kind == 0 ? op.k : f.group, group_bytes = kind == 0 ? 0 : f.block_bytes;
  std::ostringstream os;
  os << "// linear_format_q8 for " << op.signature() << " (" << f.name << ")\n// params " << p.dump() << "\n";
  os << "#include <stdint.h>\n#include <string.h>\n#include <stdlib.h>\n#include <math.h>\n#include <immintrin.h>\n";
  os << "extern \"C\" {\n" << kGeneratedAbiDecls << "\n}\n#define ABI_VERSION " << kGeneratedAbiVersion << "\n";
  os << "#define USE_VNNI " << (p.at("isa") == "avx512_vnni" ? 1 : 0) << "\n";
  os << "#define WIDE " << (p.value("width", int64_t{256}) == 512 ? 1 : 0) << "\n";
  os << "static const int64_t N = " << op.n << ", K = " << op.k << ", NB = " << op.k / 32 << ", G = " << group
     << ", GB = " << group_bytes << ", HDR = " << (kind == 2 ? 4 : 2)
     << ", ROW = " << quant::weight_row_bytes(f, op.k) << ";\n";
  os << "enum { KIND = " << kind << ", ACT_Q8 = " << (p.at("act") == "q8" ? 1 : 0) << ", MT = " << as_int(p, "m_tile") << ", NT = " << as_int(p, "n_tile")
     << ", ALL_THREADS = " << (p.at("threads") == "all" ? 1 : 0) << " };\n";
  os << "static const int64_t RPT = " << as_int(p, "rows_per_task") << ", MB = 0;\n";
  os << kQ8BlockRounding << kBody << kTileF32 << kTiledRowsDriver << kNoPackEntries << kEntry;
  return {os.str(), {}};
}

}  // namespace synaptix::kernels
