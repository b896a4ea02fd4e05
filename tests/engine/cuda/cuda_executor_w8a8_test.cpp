// W8A8 FP8 in the CUDA executor (the precision activations=fp8; engine/cuda/linear_w8a8.h). First the product
// alone: an fp8-e4m3-pc matrix quantized by the CPU's quantizer and held in its tensor-core layout
// (kernels/linear/quant_mma_layout.h, k padded past 64 included), x (f32, or bf16) rounded per token by the
// format's own rounding, against the sum over k of the dequantized codes in double: only the f32
// accumulation order differs, so the bound is the FP8 GEMM's (tests/backend/cuda/cublaslt_fp8_test.cpp);
// both ways of holding the codes (rewritten per product, resident), with and without y +=. Then the executor
// on the llama fixture quantized to fp8-e4m3-pc against the CPU executor on the same quantized model; and the
// refusals (weights in another format). Needs a GPU (bench/gpu/run.sh); skipped without one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "support/cuda_device.h"
#include "synaptix/core/dtype.h"
#include "synaptix/core/error.h"
#include "support/logits_agreement.h"
#include "synaptix/engine/cpu_executor.h"
#include "synaptix/engine/cuda/cuda_executor.h"
#include "synaptix/engine/cuda/linear_w8a8.h"
#include "synaptix/kernels/linear/quant_mma_layout.h"
#include "synaptix/model/model.h"
#include "synaptix/model/quantized_model.h"
#include "synaptix/quant/weight_format.h"
#include "synaptix/quant/weight_quantize.h"

namespace {

using synaptix::DType;
namespace engine = synaptix::engine;
namespace model = synaptix::model;
namespace quant = synaptix::quant;
namespace kc = synaptix::kernels::cuda;
using synaptix::testing::poisoned;
using synaptix::testing::upload;

const quant::WeightFormat& fp8() { return *quant::weight_format(DType::FP8_PC); }

// max |a - b| / max |b|; NaN anywhere is infinite error.
double rel_err(const std::vector<float>& a, const std::vector<double>& b) {
  double num = 0, den = 1e-30;
  for (size_t i = 0; i < b.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    num = std::max(num, std::fabs(a[i] - b[i]));
    den = std::max(den, std::fabs(b[i]));
  }
  return num / den;
}

// One product: W [n, k] quantized by the CPU and repacked into the tensor-core layout; x [m, k] (bf16-rounded
// when x_bf16) quantized per row by the format's rounding; ref = y0 (+) sum_k dequant(x) dequant(W).
struct Case {
  int64_t m, n, k;
  std::vector<float> x;
  std::vector<uint16_t> xb;  // x as bf16 bits
  std::vector<uint8_t> layout;
  std::vector<double> ref;

  Case(int64_t m_, int64_t n_, int64_t k_, bool x_bf16) : m(m_), n(n_), k(k_) {
    std::mt19937 rng(static_cast<unsigned>(m * 31 + n * 7 + k));
    std::normal_distribution<float> g(0.0f, 1.0f);
    x.resize(static_cast<size_t>(m * k));
    for (float& v : x) v = g(rng);
    for (int64_t i = 0; i < m; i += 3) x[static_cast<size_t>(i * k + (7 * i) % k)] *= 40.0f;  // outliers set row scales
    for (int64_t c = 0; c < k; ++c) x[static_cast<size_t>(1 * k + c)] = 0.0f;                 // a zero row
    xb.resize(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      xb[i] = synaptix::f32_to_bf16(x[i]);
      if (x_bf16) x[i] = synaptix::bf16_to_f32(xb[i]);
    }
    std::vector<float> w(static_cast<size_t>(n * k));
    for (float& v : w) v = 0.05f * g(rng);
    std::vector<uint8_t> packed(static_cast<size_t>(n * quant::weight_row_bytes(fp8(), k)));
    quant::quantize_rows(fp8(), w.data(), n, k, packed.data());
    std::vector<float> wd(w.size());
    quant::dequantize_rows(fp8(), packed.data(), n, k, wd.data());
    layout = kc::quant_mma_repack(fp8(), packed.data(), n, k);
    std::vector<double> xd(x.size());
    for (int64_t i = 0; i < m; ++i) {
      const float* row = &x[static_cast<size_t>(i * k)];
      const quant::GroupParams p = quant::choose_params(fp8(), row, k);
      for (int64_t c = 0; c < k; ++c)
        xd[static_cast<size_t>(i * k + c)] = quant::code_value(fp8(), p, quant::quantize_code(fp8(), p, row[c]));
    }
    ref.assign(static_cast<size_t>(m * n), 0.0);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t c = 0; c < k; ++c) s += xd[static_cast<size_t>(i * k + c)] * wd[static_cast<size_t>(j * k + c)];
        ref[static_cast<size_t>(i * n + j)] = s;
      }
  }
};

