// Decode steps of the sparse-MoE fixtures (mixtral-moe: top-2 of 4 experts; qwen3-moe: top-2 of 8) on the
// grouped expert kernels (routing on the device, every routed expert in two kernels, no host round trip),
// against the per-expert path that prefill steps take (experts grouped by a device sort, the counts brought
// to the host, each expert run as its own gather / GEMM / SwiGLU / GEMM / scatter; forced here for every
// step by gemv_max_rows = 0). Greedy continuation of each fixture's prompt, several tokens. The grouped path
// with graphs (from the third step on a captured graph is replayed; a host round trip inside the capture
// would make the step throw) must equal the same path run eagerly (within 1e-5: the fused RMSNorm statistics
// are float-atomic sums), and both must match the per-expert path within f32-accumulation noise.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "synaptix/core/error.h"
#include "synaptix/engine/cuda/cuda_executor.h"
#include "synaptix/model/model.h"

namespace {

namespace se = synaptix::engine;

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, std::isfinite(x) ? std::fabs(static_cast<double>(x)) : INFINITY);
  return m;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i)
    m = std::max(m, std::isfinite(a[i]) ? std::fabs(static_cast<double>(a[i]) - b[i]) : INFINITY);
  return m;
}

int32_t argmax(const std::vector<float>& v, size_t begin, size_t end) {
  return static_cast<int32_t>(std::max_element(v.begin() + static_cast<std::ptrdiff_t>(begin),
                                               v.begin() + static_cast<std::ptrdiff_t>(end)) -
                              (v.begin() + static_cast<std::ptrdiff_t>(begin)));
}

class CudaMoeFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaMoeFixture, GroupedDecodeMatchesThePerExpertPath) {
  const std::string dir = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/" + GetParam();
  auto m = synaptix::model::load_model(dir);
  ASSERT_TRUE(m->spec.is_moe());
  synaptix::model::SafetensorsFile ref(dir + "/reference.safetensors");
  const auto* ids_t = ref.find("input_ids");
  ASSERT_TRUE(ids_t);
  const int64_t P = ids_t->shape[0], V = m->spec.vocab_size, steps = 10;
  const std::vector<int32_t> prompt(static_cast<const int32_t*>(ids_t->data), static_cast<const int32_t*>(ids_t->data) + P);
  se::KvConfig kv;
  kv.num_blocks = (P + steps) / kv.block_size + 2;
  std::vector<int32_t> table(static_cast<size_t>(kv.num_blocks));
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(table.size() - 1 - i);

  se::CudaExecutorOptions graphs, eager, per_expert;
  eager.use_graphs = false;
  per_expert.gemv_max_rows = 0;  // every step on the prefill path: the per-expert MoE
  per_expert.use_graphs = false;
  auto ex_graph = se::make_cuda_executor(*m, kv, 0, graphs);
  auto ex_eager = se::make_cuda_executor(*m, kv, 0, eager);
  auto ex_pe = se::make_cuda_executor(*m, kv, 0, per_expert);

  // The prompt as one prefill step (the per-expert path on all three: more than 8 tokens).
  std::vector<float> lg, le, lh;
  se::SeqChunk pre{prompt, 0, table, false};
  ex_graph->step({&pre, 1}, lg);
  ex_eager->step({&pre, 1}, le);
  ex_pe->step({&pre, 1}, lh);
  ASSERT_EQ(static_cast<int64_t>(lh.size()), V);
  int32_t next = argmax(lh, 0, lh.size());
  for (int64_t s = 0; s < steps; ++s) {
    const int32_t tok = next;
    se::SeqChunk d{std::span<const int32_t>(&tok, 1), P + s, table, false};
    ex_graph->step({&d, 1}, lg);
    ex_eager->step({&d, 1}, le);
    ex_pe->step({&d, 1}, lh);
    ASSERT_EQ(static_cast<int64_t>(lg.size()), V);
    ASSERT_EQ(static_cast<int64_t>(le.size()), V);
    ASSERT_EQ(static_cast<int64_t>(lh.size()), V);
    const double scale = max_abs(lh), err = max_diff(le, lh) / scale;
    // Graph replay runs the same kernels as the eager step; the RMSNorm statistics the fused decode path
    // accumulates with float atomics (as dense models' fused path does) may differ in their last bits.
    EXPECT_LE(max_diff(lg, le) / scale, 1e-5) << GetParam() << " decode step " << s << ": graph replay vs the eager step";
    EXPECT_LE(err, 1e-3) << GetParam() << " decode step " << s << ": grouped vs per-expert logits";
    // Greedy tokens agree unless the per-expert path's top two are closer than the noise allowed above.
    const int32_t a = argmax(le, 0, le.size()), b = argmax(lh, 0, lh.size());
    if (a != b) {
      EXPECT_LE(std::fabs(lh[static_cast<size_t>(b)] - lh[static_cast<size_t>(a)]), 2e-3 * scale)
          << GetParam() << " decode step " << s << ": greedy token " << a << " vs per-expert " << b;
    }
    std::printf("%s decode step %lld: token %d, max rel diff vs per-expert path %.3g\n", GetParam().c_str(),
                static_cast<long long>(s), tok, err);
    next = b;
  }

