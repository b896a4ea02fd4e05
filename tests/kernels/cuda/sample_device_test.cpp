// Device sampling (sample_rows) against the host oracle kernels::kept_distribution: top-k = 1 is the argmax,
// no draw ever falls outside the kept set, the frequencies over 20000 draws fit the exact renormalised kept
// distribution (chi-square over groups of tokens; the same draws must fail against a wrong temperature), the
// same seed and step give the same tokens; and the time per row against argmax_rows for vocab 128256.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <vector>

#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/backend/cuda/launch/argmax.h"
#include "synaptix/backend/cuda/launch/sample.h"
#include "synaptix/core/error.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/kernels/sampling/sample_reference.h"
#include "support/cuda_device.h"

namespace bc = synaptix::backend::cuda;
namespace kc = synaptix::kernels::cuda;
namespace kr = synaptix::kernels;
using synaptix::hw::cuda::check;

namespace {

synaptix::hw::cuda::Context& context() { return synaptix::testing::cuda_context(); }

bool supported() { return kc::sample_rows_supported(context().attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)); }

std::vector<float> normal_logits(size_t n, float sigma, std::mt19937& rng) {
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// `copies` copies of one row, on the device.
bc::DeviceBuffer replicate(const std::vector<float>& row, int64_t copies) {
  std::vector<float> all(row.size() * static_cast<size_t>(copies));
  for (int64_t c = 0; c < copies; ++c) std::copy(row.begin(), row.end(), all.begin() + static_cast<std::ptrdiff_t>(c * row.size()));
  bc::DeviceBuffer b(all.size() * 4);
  b.upload(all.data(), all.size() * 4);
  return b;
}

kc::DeviceSampling params(float t, int k, float p, float m, uint64_t seed) {
  kc::DeviceSampling s;
  s.temperature = t;
  s.top_k = k;
  s.top_p = p;
  s.min_p = m;
  s.seed = seed;
  return s;
}

// copies * steps draws from one row: every copy is its own stream (row index), every step another.
std::vector<int32_t> draw(const bc::DeviceBuffer& rows, int64_t copies, int64_t vocab, kc::DeviceSampling s, int64_t steps) {
  bc::DeviceBuffer ids(static_cast<size_t>(copies) * 4);
  std::vector<int32_t> out;
  for (int64_t st = 0; st < steps; ++st) {
    ids.fill_bytes(0xFF);
    s.step = static_cast<uint64_t>(st);
    kc::sample_rows(rows.ptr(), ids.ptr(), copies, vocab, s, nullptr);
    check(cuCtxSynchronize(), "cuCtxSynchronize");
    auto got = ids.to_host<int32_t>(static_cast<size_t>(copies));
    out.insert(out.end(), got.begin(), got.end());
  }
  return out;
}

struct Fit {
  int64_t outside = 0;  // draws not in the kept set
  double chi2 = 0;
  int df = 0;
  double bound() const { return df + 6.0 * std::sqrt(2.0 * df) + 10.0; }  // far in the tail of chi2(df)
};

// Chi-square of the draws against `ref`, with tokens merged (in sampling order) into groups expecting >= 50
// draws each, so that kept sets of 100K tokens are tested too.
Fit fit(const kr::KeptDistribution& ref, const std::vector<int32_t>& draws, int64_t vocab) {
  Fit f;
  std::vector<int64_t> count(static_cast<size_t>(vocab), 0);
  std::vector<char> kept(static_cast<size_t>(vocab), 0);
  for (int32_t id : ref.ids) kept[static_cast<size_t>(id)] = 1;
  for (int32_t d : draws) {
    if (d < 0 || d >= vocab || !kept[static_cast<size_t>(d)]) {
      ++f.outside;
      continue;
    }
    ++count[static_cast<size_t>(d)];
  }
  const double n = static_cast<double>(draws.size());
  std::vector<std::pair<double, double>> groups;  // expected, observed
  double exp_g = 0, obs_g = 0;
  for (size_t i = 0; i < ref.ids.size(); ++i) {
    exp_g += n * ref.prob[i];
    obs_g += static_cast<double>(count[static_cast<size_t>(ref.ids[i])]);
    if (exp_g >= 50) {
      groups.push_back({exp_g, obs_g});
      exp_g = obs_g = 0;
    }
  }
  if (exp_g > 0 && !groups.empty()) {  // the thin tail joins the last full group
    groups.back().first += exp_g;
    groups.back().second += obs_g;
  } else if (exp_g > 0) {
    groups.push_back({exp_g, obs_g});
  }
  for (const auto& [e, o] : groups) f.chi2 += (o - e) * (o - e) / e;
  f.df = std::max(1, static_cast<int>(groups.size()) - 1);
  return f;
}

struct Case {
  const char* name;
  int64_t vocab;
  float sigma;  // logits ~ N(0, sigma^2)
  float t;
  int k;
  float p, m;
  float tie_step;  // > 0: logits rounded to multiples of it (many ties, cut by the boundaries)
};

}  // namespace