// The FP8 GEMM with f32 accumulation (cuBLASLt promotes Hopper's narrower FP8 partial sums at intervals):
// the bound of the product test in tests/backend/cuda/cublaslt_fp8_test.cpp. A misplaced code (the layout
// read wrongly) or scale is off by O(1).
constexpr double kProductTol = 2e-3;

TEST(CudaW8A8, ProductOnTheTensorCoreLayoutMatchesTheDequantizedReference) {
  SKIP_WITHOUT_DEVICE();
  synaptix::testing::cuda_context();
  // k = 160 and 96: the layout pads k to 192 and 128 (whole 64-code words); n = 48: three row tiles.
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{80, 128, 64}, {100, 320, 160}, {70, 48, 96}, {130, 64, 512}})
    for (const bool x_bf16 : {false, true})
      for (const bool resident : {false, true}) {
        const Case c(m, n, k, x_bf16);
        engine::cuda::W8A8Linear::Limits lim;
        lim.max_rows = 256;
        lim.max_k = 512;
        lim.max_weight_elems = 320 * 512;
        lim.max_acc_n = 320;
        engine::cuda::W8A8Linear w8a8(lim, resident);
        auto dw = upload(c.layout);
        if (resident) w8a8.make_resident(dw.ptr(), n, k, nullptr);
        auto dx = x_bf16 ? upload(c.xb) : upload(c.x);
        auto dy = poisoned(static_cast<size_t>(m * n) * 4);
        w8a8.run(dx.ptr(), x_bf16, dw.ptr(), dy.ptr(), m, n, k, false, nullptr);
        synaptix::testing::device_sync();
        const double err = rel_err(dy.to_host<float>(static_cast<size_t>(m * n)), c.ref);
        std::printf("W8A8 m=%lld n=%lld k=%lld x %s, codes %s: max error %.2e of the largest output\n",
                    static_cast<long long>(m), static_cast<long long>(n), static_cast<long long>(k), x_bf16 ? "bf16" : "f32",
                    resident ? "resident" : "per product", err);
        EXPECT_LT(err, kProductTol) << "m=" << m << " n=" << n << " k=" << k << " x_bf16=" << x_bf16 << " resident=" << resident;
        // y += the product (the residual projections) on top of random values.
        std::vector<float> y0(static_cast<size_t>(m * n));
        std::mt19937 rng(5);
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        for (float& v : y0) v = u(rng);
        std::vector<double> want(c.ref.size());
        for (size_t i = 0; i < want.size(); ++i) want[i] = c.ref[i] + y0[i];
        auto dacc = upload(y0);
        w8a8.run(dx.ptr(), x_bf16, dw.ptr(), dacc.ptr(), m, n, k, true, nullptr);
        synaptix::testing::device_sync();
        EXPECT_LT(rel_err(dacc.to_host<float>(want.size()), want), kProductTol)
            << "accumulate m=" << m << " n=" << n << " k=" << k << " x_bf16=" << x_bf16 << " resident=" << resident;
      }
}

TEST(CudaW8A8, RefusesProductsBeyondItsLimits) {
  SKIP_WITHOUT_DEVICE();
  synaptix::testing::cuda_context();
  engine::cuda::W8A8Linear::Limits lim{64, 128, 128 * 128, 128};
  engine::cuda::W8A8Linear w8a8(lim, false);
  synaptix::backend::cuda::DeviceBuffer b(1 << 20);
  EXPECT_THROW(w8a8.run(b.ptr(), false, b.ptr(), b.ptr(), 65, 128, 128, false, nullptr), synaptix::Error);  // rows
  EXPECT_THROW(w8a8.run(b.ptr(), false, b.ptr(), b.ptr(), 8, 128, 256, false, nullptr), synaptix::Error);  // k
}

// The executor against the CPU executor.
const std::string kDir = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";

std::unique_ptr<model::Model> quantized_fixture(DType f) {
  auto m = model::load_model(kDir);
  quant::QuantRecipe r;
  for (const auto& [name, slot] : model::quantizable_matrices(*m)) r.tensors[name] = f;
  model::apply_quant_recipe(*m, r, "");
  return m;
}

// 96 tokens: more than the tensor-core quantized product's 64 rows, so the default dispatch takes W8A8.
std::vector<int32_t> prompt() {
  std::vector<int32_t> p(96);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<int32_t>((i * 193 + 11) % 512);
  return p;
}

std::vector<float> prefill(engine::Executor& ex, const std::vector<int32_t>& tokens, const std::vector<int32_t>& table) {
  std::vector<float> logits;
  engine::SeqChunk c{tokens, 0, table, true};
  ex.step({&c, 1}, logits);
  return logits;
}

using Agreement = synaptix::testing::LogitsAgreement;

