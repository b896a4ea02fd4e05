// The KV cache formats (kernels/attention/kv_format.h): E4M3 codes against the values the OFP8 specification
// tables, int8's per-head scale and rounding bound, the vectorized row decode equal to the scalar one bit for
// bit, the names a recipe may give and the error for any other; then the default decode and prefill attention
// over a cache in each format equal the reference reading the same cache (NaN-poisoned outputs), and each
// format's attention stays within a stated distance of the f32 cache's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "synaptix/core/error.h"
#include "synaptix/kernels/attention/decode_default.h"
#include "synaptix/kernels/attention/kv_format.h"
#include "synaptix/kernels/attention/prefill_default.h"

using namespace synaptix;
using kernels::KvFormat;

namespace {

constexpr KvFormat kFormats[] = {KvFormat::F32, KvFormat::Bf16, KvFormat::Int8, KvFormat::Fp8E4M3};

// A cache of `slots` x kv_heads rows of head_dim values, stored in format f.
struct Cache {
  KvFormat f;
  int64_t kv_heads, head_dim;
  std::vector<uint8_t> k, v;
  std::vector<float> ks, vs;

  Cache(KvFormat fmt, const std::vector<float>& kf, const std::vector<float>& vf, int64_t kvh, int64_t hd)
      : f(fmt), kv_heads(kvh), head_dim(hd) {
    const int64_t rows = static_cast<int64_t>(kf.size()) / hd;
    const size_t rb = static_cast<size_t>(hd) * kernels::kv_element_bytes(f);
    k.resize(static_cast<size_t>(rows) * rb);
    v.resize(k.size());
    ks.resize(static_cast<size_t>(rows));
    vs.resize(ks.size());
    for (int64_t r = 0; r < rows; ++r) {
      kernels::kv_encode_head(f, kf.data() + r * hd, hd, k.data() + r * rb, ks.data() + r);
      kernels::kv_encode_head(f, vf.data() + r * hd, hd, v.data() + r * rb, vs.data() + r);
    }
  }
  kernels::PagedKv paged(int64_t block, const int32_t* table) const {
    const bool sc = kernels::kv_format_has_scales(f);
    return {k.data(), v.data(), block, kv_heads, head_dim, table, f, sc ? ks.data() : nullptr, sc ? vs.data() : nullptr};
  }
};

}  // namespace

// Values from the OFP8 specification's E4M3 description: bias 7, 1.75 * 2^8 = 448 the largest (S.1111.110),
// 2^-6 the smallest normal (S.0001.000), 2^-9 the smallest subnormal (S.0000.001), S.1111.111 NaN.
TEST(KvFormat, Fp8CodesAreTheSpecificationsE4M3) {
  struct Pair { float x; uint8_t code; };
  for (const Pair p : {Pair{1.0f, 0x38}, Pair{448.0f, 0x7E}, Pair{-448.0f, 0xFE}, Pair{0x1p-6f, 0x08},
                       Pair{0x1p-9f, 0x01}, Pair{1.5f, 0x3C}, Pair{-2.0f, 0xC0}, Pair{0.0f, 0x00}}) {
    uint8_t c = 0xAA;
    kernels::kv_encode_head(KvFormat::Fp8E4M3, &p.x, 1, &c, nullptr);
    EXPECT_EQ(c, p.code) << p.x;
    EXPECT_EQ(kernels::kv_decode(KvFormat::Fp8E4M3, &c, 0, 1.0f), p.x);
  }
  // Saturation (no infinities), ties to even: 1 + 1/16 lies halfway between 1 and 1.125.
  const float big[3] = {1e6f, 464.0f, 1.0625f};
  uint8_t c[3];
  kernels::kv_encode_head(KvFormat::Fp8E4M3, big, 3, c, nullptr);
  EXPECT_EQ(c[0], 0x7E);
  EXPECT_EQ(c[1], 0x7E);
  EXPECT_EQ(c[2], 0x38);
}

