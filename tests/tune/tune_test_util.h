#pragma once
// Shared by the tune tests: a scratch directory per test process, and linear ops of given shapes.
#include <unistd.h>

#include <filesystem>
#include <string>

#include "synaptix/graph/op_graph.h"

namespace synaptix::tune::testing {

inline std::string scratch_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("synaptix_tune_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(d);
  return d.string();
}

inline graph::Op linear_op(int64_t m_lo, int64_t m, int64_t n, int64_t k, DType w = DType::BF16, bool bias = false) {
  graph::Op op;
  op.name = "test";
  op.kind = graph::OpKind::Linear;
  op.m_lo = m_lo;
  op.m = m;
  op.n = n;
  op.k = k;
  op.w_dtype = w;
  op.bias = bias;
  return op;
}

}  // namespace synaptix::tune::testing
