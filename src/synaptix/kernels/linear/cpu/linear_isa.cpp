#include "synaptix/kernels/linear/cpu/linear_isa.h"

#include "synaptix/core/error.h"
#include "synaptix/kernels/generated_abi.h"

namespace synaptix::kernels {

int isa_lanes(const std::string& isa) {
  if (isa == "avx512") return 16;
  if (isa == "avx2") return 8;
  if (isa == "scalar") return 1;
  fail("unknown isa '", isa, "': expected avx512, avx2 or scalar");
}

std::vector<nlohmann::json> isa_choices(const hw::CpuProfile& cpu, DType w) {
  std::vector<nlohmann::json> isas;
  if (cpu.isa.avx512f && (w != DType::F16 || cpu.isa.f16c)) isas.push_back("avx512");
  if (cpu.isa.avx2 && cpu.isa.fma && (w != DType::F16 || cpu.isa.f16c)) isas.push_back("avx2");
  isas.push_back("scalar");
  return isas;
}

std::vector<std::string> isa_features(const std::string& isa, DType w) {
  std::vector<std::string> f;
  if (isa == "avx512") f = {"avx512f"};
  else if (isa == "avx512_vnni") f = {"avx512f", "avx512bw", "avx512vl", "avx512_vnni"};
  else if (isa == "avx512_bf16") f = {"avx512f", "avx512_bf16"};
  else if (isa == "avx2") f = {"avx2", "fma"};
  else if (isa != "scalar") fail("unknown kernel isa '", isa, "' (expected avx512, avx512_vnni, avx512_bf16, avx2 or scalar)");
  if (w == DType::F16 && isa != "scalar") f.push_back("f16c");
  return f;
}

const char* weight_ctype(DType w) {
  switch (w) {
    case DType::BF16:
    case DType::F16: return "uint16_t";
    case DType::F32: return "float";
    default: fail("linear kernels take bf16, f16 or f32 weights, not ", dtype_name(w));
  }
}

std::string isa_prelude(const std::string& isa, DType w) {
  std::string s = "#include <stdint.h>\n#include <string.h>\n#include <math.h>\n";
  s += "typedef " + std::string(weight_ctype(w)) + " wt;\n";
  // Scalar conversions (tails, packing, the scalar isa).
  s += R"(
static inline float bf16_f32(uint16_t h) { uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f; }
static inline float f16_f32(uint16_t h) {
  uint32_t s = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
  if (e == 0) { if (m == 0) u = s; else { e = 127 - 15 + 1; while (!(m & 0x400)) { m <<= 1; --e; } m &= 0x3ff; u = s | (e << 23) | (m << 13); } }
  else if (e == 31) u = s | 0x7f800000u | (m << 13);
  else u = s | ((e + 127 - 15) << 23) | (m << 13);
  float f; memcpy(&f, &u, 4); return f;
}
)";
  const char* wconv = w == DType::BF16 ? "bf16_f32(v)" : w == DType::F16 ? "f16_f32(v)" : "v";
  s += std::string("static inline float w_to_f32(wt v) { return ") + wconv + "; }\n";
  if (isa == "avx512") {
    s += "#include <immintrin.h>\ntypedef __m512 vf;\n#define VL 16\n"
         "static inline vf vzero(void) { return _mm512_setzero_ps(); }\n"
         "static inline vf vload(const float* p) { return _mm512_loadu_ps(p); }\n"
         "static inline vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }\n"
         "static inline vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }\n"
         "static inline float vsum(vf a) { return _mm512_reduce_add_ps(a); }\n"
         "static inline void vstore(float* p, vf a) { _mm512_storeu_ps(p, a); }\n"
         "static inline vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }\n"
         "static inline vf vset1(float a) { return _mm512_set1_ps(a); }\n";
    if (w == DType::BF16)
      s += "static inline vf vload_w(const wt* p) { return _mm512_castsi512_ps(_mm512_slli_epi32("
           "_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)p)), 16)); }\n";
    else if (w == DType::F16)
      s += "static inline vf vload_w(const wt* p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)p)); }\n";
    else
      s += "static inline vf vload_w(const wt* p) { return _mm512_loadu_ps(p); }\n";
  } else if (isa == "avx2") {
    s += "#include <immintrin.h>\ntypedef __m256 vf;\n#define VL 8\n"
         "static inline vf vzero(void) { return _mm256_setzero_ps(); }\n"
         "static inline vf vload(const float* p) { return _mm256_loadu_ps(p); }\n"
         "static inline vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }\n"
         "static inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }\n"
         "static inline float vsum(vf a) { __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), "
         "_mm256_extractf128_ps(a, 1)); s = _mm_hadd_ps(s, s); s = _mm_hadd_ps(s, s); return _mm_cvtss_f32(s); }\n"
         "static inline void vstore(float* p, vf a) { _mm256_storeu_ps(p, a); }\n"
         "static inline vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }\n"
         "static inline vf vset1(float a) { return _mm256_set1_ps(a); }\n";
    if (w == DType::BF16)
      s += "static inline vf vload_w(const wt* p) { return _mm256_castsi256_ps(_mm256_slli_epi32("
           "_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)p)), 16)); }\n";
    else if (w == DType::F16)
      s += "static inline vf vload_w(const wt* p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p)); }\n";
    else
      s += "static inline vf vload_w(const wt* p) { return _mm256_loadu_ps(p); }\n";
  } else if (isa == "scalar") {
    s += "typedef float vf;\n#define VL 1\n"
         "static inline vf vzero(void) { return 0.0f; }\n"
         "static inline vf vload(const float* p) { return *p; }\n"
         "static inline vf vfma(vf a, vf b, vf c) { return a * b + c; }\n"
         "static inline vf vadd(vf a, vf b) { return a + b; }\n"
         "static inline float vsum(vf a) { return a; }\n"
         "static inline void vstore(float* p, vf a) { *p = a; }\n"
         "static inline vf vmul(vf a, vf b) { return a * b; }\n"
         "static inline vf vset1(float a) { return a; }\n"
         "static inline vf vload_w(const wt* p) { return w_to_f32(*p); }\n";
  } else {
    isa_lanes(isa);  // throws
  }
  return s;
}

