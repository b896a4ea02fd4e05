// The vectorised row dequantizers (quant/dequantize_simd.h) against gguf-py's values (data/*.blocks and
// *.f32 from make_vectors.py) and against the reference dequantizer on random blocks, for every type they
// cover; where this build has no vectorised path the function is the reference and the test checks that.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "synaptix/quant/block_dtype.h"
#include "synaptix/quant/dequantize.h"
#include "synaptix/quant/dequantize_simd.h"

namespace fs = std::filesystem;
using namespace synaptix;

namespace {

const fs::path kData = fs::path(SYNAPTIX_SOURCE_DIR) / "tests/quant/data";

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  EXPECT_TRUE(in) << "missing " << p;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The fused multiply-add rounds once where the reference rounds twice: a few f32 ulps of the larger term.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 4e-6 * (std::fabs(want[i]) + 1e-3)) << what << " element " << i;
}

}  // namespace

TEST(QuantDequantizeSimd, RowsMatchGgufPyAndTheReference) {
  std::mt19937 rng(9);
  for (DType t : {DType::Q5_0, DType::Q5_1, DType::Q4_K, DType::Q6_K}) {
    const quant::BlockFormat& f = *quant::block_format(t);
    const auto blocks = read_bytes(kData / (std::string(f.name) + ".blocks"));
    const auto raw = read_bytes(kData / (std::string(f.name) + ".f32"));
    std::vector<float> want(raw.size() / 4), got(raw.size() / 4);
    std::memcpy(want.data(), raw.data(), raw.size());
    const int64_t elems = static_cast<int64_t>(want.size());
    quant::dequantize_rows_fast(t, blocks.data(), elems, got.data());
    expect_close(got, want, f.name.data());

    // Random blocks: every byte random but the f16 scales, which are finite (d, and dmin / m where present).
    std::vector<uint8_t> w(static_cast<size_t>(quant::row_bytes(t, 8 * f.block_elems)));
    for (auto& b : w) b = static_cast<uint8_t>(rng());
    const int scale_at = t == DType::Q6_K ? 208 : 0;
    std::uniform_real_distribution<float> d(-0.1f, 0.1f);
    for (int64_t b = 0; b < 8; ++b)
      for (int off : t == DType::Q5_0 || t == DType::Q6_K ? std::vector<int>{scale_at} : std::vector<int>{0, 2}) {
        const uint16_t h = f32_to_f16(d(rng));
        std::memcpy(w.data() + b * f.block_bytes + off, &h, 2);
      }
    std::vector<float> ref(static_cast<size_t>(8 * f.block_elems)), fast(ref.size());
    quant::dequantize_f32(f, w.data(), 8 * f.block_elems, ref.data());
    quant::dequantize_rows_fast(t, w.data(), 8 * f.block_elems, fast.data());
    expect_close(fast, ref, f.name.data());
  }
}
