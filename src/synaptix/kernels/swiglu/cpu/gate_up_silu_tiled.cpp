#include "synaptix/kernels/swiglu/cpu/gate_up_silu_tiled.h"

#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/kernels/generated_abi.h"
#include "synaptix/kernels/linear/cpu/linear_isa.h"

namespace synaptix::kernels {
namespace {

// Up to the tiled driver: the tile kernels, Ctx and TILE.
constexpr const char* kBody = R"(
// Tile of MTT rows of x by NTT rows of Wg and of Wu (rows n0..n0+NTT); 2 x MTT x NTT x KU accumulators.
template <int MTT, int NTT>
static inline void tile(const float* x, const wt* wg, const wt* wu, float* y, int64_t n0) {
  vf ag[MTT][NTT][KU], au[MTT][NTT][KU];
  for (int i = 0; i < MTT; ++i)
    for (int j = 0; j < NTT; ++j)
      for (int u = 0; u < KU; ++u) ag[i][j][u] = vzero(), au[i][j][u] = vzero();
  const wt* pg = wg + n0 * K;
  const wt* pu = wu + n0 * K;
  int64_t kk = 0;
  for (; kk + VL * KU <= K; kk += VL * KU) {
    if (PF > 0)
      for (int j = 0; j < NTT; ++j) __builtin_prefetch(pg + j * K + kk + PF), __builtin_prefetch(pu + j * K + kk + PF);
    for (int u = 0; u < KU; ++u) {
      vf gv[NTT], uv[NTT];
      for (int j = 0; j < NTT; ++j) gv[j] = vload_w(pg + j * K + kk + u * VL), uv[j] = vload_w(pu + j * K + kk + u * VL);
      for (int i = 0; i < MTT; ++i) {
        vf xv = vload(x + i * K + kk + u * VL);
        for (int j = 0; j < NTT; ++j) ag[i][j][u] = vfma(gv[j], xv, ag[i][j][u]), au[i][j][u] = vfma(uv[j], xv, au[i][j][u]);
      }
    }
  }
  for (; kk + VL <= K; kk += VL)
    for (int j = 0; j < NTT; ++j) {
      vf gv = vload_w(pg + j * K + kk), uv = vload_w(pu + j * K + kk);
      for (int i = 0; i < MTT; ++i) {
        vf xv = vload(x + i * K + kk);
        ag[i][j][0] = vfma(gv, xv, ag[i][j][0]);
        au[i][j][0] = vfma(uv, xv, au[i][j][0]);
      }
    }
  for (int i = 0; i < MTT; ++i)
    for (int j = 0; j < NTT; ++j) {
      vf tg = ag[i][j][0], tu = au[i][j][0];
      for (int u = 1; u < KU; ++u) tg = vadd(tg, ag[i][j][u]), tu = vadd(tu, au[i][j][u]);
      float g = vsum(tg), up = vsum(tu);
      for (int64_t r = kk; r < K; ++r) {
        g += w_to_f32(pg[j * K + r]) * x[i * K + r];
        up += w_to_f32(pu[j * K + r]) * x[i * K + r];
      }
      y[i * N + n0 + j] = g / (1.0f + expf(-g)) * up;
    }
}

struct Ctx { const float* x; const wt* wg; const wt* wu; float* y; int64_t m; };
#define TILE(MT_, NT_, i, n) tile<MT_, NT_>(c->x + (i) * K, c->wg, c->wu, c->y + (i) * N, n)

)";

// After kTiledRowsDriver (linear_isa.h).
constexpr const char* kBodyTail = R"(
extern "C" int32_t synaptix_abi_version(void) { return ABI_VERSION; }

extern "C" void synaptix_gate_up_silu(const synaptix_runtime* rt, const float* x, const void* w_gate,
                                      const void* w_up, float* y, int64_t m) {
  Ctx c = {x, (const wt*)w_gate, (const wt*)w_up, y, m};
  const int64_t tasks = (N + RPT - 1) / RPT;
  if (ALL_THREADS && rt && rt->parallel_for && rt->threads > 1 && tasks > 1)
    rt->parallel_for(rt->pool, tasks, task, &c);
  else
    task(&c, 0, tasks);
}
)";