  // The greedy form (argmax on the device, its own graph): the same token as the per-expert path's logits give.
  std::vector<int32_t> gid, hid;
  const int32_t tok = next;
  se::SeqChunk d{std::span<const int32_t>(&tok, 1), P + steps, table, false};
  for (int rep = 0; rep < 3; ++rep) {  // eager, capture, replay: all at the same position
    ex_graph->step_greedy({&d, 1}, gid);
    ASSERT_EQ(gid.size(), 1u);
    ex_pe->step({&d, 1}, lh);
    const int32_t b = argmax(lh, 0, lh.size());
    if (gid[0] != b) {
      EXPECT_LE(std::fabs(lh[static_cast<size_t>(b)] - lh[static_cast<size_t>(gid[0])]), 2e-3 * max_abs(lh))
          << GetParam() << " greedy step, repetition " << rep;
    }
  }
}

// A batch of decode tokens routed together (experts shared between tokens: grouped) against each token
// decoded alone.
TEST_P(CudaMoeFixture, BatchedGroupedDecodeMatchesSingleTokens) {
  const std::string dir = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/" + GetParam();
  auto m = synaptix::model::load_model(dir);
  se::KvConfig kv;
  kv.num_blocks = 64;
  auto ex = se::make_cuda_executor(*m, kv, 0, {});
  const std::vector<std::vector<int32_t>> prompts = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20},
                                                     {30, 31, 32}, {100, 200, 300, 400, 500, 10, 20, 30, 40},
                                                     {7, 7, 7, 7}, {250, 251}, {3, 1, 4, 1, 5, 9, 2, 6},
                                                     {42}, {11, 22, 33, 44, 55, 66}};
  const std::vector<std::vector<int32_t>> tables = {{0, 1}, {5}, {9, 3}, {12}, {14}, {16}, {18}, {20}};
  std::vector<float> logits;
  for (size_t s = 0; s < prompts.size(); ++s) {
    se::SeqChunk c{prompts[s], 0, tables[s], false};
    ex->step({&c, 1}, logits);
  }
  const int64_t V = m->spec.vocab_size;
  for (size_t n : {3u, 8u}) {  // 3 tokens; 8, the largest device-routed step
    std::vector<int32_t> next(n);
    std::vector<se::SeqChunk> batch;
    for (size_t s = 0; s < n; ++s) {
      next[s] = static_cast<int32_t>(7 + 13 * s);
      batch.push_back({std::span<const int32_t>(&next[s], 1), static_cast<int64_t>(prompts[s].size()), tables[s], false});
    }
    std::vector<float> together;
    ex->step(batch, together);
    ASSERT_EQ(static_cast<int64_t>(together.size()), static_cast<int64_t>(n) * V);
    for (size_t s = 0; s < n; ++s) {
      std::vector<float> alone;
      ex->step({&batch[s], 1}, alone);  // rewrites the same slot with the same K/V
      std::vector<float> row(together.begin() + static_cast<std::ptrdiff_t>(s) * V,
                             together.begin() + static_cast<std::ptrdiff_t>(s + 1) * V);
      EXPECT_LE(max_diff(row, alone), 1e-4 * std::max(1.0, max_abs(alone))) << GetParam() << " batch " << n << " sequence " << s;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(MoeFixtures, CudaMoeFixture, ::testing::Values("mixtral-moe", "qwen3-moe"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
