// The CUDA executor against the reference logits of every fixture model (Hugging Face transformers, fp32
// math on the bf16 weights): the whole prompt as one prefill step with all logits (tensor-core path), the
// same on the GEMV path, and the prompt's tail decoded one token at a time (graph replay), with the bar
// `synaptix verify --target cuda` uses: top-1 agreement >= 0.99 and max |err| / max |ref| <= 2e-2.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "synaptix/core/error.h"
#include "synaptix/engine/cuda/cuda_executor.h"
#include "synaptix/model/model.h"

namespace {

struct Agreement {
  double rel = 0, top1 = 0;
};

Agreement compare(const std::vector<float>& got, const float* want, int64_t rows, int64_t vocab) {
  double max_abs = 0, max_ref = 0;
  int64_t agree = 0;
  for (int64_t t = 0; t < rows; ++t) {
    const float* a = got.data() + t * vocab;
    const float* b = want + t * vocab;
    for (int64_t v = 0; v < vocab; ++v) {
      max_abs = std::max(max_abs, std::isfinite(a[v]) ? std::fabs(static_cast<double>(a[v]) - b[v]) : INFINITY);
      max_ref = std::max(max_ref, std::fabs(static_cast<double>(b[v])));
    }
    agree += (std::max_element(a, a + vocab) - a) == (std::max_element(b, b + vocab) - b);
  }
  return {max_abs / max_ref, static_cast<double>(agree) / static_cast<double>(rows)};
}

class CudaFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaFixture, MatchesReferenceLogits) {
  const std::string dir = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/" + GetParam();
  auto m = synaptix::model::load_model(dir);
  synaptix::model::SafetensorsFile ref(dir + "/reference.safetensors");
  const auto* ids_t = ref.find("input_ids");
  const auto* logits_t = ref.find("logits");
  ASSERT_TRUE(ids_t && logits_t);
  const int64_t T = ids_t->shape[0], V = m->spec.vocab_size;
  std::vector<int32_t> ids(static_cast<const int32_t*>(ids_t->data), static_cast<const int32_t*>(ids_t->data) + T);
  const float* want = static_cast<const float*>(logits_t->data);
  synaptix::engine::KvConfig kv;
  kv.num_blocks = T / kv.block_size + 4;
  std::vector<int32_t> table(static_cast<size_t>(kv.num_blocks));
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(table.size() - 1 - i);  // not identity

  // The whole prompt as one step with every logits row, under the given options.
  auto prefill = [&](const synaptix::engine::CudaExecutorOptions& opt) {
    auto ex = synaptix::engine::make_cuda_executor(*m, kv, 0, opt);
    std::vector<float> logits;
    synaptix::engine::SeqChunk c{ids, 0, table, true};
    ex->step({&c, 1}, logits);
    EXPECT_EQ(static_cast<int64_t>(logits.size()), T * V);
    logits.resize(static_cast<size_t>(T * V));
    return compare(logits, want, T, V);
  };

  for (int gemv_max_rows : {8, 1 << 20}) {
    synaptix::engine::CudaExecutorOptions opt;
    opt.gemv_max_rows = gemv_max_rows;
    Agreement a = prefill(opt);
    EXPECT_LE(a.rel, 2e-2) << GetParam() << " gemv_max_rows=" << gemv_max_rows;
    EXPECT_GE(a.top1, 0.99) << GetParam() << " gemv_max_rows=" << gemv_max_rows;
    std::printf("%s prefill (%s): max_rel_err %.3g top1 %.3f\n", GetParam().c_str(),
                gemv_max_rows == 8 ? "tensor cores" : "gemv", a.rel, a.top1);
  }

  // The fast settings (bf16 KV cache, one bf16 product per GEMM, tensor-core flash attention even for this
  // short prompt): bf16 rounding of the activations moves near-tied logits of these random models, so the
  // bar is the error bound and a looser top-1 agreement.
  {
    synaptix::engine::CudaExecutorOptions opt;
    opt.kv_f32 = false;
    opt.split_bf16 = false;
    opt.flash_min_tokens = 1;
    Agreement a = prefill(opt);
    // A sparse MoE's top-k routing is discontinuous: bf16 noise upstream can send a token to another
    // expert (mixtral-moe: one token's logits then differ by ~0.7 of the range), so there only the greedy
    // agreement is checked.
    if (!m->spec.is_moe()) {
      EXPECT_LE(a.rel, 2e-2) << GetParam() << " bf16 + flash attention";
    }
    EXPECT_GE(a.top1, 0.9) << GetParam() << " bf16 + flash attention";
    std::printf("%s prefill (bf16 KV, flash attention): max_rel_err %.3g top1 %.3f\n", GetParam().c_str(), a.rel, a.top1);
  }

