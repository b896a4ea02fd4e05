#include "synaptix/kernels/linear/cpu/linear_onednn.h"

#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/kernels/generated_abi.h"
#include "synaptix/kernels/linear/cpu/linear_isa.h"

namespace synaptix::kernels {
namespace {

#if __has_include(<oneapi/dnnl/dnnl.hpp>)
constexpr bool kHaveOneDnn = true;
#else
constexpr bool kHaveOneDnn = false;
#endif

// GGUF blocks (WFMT 1 Q4_0, 2 Q4_1, 3 Q8_0; 0: bf16 read as stored): a pool task expands its slice of W's
// rows to bf16 (w = d * q (+ min) in f32, rounded to nearest even) in a scratch buffer of its thread, once per
// call, and the matmul reads that. The expansion is n * k conversions per call, beside 2 * m * n * k
// products: worth it for prefill chunks, not for decode (the tuner times both).
constexpr const char* kDequantRows = R"(
#include <vector>
static void dequant_rows(const uint8_t* w, int64_t rows, uint16_t* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = w + r * ROW_BYTES;
    uint16_t* o = out + r * K;
    for (int64_t b = 0; b < K / 32; ++b) {
      const uint8_t* blk = row + b * BLOCK_BYTES;
      uint16_t hd;
      memcpy(&hd, blk, 2);
      const __m512 d = _mm512_set1_ps(_cvtsh_ss(hd));
      __m512 lo, hi;
      if (WFMT == 3) {
        lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(blk + 2))));
        hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(blk + 18))));
        lo = _mm512_mul_ps(lo, d);
        hi = _mm512_mul_ps(hi, d);
      } else {
        // Low nibbles are elements 0..15, high nibbles 16..31.
        const __m128i raw = _mm_loadu_si128((const __m128i*)(blk + (WFMT == 2 ? 4 : 2))), mask = _mm_set1_epi8(0x0F);
        const __m512i off = _mm512_set1_epi32(WFMT == 1 ? 8 : 0);
        lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_and_si128(raw, mask)), off));
        hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(raw, 4), mask)), off));
        if (WFMT == 2) {
          uint16_t hm;
          memcpy(&hm, blk + 2, 2);
          const __m512 mn = _mm512_set1_ps(_cvtsh_ss(hm));
          lo = _mm512_fmadd_ps(lo, d, mn);
          hi = _mm512_fmadd_ps(hi, d, mn);
        } else {
          lo = _mm512_mul_ps(lo, d);
          hi = _mm512_mul_ps(hi, d);
        }
      }
      _mm256_storeu_si256((__m256i*)(o + b * 32), (__m256i)_mm512_cvtneps_pbh(lo));
      _mm256_storeu_si256((__m256i*)(o + b * 32 + 16), (__m256i)_mm512_cvtneps_pbh(hi));
    }
  }
}
)";

// After generated_source_head("avx512", bf16), the constants N, K, SLICES_PER_THREAD, ALL_THREADS, WFMT,
// ROW_BYTES, BLOCK_BYTES, kBf16ActivationsPrelude and (for GGUF blocks) kDequantRows.
constexpr const char* kBody = R"(
#include <oneapi/dnnl/dnnl.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

extern "C" void omp_set_num_threads(int);  // libgomp, through libdnnl: one thread per pool task

namespace {

// One matmul primitive per (rows of x, rows of the W slice), made once, shared by every call.
struct Cache {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  std::mutex mu;
  std::map<std::pair<int64_t, int64_t>, std::unique_ptr<dnnl::matmul>> prims;
  std::vector<std::unique_ptr<dnnl::stream>> streams;  // one per slice: slices run concurrently

  dnnl::matmul& prim(int64_t m, int64_t len) {
    std::lock_guard<std::mutex> lock(mu);
    auto& p = prims[{m, len}];
    if (!p) {
      using dt = dnnl::memory::data_type;
      const dnnl::memory::desc src({m, K}, dt::bf16, dnnl::memory::dims{K, 1});
      const dnnl::memory::desc wei({K, len}, dt::bf16, dnnl::memory::dims{1, K});  // W rows are columns
      const dnnl::memory::desc dst({m, len}, dt::f32, dnnl::memory::dims{N, 1});   // a column slice of y
#if DNNL_VERSION_MAJOR >= 3
      dnnl::matmul::primitive_desc pd(eng, src, wei, dst);
#else
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wei, dst), eng);
#endif
      p.reset(new dnnl::matmul(pd));
    }
    return *p;
  }
  dnnl::stream& stream(size_t i) {
    std::lock_guard<std::mutex> lock(mu);
    while (streams.size() <= i) streams.emplace_back(new dnnl::stream(eng));
    return *streams[i];
  }
};

Cache& cache() {
  static Cache c;
  return c;
}

struct Ctx { const uint16_t* xb; const uint8_t* w; const float* bias; float* y; int64_t m, slice; };

