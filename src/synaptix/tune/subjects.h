#pragma once
// The subjects of each op kind (subject.h), and the random inputs they share. Internal to tune/.
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "synaptix/core/dtype.h"
#include "synaptix/tune/subject.h"

namespace synaptix::tune {

std::unique_ptr<Subject> make_linear_subject(const graph::Op& op, const std::string& module, ThreadPool& pool);
// linear with GGUF block weights (op.w_dtype a block dtype): quant_linear_subject.cpp.
std::unique_ptr<Subject> make_quant_linear_subject(const graph::Op& op, const std::string& module, ThreadPool& pool);
std::unique_ptr<Subject> make_gate_up_silu_subject(const graph::Op& op, const std::string& module, ThreadPool& pool);
std::unique_ptr<Subject> make_add_rmsnorm_subject(const graph::Op& op, const std::string& module, ThreadPool& pool);
std::unique_ptr<Subject> make_attention_subject(const graph::Op& op, const std::string& module, ThreadPool& pool);
std::unique_ptr<Subject> make_lm_head_argmax_subject(const graph::Op& op, const std::string& module,
                                                     ThreadPool& pool);

// count values uniform in [-1, 1], stored as dtype t.
std::vector<uint8_t> random_weights(DType t, int64_t count, std::mt19937_64& rng);
float weight_value(const std::vector<uint8_t>& w, DType t, int64_t i);
std::vector<float> random_floats(int64_t count, std::mt19937_64& rng, float lo = -1.0f, float hi = 1.0f);
// The m values verify checks: the bucket's largest, and its smallest when different.
std::vector<int64_t> verify_ms(const graph::Op& op);
// Row blocks [first, len) of n the reference is computed on: all rows when m*n*k is small, else the first,
// a random and the last 32 rows (tails included).
std::vector<std::pair<int64_t, int64_t>> reference_blocks(int64_t m, int64_t n, int64_t k, std::mt19937_64& rng);

}  // namespace synaptix::tune
