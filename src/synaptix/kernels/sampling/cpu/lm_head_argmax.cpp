#include "synaptix/kernels/sampling/cpu/lm_head_argmax.h"

#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/kernels/generated_abi.h"
#include "synaptix/kernels/linear/cpu/linear_isa.h"

namespace synaptix::kernels {
namespace {

constexpr const char* kBody = R"(
#include <stdlib.h>
struct Best { float v; int32_t id; };
struct Ctx { const float* x; const wt* w; int64_t m; struct Best* best; /* [tasks, m] */ };

// MTT tokens by NTT vocabulary rows starting at n0: their logits, folded into each token's best.
template <int MTT, int NTT>
static inline void tile(const float* x, const wt* w, int64_t n0, struct Best* best) {
  vf acc[MTT][NTT][KU];
  for (int i = 0; i < MTT; ++i)
    for (int j = 0; j < NTT; ++j)
      for (int u = 0; u < KU; ++u) acc[i][j][u] = vzero();
  const wt* panel = w + n0 * K;
  int64_t kk = 0;
  for (; kk + VL * KU <= K; kk += VL * KU) {
    if (PF > 0)
      for (int j = 0; j < NTT; ++j) __builtin_prefetch(panel + j * K + kk + PF);
    for (int u = 0; u < KU; ++u) {
      vf wv[NTT];
      for (int j = 0; j < NTT; ++j) wv[j] = vload_w(panel + j * K + kk + u * VL);
      for (int i = 0; i < MTT; ++i) {
        vf xv = vload(x + i * K + kk + u * VL);
        for (int j = 0; j < NTT; ++j) acc[i][j][u] = vfma(wv[j], xv, acc[i][j][u]);
      }
    }
  }
  for (; kk + VL <= K; kk += VL)
    for (int j = 0; j < NTT; ++j) {
      vf wv = vload_w(panel + j * K + kk);
      for (int i = 0; i < MTT; ++i) acc[i][j][0] = vfma(wv, vload(x + i * K + kk), acc[i][j][0]);
    }
  for (int i = 0; i < MTT; ++i)
    for (int j = 0; j < NTT; ++j) {
      vf t = acc[i][j][0];
      for (int u = 1; u < KU; ++u) t = vadd(t, acc[i][j][u]);
      float s = vsum(t);
      for (int64_t r = kk; r < K; ++r) s += w_to_f32(panel[j * K + r]) * x[i * K + r];
      if (s > best[i].v) best[i].v = s, best[i].id = (int32_t)(n0 + j);  // ascending ids: ties keep the lowest
    }
}

static void task(void* ctx, int64_t begin, int64_t end) {
  const struct Ctx* c = (const struct Ctx*)ctx;
  for (int64_t t = begin; t < end; ++t) {
    struct Best* best = c->best + t * c->m;
    for (int64_t i = 0; i < c->m; ++i) best[i].v = -INFINITY, best[i].id = -1;
    const int64_t n0 = t * RPT, n1 = (t + 1) * RPT < N ? (t + 1) * RPT : N;
    int64_t n = n0;
    for (; n + NT <= n1; n += NT) {
      int64_t i = 0;
      for (; i + MT <= c->m; i += MT) tile<MT, NT>(c->x + i * K, c->w, n, best + i);
      for (; i < c->m; ++i) tile<1, NT>(c->x + i * K, c->w, n, best + i);
    }
    for (; n < n1; ++n)
      for (int64_t i = 0; i < c->m; ++i) tile<1, 1>(c->x + i * K, c->w, n, best + i);
  }
}

extern "C" int32_t synaptix_abi_version(void) { return ABI_VERSION; }

extern "C" void synaptix_lm_head_argmax(const synaptix_runtime* rt, const float* x, const void* w, int32_t* ids,
                                        int64_t m) {
  const int64_t tasks = (N + RPT - 1) / RPT;
  struct Best* best = (struct Best*)malloc(sizeof(struct Best) * (size_t)(tasks * m));
  struct Ctx c = {x, (const wt*)w, m, best};
  if (rt && rt->parallel_for && rt->threads > 1 && tasks > 1)
    rt->parallel_for(rt->pool, tasks, task, &c);
  else
    task(&c, 0, tasks);
  // Tasks hold ascending id ranges: a strictly greater later value is needed to move the answer.
  for (int64_t i = 0; i < m; ++i) {
    struct Best b = best[i];
    for (int64_t t = 1; t < tasks; ++t)
      if (best[t * m + i].v > b.v) b = best[t * m + i];
    ids[i] = b.id < 0 ? 0 : b.id;
  }
  free(best);
}
)";

int64_t as_int(const nlohmann::json& p, const char* key) {
  if (!p.contains(key) || !p[key].is_number_integer()) fail("lm_head_argmax: parameter '", key, "' must be an integer");
  return p[key].get<int64_t>();
}

int max_accumulators(const std::string& isa) { return isa == "avx512" ? 24 : isa == "avx2" ? 12 : 16; }

}  // namespace