void slice_task(void* ctx, int64_t begin, int64_t end) {
  const Ctx* c = (const Ctx*)ctx;
  omp_set_num_threads(1);
  for (int64_t s = begin; s < end; ++s) {
    const int64_t n0 = s * c->slice, len = n0 + c->slice <= N ? c->slice : N - n0;
    if (len <= 0) continue;
    using dt = dnnl::memory::data_type;
    Cache& k = cache();
    dnnl::matmul& mm = k.prim(c->m, len);
    const dnnl::memory src({{c->m, K}, dt::bf16, dnnl::memory::dims{K, 1}}, k.eng, (void*)c->xb);
    const uint16_t* wb = (const uint16_t*)(c->w + n0 * ROW_BYTES);
#if WFMT != 0
    thread_local std::vector<uint16_t> expanded;
    expanded.resize((size_t)(len * K));
    dequant_rows(c->w + n0 * ROW_BYTES, len, expanded.data());
    wb = expanded.data();
#endif
    const dnnl::memory wei({{K, len}, dt::bf16, dnnl::memory::dims{1, K}}, k.eng, (void*)wb);
    const dnnl::memory dst({{c->m, len}, dt::f32, dnnl::memory::dims{N, 1}}, k.eng, (void*)(c->y + n0));
    dnnl::stream& st = k.stream((size_t)s);
    mm.execute(st, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}});
    st.wait();
    if (c->bias)
      for (int64_t i = 0; i < c->m; ++i)
        for (int64_t j = n0; j < n0 + len; ++j) c->y[i * N + j] += c->bias[j];
  }
}

}  // namespace

extern "C" void synaptix_linear(const synaptix_runtime* rt, const float* x, const void* w, const float* bias,
                                float* y, int64_t m) {
  const RoundedX xb(x, m * K);
  const int64_t threads = ALL_THREADS && rt && rt->parallel_for && rt->threads > 1 ? rt->threads : 1;
  int64_t slices = threads * (threads > 1 ? SLICES_PER_THREAD : 1);
  // Slices of whole 16-row groups (AMX tiles are 16 columns of the output wide).
  int64_t slice = ((N + slices - 1) / slices + 15) / 16 * 16;
  slices = (N + slice - 1) / slice;
  Ctx c = {xb.p, (const uint8_t*)w, bias, y, m, slice};
  if (slices > 1)
    rt->parallel_for(rt->pool, slices, slice_task, &c);
  else
    slice_task(&c, 0, 1);
}
)";

}  // namespace

namespace {

// WFMT of the generated code, and the bytes of one 32-weight block (0 for bf16).
int weight_format(DType t) {
  switch (t) {
    case DType::BF16: return 0;
    case DType::Q4_0: return 1;
    case DType::Q4_1: return 2;
    case DType::Q8_0: return 3;
    default: return -1;
  }
}

int64_t block_bytes(DType t) {
  switch (t) {
    case DType::Q4_0: return 18;
    case DType::Q4_1: return 20;
    case DType::Q8_0: return 34;
    default: return 0;
  }
}

}  // namespace

bool LinearOneDnnGenerator::applies(const graph::Op& op, const hw::CpuProfile& cpu) const {
  const int f = weight_format(op.w_dtype);
  // GGUF blocks: expanding W costs n * k conversions per call, paid back over several rows of x only.
  const bool rows_enough = f == 0 || op.m >= 5;
  return kHaveOneDnn && (op.kind == graph::OpKind::Linear || op.kind == graph::OpKind::MoeExpert) && f >= 0 &&
         (f == 0 || op.k % 32 == 0) && rows_enough && cpu.isa.avx512f && cpu.isa.avx512_bf16 && cpu.isa.f16c &&
         op.n > 0 && op.k > 0 && op.m > 0;
}

std::vector<ParamDim> LinearOneDnnGenerator::space(const graph::Op&, const hw::CpuProfile&) const {
  return {{"isa", {"avx512_bf16"}}, {"threads", {"all", "one"}}, {"slices_per_thread", {1, 4}}};
}

bool LinearOneDnnGenerator::valid(const graph::Op&, const nlohmann::json& p) const {
  try {
    if (p.at("isa") != "avx512_bf16") return false;
    const auto spt = p.at("slices_per_thread").get<int64_t>();
    if (spt != 1 && spt != 4) return false;
    if (p.at("threads") == "one") return spt == 1;
    return p.at("threads") == "all";
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

KernelSource LinearOneDnnGenerator::emit(const graph::Op& op, const nlohmann::json& p) const {
  if (!valid(op, p)) fail("linear_onednn: point ", p.dump(), " is not in the space for ", op.signature());
  std::ostringstream os;
  os << "// linear_onednn for " << op.signature() << "\n// params " << p.dump() << "\n";
  os << generated_source_head("avx512", DType::BF16);
  os << "static const int64_t N = " << op.n << ", K = " << op.k << ";\n";
  os << "enum { SLICES_PER_THREAD = " << p.at("slices_per_thread").get<int64_t>()
     << ", ALL_THREADS = " << (p.at("threads") == "all" ? 1 : 0) << " };\n";
  const int f = weight_format(op.w_dtype);
  if (f < 0) fail("linear_onednn: weights ", dtype_name(op.w_dtype), " (expected bf16, Q4_0, Q4_1 or Q8_0)");
  const int64_t row_bytes = f == 0 ? op.k * 2 : op.k / 32 * block_bytes(op.w_dtype);
  os << "#define WFMT " << f << "\nstatic const int64_t ROW_BYTES = " << row_bytes
     << ", BLOCK_BYTES = " << block_bytes(op.w_dtype) << ";\n";
  os << kNoPackEntries << kBf16ActivationsPrelude;
  if (f != 0) os << kDequantRows;
  os << kBody;
  return {os.str(), {"-ldnnl"}};
}

}  // namespace synaptix::kernels
