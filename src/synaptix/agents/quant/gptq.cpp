#include "synaptix/agents/quant/gptq.h"

#include <cmath>
#include <vector>

#include "synaptix/core/thread_pool.h"
#include "synaptix/quant/weight_quantize.h"

namespace synaptix::agents {

namespace {

// In place: the lower Cholesky factor of the k x k symmetric a (row-major); false when not positive definite.
bool cholesky_lower(std::vector<double>& a, int64_t k) {
  for (int64_t i = 0; i < k; ++i) {
    double* ai = a.data() + i * k;
    for (int64_t j = 0; j <= i; ++j) {
      const double* aj = a.data() + j * k;
      double s = ai[j];
      for (int64_t l = 0; l < j; ++l) s -= ai[l] * aj[l];
      if (i == j) {
        if (!(s > 0)) return false;
        ai[i] = std::sqrt(s);
      } else {
        ai[j] = s / aj[j];
      }
    }
    for (int64_t j = i + 1; j < k; ++j) ai[j] = 0;
  }
  return true;
}

// The upper Cholesky factor U of H^-1 (H^-1 = U^T U), as GPTQ uses it; empty when H is not positive definite.
std::vector<float> inverse_hessian_factor(std::vector<double> h, int64_t k) {
  if (!cholesky_lower(h, k)) return {};
  // Rows of Y = columns of L^-1: y_c solves L y = e_c (zero above c).
  std::vector<double> y(static_cast<size_t>(k * k), 0.0);
  ThreadPool::global().parallel_for(static_cast<size_t>(k), [&](size_t c0, size_t c1) {
    for (size_t c = c0; c < c1; ++c) {
      double* yc = y.data() + c * k;
      for (int64_t i = static_cast<int64_t>(c); i < k; ++i) {
        const double* li = h.data() + i * k;
        double s = i == static_cast<int64_t>(c) ? 1.0 : 0.0;
        for (int64_t l = static_cast<int64_t>(c); l < i; ++l) s -= li[l] * yc[l];
        yc[i] = s / li[i];
      }
    }
  });
  // H^-1 = L^-T L^-1: entry (i, j) = sum over l >= max(i, j) of y_i[l] y_j[l].
  std::vector<double> hinv(static_cast<size_t>(k * k));
  ThreadPool::global().parallel_for(static_cast<size_t>(k), [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i)
      for (int64_t j = 0; j <= static_cast<int64_t>(i); ++j) {
        const double *yi = y.data() + i * k, *yj = y.data() + j * k;
        double s = 0;
        for (int64_t l = static_cast<int64_t>(i); l < k; ++l) s += yi[l] * yj[l];
        hinv[i * k + j] = hinv[j * k + i] = s;
      }
  });
  if (!cholesky_lower(hinv, k)) return {};
  std::vector<float> u(static_cast<size_t>(k * k));
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) u[i * k + j] = static_cast<float>(hinv[j * k + i]);
  return u;
}

}  // namespace

std::optional<GptqFactor> gptq_factor(const float* x, int64_t t, int64_t k, const GptqOptions& o) {
  // H = X^T X / t (lower triangle computed, mirrored).
  std::vector<double> h(static_cast<size_t>(k * k), 0.0);
  ThreadPool::global().parallel_for(static_cast<size_t>(k), [&](size_t i0, size_t i1) {
    for (int64_t r = 0; r < t; ++r) {
      const float* xr = x + r * k;
      for (size_t i = i0; i < i1; ++i) {
        const double xi = xr[i];
        double* hi = h.data() + i * k;
        for (int64_t j = 0; j <= static_cast<int64_t>(i); ++j) hi[j] += xi * xr[j];
      }
    }
  });
  double mean_diag = 0;
  for (int64_t i = 0; i < k; ++i) {
    for (int64_t j = 0; j < i; ++j) h[i * k + j] /= static_cast<double>(t), h[j * k + i] = h[i * k + j];
    h[i * k + i] /= static_cast<double>(t);
    mean_diag += h[i * k + i];
  }
  mean_diag /= static_cast<double>(k);
  std::vector<uint8_t> dead(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i)
    if (h[i * k + i] == 0) dead[i] = 1, h[i * k + i] = 1;  // an input that is always 0: its weights do not matter
  std::vector<float> u;
  for (double damp = o.damp; u.empty() && damp <= o.damp * 1000; damp *= 10) {
    std::vector<double> hd = h;
    for (int64_t i = 0; i < k; ++i) hd[i * k + i] += damp * (mean_diag > 0 ? mean_diag : 1.0);
    u = inverse_hessian_factor(std::move(hd), k);
  }
  if (u.empty()) return std::nullopt;
  return GptqFactor{k, std::move(u), std::move(dead)};
}

void gptq_quantize(const quant::WeightFormat& f, const float* w, int64_t n, int64_t k, const GptqFactor& h, uint8_t* out) {
  const std::vector<float>& u = h.u;
  const std::vector<uint8_t>& dead = h.dead;
  const int64_t rb = quant::weight_row_bytes(f, k), glen = f.group ? f.group : k;
  ThreadPool::global().parallel_for(static_cast<size_t>(n), [&](size_t r0, size_t r1) {
    std::vector<float> row(static_cast<size_t>(k));
    std::vector<uint8_t> codes(static_cast<size_t>(k));
    std::vector<quant::GroupParams> params(static_cast<size_t>(k / glen));
    for (size_t r = r0; r < r1; ++r) {
      for (int64_t i = 0; i < k; ++i) row[i] = dead[i] ? 0.0f : w[static_cast<int64_t>(r) * k + i];
      for (int64_t i = 0; i < k; ++i) {
        if (i % glen == 0) params[i / glen] = quant::choose_params(f, row.data() + i, glen);
        const quant::GroupParams& p = params[i / glen];
        codes[i] = quant::quantize_code(f, p, row[i]);
        const float err = (row[i] - quant::code_value(f, p, codes[i])) / u[i * k + i];
        const float* ui = u.data() + i * k;
        for (int64_t j = i + 1; j < k; ++j) row[j] -= err * ui[j];
      }
      quant::pack_row(f, params.data(), codes.data(), k, out + static_cast<int64_t>(r) * rb);
    }
  }, 4);
}

bool gptq_quantize(const quant::WeightFormat& f, const float* w, int64_t n, int64_t k, const float* x, int64_t t,
                   uint8_t* out, const GptqOptions& o) {
  const auto h = gptq_factor(x, t, k, o);
  if (!h) return false;
  gptq_quantize(f, w, n, k, *h, out);
  return true;
}

}  // namespace synaptix::agents