int64_t as_int(const nlohmann::json& p, const char* key) {
  if (!p.contains(key) || !p[key].is_number_integer())
    fail("gate_up_silu_tiled: parameter '", key, "' must be an integer");
  return p[key].get<int64_t>();
}

int max_accumulators(const std::string& isa) { return isa == "avx512" ? 24 : isa == "avx2" ? 12 : 16; }

}  // namespace

bool GateUpSiluTiledGenerator::applies(const graph::Op& op, const hw::CpuProfile&) const {
  return op.kind == graph::OpKind::GateUpSilu &&
         (op.w_dtype == DType::BF16 || op.w_dtype == DType::F16 || op.w_dtype == DType::F32) && op.n > 0 &&
         op.k > 0 && op.m > 0;
}

std::vector<ParamDim> GateUpSiluTiledGenerator::space(const graph::Op& op, const hw::CpuProfile& cpu) const {
  std::vector<nlohmann::json> mt{1};
  for (int v : {2, 4})
    if (op.m >= v) mt.push_back(v);
  std::vector<nlohmann::json> mb{0};
  if (op.m > 16) mb.insert(mb.end(), {16, 64});
  return {{"isa", isa_choices(cpu, op.w_dtype)},
          {"m_tile", mt},
          {"n_tile", {1, 2, 4}},
          {"k_unroll", {1, 2}},
          {"rows_per_task", {8, 32, 128}},
          {"threads", {"all", "one"}},
          {"prefetch", {0, 1024}},
          {"m_block", mb}};
}

bool GateUpSiluTiledGenerator::valid(const graph::Op& op, const nlohmann::json& p) const {
  try {
    const std::string isa = p.at("isa").get<std::string>();
    const int64_t mt = as_int(p, "m_tile"), nt = as_int(p, "n_tile"), ku = as_int(p, "k_unroll");
    const int64_t rpt = as_int(p, "rows_per_task"), mb = as_int(p, "m_block");
    as_int(p, "prefetch");
    if (mt < 1 || nt < 1 || ku < 1 || rpt < 1 || mb < 0) return false;
    if (2 * mt * nt * ku > max_accumulators(isa)) return false;
    if (mt > op.m) return false;
    if (mb > 0 && (mb % mt != 0 || mb >= op.m)) return false;
    if (rpt % nt != 0) return false;
    if (rpt > 8 && rpt >= 2 * op.n) return false;
    if (p.at("threads") == "one" && rpt != 8) return false;
    if (p.at("threads") != "one" && p.at("threads") != "all") return false;
    isa_lanes(isa);
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  } catch (const Error&) {
    return false;
  }
}

KernelSource GateUpSiluTiledGenerator::emit(const graph::Op& op, const nlohmann::json& p) const {
  if (!valid(op, p)) fail("gate_up_silu_tiled: point ", p.dump(), " is not in the space for ", op.signature());
  const std::string isa = p.at("isa").get<std::string>();
  const int64_t esize = static_cast<int64_t>(dtype_size(op.w_dtype));
  std::ostringstream os;
  os << "// gate_up_silu_tiled for " << op.signature() << "\n// params " << p.dump() << "\n";
  os << generated_source_head(isa, op.w_dtype);
  os << "static const int64_t N = " << op.n << ", K = " << op.k << ";\n";
  os << "enum { MT = " << as_int(p, "m_tile") << ", NT = " << as_int(p, "n_tile") << ", KU = " << as_int(p, "k_unroll")
     << ", ALL_THREADS = " << (p.at("threads") == "all" ? 1 : 0) << " };\n";
  os << "static const int64_t RPT = " << as_int(p, "rows_per_task") << ", PF = " << as_int(p, "prefetch") / esize
     << ", MB = " << as_int(p, "m_block") << ";\n";
  os << kBody << kTiledRowsDriver << kBodyTail;
  return {os.str(), {}};
}

}  // namespace synaptix::kernels
