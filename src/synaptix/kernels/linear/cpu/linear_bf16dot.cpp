#include "synaptix/kernels/linear/cpu/linear_bf16dot.h"

#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/kernels/generated_abi.h"
#include "synaptix/kernels/linear/cpu/linear_isa.h"

namespace synaptix::kernels {
namespace {

// After generated_source_head("avx512", bf16), the constants and kBf16ActivationsPrelude: the tiles, Ctx, TILE.
constexpr const char* kBody = R"(
struct Ctx { const uint16_t* xb; const wt* w; const float* bias; float* y; int64_t m; };

// Tile of MTT rows of x (from row i0) by NTT rows of W (from row n0).
template <int MTT, int NTT>
static inline void tile(const Ctx* c, int64_t i0, int64_t n0) {
  __m512 acc[MTT][NTT][KU];
  for (int i = 0; i < MTT; ++i)
    for (int j = 0; j < NTT; ++j)
      for (int u = 0; u < KU; ++u) acc[i][j][u] = _mm512_setzero_ps();
  const wt* w = c->w + n0 * K;
  const uint16_t* xb = c->xb + i0 * K;
  int64_t kk = 0;
  for (; kk + 32 * KU <= K; kk += 32 * KU) {
    if (PF > 0)
      for (int j = 0; j < NTT; ++j) __builtin_prefetch(w + j * K + kk + PF);
    for (int u = 0; u < KU; ++u) {
      __m512bh wv[NTT];
      for (int j = 0; j < NTT; ++j) wv[j] = (__m512bh)_mm512_loadu_si512(w + j * K + kk + 32 * u);
      for (int i = 0; i < MTT; ++i) {
        const __m512bh xv = (__m512bh)_mm512_loadu_si512(xb + i * K + kk + 32 * u);
        for (int j = 0; j < NTT; ++j) acc[i][j][u] = _mm512_dpbf16_ps(acc[i][j][u], xv, wv[j]);
      }
    }
  }
  for (; kk + 32 <= K; kk += 32)
    for (int j = 0; j < NTT; ++j) {
      const __m512bh wv = (__m512bh)_mm512_loadu_si512(w + j * K + kk);
      for (int i = 0; i < MTT; ++i)
        acc[i][j][0] = _mm512_dpbf16_ps(acc[i][j][0], (__m512bh)_mm512_loadu_si512(xb + i * K + kk), wv);
    }
  for (int i = 0; i < MTT; ++i)
    for (int j = 0; j < NTT; ++j) {
      __m512 t = acc[i][j][0];
      for (int u = 1; u < KU; ++u) t = _mm512_add_ps(t, acc[i][j][u]);
      float s = _mm512_reduce_add_ps(t);
      for (int64_t r = kk; r < K; ++r) s += bf16_f32(w[j * K + r]) * bf16_f32(xb[i * K + r]);
      c->y[(i0 + i) * N + n0 + j] = s + (c->bias ? c->bias[n0 + j] : 0.0f);
    }
}
#define TILE(MT_, NT_, i, n) tile<MT_, NT_>(c, i, n)
)";

constexpr const char* kBodyTail = R"(
extern "C" void synaptix_linear(const synaptix_runtime* rt, const float* x, const void* w, const float* bias,
                                float* y, int64_t m) {
  const RoundedX xb(x, m * K);
  Ctx c = {xb.p, (const wt*)w, bias, y, m};
  const int64_t tasks = (N + RPT - 1) / RPT;
  if (ALL_THREADS && rt && rt->parallel_for && rt->threads > 1 && tasks > 1)
    rt->parallel_for(rt->pool, tasks, task, &c);
  else
    task(&c, 0, tasks);
}
)";

int64_t as_int(const nlohmann::json& p, const char* key) {
  if (!p.contains(key) || !p[key].is_number_integer()) fail("linear_bf16dot: parameter '", key, "' must be an integer");
  return p[key].get<int64_t>();
}

}  // namespace

bool LinearBf16DotGenerator::applies(const graph::Op& op, const hw::CpuProfile& cpu) const {
  return (op.kind == graph::OpKind::Linear || op.kind == graph::OpKind::MoeExpert) && op.w_dtype == DType::BF16 &&
         cpu.isa.avx512f && cpu.isa.avx512_bf16 && op.n > 0 && op.k > 0 && op.m > 0;
}

std::vector<ParamDim> LinearBf16DotGenerator::space(const graph::Op& op, const hw::CpuProfile&) const {
  std::vector<nlohmann::json> mt{1};
  for (int v : {2, 4, 6})
    if (op.m >= v) mt.push_back(v);
  return {{"isa", {"avx512_bf16"}},  // one value: it names the features the recipe records
          {"m_tile", mt},
          {"n_tile", {1, 2, 4}},
          {"k_unroll", {1, 2}},
          {"rows_per_task", {8, 32, 128}},
          {"threads", {"all", "one"}},
          {"prefetch", {0, 1024, 8192}}};
}

bool LinearBf16DotGenerator::valid(const graph::Op& op, const nlohmann::json& p) const {
  try {
    const int64_t mt = as_int(p, "m_tile"), nt = as_int(p, "n_tile"), ku = as_int(p, "k_unroll");
    const int64_t rpt = as_int(p, "rows_per_task"), pf = as_int(p, "prefetch");
    if (p.at("isa") != "avx512_bf16") return false;
    if (mt < 1 || nt < 1 || ku < 1 || rpt < 1 || pf < 0) return false;
    if (mt * nt * ku > 24) return false;  // accumulators, beside the W and x registers
    if (mt > op.m || rpt % nt != 0) return false;
    if (rpt > 8 && rpt >= 2 * op.n) return false;
    if (p.at("threads") == "one" && rpt != 8) return false;
    return p.at("threads") == "all" || p.at("threads") == "one";
  } catch (const nlohmann::json::exception&) {
    return false;
  } catch (const Error&) {
    return false;
  }
}

KernelSource LinearBf16DotGenerator::emit(const graph::Op& op, const nlohmann::json& p) const {
  if (!valid(op, p)) fail("linear_bf16dot: point ", p.dump(), " is not in the space for ", op.signature());
  std::ostringstream os;
  os << "// linear_bf16dot for " << op.signature() << "\n// params " << p.dump() << "\n";
  os << generated_source_head("avx512", DType::BF16);
  os << "static const int64_t N = " << op.n << ", K = " << op.k << ";\n";
  os << "enum { MT = " << as_int(p, "m_tile") << ", NT = " << as_int(p, "n_tile") << ", KU = " << as_int(p, "k_unroll")
     << ", ALL_THREADS = " << (p.at("threads") == "all" ? 1 : 0) << " };\n";
  os << "static const int64_t RPT = " << as_int(p, "rows_per_task") << ", PF = " << as_int(p, "prefetch") / 2
     << ", MB = 0;\n";
  os << kNoPackEntries << kBf16ActivationsPrelude << kBody << kTiledRowsDriver << kBodyTail;
  return {os.str(), {}};
}

}  // namespace synaptix::kernels