  // Prefill the first half, then decode the rest one token per step (graphs after the first two steps):
  // with RMSNorm in the GEMV prologues (the default) and as its own kernel (a plan's other choice).
  for (bool norm_fused : {true, false}) {
    auto ex = synaptix::engine::make_cuda_executor(*m, kv, 0, {});
    synaptix::engine::CudaKernelPlan plan;
    plan.fuse_decode[1] = norm_fused;
    ex->set_plan(plan);
    const int64_t half = T / 2;
    std::vector<float> logits, all;
    synaptix::engine::SeqChunk c{std::span<const int32_t>(ids.data(), static_cast<size_t>(half)), 0, table, false};
    ex->step({&c, 1}, logits);
    for (int64_t t = half; t < T; ++t) {
      synaptix::engine::SeqChunk d{std::span<const int32_t>(ids.data() + t, 1), t, table, false};
      ex->step({&d, 1}, logits);
      ASSERT_EQ(static_cast<int64_t>(logits.size()), V);
      all.insert(all.end(), logits.begin(), logits.end());
    }
    Agreement a = compare(all, want + half * V, T - half, V);
    EXPECT_LE(a.rel, 2e-2) << GetParam() << " decode, norm fused " << norm_fused;
    EXPECT_GE(a.top1, 0.99) << GetParam() << " decode, norm fused " << norm_fused;
    std::printf("%s decode (norm %s): max_rel_err %.3g top1 %.3f\n", GetParam().c_str(), norm_fused ? "fused" : "separate",
                a.rel, a.top1);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaFixture,
                         ::testing::Values("llama", "llama3-rope-scaling", "llama3-legacy-config", "llama2-sentencepiece",
                                           "gemma3", "qwen2", "qwen3", "mistral-sliding-window", "mixtral-moe", "qwen3-moe"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(CudaExecutor, BatchedDecodeMatchesSingleSequenceDecode) {
  const std::string dir = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";
  auto m = synaptix::model::load_model(dir);
  synaptix::engine::KvConfig kv;
  kv.num_blocks = 64;
  auto ex = synaptix::engine::make_cuda_executor(*m, kv, 0, {});
  // Three sequences of different lengths, each in its own blocks; decode them together, then alone.
  std::vector<std::vector<int32_t>> prompts = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20},
                                               {30, 31, 32}, {100, 200, 300, 400, 500, 10, 20, 30, 40}};
  std::vector<std::vector<int32_t>> tables = {{0, 1}, {5}, {9, 3}};
  std::vector<float> logits;
  for (size_t s = 0; s < 3; ++s) {
    synaptix::engine::SeqChunk c{prompts[s], 0, tables[s], false};
    ex->step({&c, 1}, logits);
  }
  std::vector<int32_t> next = {7, 8, 9};
  std::vector<synaptix::engine::SeqChunk> batch;
  for (size_t s = 0; s < 3; ++s)
    batch.push_back({std::span<const int32_t>(&next[s], 1), static_cast<int64_t>(prompts[s].size()), tables[s], false});
  std::vector<float> together;
  ex->step(batch, together);
  const int64_t V = m->spec.vocab_size;
  ASSERT_EQ(static_cast<int64_t>(together.size()), 3 * V);
  for (size_t s = 0; s < 3; ++s) {
    std::vector<float> alone;
    ex->step({&batch[s], 1}, alone);  // rewrites the same slot with the same K/V
    double diff = 0;
    for (int64_t v = 0; v < V; ++v) diff = std::max(diff, std::fabs(static_cast<double>(alone[v]) - together[s * V + v]));
    EXPECT_LT(diff, 1e-4) << "sequence " << s;
  }
}

// A decode step of more sequences than flash_min_tokens takes the tensor-core attention, whose tiles are
// part of the step's metadata (copied by the embedding kernel for decode steps): its logits match each
// sequence decoded alone on the GEMV path, within the bf16 tolerance.
TEST(CudaExecutor, WideDecodeStepWithFlashAttentionMatchesSingleSequences) {
  const std::string dir = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";
  auto m = synaptix::model::load_model(dir);
  const int64_t n = 70;
  synaptix::engine::KvConfig kv;
  kv.num_blocks = n + 2;
  synaptix::engine::CudaExecutorOptions opt;
  opt.kv_f32 = false;  // the flash kernel reads a bf16 cache
  ASSERT_GT(n, opt.flash_min_tokens);
  auto ex = synaptix::engine::make_cuda_executor(*m, kv, 0, opt);
  const int32_t V = static_cast<int32_t>(m->spec.vocab_size);
  std::vector<std::vector<int32_t>> prompts, tables;
  std::vector<float> logits;
  for (int64_t s = 0; s < n; ++s) {
    prompts.push_back({static_cast<int32_t>((7 * s + 1) % V), static_cast<int32_t>((13 * s + 2) % V), static_cast<int32_t>((s + 3) % V)});
    tables.push_back({static_cast<int32_t>(n + 1 - s)});  // one block each, not in sequence order
    synaptix::engine::SeqChunk c{prompts.back(), 0, tables.back(), false};
    ex->step({&c, 1}, logits);
  }
  std::vector<int32_t> next(static_cast<size_t>(n));
  std::vector<synaptix::engine::SeqChunk> batch;
  for (int64_t s = 0; s < n; ++s) {
    next[static_cast<size_t>(s)] = static_cast<int32_t>((5 * s + 11) % V);
    batch.push_back({std::span<const int32_t>(&next[static_cast<size_t>(s)], 1), 3, tables[static_cast<size_t>(s)], false});
  }
  std::vector<float> together;
  ex->step(batch, together);
  ASSERT_EQ(static_cast<int64_t>(together.size()), n * V);
  for (int64_t s = 0; s < n; s += 9) {
    std::vector<float> alone;
    ex->step({&batch[static_cast<size_t>(s)], 1}, alone);  // rewrites the same slot with the same K/V
    double diff = 0, scale = 1e-6;
    for (int32_t v = 0; v < V; ++v) {
      diff = std::max(diff, std::fabs(static_cast<double>(alone[v]) - together[static_cast<size_t>(s * V + v)]));
      scale = std::max(scale, std::fabs(static_cast<double>(alone[v])));
    }
    EXPECT_LT(diff / scale, 2e-2) << "sequence " << s;
  }
}

// Pipelined greedy decode (the next step enqueued before this one's ids are read, its tokens fed on the
// device) gives the same tokens as one synchronous greedy step at a time, for a batch of three sequences,
// one step per enqueue and four (multi-step graphs: the head GEMV's argmax feeding the next step's
// embedding on the device; eight launches, so cached graphs of both pinned slots are replayed); the
// synchronous steps' ids are the host argmax of the logits step() returns; misuse is refused with a clear
// error.
TEST(CudaExecutor, PipelinedChainedGreedyDecodeMatchesStepByStep) {
  const std::string dir = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";
  auto m = synaptix::model::load_model(dir);
  synaptix::engine::KvConfig kv;
  kv.num_blocks = 64;
  std::vector<std::vector<int32_t>> prompts = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {30, 31, 32}, {100, 200, 300, 400, 500}};
  std::vector<std::vector<int32_t>> tables = {{0, 1, 2}, {5, 6, 7}, {9, 3, 4}};
  const int kSteps = 32;
  // per_enqueue 0: synchronous steps
  auto decode = [&](int64_t per_enqueue) {
    auto ex = synaptix::engine::make_cuda_executor(*m, kv, 0, {});
    std::vector<int32_t> next(3), ids;
    for (size_t s = 0; s < 3; ++s) {
      synaptix::engine::SeqChunk c{prompts[s], 0, tables[s], false};
      ex->step_greedy({&c, 1}, ids);
      next[s] = ids.at(0);
    }
    std::vector<int32_t> out(next);
    std::vector<synaptix::engine::SeqChunk> batch;
    for (size_t s = 0; s < 3; ++s)
      batch.push_back({std::span<const int32_t>(&next[s], 1), static_cast<int64_t>(prompts[s].size()), tables[s], false});
    if (per_enqueue == 0) {
      for (int i = 0; i < kSteps; ++i) {
        // The logits first (the same K/V written twice): each greedy id must be a maximum of its row (within
        // the last bits the atomically summed RMSNorm statistics may move between the two runs).
        std::vector<float> logits;
        ex->step(batch, logits);
        const int64_t V = m->spec.vocab_size;
        ex->step_greedy(batch, ids);
        for (size_t s = 0; s < 3; ++s) {
          const float* row = logits.data() + static_cast<int64_t>(s) * V;
          const float top = *std::max_element(row, row + V);
          const bool in_range = ids.at(s) >= 0 && ids.at(s) < V;
          EXPECT_TRUE(in_range) << "id " << ids.at(s);
          if (in_range) {
            EXPECT_GE(row[ids.at(s)], top - 1e-5f * std::fabs(top)) << "step " << i << " sequence " << s;
          }
        }
        out.insert(out.end(), ids.begin(), ids.end());
        std::copy(ids.begin(), ids.end(), next.begin());
        for (auto& c : batch) ++c.start_pos;
      }
      return out;
    }
    EXPECT_GE(ex->max_greedy_steps(3), per_enqueue);
    const int groups = kSteps / static_cast<int>(per_enqueue);
    // The first step's tokens come from the host (the prefill's ids were read back), so it is not chained.
    ex->enqueue_greedy(batch, false, per_enqueue);
    for (int i = 0; i < groups; ++i) {
      if (i + 1 < groups) {
        for (auto& c : batch) c.start_pos += per_enqueue;
        ex->enqueue_greedy(batch, true, per_enqueue);
      }
      if (i == 0) {
        EXPECT_THROW(ex->enqueue_greedy(batch, true, 1), synaptix::Error);  // a third enqueue in flight
        std::vector<float> logits;
        EXPECT_THROW(ex->step(batch, logits), synaptix::Error);  // synchronous calls wait for finish_greedy
      }
      ex->finish_greedy(ids);
      EXPECT_EQ(ids.size(), static_cast<size_t>(3 * per_enqueue));
      out.insert(out.end(), ids.begin(), ids.end());
    }
    EXPECT_THROW(ex->finish_greedy(ids), synaptix::Error);  // nothing in flight
    // A chained step needs as many single-token sequences as the previous step had rows.
    EXPECT_THROW(ex->enqueue_greedy({batch.data(), 2}, true, 1), synaptix::Error);
    // More steps than one enqueue may run, or than a block table covers.
    EXPECT_THROW(ex->enqueue_greedy(batch, true, ex->max_greedy_steps(3) + 1), synaptix::Error);
    for (auto& c : batch) c.start_pos = static_cast<int64_t>(c.block_table.size()) * ex->block_size() - 2;
    EXPECT_THROW(ex->enqueue_greedy(batch, false, 4), synaptix::Error);
    return out;
  };
  const std::vector<int32_t> sync = decode(0), piped = decode(1), multi = decode(4);
  ASSERT_EQ(sync.size(), static_cast<size_t>(3 * (kSteps + 1)));
  EXPECT_EQ(piped, sync);
  EXPECT_EQ(multi, sync);
}

TEST(CudaExecutor, RejectsBadInputsWithClearErrors) {
  const std::string dir = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";
  auto m = synaptix::model::load_model(dir);
  synaptix::engine::KvConfig kv;
  kv.num_blocks = 8;
  auto ex = synaptix::engine::make_cuda_executor(*m, kv, 0, {});
  std::vector<float> logits;
  std::vector<int32_t> bad_tok = {100000}, ok_tok = {1}, table = {0}, bad_table = {99};
  synaptix::engine::SeqChunk a{bad_tok, 0, table, false};
  EXPECT_THROW(ex->step({&a, 1}, logits), synaptix::Error);
  synaptix::engine::SeqChunk b{ok_tok, 0, bad_table, false};
  EXPECT_THROW(ex->step({&b, 1}, logits), synaptix::Error);
  synaptix::engine::SeqChunk c{ok_tok, 16, table, false};  // position 16 is outside a one-block table
  EXPECT_THROW(ex->step({&c, 1}, logits), synaptix::Error);
}

}  // namespace
