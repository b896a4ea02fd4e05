// linear with GGUF block weights: the reference (dequantize, then f32 linear) against gguf-py's dequantized
// values (tests/quant/data, written by make_vectors.py); the runtime default (linear_default on a block dtype)
// against the reference on random blocks of every type at decode and prefill shapes; embedding rows of a
// block table; and the errors for rows that are not whole blocks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "synaptix/core/error.h"
#include "synaptix/kernels/embedding/reference.h"
#include "synaptix/kernels/linear/quant_reference.h"
#include "synaptix/kernels/linear/reference.h"
#include "synaptix/quant/block_dtype.h"
#include "synaptix/quant/dequantize.h"

namespace fs = std::filesystem;
using namespace synaptix;

namespace {

const fs::path kData = fs::path(SYNAPTIX_SOURCE_DIR) / "tests/quant/data";
constexpr DType kBlockTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                                 DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  EXPECT_TRUE(in) << "missing " << p;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<float> random_floats(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Random blocks of `t` whose f16 scale fields hold finite values in [-0.1, 0.1] (random bytes there could be
// inf or NaN); the quants and the packed 6-bit / int8 sub-scales stay random.
std::vector<uint8_t> random_blocks(DType t, int64_t elems, std::mt19937& rng) {
  const quant::BlockFormat& f = *quant::block_format(t);
  std::vector<uint8_t> w(static_cast<size_t>(quant::row_bytes(t, elems)));
  for (auto& b : w) b = static_cast<uint8_t>(rng());
  std::vector<int> scales;  // byte offsets of the f16 scales in a block
  switch (t) {
    case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K: scales = {0, 2}; break;
    case DType::Q2_K: scales = {80, 82}; break;
    case DType::Q3_K: scales = {108}; break;
    case DType::Q6_K: scales = {208}; break;
    default: scales = {0}; break;
  }
  std::uniform_real_distribution<float> d(-0.1f, 0.1f);
  for (int64_t b = 0; b < elems / f.block_elems; ++b)
    for (int off : scales) {
      const uint16_t h = f32_to_f16(d(rng));
      std::memcpy(w.data() + b * f.block_bytes + off, &h, 2);
    }
  return w;
}

// |got - want| within f32 rounding of a k-term dot product whose terms sum to abs_sum in magnitude.
void expect_close(float got, double want, double abs_sum, int64_t k, const std::string& where) {
  const double tol = 4.0 * std::numeric_limits<float>::epsilon() * std::sqrt(static_cast<double>(k)) * abs_sum + 1e-30;
  ASSERT_TRUE(std::isfinite(got)) << where;
  ASSERT_LE(std::fabs(got - want), tol) << where << ": got " << got << ", want " << want;
}

// Runs `fn` over W = `blocks` ([n, k] of t) and m random rows, and checks every output against the f32 dot
// products with `dequantized` (W's values as f32) computed in double.
template <class Fn>
void check_linear(Fn fn, DType t, const std::vector<uint8_t>& blocks, const std::vector<float>& dequantized, int64_t n,
                  int64_t k, int64_t m, bool with_bias, std::mt19937& rng, const std::string& what) {
  const auto x = random_floats(static_cast<size_t>(m * k), rng);
  const auto bias = random_floats(static_cast<size_t>(n), rng);
  std::vector<float> y(static_cast<size_t>(m * n), std::numeric_limits<float>::quiet_NaN());
  fn(kernels::LinearArgs{x.data(), blocks.data(), t, with_bias ? bias.data() : nullptr, y.data(), m, n, k});
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double want = with_bias ? bias[static_cast<size_t>(j)] : 0.0, abs_sum = with_bias ? std::fabs(want) : 0.0;
      for (int64_t e = 0; e < k; ++e) {
        const double p = static_cast<double>(x[static_cast<size_t>(i * k + e)]) * dequantized[static_cast<size_t>(j * k + e)];
        want += p;
        abs_sum += std::fabs(p);
      }
      expect_close(y[static_cast<size_t>(i * n + j)], want, abs_sum, k,
                   what + " " + std::string(dtype_name(t)) + " m=" + std::to_string(m) + " y[" + std::to_string(i) +
                       ", " + std::to_string(j) + "]");
    }
}

}  // namespace

TEST(LinearQuant, ReferenceAndDefaultMatchGgufPyDequantization) {
  std::mt19937 rng(7);
  for (DType t : kBlockTypes) {
    const quant::BlockFormat& f = *quant::block_format(t);
    const auto blocks = read_bytes(kData / (std::string(f.name) + ".blocks"));
    const auto raw = read_bytes(kData / (std::string(f.name) + ".f32"));
    std::vector<float> want(raw.size() / 4);
    std::memcpy(want.data(), raw.data(), raw.size());
    ASSERT_FALSE(want.empty()) << f.name;
    const int64_t k = 2 * f.block_elems, n = static_cast<int64_t>(want.size()) / k;
    ASSERT_GE(n, 1) << f.name;
    for (int64_t m : {1, 3, 6}) {
      check_linear(kernels::linear_reference, t, blocks, want, n, k, m, m == 3, rng, "reference");
      check_linear(kernels::linear_default, t, blocks, want, n, k, m, m == 3, rng, "default");
    }
  }
}

TEST(LinearQuant, DefaultMatchesReferenceOnRandomBlocks) {
  std::mt19937 rng(11);
  for (DType t : kBlockTypes) {
    const quant::BlockFormat& f = *quant::block_format(t);
    // Odd row counts (thread splits with remainders), 3 blocks a row for legacy types, 2 for k-quants.
    const int64_t n = 67, k = (f.block_elems == 32 ? 3 : 2) * f.block_elems;
    const auto w = random_blocks(t, n * k, rng);
    std::vector<float> deq(static_cast<size_t>(n * k));
    quant::dequantize_f32(f, w.data(), n * k, deq.data());
    for (int64_t m : {1, 2, 3, 4, 5, 9})
      check_linear(kernels::linear_default, t, w, deq, n, k, m, m % 2 == 1, rng, "default");
    check_linear(kernels::linear_quant_reference, t, w, deq, n, k, 2, true, rng, "reference");
  }
}

TEST(LinearQuant, RowsThatAreNotWholeBlocksAreErrors) {
  std::vector<float> x(64), y(2);
  std::vector<uint8_t> w(256);
  for (DType t : {DType::Q4_0, DType::Q8_0, DType::Q4_K}) {
    const kernels::LinearArgs a{x.data(), w.data(), t, nullptr, y.data(), 1, 1, 48};
    for (auto fn : {kernels::linear_reference, kernels::linear_default}) {
      try {
        fn(a);
        ADD_FAILURE() << dtype_name(t) << ": k = 48 accepted";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("k = 48 is not a whole number of " + std::string(dtype_name(t))),
                  std::string::npos)
            << e.what();
      }
    }
  }
  EXPECT_THROW(quant::row_bytes(DType::Q6_K, 300), Error);
  EXPECT_EQ(quant::row_bytes(DType::Q4_1, 576), 18 * 20);
  EXPECT_EQ(quant::row_bytes(DType::BF16, 576), 1152);
  std::vector<float> out(16);
  EXPECT_THROW(kernels::to_f32(w.data(), DType::Q8_0, 16, out.data()), Error);
}