std::string generated_source_head(const std::string& isa, DType w) {
  return isa_prelude(isa, w) + "extern \"C\" {\n" + kGeneratedAbiDecls + "\n}\n#define ABI_VERSION " +
         std::to_string(kGeneratedAbiVersion) + "\n";
}

const char* const kTiledRowsDriver = R"(
static void rows(const Ctx* c, int64_t n0, int64_t n1) {
  const int64_t mb_len = MB > 0 ? MB : c->m;
  for (int64_t mb = 0; mb < c->m; mb += mb_len) {
    const int64_t me = mb + mb_len < c->m ? mb + mb_len : c->m;
    int64_t n = n0;
    for (; n + NT <= n1; n += NT) {
      int64_t i = mb;
      for (; i + MT <= me; i += MT) TILE(MT, NT, i, n);
      for (; i < me; ++i) TILE(1, NT, i, n);
    }
    for (; n < n1; ++n)
      for (int64_t i = mb; i < me; ++i) TILE(1, 1, i, n);
  }
}

static void task(void* ctx, int64_t begin, int64_t end) {
  const Ctx* c = (const Ctx*)ctx;
  for (int64_t t = begin; t < end; ++t) rows(c, t * RPT, (t + 1) * RPT < N ? (t + 1) * RPT : N);
}
)";

const char* const kNoPackEntries = R"(
extern "C" int32_t synaptix_abi_version(void) { return ABI_VERSION; }
extern "C" int64_t synaptix_linear_packed_bytes(void) { return 0; }
extern "C" void synaptix_linear_pack(const void* w, void* packed) { (void)w; (void)packed; }
)";

const char* const kBf16ActivationsPrelude = R"(
#include <stdlib.h>
// The numerics the tuner must check this kernel against: x is rounded to bf16.
extern "C" const char* synaptix_linear_activations(void) { return "bf16"; }

// x rounded to bf16 (VCVTNEPS2BF16, nearest even) for one call: on the caller's stack up to 32 KB (decode),
// else allocated for the call (prefill, where it is small beside the products).
struct RoundedX {
  uint16_t small[16384];
  uint16_t* p;
  RoundedX(const float* x, int64_t n) : p(n <= 16384 ? small : (uint16_t*)malloc((size_t)n * sizeof(uint16_t))) {
    if (!p) abort();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
      _mm256_storeu_si256((__m256i*)(p + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + i)));
    for (; i < n; ++i) {
      uint32_t u;
      memcpy(&u, &x[i], 4);
      p[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
  }
  ~RoundedX() {
    if (p != small) free(p);
  }
};
)";

}  // namespace synaptix::kernels