TEST(KvFormat, Int8ScaleIsTheRowsMaxOver127AndRoundsWithinHalfAStep) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  std::vector<float> x(128);
  for (auto& e : x) e = nd(rng) * 3.0f;
  x[17] = -9.5f;  // the largest magnitude, negative
  int8_t c[128];
  float scale = 0;
  kernels::kv_encode_head(KvFormat::Int8, x.data(), 128, c, &scale);
  EXPECT_FLOAT_EQ(scale, 9.5f / 127.0f);
  EXPECT_EQ(c[17], -127);
  for (int i = 0; i < 128; ++i)
    EXPECT_LE(std::fabs(kernels::kv_decode(KvFormat::Int8, c, i, scale) - x[static_cast<size_t>(i)]), 0.5f * scale * 1.0001f);
  const float zeros[4] = {0, 0, 0, 0};
  kernels::kv_encode_head(KvFormat::Int8, zeros, 4, c, &scale);
  EXPECT_EQ(scale, 0.0f);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(kernels::kv_decode(KvFormat::Int8, c, i, scale), 0.0f);
}

// The vectorized decode is the reference decode: every E4M3 code, random int8 and bf16 rows, odd tails.
TEST(KvFormat, RowDecodeEqualsElementDecodeBitForBit) {
  std::vector<uint8_t> all(256);
  std::iota(all.begin(), all.end(), 0);
  std::vector<float> out(256);
  kernels::kv_decode_head(KvFormat::Fp8E4M3, all.data(), 256, 1.0f, out.data());
  for (int i = 0; i < 256; ++i) {
    const float want = kernels::kv_decode(KvFormat::Fp8E4M3, all.data(), i, 1.0f);
    if (std::isnan(want)) EXPECT_TRUE(std::isnan(out[static_cast<size_t>(i)])) << i;
    else EXPECT_EQ(std::memcmp(&want, &out[static_cast<size_t>(i)], 4), 0) << "code " << i;
  }
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> raw(2 * 83);
  for (auto& b : raw) b = static_cast<uint8_t>(byte(rng));
  for (KvFormat f : {KvFormat::Bf16, KvFormat::Int8}) {
    std::vector<float> row(83);
    kernels::kv_decode_head(f, raw.data(), 83, 0.0371f, row.data());
    for (int i = 0; i < 83; ++i) {
      const float want = kernels::kv_decode(f, raw.data(), i, 0.0371f);
      if (std::isnan(want)) EXPECT_TRUE(std::isnan(row[static_cast<size_t>(i)]));
      else EXPECT_EQ(std::memcmp(&want, &row[static_cast<size_t>(i)], 4), 0) << kernels::kv_format_name(f) << " " << i;
    }
  }
}

TEST(KvFormat, NamesParseAndOthersAreRefusedWithTheList) {
  for (KvFormat f : kFormats) EXPECT_EQ(kernels::parse_kv_format(kernels::kv_format_name(f), "test"), f);
  for (const char* bad : {"fp8", "FP32", "int4", ""}) {
    try {
      kernels::parse_kv_format(bad, "recipe r.json: precision");
      FAIL() << "accepted \"" << bad << "\"";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("recipe r.json: precision"), std::string::npos) << m;
      EXPECT_NE(m.find(std::string("\"") + bad + "\""), std::string::npos) << m;
      EXPECT_NE(m.find("f32, bf16, int8, fp8-e4m3"), std::string::npos) << m;
    }
  }
  EXPECT_EQ(kernels::kv_bytes_per_token_layer(KvFormat::F32, 3, 64), 2 * 3 * 64 * 4);
  EXPECT_EQ(kernels::kv_bytes_per_token_layer(KvFormat::Bf16, 3, 64), 2 * 3 * 64 * 2);
  EXPECT_EQ(kernels::kv_bytes_per_token_layer(KvFormat::Int8, 3, 64), 2 * (3 * 64 + 3 * 4));
  EXPECT_EQ(kernels::kv_bytes_per_token_layer(KvFormat::Fp8E4M3, 3, 64), 2 * 3 * 64);
}

