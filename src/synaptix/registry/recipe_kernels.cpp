#include "synaptix/registry/recipe_kernels.h"

#include <mutex>
#include <unordered_map>
#include <vector>

#include "synaptix/backend/cache_dir.h"
#include "synaptix/backend/pool_runtime.h"
#include "synaptix/core/error.h"
#include "synaptix/tune/linear_kernel.h"

namespace synaptix::registry {
namespace {

class RecipeKernelSet final : public kernels::KernelSet {
 public:
  explicit RecipeKernelSet(ThreadPool& pool) : rt_(backend::pool_runtime(pool)) {}

  void add(const RecipeKernel& rk, const std::string& module_path) {
    auto e = std::make_unique<Entry>();
    e->spec = rk;
    e->kernel = std::make_unique<tune::LinearKernel>(module_path);
    Entry* ep = e.get();
    e->fn = [this, ep](const kernels::LinearArgs& a) { run(*ep, a); };
    entries_.push_back(std::move(e));
  }

  const kernels::LinearFn* linear(int64_t m, int64_t n, int64_t k, DType w) const override {
    // The bucket holding m; beyond the largest bucket, the largest (kernels are correct for any m).
    const Entry* best = nullptr;
    for (const auto& e : entries_) {
      const auto& s = e->spec;
      if (s.n != n || s.k != k || s.w_dtype != w) continue;
      if (m >= s.m_lo && m <= s.m_hi) return &e->fn;
      if (m > s.m_hi && (!best || s.m_hi > best->spec.m_hi)) best = e.get();
    }
    return best ? &best->fn : nullptr;
  }

 private:
  struct Entry {
    RecipeKernel spec;
    std::unique_ptr<tune::LinearKernel> kernel;
    kernels::LinearFn fn;
    std::mutex mu;
    std::unordered_map<const void*, std::vector<uint8_t>> packed;  // by the address of W
  };

  void run(Entry& e, const kernels::LinearArgs& a) const {
    if (a.n != e.spec.n || a.k != e.spec.k || a.w_dtype != e.spec.w_dtype)
      fail("tuned linear for n=", e.spec.n, " k=", e.spec.k, " called with n=", a.n, " k=", a.k);
    const void* w = a.w;
    if (e.kernel->packed_bytes() > 0) {
      std::lock_guard<std::mutex> lk(e.mu);
      auto it = e.packed.find(a.w);
      if (it == e.packed.end()) {
        it = e.packed.emplace(a.w, std::vector<uint8_t>(static_cast<size_t>(e.kernel->packed_bytes()))).first;
        e.kernel->pack(a.w, it->second.data());
      }
      w = it->second.data();
    }
    e.kernel->run(&rt_, a.x, w, a.bias, a.y, a.m);
  }

  synaptix_runtime rt_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

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
  return set;
}

std::unique_ptr<kernels::KernelSet> load_recipe_kernels(const std::string& recipe_path, ThreadPool& pool) {
  Recipe r = load_recipe(recipe_path);
  check_target(r, hw::probe_cpu(false), "recipe " + recipe_path);
  backend::ModuleBuilder builder(backend::default_cache_dir());
  return make_kernel_set(r, builder, pool);
}

}  // namespace synaptix::registry