TEST(SampleRows, TopKOneIsTheArgmax) {
  context();
  if (!supported()) GTEST_SKIP() << "sample_rows needs thread-block clusters (compute capability 9.0)";
  std::mt19937 rng(1);
  const int64_t rows = 6, vocab = 128256;
  std::vector<float> all;
  for (int64_t r = 0; r < rows; ++r) {
    auto row = normal_logits(static_cast<size_t>(vocab), 3.0f, rng);
    all.insert(all.end(), row.begin(), row.end());
  }
  all[2 * vocab + 100] = all[2 * vocab + 90000] = 40.0f;  // a tied maximum across two blocks' slices: lower id
  all[4 * vocab + vocab - 1] = 50.0f;
  bc::DeviceBuffer dl(all.size() * 4);
  dl.upload(all.data(), all.size() * 4);
  bc::DeviceBuffer ids(rows * 4), am(rows * 4), scratch(static_cast<size_t>(kc::argmax_scratch_bytes(rows)));
  scratch.fill_bytes(0);
  kc::argmax_rows(dl.ptr(), am.ptr(), rows, vocab, nullptr, scratch.ptr(), rows);
  check(cuCtxSynchronize(), "cuCtxSynchronize");
  const auto want = am.to_host<int32_t>(rows);
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = all.data() + r * vocab;
    ASSERT_EQ(want[static_cast<size_t>(r)], std::max_element(p, p + vocab) - p);
  }
  for (float t : {0.5f, 1.3f})
    for (uint64_t seed : {1u, 2u, 3u}) {
      ids.fill_bytes(0xFF);
      kc::sample_rows(dl.ptr(), ids.ptr(), rows, vocab, params(t, 1, 1.0f, 0.0f, seed), nullptr);
      check(cuCtxSynchronize(), "cuCtxSynchronize");
      EXPECT_EQ(ids.to_host<int32_t>(rows), want) << "t=" << t << " seed=" << seed;
    }
}

TEST(SampleRows, DrawsFollowTheExactKeptDistribution) {
  context();
  if (!supported()) GTEST_SKIP() << "sample_rows needs thread-block clusters (compute capability 9.0)";
  const Case cases[] = {
      {"temperature only, vocab 12", 12, 1.0f, 0.7f, 0, 1.0f, 0.0f, 0},
      {"top_k 40, vocab 1000", 1000, 2.0f, 1.0f, 40, 1.0f, 0.0f, 0},
      {"top_p 0.7, vocab 1000", 1000, 2.0f, 0.8f, 0, 0.7f, 0.0f, 0},
      {"min_p 0.05, vocab 1000", 1000, 2.0f, 1.2f, 0, 1.0f, 0.05f, 0},
      {"ties cut by top_k 10 and top_p 0.5, vocab 64", 64, 1.5f, 1.0f, 10, 0.5f, 0.0f, 0.5f},
      {"top_p 0.9 (T 0.6), vocab 128256", 128256, 2.5f, 0.6f, 0, 0.9f, 0.0f, 0},
      {"top_k 50 top_p 0.95 min_p 0.01, vocab 128256", 128256, 2.5f, 1.0f, 50, 0.95f, 0.01f, 0},
      {"top_k 1000, vocab 128256", 128256, 2.5f, 0.9f, 1000, 1.0f, 0.0f, 0},
      {"no filter, vocab 128256", 128256, 2.5f, 1.0f, 0, 1.0f, 0.0f, 0},
  };
  std::mt19937 rng(2024);
  for (const Case& c : cases) {
    // Logits whose top-p / min-p decisions are not within float rounding of flipping (ill-conditioned).
    std::vector<float> row;
    kr::KeptDistribution ref;
    for (int tries = 0; tries < 50; ++tries) {
      row = normal_logits(static_cast<size_t>(c.vocab), c.sigma, rng);
      if (c.tie_step > 0)
        for (float& x : row) x = std::round(x / c.tie_step) * c.tie_step;
      ref = kr::kept_distribution(row, {c.t, c.k, c.p, c.m});
      if (ref.margin > 1e-5) break;  // the device's masses are within ~1e-7 of the oracle's
    }
    ASSERT_GT(ref.margin, 1e-5) << c.name;
    const int64_t copies = c.vocab > 10000 ? 500 : 2000, steps = 20000 / copies;
    const auto rows = replicate(row, copies);
    for (uint64_t seed : {11u, 12u}) {
      const auto draws = draw(rows, copies, c.vocab, params(c.t, c.k, c.p, c.m, seed), steps);
      const Fit f = fit(ref, draws, c.vocab);
      EXPECT_EQ(f.outside, 0) << c.name << " seed " << seed;
      EXPECT_LT(f.chi2, f.bound()) << c.name << " seed " << seed << " df " << f.df;
      std::printf("%-48s seed %2d: kept %6zu  chi2 %8.1f  df %4d  bound %7.1f\n", c.name, static_cast<int>(seed),
                  ref.ids.size(), f.chi2, f.df, f.bound());
      // The test has the power to see a wrong temperature: the same draws against T * 1.25 fail.
      if (c.k > 0 && c.p >= 1.0f && c.m == 0.0f) {
        const auto wrong = kr::kept_distribution(row, {c.t * 1.25f, c.k, c.p, c.m});
        const Fit w = fit(wrong, draws, c.vocab);
        EXPECT_GT(w.chi2, w.bound()) << c.name << ": a 25% temperature error would pass";
      }
    }
  }
}