// Decode and prefill attention over a cache in each format: equal to the reference reading that cache, and
// within the format's bound of the f32 cache's output (random N(0, 2^2) keys and values; bounds are a few
// times the error seen: bf16 2e-2, int8 6e-2, fp8 0.25 of the output's largest magnitude).
TEST(KvFormat, AttentionOverEachFormatEqualsTheReferenceAndStaysNearF32) {
  std::mt19937 rng(13);
  std::normal_distribution<float> nd;
  struct Case { int64_t heads, kv_heads, head_dim, pos0, tokens, window, block; };
  for (const Case c : {Case{9, 3, 64, 0, 16, 0, 16}, Case{9, 3, 64, 150, 16, 0, 16}, Case{12, 1, 128, 40, 9, 0, 8},
                       Case{4, 4, 64, 90, 5, 32, 16}, Case{8, 2, 80, 33, 4, 0, 16}}) {
    const int64_t kv_dim = c.kv_heads * c.head_dim, qd = c.heads * c.head_dim;
    const int64_t last = c.pos0 + c.tokens - 1, blocks = last / c.block + 2;
    std::vector<float> k(static_cast<size_t>(blocks * c.block * kv_dim)), v(k.size()), q(static_cast<size_t>(c.tokens * qd));
    for (auto* vec : {&k, &v, &q})
      for (auto& x : *vec) x = nd(rng) * 2.0f;
    std::vector<int32_t> table(static_cast<size_t>(blocks));
    std::iota(table.begin(), table.end(), 0);
    std::shuffle(table.begin(), table.end(), rng);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    std::vector<int64_t> pos(static_cast<size_t>(c.tokens));
    std::iota(pos.begin(), pos.end(), c.pos0);
    std::vector<float> exact(q.size());
    const Cache f32(KvFormat::F32, k, v, c.kv_heads, c.head_dim);
    for (int64_t t = 0; t < c.tokens; ++t)
      kernels::attention_decode_reference(q.data() + t * qd, c.heads, f32.paged(c.block, table.data()), pos[t], c.window,
                                          scale, exact.data() + t * qd);
    float peak = 0;
    for (float e : exact) peak = std::max(peak, std::fabs(e));
    for (KvFormat f : kFormats) {
      const Cache cache(f, k, v, c.kv_heads, c.head_dim);
      const kernels::PagedKv kv = cache.paged(c.block, table.data());
      std::vector<float> want(q.size(), NAN), dec(q.size(), NAN), pre(q.size(), NAN);
      for (int64_t t = 0; t < c.tokens; ++t) {
        kernels::attention_decode_reference(q.data() + t * qd, c.heads, kv, pos[t], c.window, scale, want.data() + t * qd);
        kernels::attention_decode_default(q.data() + t * qd, c.heads, kv, pos[t], c.window, scale, dec.data() + t * qd);
      }
      const bool tiled = kernels::attention_prefill_applies(c.heads, kv, 0.0f);
      if (tiled)
        for (int64_t h = 0; h < c.kv_heads; ++h)
          kernels::attention_prefill_tile(q.data(), qd, c.tokens, pos.data(), c.heads, kv, h, c.window, scale, pre.data());
      const float bound = f == KvFormat::F32 ? 1e-6f : f == KvFormat::Bf16 ? 2e-2f : f == KvFormat::Int8 ? 6e-2f : 0.25f;
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_NEAR(dec[i], want[i], 2e-5f + 2e-5f * std::fabs(want[i]))
            << kernels::kv_format_name(f) << " decode, dim " << c.head_dim << " pos0 " << c.pos0 << " i " << i;
        if (tiled) {
          ASSERT_NEAR(pre[i], want[i], 2e-5f + 2e-5f * std::fabs(want[i]))
              << kernels::kv_format_name(f) << " prefill, dim " << c.head_dim << " pos0 " << c.pos0 << " i " << i;
        }
        ASSERT_NEAR(want[i], exact[i], bound * peak) << kernels::kv_format_name(f) << " vs the f32 cache, i " << i;
      }
    }
  }
}
