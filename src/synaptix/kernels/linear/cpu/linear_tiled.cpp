#include "synaptix/kernels/linear/cpu/linear_tiled.h"

#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/kernels/generated_abi.h"
#include "synaptix/kernels/linear/cpu/linear_isa.h"

namespace synaptix::kernels {
namespace {

// The schedule-independent kernel body; the constants above it are the op's shapes and the schedule.
// Up to the tiled driver: the tile kernels, Ctx and TILE.
constexpr const char* kBody = R"(
// Tile of MTT rows of x by NTT rows of W (rows n0..n0+NTT). Unpacked W: row r at w + r*K. Packed W: the
// panel of rows n0..n0+NT starts at w + n0*K, and holds, for each VL-wide k slice, NT slices back to back.
template <int MTT, int NTT>
static inline void tile(const float* x, const wt* w, const float* bias, float* y, int64_t n0) {
  vf acc[MTT][NTT][KU];
  for (int i = 0; i < MTT; ++i)
    for (int j = 0; j < NTT; ++j)
      for (int u = 0; u < KU; ++u) acc[i][j][u] = vzero();
  const wt* panel = w + n0 * K;
  int64_t kk = 0;
  for (; kk + VL * KU <= K; kk += VL * KU) {
    if (PF > 0) {
      for (int j = 0; j < NTT; ++j)
        __builtin_prefetch(PACKED ? panel + kk * NT + PF + j * (64 / sizeof(wt)) : panel + j * K + kk + PF);
    }
    for (int u = 0; u < KU; ++u) {
      vf wv[NTT];
      for (int j = 0; j < NTT; ++j)
        wv[j] = PACKED ? vload_w(panel + ((kk / VL + u) * NT + j) * VL) : vload_w(panel + j * K + kk + u * VL);
      for (int i = 0; i < MTT; ++i) {
        vf xv = vload(x + i * K + kk + u * VL);
        for (int j = 0; j < NTT; ++j) acc[i][j][u] = vfma(wv[j], xv, acc[i][j][u]);
      }
    }
  }
  for (; kk + VL <= K; kk += VL) {
    for (int j = 0; j < NTT; ++j) {
      vf wv = PACKED ? vload_w(panel + ((kk / VL) * NT + j) * VL) : vload_w(panel + j * K + kk);
      for (int i = 0; i < MTT; ++i) acc[i][j][0] = vfma(wv, vload(x + i * K + kk), acc[i][j][0]);
    }
  }
  for (int i = 0; i < MTT; ++i)
    for (int j = 0; j < NTT; ++j) {
      vf t = acc[i][j][0];
      for (int u = 1; u < KU; ++u) t = vadd(t, acc[i][j][u]);
      float s = vsum(t);
      for (int64_t r = kk; r < K; ++r) s += w_to_f32(panel[j * K + r]) * x[i * K + r];  // unpacked only
      y[i * N + n0 + j] = s + (bias ? bias[n0 + j] : 0.0f);
    }
}

struct Ctx { const float* x; const wt* w; const float* bias; float* y; int64_t m; };
#define TILE(MT_, NT_, i, n) tile<MT_, NT_>(c->x + (i) * K, c->w, c->bias, c->y + (i) * N, n)

)";

// After kTiledRowsDriver (linear_isa.h).
constexpr const char* kBodyTail = R"(
extern "C" int32_t synaptix_abi_version(void) { return ABI_VERSION; }
extern "C" int64_t synaptix_linear_packed_bytes(void) { return PACKED ? N * K * (int64_t)sizeof(wt) : 0; }

extern "C" void synaptix_linear_pack(const void* w_, void* packed_) {
  const wt* w = (const wt*)w_;
  wt* p = (wt*)packed_;
  for (int64_t g = 0; g < N / NT; ++g)
    for (int64_t kv = 0; kv < K / VL; ++kv)
      for (int64_t j = 0; j < NT; ++j)
        memcpy(p + ((g * (K / VL) + kv) * NT + j) * VL, w + (g * NT + j) * K + kv * VL, VL * sizeof(wt));
}

extern "C" void synaptix_linear(const synaptix_runtime* rt, const float* x, const void* w, const float* bias,
                                float* y, int64_t m) {
  Ctx c = {x, (const wt*)w, bias, y, m};
  const int64_t tasks = (N + RPT - 1) / RPT;
  if (ALL_THREADS && rt && rt->parallel_for && rt->threads > 1 && tasks > 1)
    rt->parallel_for(rt->pool, tasks, task, &c);
  else
    task(&c, 0, tasks);
}
)";