bool LmHeadArgmaxGenerator::applies(const graph::Op& op, const hw::CpuProfile&) const {
  return op.kind == graph::OpKind::LmHeadArgmax &&
         (op.w_dtype == DType::BF16 || op.w_dtype == DType::F16 || op.w_dtype == DType::F32) && op.n > 0 &&
         op.k > 0 && op.m > 0;
}

std::vector<ParamDim> LmHeadArgmaxGenerator::space(const graph::Op& op, const hw::CpuProfile& cpu) const {
  std::vector<nlohmann::json> mt{1};
  for (int v : {2, 4})
    if (op.m >= v) mt.push_back(v);
  return {{"isa", isa_choices(cpu, op.w_dtype)}, {"m_tile", mt},           {"n_tile", {1, 2, 4, 8}},
          {"k_unroll", {1, 2, 4}},               {"rows_per_task", {64, 256, 1024}}, {"prefetch", {0, 1024}}};
}

bool LmHeadArgmaxGenerator::valid(const graph::Op& op, const nlohmann::json& p) const {
  try {
    const std::string isa = p.at("isa").get<std::string>();
    isa_lanes(isa);
    const int64_t mt = as_int(p, "m_tile"), nt = as_int(p, "n_tile"), ku = as_int(p, "k_unroll");
    const int64_t rpt = as_int(p, "rows_per_task");
    as_int(p, "prefetch");
    if (mt < 1 || nt < 1 || ku < 1 || rpt < 1 || mt > op.m || rpt % nt != 0) return false;
    if (mt * nt * ku > max_accumulators(isa)) return false;
    if (rpt > 64 && rpt >= 2 * op.n) return false;
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  } catch (const Error&) {
    return false;
  }
}

KernelSource LmHeadArgmaxGenerator::emit(const graph::Op& op, const nlohmann::json& p) const {
  if (!valid(op, p)) fail("lm_head_argmax: point ", p.dump(), " is not in the space for ", op.signature());
  const int64_t esize = static_cast<int64_t>(dtype_size(op.w_dtype));
  std::ostringstream os;
  os << "// lm_head_argmax for " << op.signature() << "\n// params " << p.dump() << "\n";
  os << generated_source_head(p.at("isa").get<std::string>(), op.w_dtype);
  os << "static const int64_t N = " << op.n << ", K = " << op.k << ", RPT = " << as_int(p, "rows_per_task")
     << ", PF = " << as_int(p, "prefetch") / esize << ";\n";
  os << "enum { MT = " << as_int(p, "m_tile") << ", NT = " << as_int(p, "n_tile") << ", KU = " << as_int(p, "k_unroll")
     << " };\n";
  os << kBody;
  return {os.str(), {}};
}

}  // namespace synaptix::kernels
