#include "synaptix/registry/recipe_kernels.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "synaptix/backend/cache_dir.h"
#include "synaptix/backend/pool_runtime.h"
#include "synaptix/core/error.h"
#include "synaptix/tune/fused_kernels.h"
#include "synaptix/tune/linear_kernel.h"

namespace synaptix::registry {
namespace {

// One loaded recipe kernel of any hook; exactly one of the kernel pointers is set, with its callable.
struct Entry {
  RecipeKernel spec;
  // A bucket the tuner tried where the default won: no kernel; it keeps a smaller bucket's kernel from
  // standing in for m in this bucket (that fallback is meant for m beyond every tuned bucket).
  bool is_default = false;
  std::unique_ptr<tune::LinearKernel> linear;
  std::unique_ptr<tune::GateUpSiluKernel> gate_up;
  std::unique_ptr<tune::AddRmsNormKernel> add_rmsnorm;
  std::unique_ptr<tune::AttentionKernel> attention;
  std::unique_ptr<tune::LmHeadArgmaxKernel> lm_head;
  kernels::LinearFn linear_fn;
  kernels::GateUpSiluFn gate_up_fn;
  kernels::AddRmsNormFn add_rmsnorm_fn;
  kernels::AttentionFn attention_fn;
  kernels::LmHeadArgmaxFn lm_head_fn;
  std::mutex mu;
  std::unordered_map<const void*, std::vector<uint8_t>> packed;  // linear: by the address of W
};

class RecipeKernelSet final : public kernels::KernelSet {
 public:
  explicit RecipeKernelSet(ThreadPool& pool) : rt_(backend::pool_runtime(pool)) {}

  void add(const RecipeKernel& rk, const std::string& path) {
    auto e = std::make_unique<Entry>();
    e->spec = rk;
    Entry* ep = e.get();
    const synaptix_runtime* rt = &rt_;
    if (rk.op == "linear") {
      e->linear = std::make_unique<tune::LinearKernel>(path);
      e->linear_fn = [this, ep](const kernels::LinearArgs& a) { run_linear(*ep, a); };
    } else if (rk.op == "gate_up_silu") {
      e->gate_up = std::make_unique<tune::GateUpSiluKernel>(path, tune::kGateUpSiluSymbol);
      e->gate_up_fn = [rt, f = e->gate_up->fn()](const float* x, const void* wg, const void* wu, float* y, int64_t m) {
        f(rt, x, wg, wu, y, m);
      };
    } else if (rk.op == "add_rmsnorm") {
      e->add_rmsnorm = std::make_unique<tune::AddRmsNormKernel>(path, tune::kAddRmsNormSymbol);
      e->add_rmsnorm_fn = [rt, f = e->add_rmsnorm->fn()](float* res, const float* x, const float* g, float* y,
                                                         int64_t m, float eps) { f(rt, res, x, g, y, m, eps); };
    } else if (rk.op == "attention") {
      e->attention = std::make_unique<tune::AttentionKernel>(path, tune::kAttentionSymbol);
      e->attention_fn = [rt, f = e->attention->fn()](const kernels::AttentionBatch& b) {
        f(rt, b.q, b.k_cache, b.v_cache, b.block_size, b.block_tables, b.pos, b.window, b.scale, b.out, b.m);
      };
    } else if (rk.op == "lm_head_argmax") {
      e->lm_head = std::make_unique<tune::LmHeadArgmaxKernel>(path, tune::kLmHeadArgmaxSymbol);
      e->lm_head_fn = [rt, f = e->lm_head->fn()](const float* x, const void* w, int32_t* ids, int64_t m) {
        f(rt, x, w, ids, m);
      };
    } else {
      fail("recipe kernel '", rk.signature, "': op '", rk.op, "' has no kernel hook");
    }
    entries_.push_back(std::move(e));
  }

  void add_default(const RecipeKernel& rk) {
    auto e = std::make_unique<Entry>();
    e->spec = rk;
    e->is_default = true;
    entries_.push_back(std::move(e));
  }

  const kernels::LinearFn* linear(int64_t m, int64_t n, int64_t k, DType w) const override {
    const Entry* e = pick("linear", m, [&](const RecipeKernel& s) { return s.n == n && s.k == k && s.w_dtype == w; });
    return e && !e->is_default ? &e->linear_fn : nullptr;
  }
  const kernels::GateUpSiluFn* gate_up_silu(int64_t m, int64_t n, int64_t k, DType w) const override {
    const Entry* e =
        pick("gate_up_silu", m, [&](const RecipeKernel& s) { return s.n == n && s.k == k && s.w_dtype == w; });
    return e && !e->is_default ? &e->gate_up_fn : nullptr;
  }
  const kernels::AddRmsNormFn* add_rmsnorm(int64_t m, int64_t n) const override {
    const Entry* e = pick("add_rmsnorm", m, [&](const RecipeKernel& s) { return s.n == n; });
    return e && !e->is_default ? &e->add_rmsnorm_fn : nullptr;
  }
  const kernels::AttentionFn* attention(int64_t m, int64_t heads, int64_t kv_heads, int64_t head_dim,
                                        int64_t ctx) const override {
    // Any tuned context serves any length (the kernel is exact for all); the closest bucket is the best guess.
    const Entry* e = pick("attention", m, [&](const RecipeKernel& s) {
      return s.n == heads && s.kv_heads == kv_heads && s.k == head_dim;
    }, ctx);
    return e && !e->is_default ? &e->attention_fn : nullptr;
  }
  const kernels::LmHeadArgmaxFn* lm_head_argmax(int64_t m, int64_t n, int64_t k, DType w) const override {
    const Entry* e =
        pick("lm_head_argmax", m, [&](const RecipeKernel& s) { return s.n == n && s.k == k && s.w_dtype == w; });
    return e && !e->is_default ? &e->lm_head_fn : nullptr;
  }