TEST(EmbeddingQuant, RowsOfABlockTableAreItsDequantizedRows) {
  std::mt19937 rng(3);
  for (DType t : {DType::Q8_0, DType::Q4_1, DType::Q6_K}) {
    const quant::BlockFormat& f = *quant::block_format(t);
    const int64_t vocab = 5, dim = 2 * f.block_elems;
    const auto table = random_blocks(t, vocab * dim, rng);
    std::vector<float> all(static_cast<size_t>(vocab * dim));
    quant::dequantize_f32(f, table.data(), vocab * dim, all.data());
    const std::vector<int32_t> ids{4, 0, 2, 4};
    std::vector<float> out(ids.size() * static_cast<size_t>(dim));
    kernels::embedding_reference(table.data(), t, dim, ids.data(), static_cast<int64_t>(ids.size()), out.data());
    for (size_t i = 0; i < ids.size(); ++i)
      for (int64_t d = 0; d < dim; ++d)
        ASSERT_EQ(out[i * static_cast<size_t>(dim) + static_cast<size_t>(d)], all[static_cast<size_t>(ids[i] * dim + d)])
            << dtype_name(t) << " id " << ids[i] << " element " << d;
  }
}

// Several block-weight products of one x in one parallel region (q/k/v, gate/up at decode): each part as
// linear_default gives it alone, with parts of different block types and odd row counts (the thread split
// straddles the parts), and a k-quant part (not a decode-fused type) sending the call one part at a time.
TEST(LinearQuant, DefaultMultiEqualsDefaultPerPart) {
  std::mt19937 rng(13);
  const int64_t k = 96;
  for (bool with_kquant : {false, true})
    for (int64_t m : {1, 2, 4, 5}) {
      const std::vector<DType> types{DType::Q4_1, with_kquant ? DType::Q4_K : DType::Q8_0, DType::Q4_0};
      const std::vector<int64_t> ns{67, 5, 130};
      const int64_t kk = with_kquant ? 256 : k;  // k-quant rows are whole 256-element super-blocks
      const auto x = random_floats(static_cast<size_t>(m * kk), rng);
      std::vector<std::vector<uint8_t>> ws;
      std::vector<std::vector<float>> got, want;
      std::vector<kernels::LinearArgs> parts;
      for (size_t p = 0; p < types.size(); ++p) {
        ws.push_back(random_blocks(types[p], ns[p] * kk, rng));
        got.emplace_back(static_cast<size_t>(m * ns[p]), std::numeric_limits<float>::quiet_NaN());
        want.emplace_back(static_cast<size_t>(m * ns[p]));
      }
      for (size_t p = 0; p < types.size(); ++p) {
        parts.push_back({x.data(), ws[p].data(), types[p], nullptr, got[p].data(), m, ns[p], kk});
        kernels::linear_default({x.data(), ws[p].data(), types[p], nullptr, want[p].data(), m, ns[p], kk});
      }
      kernels::linear_default_multi(parts);
      for (size_t p = 0; p < types.size(); ++p)
        for (size_t i = 0; i < want[p].size(); ++i)
          ASSERT_EQ(got[p][i], want[p][i]) << dtype_name(types[p]) << " m=" << m << " part " << p << " element " << i;
    }
}