// E4M3 keeps 3 mantissa bits: each activation is rounded by up to 2^-4 of its value, and per-token scales
// (amax / 448) leave the small entries of a row with outliers coarser still; the weights are the same codes on
// both sides, so the difference is the activations' rounding alone, before each of the 7 projections of both
// layers, compounded through the residual stream. A float64 emulation of this fixture's forward on this
// prompt (fp8-e4m3-pc weights on both sides, x rounded per token to E4M3 before each projection; the same
// emulation without the rounding matches the fixture's Hugging Face logits to 1e-3) gives a largest logit
// error of 0.144 of the largest logit and 0.875 top-1 agreement: the random fixture's logits are near-tied
// (median top-1 margin 0.05 of the largest). The bounds leave room for the device's own bf16 and
// accumulation-order differences; a misplaced code or scale gives O(1) errors and chance top-1s.
constexpr double kLogitsTol = 0.2, kTop1 = 0.8;

TEST(CudaW8A8, ExecutorPrefillMatchesTheCpuExecutorOnTheSameFp8Model) {
  SKIP_WITHOUT_DEVICE();
  auto m = quantized_fixture(DType::FP8_PC);
  ASSERT_EQ(m->layers[0].q->dtype, DType::FP8_PC);
  const std::vector<int32_t> tokens = prompt();
  const int64_t T = static_cast<int64_t>(tokens.size()), V = m->spec.vocab_size;
  engine::KvConfig kv;
  kv.num_blocks = T / kv.block_size + 4;
  std::vector<int32_t> table(static_cast<size_t>(kv.num_blocks));
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(table.size() - 1 - i);
  auto cpu = engine::make_cpu_executor(*m, kv);
  const std::vector<float> want = prefill(*cpu, tokens, table);
  ASSERT_EQ(static_cast<int64_t>(want.size()), T * V);

  // The same options without W8A8 (the weights expanded to bf16 for cuBLASLt): W8A8 must not be identical to it
  // (else it did not run) and must stay within the bounds above.
  engine::CudaExecutorOptions base;
  auto plain = engine::make_cuda_executor(*m, kv, 0, base);
  const std::vector<float> expanded = prefill(*plain, tokens, table);
  // f32 inputs (two bf16 products otherwise), bf16 inputs (one product: the bf16 quantizer), resident codes.
  for (const auto& [split, resident] : {std::pair{true, false}, {false, false}, {true, true}}) {
    engine::CudaExecutorOptions opt;
    opt.split_bf16 = split;
    opt.fp8_activations = true;
    opt.fp8_resident_codes = resident;
    auto ex = engine::make_cuda_executor(*m, kv, 0, opt);
    const std::vector<float> got = prefill(*ex, tokens, table);
    const Agreement a = synaptix::testing::compare_logits(got, want, T, V);
    const Agreement vs_expanded = synaptix::testing::compare_logits(got, expanded, T, V);
    std::printf("W8A8 prefill (x %s, codes %s): max_rel_err %.3g top1 %.3f vs the CPU; %.3g from the bf16 expansion\n",
                split ? "f32" : "bf16", resident ? "resident" : "per product", a.rel, a.top1, vs_expanded.rel);
    EXPECT_LE(a.rel, kLogitsTol) << "split_bf16=" << split << " resident=" << resident;
    EXPECT_GE(a.top1, kTop1) << "split_bf16=" << split << " resident=" << resident;
    EXPECT_GT(vs_expanded.rel, 1e-4) << "the logits equal the bf16 expansion's: W8A8 did not run";
    if (resident) {
      EXPECT_GT(ex->weight_bytes(), plain->weight_bytes()) << "resident codes are counted as weights";
    }
  }
}

TEST(CudaW8A8, RefusesWeightsNotInFp8E4M3Pc) {
  SKIP_WITHOUT_DEVICE();
  engine::KvConfig kv;
  kv.num_blocks = 8;
  engine::CudaExecutorOptions opt;
  opt.fp8_activations = true;
  for (const DType f : {DType::BF16, DType::W8_PC}) {
    auto m = f == DType::BF16 ? model::load_model(kDir) : quantized_fixture(f);
    try {
      engine::make_cuda_executor(*m, kv, 0, opt);
      ADD_FAILURE() << "activations=fp8 accepted " << synaptix::dtype_name(f) << " weights";
    } catch (const synaptix::Error& e) {
      const std::string msg = e.what();
      // Either the device lacks FP8 (sm < 89: named) or the first projection is named with its format.
      if (msg.find("no FP8 tensor cores") != std::string::npos) continue;
      EXPECT_NE(msg.find("layer 0 q|k|v is " + std::string(synaptix::dtype_name(f))), std::string::npos) << msg;
      EXPECT_NE(msg.find("expected fp8-e4m3-pc"), std::string::npos) << msg;
    }
  }
}

}  // namespace
