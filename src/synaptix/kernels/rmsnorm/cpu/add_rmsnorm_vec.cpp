#include "synaptix/kernels/rmsnorm/cpu/add_rmsnorm_vec.h"

#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/kernels/generated_abi.h"
#include "synaptix/kernels/linear/cpu/linear_isa.h"

namespace synaptix::kernels {
namespace {

constexpr const char* kBody = R"(
struct Ctx { float* res; const float* x; const float* gamma; float* y; float eps; };

static void row(const Ctx* c, int64_t r) {
  float* rr = c->res + r * N;
  const float* xr = c->x + r * N;
  float* yr = c->y + r * N;
  vf acc[U];
  for (int u = 0; u < U; ++u) acc[u] = vzero();
  int64_t i = 0;
  for (; i + VL * U <= N; i += VL * U)
    for (int u = 0; u < U; ++u) {
      vf v = vadd(vload(rr + i + u * VL), vload(xr + i + u * VL));
      vstore(rr + i + u * VL, v);
      acc[u] = vfma(v, v, acc[u]);
    }
  for (; i + VL <= N; i += VL) {
    vf v = vadd(vload(rr + i), vload(xr + i));
    vstore(rr + i, v);
    acc[0] = vfma(v, v, acc[0]);
  }
  for (int u = 1; u < U; ++u) acc[0] = vadd(acc[0], acc[u]);
  float ss = vsum(acc[0]);
  for (; i < N; ++i) {
    rr[i] += xr[i];
    ss += rr[i] * rr[i];
  }
  // x is fully read above, so y may alias it.
  const float inv = 1.0f / sqrtf(ss / (float)N + c->eps);
  const vf vi = vset1(inv);
  i = 0;
  for (; i + VL <= N; i += VL) vstore(yr + i, vmul(vmul(vload(rr + i), vi), vload(c->gamma + i)));
  for (; i < N; ++i) yr[i] = rr[i] * inv * c->gamma[i];
}

static void task(void* ctx, int64_t begin, int64_t end) {
  const Ctx* c = (const Ctx*)ctx;
  for (int64_t r = begin * RPT; r < end * RPT; ++r) row(c, r);
}

static void tail_task(const Ctx* c, int64_t from, int64_t m) {
  for (int64_t r = from; r < m; ++r) row(c, r);
}

extern "C" int32_t synaptix_abi_version(void) { return ABI_VERSION; }

extern "C" void synaptix_add_rmsnorm(const synaptix_runtime* rt, float* residual, const float* x, const float* gamma,
                                     float* y, int64_t m, float eps) {
  Ctx c = {residual, x, gamma, y, eps};
  const int64_t full = m / RPT;
  if (ALL_THREADS && rt && rt->parallel_for && rt->threads > 1 && full > 1)
    rt->parallel_for(rt->pool, full, task, &c);
  else
    task(&c, 0, full);
  tail_task(&c, full * RPT, m);
}
)";

int64_t as_int(const nlohmann::json& p, const char* key) {
  if (!p.contains(key) || !p[key].is_number_integer())
    fail("add_rmsnorm_vec: parameter '", key, "' must be an integer");
  return p[key].get<int64_t>();
}

}  // namespace

bool AddRmsNormVecGenerator::applies(const graph::Op& op, const hw::CpuProfile&) const {
  return op.kind == graph::OpKind::AddRmsNorm && op.n > 0 && op.m > 0;
}

std::vector<ParamDim> AddRmsNormVecGenerator::space(const graph::Op& op, const hw::CpuProfile& cpu) const {
  std::vector<nlohmann::json> rpt{1};
  for (int v : {4, 16})
    if (op.m >= 2 * v) rpt.push_back(v);
  return {{"isa", isa_choices(cpu, DType::F32)}, {"unroll", {1, 2, 4}}, {"rows_per_task", rpt}, {"threads", {"all", "one"}}};
}

bool AddRmsNormVecGenerator::valid(const graph::Op& op, const nlohmann::json& p) const {
  try {
    isa_lanes(p.at("isa").get<std::string>());
    const int64_t u = as_int(p, "unroll"), rpt = as_int(p, "rows_per_task");
    if (u < 1 || u > 8 || rpt < 1 || rpt > op.m) return false;
    if (p.at("threads") != "one" && p.at("threads") != "all") return false;
    // One row, or one task: the split is moot.
    if ((op.m == 1 || p.at("threads") == "one") && rpt != 1) return false;
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  } catch (const Error&) {
    return false;
  }
}

KernelSource AddRmsNormVecGenerator::emit(const graph::Op& op, const nlohmann::json& p) const {
  if (!valid(op, p)) fail("add_rmsnorm_vec: point ", p.dump(), " is not in the space for ", op.signature());
  std::ostringstream os;
  os << "// add_rmsnorm_vec for " << op.signature() << "\n// params " << p.dump() << "\n";
  os << generated_source_head(p.at("isa").get<std::string>(), DType::F32);
  os << "static const int64_t N = " << op.n << ", RPT = " << as_int(p, "rows_per_task") << ";\n";
  os << "enum { U = " << as_int(p, "unroll") << ", ALL_THREADS = " << (p.at("threads") == "all" ? 1 : 0) << " };\n";
  os << kBody;
  return {os.str(), {}};
}

}  // namespace synaptix::kernels
