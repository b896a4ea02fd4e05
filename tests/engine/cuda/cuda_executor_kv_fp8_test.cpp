// The CUDA executor with an fp8-e4m3 KV cache against the CPU executor with the same format (the CPU defines
// it: kernels/attention/kv_format.h) on fixtures (llama: GQA; qwen3: per-head norms): the prompt as one
// prefill with every logits row, through the paged attention and through the flash kernel, then the tail
// decoded token by token (fused decode attention, graphs). Bar: max |err| / max |ref| <= 2e-2 and top-1
// agreement >= 0.9 (activations round differently on the two targets; the cache codes are the same format).
// The int8 cache has its own test (cuda_executor_kv_int8_test.cpp). Needs a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "synaptix/core/error.h"
#include "support/logits_agreement.h"
#include "synaptix/engine/cpu_executor.h"
#include "synaptix/engine/cuda/cuda_executor.h"
#include "synaptix/model/model.h"

namespace {

using synaptix::kernels::KvFormat;

using Agreement = synaptix::testing::LogitsAgreement;

}  // namespace

class CudaKvFp8 : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaKvFp8, MatchesTheCpuExecutorWithTheSameFormat) {
  auto m = synaptix::model::load_model(std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/" + GetParam());
  const int64_t V = m->spec.vocab_size;
  std::vector<int32_t> ids(48);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 7919 + 13) % static_cast<size_t>(V - 1) + 1);
  synaptix::engine::KvConfig kv;
  kv.num_blocks = 8;
  kv.format = KvFormat::Fp8E4M3;
  std::vector<int32_t> table(8);
  std::iota(table.rbegin(), table.rend(), 0);  // not the identity
  auto cpu = synaptix::engine::make_cpu_executor(*m, kv);
  const std::vector<float> want = synaptix::testing::prefill_then_decode_logits(*cpu, ids, 32, table);
  for (int64_t flash_min : {int64_t{1}, int64_t{1} << 20}) {
    synaptix::engine::CudaExecutorOptions opt;
    opt.kv_f32 = false;
    opt.narrow_kv = KvFormat::Fp8E4M3;
    opt.flash_min_tokens = flash_min;
    auto ex = synaptix::engine::make_cuda_executor(*m, kv, 0, opt);
    const std::vector<float> got = synaptix::testing::prefill_then_decode_logits(*ex, ids, 32, table);
    ASSERT_EQ(got.size(), want.size());
    const Agreement a = synaptix::testing::compare_logits(got, want, static_cast<int64_t>(want.size()) / V, V);
    EXPECT_LE(a.rel, 2e-2) << GetParam() << (flash_min == 1 ? " flash prefill" : " paged prefill");
    EXPECT_GE(a.top1, 0.9) << GetParam() << (flash_min == 1 ? " flash prefill" : " paged prefill");
    std::printf("%s fp8 KV (%s prefill) vs the CPU's fp8 KV: max_rel_err %.3g top1 %.3f\n", GetParam().c_str(),
                flash_min == 1 ? "flash" : "paged", a.rel, a.top1);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaKvFp8, ::testing::Values("llama", "qwen3"));
