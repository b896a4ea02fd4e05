#pragma once
// Turns a recipe into the kernels::KernelSet the executor uses: each kernel's source is compiled (or found
// in the compile cache by its content hash), loaded, and served through its hook (linear, gate_up_silu,
// add_rmsnorm, attention, lm_head_argmax) for its bucket of m.
#include <memory>
#include <string>

#include "synaptix/backend/module_builder.h"
#include "synaptix/core/thread_pool.h"
#include "synaptix/kernels/kernel_set.h"
#include "synaptix/registry/recipe.h"

namespace synaptix::registry {

// The recipe must already be checked against the target (check_target). Generated kernels run on `pool`,
// which must outlive the set. Weights that a kernel re-packs are packed on first use and cached by their
// address: the weights must not move or be freed while the set is alive.
std::unique_ptr<kernels::KernelSet> make_kernel_set(const Recipe& r, const backend::ModuleBuilder& builder,
                                                    ThreadPool& pool);

// What `generate|verify|bench --recipe R` call: loads R, refuses it when tuned for another target (probing
// this CPU), and builds it with the default cache directory. Throws synaptix::Error on any failure.
std::unique_ptr<kernels::KernelSet> load_recipe_kernels(const std::string& recipe_path, ThreadPool& pool);

}  // namespace synaptix::registry