int64_t as_int(const nlohmann::json& p, const char* key) {
  if (!p.contains(key) || !p[key].is_number_integer()) fail("linear_tiled: parameter '", key, "' must be an integer");
  return p[key].get<int64_t>();
}

bool linear_like(const graph::Op& op) {
  return op.kind == graph::OpKind::Linear || op.kind == graph::OpKind::MoeExpert;
}

int max_accumulators(const std::string& isa) { return isa == "avx512" ? 24 : isa == "avx2" ? 12 : 16; }

}  // namespace

bool LinearTiledGenerator::applies(const graph::Op& op, const hw::CpuProfile&) const {
  return linear_like(op) &&
         (op.w_dtype == DType::BF16 || op.w_dtype == DType::F16 || op.w_dtype == DType::F32) && op.n > 0 &&
         op.k > 0 && op.m > 0;
}

std::vector<ParamDim> LinearTiledGenerator::space(const graph::Op& op, const hw::CpuProfile& cpu) const {
  std::vector<nlohmann::json> mt{1};
  for (int v : {2, 4, 8})
    if (op.m >= v) mt.push_back(v);
  std::vector<nlohmann::json> mb{0};
  if (op.m > 16) mb.insert(mb.end(), {16, 64});
  return {{"isa", isa_choices(cpu, op.w_dtype)},
          {"m_tile", mt},
          {"n_tile", {1, 2, 4, 8}},
          {"k_unroll", {1, 2, 4}},
          {"rows_per_task", {8, 32, 128, 512}},
          {"threads", {"all", "one"}},
          {"prefetch", {0, 1024}},
          {"packed", {false, true}},
          {"m_block", mb}};
}

bool LinearTiledGenerator::valid(const graph::Op& op, const nlohmann::json& p) const {
  try {
    const std::string isa = p.at("isa").get<std::string>();
    const int64_t mt = as_int(p, "m_tile"), nt = as_int(p, "n_tile"), ku = as_int(p, "k_unroll");
    const int64_t rpt = as_int(p, "rows_per_task"), mb = as_int(p, "m_block");
    if (mt < 1 || nt < 1 || ku < 1 || rpt < 1 || mb < 0) return false;
    if (mt * nt * ku > max_accumulators(isa)) return false;
    if (mt > op.m) return false;
    if (mb > 0 && (mb % mt != 0 || mb >= op.m)) return false;
    if (rpt % nt != 0) return false;
    // Splits finer than the rows, or coarser than needed to feed the threads, only repeat other points.
    if (rpt > 8 && rpt >= 2 * op.n) return false;
    if (p.at("threads") == "one" && rpt != 8) return false;  // one task: the split is moot
    const int vl = isa_lanes(isa);
    if (p.at("packed").get<bool>() && (op.n % nt != 0 || op.k % vl != 0 || nt == 1)) return false;
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  } catch (const Error&) {
    return false;
  }
}

KernelSource LinearTiledGenerator::emit(const graph::Op& op, const nlohmann::json& p) const {
  if (!valid(op, p)) fail("linear_tiled: point ", p.dump(), " is not in the space for ", op.signature());
  const std::string isa = p.at("isa").get<std::string>();
  const int64_t esize = static_cast<int64_t>(dtype_size(op.w_dtype));
  std::ostringstream os;
  os << "// linear_tiled for " << op.signature() << "\n// params " << p.dump() << "\n";
  os << generated_source_head(isa, op.w_dtype);
  os << "static const int64_t N = " << op.n << ", K = " << op.k << ";\n";
  os << "enum { MT = " << as_int(p, "m_tile") << ", NT = " << as_int(p, "n_tile") << ", KU = " << as_int(p, "k_unroll")
     << ", PACKED = " << (p.at("packed").get<bool>() ? 1 : 0) << ", ALL_THREADS = " << (p.at("threads") == "all" ? 1 : 0)
     << " };\n";
  os << "static const int64_t RPT = " << as_int(p, "rows_per_task") << ", PF = " << as_int(p, "prefetch") / esize
     << ", MB = " << as_int(p, "m_block") << ";\n";
  os << kBody << kTiledRowsDriver << kBodyTail;
  return {os.str(), {}};
}

}  // namespace synaptix::kernels
