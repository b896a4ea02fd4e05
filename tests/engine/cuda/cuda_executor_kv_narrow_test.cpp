// The CUDA executor with a narrow KV cache (fp8-e4m3, unscaled; int8, codes and a scale per token per KV head:
// the CPU defines both, kernels/attention/kv_format.h) against the CPU executor with the same format on fixtures
// (llama: GQA; qwen3: per-head norms): the prompt as one prefill with every logits row, through the paged
// attention and through the flash kernel, then the tail decoded token by token (fused decode attention,
// graphs). Bar: max |err| / max |ref| <= 2e-2 and top-1 agreement >= 0.9 (activations round differently on
// the two targets, so an int8 row's scale may differ in its last bits; the cache format is the same). An int8
// block size the device layout cannot align is refused by name. Needs a GPU.
#include <gtest/gtest.h>

#include <cstdio>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

#include "support/logits_agreement.h"
#include "synaptix/core/error.h"
#include "synaptix/engine/cpu_executor.h"
#include "synaptix/engine/cuda/cuda_executor.h"
#include "synaptix/kernels/attention/kv_format.h"
#include "synaptix/model/model.h"

namespace {

using synaptix::kernels::KvFormat;

std::unique_ptr<synaptix::model::Model> fixture(const std::string& name) {
  return synaptix::model::load_model(std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/" + name);
}

}  // namespace

class CudaKvNarrow : public ::testing::TestWithParam<std::tuple<std::string, KvFormat>> {};

TEST_P(CudaKvNarrow, MatchesTheCpuExecutorWithTheSameFormat) {
  const auto& [name, format] = GetParam();
  const char* fmt = synaptix::kernels::kv_format_name(format);
  auto m = fixture(name);
  const int64_t V = m->spec.vocab_size;
  std::vector<int32_t> ids(48);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 7919 + 13) % static_cast<size_t>(V - 1) + 1);
  synaptix::engine::KvConfig kv;
  kv.num_blocks = 8;
  kv.format = format;
  std::vector<int32_t> table(8);
  std::iota(table.rbegin(), table.rend(), 0);  // not the identity
  auto cpu = synaptix::engine::make_cpu_executor(*m, kv);
  const std::vector<float> want = synaptix::testing::prefill_then_decode_logits(*cpu, ids, 32, table);
  for (int64_t flash_min : {int64_t{1}, int64_t{1} << 20}) {
    synaptix::engine::CudaExecutorOptions opt;
    opt.kv_f32 = false;
    opt.narrow_kv = format;
    opt.flash_min_tokens = flash_min;
    auto ex = synaptix::engine::make_cuda_executor(*m, kv, 0, opt);
    const std::vector<float> got = synaptix::testing::prefill_then_decode_logits(*ex, ids, 32, table);
    ASSERT_EQ(got.size(), want.size());
    const auto a = synaptix::testing::compare_logits(got, want, static_cast<int64_t>(want.size()) / V, V);
    const char* path = flash_min == 1 ? "flash" : "paged";
    EXPECT_LE(a.rel, 2e-2) << name << " " << fmt << " " << path << " prefill";
    EXPECT_GE(a.top1, 0.9) << name << " " << fmt << " " << path << " prefill";
    std::printf("%s %s KV (%s prefill) vs the CPU's %s KV: max_rel_err %.3g top1 %.3f\n", name.c_str(), fmt, path, fmt,
                a.rel, a.top1);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaKvNarrow,
                         ::testing::Combine(::testing::Values("llama", "qwen3"),
                                            ::testing::Values(KvFormat::Fp8E4M3, KvFormat::Int8)));

// Int8 rows and scales stay aligned for the kernels' vector loads only when a block holds a multiple of 4 tokens.
TEST(CudaKvInt8, RefusesABlockSizeTheLayoutCannotAlign) {
  auto m = fixture("llama");
  synaptix::engine::CudaExecutorOptions opt;
  opt.kv_f32 = false;
  opt.narrow_kv = KvFormat::Int8;
  try {
    synaptix::engine::make_cuda_executor(*m, {8, 6}, 0, opt);
    FAIL() << "an int8 cache with 6-token blocks was accepted";
  } catch (const synaptix::Error& e) {
    EXPECT_NE(std::string(e.what()).find("int8"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("multiple of 4"), std::string::npos) << e.what();
  }
}
