#include "synaptix/tune/measurer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <random>

#include "synaptix/tune/subject.h"

namespace synaptix::tune {
namespace {

using Clock = std::chrono::steady_clock;

int rotation_copies(int64_t set_bytes, const MeasureOptions& opt) {
  const int64_t per = std::max<int64_t>(1, set_bytes);
  const int64_t want = static_cast<int64_t>(opt.rotate_factor * static_cast<double>(opt.llc_bytes));
  int64_t c = (want + per - 1) / per;
  c = std::min<int64_t>(c, std::max<int64_t>(1, opt.max_rotation_bytes / per));
  return static_cast<int>(std::clamp<int64_t>(c, 1, 64));
}

}  // namespace

std::string verify_impl(const graph::Op& op, const std::string& module_path, ThreadPool& pool, uint64_t seed) {
  std::mt19937_64 rng(seed);
  return make_subject(op, module_path, pool)->verify(rng);
}

Timing summarize(std::vector<double> s) {
  Timing t;
  t.samples = static_cast<int>(s.size());
  if (s.empty()) return t;
  std::sort(s.begin(), s.end());
  auto q = [&](double f) { return s[static_cast<size_t>(f * static_cast<double>(s.size() - 1) + 0.5)]; };
  t.median_us = q(0.5);
  t.p10_us = q(0.1);
  t.p90_us = q(0.9);
  return t;
}

Timing time_impl(const graph::Op& op, const std::string& module_path, ThreadPool& pool, const MeasureOptions& opt,
                 uint64_t seed) {
  return time_interleaved(op, {module_path}, pool, opt, seed).at(0);
}

std::vector<Timing> time_interleaved(const graph::Op& op, const std::vector<std::string>& module_paths,
                                     ThreadPool& pool, const MeasureOptions& opt, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const size_t n = module_paths.size();
  std::vector<std::unique_ptr<Subject>> subjects;
  for (const auto& path : module_paths) {
    subjects.push_back(make_subject(op, path, pool));
    MeasureOptions o = opt;
    o.max_rotation_bytes = opt.max_rotation_bytes / static_cast<int64_t>(n);
    subjects.back()->make_sets(rotation_copies(subjects.back()->set_bytes(), o), rng);
  }
  std::vector<bool> cold(n);
  for (size_t i = 0; i < n; ++i)
    cold[i] = static_cast<int64_t>(subjects[i]->sets()) * subjects[i]->set_bytes() >= opt.llc_bytes;
  std::vector<size_t> at(n, 0);
  auto call = [&](size_t i) -> double {
    const size_t c = at[i]++ % subjects[i]->sets();
    auto t0 = Clock::now();
    subjects[i]->run(c);
    return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
  };
  // Warm-up: page in every set, let OpenBLAS start its threads, let clocks settle.
  for (size_t i = 0; i < n; ++i)
    for (size_t c = 0; c < subjects[i]->sets() + 2; ++c) call(i);
  std::vector<std::vector<double>> samples(n);
  const auto start = Clock::now();
  const double budget = opt.max_seconds * static_cast<double>(n);
  for (;;) {
    for (size_t i = 0; i < n; ++i) samples[i].push_back(call(i));
    const int count = static_cast<int>(samples[0].size());
    if (count >= opt.max_samples) break;
    if (std::chrono::duration<double>(Clock::now() - start).count() > budget && count >= 3) break;
    if (count >= opt.min_samples && count % 5 == 0) {
      // Stable when each median moved less than stable_rel since 5 samples ago.
      bool stable = true;
      for (size_t i = 0; i < n && stable; ++i) {
        std::vector<double> before(samples[i].begin(), samples[i].end() - 5);
        const double a = summarize(before).median_us, b = summarize(samples[i]).median_us;
        stable = std::fabs(b - a) <= opt.stable_rel * b;
      }
      if (stable) break;
    }
  }
  std::vector<Timing> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(summarize(std::move(samples[i])));
    out.back().cold = cold[i];
    // The same instance, after all its timed calls: state it kept (a call counter, a cached result) shows.
    out.back().wrong_after = subjects[i]->verify(rng);
  }
  return out;
}

}  // namespace synaptix::tune
