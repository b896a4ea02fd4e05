// The reference dequantizers against gguf-py's (data/make_vectors.py wrote the vectors): random blocks of
// every type, and the first blocks of tensors of the real SmolLM2 and Gemma 3 GGUF files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "synaptix/core/dtype.h"
#include "synaptix/quant/block_format.h"
#include "synaptix/quant/dequantize.h"

namespace fs = std::filesystem;
using namespace synaptix;
using namespace synaptix::quant;

namespace {

const fs::path kData = fs::path(SYNAPTIX_SOURCE_DIR) / "tests/quant/data";

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  EXPECT_TRUE(in) << "missing " << p;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<float> read_f32(const fs::path& p) {
  const auto bytes = read_bytes(p);
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

const BlockFormat& format_named(const std::string& name) {
  for (uint32_t id = 0; id < 64; ++id)
    if (const BlockFormat* f = find_format(id); f && f->name == name) return *f;
  throw std::runtime_error("no format " + name);
}

bool same_float(float got, float want) {
  if (std::isinf(want) || std::isinf(got)) return got == want;
  return std::fabs(got - want) <= 1e-6f * std::fabs(want) + 1e-30f;
}

// Dequantizes `stem`.blocks as `format` to f32 and to bf16 and compares with `stem`.f32.
void check_vector(const BlockFormat& f, const fs::path& stem) {
  const auto blocks = read_bytes(stem.string() + ".blocks");
  const auto want = read_f32(stem.string() + ".f32");
  ASSERT_FALSE(want.empty()) << stem;
  const int64_t elems = static_cast<int64_t>(want.size());
  ASSERT_EQ(packed_bytes(f, elems).value_or(-1), static_cast<int64_t>(blocks.size())) << f.name;
  std::vector<float> got(want.size());
  dequantize_f32(f, blocks.data(), elems, got.data());
  std::vector<uint16_t> got_bf16(want.size());
  dequantize_bf16(f, blocks.data(), elems, got_bf16.data());
  int bad = 0;
  for (size_t i = 0; i < want.size() && bad < 5; ++i) {
    if (!same_float(got[i], want[i])) {
      ADD_FAILURE() << f.name << " " << stem.filename() << " element " << i << " (block " << i / f.block_elems
                    << "): got " << got[i] << ", gguf-py says " << want[i];
      ++bad;
    }
    EXPECT_EQ(got_bf16[i], f32_to_bf16(want[i])) << f.name << " element " << i;
  }
}

}  // namespace

TEST(QuantFormats, SizesMatchGgml) {
  // Block sizes and bytes per block as ggml's type traits give them (gguf-py's GGML_QUANT_SIZES).
  struct Want {
    const char* name;
    uint32_t id;
    int64_t elems, bytes;
  };
  for (const Want& w : {Want{"F32", 0, 1, 4}, {"F16", 1, 1, 2}, {"Q4_0", 2, 32, 18}, {"Q4_1", 3, 32, 20},
                        {"Q5_0", 6, 32, 22}, {"Q5_1", 7, 32, 24}, {"Q8_0", 8, 32, 34}, {"Q2_K", 10, 256, 84},
                        {"Q3_K", 11, 256, 110}, {"Q4_K", 12, 256, 144}, {"Q5_K", 13, 256, 176},
                        {"Q6_K", 14, 256, 210}, {"Q8_K", 15, 256, 292}, {"BF16", 30, 1, 2}}) {
    const BlockFormat* f = find_format(w.id);
    ASSERT_NE(f, nullptr) << w.name;
    EXPECT_EQ(f->name, w.name);
    EXPECT_EQ(f->block_elems, w.elems) << w.name;
    EXPECT_EQ(f->block_bytes, w.bytes) << w.name;
    EXPECT_EQ(ggml_type_name(w.id), w.name);
  }
}

TEST(QuantFormats, UnsupportedIdsAreNamedButNotFound) {
  EXPECT_EQ(find_format(16), nullptr);
  EXPECT_EQ(ggml_type_name(16), "IQ2_XXS");
  EXPECT_EQ(find_format(39), nullptr);
  EXPECT_EQ(ggml_type_name(39), "MXFP4");
  EXPECT_EQ(ggml_type_name(26), "I32");
  EXPECT_EQ(find_format(4), nullptr);
  EXPECT_EQ(ggml_type_name(1000), "unknown");
}

TEST(QuantFormats, PackedBytesRefusesPartialBlocksAndOverflow) {
  const BlockFormat& q4k = format_of(GgmlType::Q4_K);
  EXPECT_EQ(packed_bytes(q4k, 512).value_or(-1), 288);
  EXPECT_FALSE(packed_bytes(q4k, 100).has_value());
  EXPECT_EQ(packed_bytes(q4k, int64_t{1} << 62).value_or(-1), (int64_t{1} << 54) * 144);  // packs smaller
  // Q8_K packs 256 elements into 292 bytes: the largest whole number of blocks overflows int64 in bytes.
  EXPECT_FALSE(packed_bytes(format_of(GgmlType::Q8_K), INT64_MAX / 256 * 256).has_value());
  EXPECT_FALSE(packed_bytes(format_of(GgmlType::F32), int64_t{1} << 62).has_value());
}

TEST(QuantDequantize, RandomBlocksMatchGgufPy) {
  for (const char* name : {"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K",
                           "Q5_K", "Q6_K"}) {
    SCOPED_TRACE(name);
    check_vector(format_named(name), kData / name);
  }
}

TEST(QuantDequantize, RealModelBlocksMatchGgufPy) {
  int checked = 0;
  for (const auto& e : fs::directory_iterator(kData)) {
    if (e.path().extension() != ".json") continue;
    const auto j = nlohmann::json::parse(read_bytes(e.path()));
    SCOPED_TRACE(j.dump());
    fs::path stem = e.path();
    stem.replace_extension();
    check_vector(format_named(j.at("type").get<std::string>()), stem);
    ++checked;
  }
  EXPECT_GE(checked, 6);  // Q4_1, Q8_0 (SmolLM2); Q5_0, Q4_K, Q6_K, Q8_0 (Gemma 3)
}
