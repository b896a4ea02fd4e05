#include "synaptix/kernels/attention/cpu/attention_paged.h"

#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/kernels/generated_abi.h"
#include "synaptix/kernels/linear/cpu/linear_isa.h"

namespace synaptix::kernels {
namespace {

constexpr const char* kBody = R"(
#include <stdlib.h>
static const int64_t G = H / KVH, KVD = KVH * D;

struct Ctx {
  const float* q; const float* k; const float* v; int64_t bs; const int32_t* const* tables; const int64_t* pos;
  int64_t window; float scale; float* out;
};

static inline float dot(const float* a, const float* b) {
  vf acc = vzero();
  int64_t d = 0;
  for (; d + VL <= D; d += VL) acc = vfma(vload(a + d), vload(b + d), acc);
  float s = vsum(acc);
  for (; d < D; ++d) s += a[d] * b[d];
  return s;
}

// Token t, KV head kh: its G query heads over positions [lo, pos].
static void group(const Ctx* c, int64_t t, int64_t kh) {
  const int64_t p = c->pos[t];
  const int64_t lo = c->window > 0 && p - c->window + 1 > 0 ? p - c->window + 1 : 0, n = p - lo + 1;
  const int32_t* table = c->tables[t];
  const float* q = c->q + t * H * D + kh * G * D;
  float* out = c->out + t * H * D + kh * G * D;
  float* sc = (float*)malloc(sizeof(float) * (size_t)(G * n));
  float mx[G];
  for (int64_t h = 0; h < G; ++h) mx[h] = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t pp = lo + i, slot = (int64_t)table[pp / c->bs] * c->bs + pp % c->bs;
    const float* kp = c->k + slot * KVD + kh * D;
    if (PF && i + 1 < n) {
      const int64_t np = pp + 1, ns = (int64_t)table[np / c->bs] * c->bs + np % c->bs;
      __builtin_prefetch(c->k + ns * KVD + kh * D);
    }
    for (int64_t h = 0; h < G; ++h) {
      const float s = dot(q + h * D, kp) * c->scale;
      sc[h * n + i] = s;
      if (s > mx[h]) mx[h] = s;
    }
  }
  for (int64_t h = 0; h < G; ++h) {
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
      const float e = expf(sc[h * n + i] - mx[h]);
      sc[h * n + i] = e;
      sum += e;
    }
    const float inv = 1.0f / sum;
    for (int64_t i = 0; i < n; ++i) sc[h * n + i] *= inv;
    for (int64_t d = 0; d < D; ++d) out[h * D + d] = 0.0f;
  }
  for (int64_t i = 0; i < n; ++i) {
    const int64_t pp = lo + i, slot = (int64_t)table[pp / c->bs] * c->bs + pp % c->bs;
    const float* vp = c->v + slot * KVD + kh * D;
    if (PF && i + 1 < n) {
      const int64_t np = pp + 1, ns = (int64_t)table[np / c->bs] * c->bs + np % c->bs;
      __builtin_prefetch(c->v + ns * KVD + kh * D);
    }
    for (int64_t h = 0; h < G; ++h) {
      const vf w = vset1(sc[h * n + i]);
      float* o = out + h * D;
      int64_t d = 0;
      for (; d + VL <= D; d += VL) vstore(o + d, vfma(w, vload(vp + d), vload(o + d)));
      for (; d < D; ++d) o[d] += sc[h * n + i] * vp[d];
    }
  }
  free(sc);
}

static void task(void* ctx, int64_t begin, int64_t end) {
  const Ctx* c = (const Ctx*)ctx;
  for (int64_t i = begin; i < end; ++i) {
    if (PER_KV_HEAD) group(c, i / KVH, i % KVH);
    else for (int64_t kh = 0; kh < KVH; ++kh) group(c, i, kh);
  }
}

extern "C" int32_t synaptix_abi_version(void) { return ABI_VERSION; }

extern "C" void synaptix_attention(const synaptix_runtime* rt, const float* q, const float* k_cache,
                                   const float* v_cache, int64_t block_size, const int32_t* const* block_tables,
                                   const int64_t* pos, int64_t window, float scale, float* out, int64_t m) {
  Ctx c = {q, k_cache, v_cache, block_size, block_tables, pos, window, scale, out};
  const int64_t tasks = PER_KV_HEAD ? m * KVH : m;
  if (ALL_THREADS && rt && rt->parallel_for && rt->threads > 1 && tasks > 1)
    rt->parallel_for(rt->pool, tasks, task, &c);
  else
    task(&c, 0, tasks);
}
)";

}  // namespace

bool AttentionPagedGenerator::applies(const graph::Op& op, const hw::CpuProfile&) const {
  return op.kind == graph::OpKind::Attention && op.n > 0 && op.k > 0 && op.kv_heads > 0 && op.n % op.kv_heads == 0;
}

std::vector<ParamDim> AttentionPagedGenerator::space(const graph::Op&, const hw::CpuProfile& cpu) const {
  return {{"isa", isa_choices(cpu, DType::F32)},
          {"split", {"kv_head", "token"}},
          {"threads", {"all", "one"}},
          {"prefetch", {false, true}}};
}

bool AttentionPagedGenerator::valid(const graph::Op&, const nlohmann::json& p) const {
  try {
    isa_lanes(p.at("isa").get<std::string>());
    const auto split = p.at("split").get<std::string>(), threads = p.at("threads").get<std::string>();
    if (split != "kv_head" && split != "token") return false;
    if (threads != "all" && threads != "one") return false;
    if (threads == "one" && split != "token") return false;  // one task: the split is moot
    return p.at("prefetch").is_boolean();
  } catch (const nlohmann::json::exception&) {
    return false;
  } catch (const Error&) {
    return false;
  }
}

KernelSource AttentionPagedGenerator::emit(const graph::Op& op, const nlohmann::json& p) const {
  if (!valid(op, p)) fail("attention_paged: point ", p.dump(), " is not in the space for ", op.signature());
  if (!applies(op, {})) fail("attention_paged: ", op.signature(), " needs heads divisible by kv_heads");
  std::ostringstream os;
  os << "// attention_paged for " << op.signature() << "\n// params " << p.dump() << "\n";
  os << generated_source_head(p.at("isa").get<std::string>(), DType::F32);
  os << "static const int64_t H = " << op.n << ", KVH = " << op.kv_heads << ", D = " << op.k << ";\n";
  os << "enum { PER_KV_HEAD = " << (p.at("split") == "kv_head" ? 1 : 0)
     << ", ALL_THREADS = " << (p.at("threads") == "all" ? 1 : 0) << ", PF = " << (p.at("prefetch").get<bool>() ? 1 : 0)
     << " };\n";
  os << kBody;
  return {os.str(), {}};
}

}  // namespace synaptix::kernels