 private:
  // The entry of hook `op` whose shapes fit, for the bucket holding m; beyond the largest bucket, the largest
  // (kernels are correct for any m). Among several, the one tuned at the context closest to ctx.
  template <typename Fits>
  const Entry* pick(const char* op, int64_t m, Fits fits, int64_t ctx = 0) const {
    const Entry* in = nullptr;
    const Entry* below = nullptr;
    auto closer = [&](const Entry* a, const Entry* b) {
      return !b || std::llabs(a->spec.ctx - ctx) < std::llabs(b->spec.ctx - ctx);
    };
    for (const auto& e : entries_) {
      const auto& s = e->spec;
      if (s.op != op || !fits(s)) continue;
      if (m >= s.m_lo && m <= s.m_hi) {
        if (closer(e.get(), in)) in = e.get();
      } else if (m > s.m_hi && (!below || s.m_hi > below->spec.m_hi ||
                                (s.m_hi == below->spec.m_hi && closer(e.get(), below)))) {
        below = e.get();
      }
    }
    return in ? in : below;
  }

  void run_linear(Entry& e, const kernels::LinearArgs& a) const {
    if (a.n != e.spec.n || a.k != e.spec.k || a.w_dtype != e.spec.w_dtype)
      fail("tuned linear for n=", e.spec.n, " k=", e.spec.k, " called with n=", a.n, " k=", a.k);
    const void* w = a.w;
    if (e.linear->packed_bytes() > 0) {
      std::lock_guard<std::mutex> lk(e.mu);
      auto it = e.packed.find(a.w);
      if (it == e.packed.end()) {
        it = e.packed.emplace(a.w, std::vector<uint8_t>(static_cast<size_t>(e.linear->packed_bytes()))).first;
        e.linear->pack(a.w, it->second.data());
      }
      w = it->second.data();
    }
    e.linear->run(&rt_, a.x, w, a.bias, a.y, a.m);
  }

  synaptix_runtime rt_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

// The shapes of a graph::Op::signature() ("linear m=17..64 n=576 k=576 w=bf16", "attention m=1 n=9 k=64
// kv_heads=3 ctx=2048"), as the recipe's untuned list records them; nullopt when it is not a hook's.
std::optional<RecipeKernel> parse_signature(const std::string& sig) {
  std::istringstream in(sig);
  RecipeKernel rk;
  in >> rk.op;
  if (rk.op == "moe_expert") rk.op = "linear";  // served as linear, as the tuned ones are
  if (std::find(std::begin(kRecipeHooks), std::end(kRecipeHooks), rk.op) == std::end(kRecipeHooks)) return std::nullopt;
  rk.signature = sig;
  std::string tok;
  try {
    while (in >> tok) {
      const size_t eq = tok.find('=');
      if (eq == std::string::npos) continue;
      const std::string key = tok.substr(0, eq), val = tok.substr(eq + 1);
      if (key == "m") {
        const size_t dots = val.find("..");
        rk.m_lo = std::stoll(val.substr(0, dots));
        rk.m_hi = dots == std::string::npos ? rk.m_lo : std::stoll(val.substr(dots + 2));
      } else if (key == "n") rk.n = std::stoll(val);
      else if (key == "k") rk.k = std::stoll(val);
      else if (key == "kv_heads") rk.kv_heads = std::stoll(val);
      else if (key == "ctx") rk.ctx = std::stoll(val);
      else if (key == "w" && !parse_dtype(val, &rk.w_dtype)) return std::nullopt;
    }
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return rk;
}

}  // namespace

std::unique_ptr<kernels::KernelSet> make_kernel_set(const Recipe& r, const backend::ModuleBuilder& builder,
                                                    ThreadPool& pool) {
  std::vector<backend::ModuleSource> srcs;
  for (const auto& k : r.kernels) srcs.push_back({k.source, k.libs});
  auto built = builder.build_all(srcs, 2);
  auto set = std::make_unique<RecipeKernelSet>(pool);
  for (size_t i = 0; i < built.size(); ++i) {
    if (!built[i].ok)
      fail("recipe kernel for '", r.kernels[i].signature, "' (", r.kernels[i].generator, ") does not compile here: ",
           built[i].error);
    set->add(r.kernels[i], built[i].path);
  }
  for (const auto& u : r.untuned)
    if (u.is_object() && u.contains("signature") && u["signature"].is_string())
      if (auto rk = parse_signature(u["signature"].get<std::string>())) set->add_default(*rk);
  return set;
}

std::unique_ptr<kernels::KernelSet> load_recipe_kernels(const std::string& recipe_path, ThreadPool& pool) {
  Recipe r = load_recipe(recipe_path);
  const hw::CpuProfile cpu = hw::probe_cpu(false);
  check_target(r, cpu, "recipe " + recipe_path);
  check_kernel_isa(r, cpu.isa, "recipe " + recipe_path);
  backend::ModuleBuilder builder(backend::default_cache_dir());
  return make_kernel_set(r, builder, pool);
}

}  // namespace synaptix::registry