TEST(SampleRows, WrongTemperatureIsDetectedOnTheSmallestCase) {
  context();
  if (!supported()) GTEST_SKIP() << "sample_rows needs thread-block clusters (compute capability 9.0)";
  std::mt19937 rng(5);
  const auto row = normal_logits(12, 1.0f, rng);
  const auto rows = replicate(row, 2000);
  const auto draws = draw(rows, 2000, 12, params(0.7f, 0, 1.0f, 0.0f, 3), 10);
  const Fit right = fit(kr::kept_distribution(row, {0.7f, 0, 1.0f, 0.0f}), draws, 12);
  const Fit wrong = fit(kr::kept_distribution(row, {1.0f, 0, 1.0f, 0.0f}), draws, 12);
  EXPECT_LT(right.chi2, right.bound());
  EXPECT_GT(wrong.chi2, wrong.bound());
}

TEST(SampleRows, NanAndInfiniteLogitsAreNeverDrawn) {
  context();
  if (!supported()) GTEST_SKIP() << "sample_rows needs thread-block clusters (compute capability 9.0)";
  const int64_t vocab = 4096, copies = 256;
  std::vector<float> row(static_cast<size_t>(vocab), -INFINITY);
  for (int64_t i = 0; i < vocab; i += 3) row[static_cast<size_t>(i)] = NAN;
  const std::vector<int64_t> finite = {5, 1000, 4000};
  for (int64_t i : finite) row[static_cast<size_t>(i)] = 0.0f;
  const auto rows = replicate(row, copies);
  const auto draws = draw(rows, copies, vocab, params(1.0f, 0, 0.9f, 0.0f, 9), 8);
  std::vector<int64_t> seen(3, 0);
  for (int32_t d : draws) {
    const auto it = std::find(finite.begin(), finite.end(), d);
    ASSERT_NE(it, finite.end()) << "drew token " << d;
    ++seen[static_cast<size_t>(it - finite.begin())];
  }
  for (int64_t s : seen) EXPECT_GT(s, 400);  // three equal tokens, 2048 draws
  // A row with nothing finite yields the lowest id, as argmax_rows does.
  std::vector<float> dead(static_cast<size_t>(vocab), -INFINITY);
  const auto d1 = replicate(dead, 1);
  EXPECT_EQ(draw(d1, 1, vocab, params(1.0f, 5, 0.9f, 0.1f, 1), 1).at(0), 0);
}

TEST(SampleRows, SameSeedAndStepGiveTheSameTokens) {
  context();
  if (!supported()) GTEST_SKIP() << "sample_rows needs thread-block clusters (compute capability 9.0)";
  std::mt19937 rng(3);
  const int64_t vocab = 128256, rows = 64;
  std::vector<float> all;
  for (int64_t r = 0; r < rows; ++r) {
    auto row = normal_logits(static_cast<size_t>(vocab), 1.0f, rng);
    all.insert(all.end(), row.begin(), row.end());
  }
  bc::DeviceBuffer dl(all.size() * 4);
  dl.upload(all.data(), all.size() * 4);
  auto run = [&](uint64_t seed, uint64_t step) {
    kc::DeviceSampling s = params(1.0f, 0, 0.95f, 0.0f, seed);
    s.step = step;
    bc::DeviceBuffer ids(rows * 4);
    ids.fill_bytes(0xFF);
    kc::sample_rows(dl.ptr(), ids.ptr(), rows, vocab, s, nullptr);
    check(cuCtxSynchronize(), "cuCtxSynchronize");
    return ids.to_host<int32_t>(rows);
  };
  const auto a = run(77, 5);
  EXPECT_EQ(run(77, 5), a);
  EXPECT_NE(run(78, 5), a);  // 64 rows of ~100K kept tokens each: equal only by an absurd coincidence
  EXPECT_NE(run(77, 6), a);
}

