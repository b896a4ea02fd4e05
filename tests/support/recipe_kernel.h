#pragma once
// A recipe entry for tests: `op`'s kernel from the first point of the given generators' space on this CPU
// (the widest isa, all threads), serving every m, with its source emitted and hashed.
#include <vector>

#include "synaptix/core/error.h"
#include "synaptix/core/hash.h"
#include "synaptix/graph/op_graph.h"
#include "synaptix/hw/cpu_profile.h"
#include "synaptix/kernels/cpu_generator.h"
#include "synaptix/registry/recipe.h"
#include "synaptix/tune/search_space.h"

namespace synaptix::testing {

inline registry::RecipeKernel first_point_kernel(const graph::Op& op,
                                                 const std::vector<const kernels::CpuGenerator*>& generators,
                                                 const hw::CpuProfile& cpu) {
  auto space = tune::build_space(op, cpu, generators);
  if (space.points.empty()) fail("no point of the given generators for ", op.signature());
  registry::RecipeKernel k;
  k.op = graph::op_kind_name(op.kind);
  k.signature = op.signature();
  k.m_lo = 1;
  k.m_hi = 1 << 20;
  k.n = op.n;
  k.k = op.k;
  k.kv_heads = op.kv_heads;
  k.ctx = op.ctx;
  k.w_dtype = op.w_dtype;
  k.generator = space.points[0].generator;
  k.params = space.points[0].params;
  k.source = kernels::cpu_generator(k.generator).emit(op, k.params).code;
  k.source_sha256 = sha256_hex(k.source);
  return k;
}

}  // namespace synaptix::testing