TEST(SampleRows, RejectsBadArguments) {
  context();
  bc::DeviceBuffer b(64);
  EXPECT_THROW(kc::sample_rows(b.ptr(), b.ptr(), 1, 4, params(0.0f, 0, 1.0f, 0.0f, 1), nullptr), synaptix::Error);
  EXPECT_THROW(kc::sample_rows(b.ptr(), b.ptr(), 1, 4, params(NAN, 0, 1.0f, 0.0f, 1), nullptr), synaptix::Error);
  EXPECT_THROW(kc::sample_rows(b.ptr(), b.ptr(), 1, 4, params(1.0f, -1, 1.0f, 0.0f, 1), nullptr), synaptix::Error);
  EXPECT_THROW(kc::sample_rows(b.ptr(), b.ptr(), 0, 4, params(1.0f, 0, 1.0f, 0.0f, 1), nullptr), synaptix::Error);
  EXPECT_THROW(kc::sample_rows(b.ptr(), b.ptr(), 1, int64_t{1} << 24, params(1.0f, 0, 1.0f, 0.0f, 1), nullptr), synaptix::Error);
}

// Not a pass/fail bound: microseconds per call (and per row) for the Llama-3 vocabulary, beside the
// device argmax of the same rows, for the log.
TEST(SampleRows, TimePerRowForVocab128256) {
  context();
  if (!supported()) GTEST_SKIP() << "sample_rows needs thread-block clusters (compute capability 9.0)";
  const int64_t vocab = 128256;
  std::mt19937 rng(4);
  CUevent e0, e1;
  check(cuEventCreate(&e0, CU_EVENT_DEFAULT), "cuEventCreate");
  check(cuEventCreate(&e1, CU_EVENT_DEFAULT), "cuEventCreate");
  auto median_us = [&](const std::function<void()>& f) {
    for (int i = 0; i < 5; ++i) f();
    std::vector<double> t;
    for (int i = 0; i < 30; ++i) {
      check(cuEventRecord(e0, nullptr), "cuEventRecord");
      f();
      check(cuEventRecord(e1, nullptr), "cuEventRecord");
      check(cuEventSynchronize(e1), "cuEventSynchronize");
      float ms = 0;
      check(cuEventElapsedTime(&ms, e0, e1), "cuEventElapsedTime");
      t.push_back(ms * 1e3);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  };
  struct Setting { const char* name; kc::DeviceSampling s; };
  const Setting settings[] = {{"T 0.6 top_p 0.9", params(0.6f, 0, 0.9f, 0.0f, 1)},
                              {"T 1.0 top_k 50", params(1.0f, 50, 1.0f, 0.0f, 1)},
                              {"T 0.7 top_k 40 top_p 0.95 min_p 0.05", params(0.7f, 40, 0.95f, 0.05f, 1)},
                              {"T 1.0 no filter", params(1.0f, 0, 1.0f, 0.0f, 1)}};
  for (int64_t rows : {1, 8, 64}) {
    std::vector<float> all = normal_logits(static_cast<size_t>(rows * vocab), 2.5f, rng);
    bc::DeviceBuffer dl(all.size() * 4), ids(static_cast<size_t>(rows) * 4),
        scratch(static_cast<size_t>(kc::argmax_scratch_bytes(rows)));
    scratch.fill_bytes(0);
    dl.upload(all.data(), all.size() * 4);
    const double am = median_us([&] { kc::argmax_rows(dl.ptr(), ids.ptr(), rows, vocab, nullptr, scratch.ptr(), rows); });
    std::printf("vocab %lld rows %3lld: argmax_rows %8.1f us (%6.2f us/row)\n", static_cast<long long>(vocab),
                static_cast<long long>(rows), am, am / static_cast<double>(rows));
    for (const Setting& st : settings) {
      const double us = median_us([&] { kc::sample_rows(dl.ptr(), ids.ptr(), rows, vocab, st.s, nullptr); });
      std::printf("vocab %lld rows %3lld: sample_rows %8.1f us (%6.2f us/row, %5.1fx argmax) %s\n",
                  static_cast<long long>(vocab), static_cast<long long>(rows), us, us / static_cast<double>(rows),
                  us / am, st.name);
      EXPECT_GT(us, 0.0);
    }
  }
  cuEventDestroy(e0);
  cuEventDestroy(e1);
}
