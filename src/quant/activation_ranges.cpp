#include "quant/activation_ranges.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace pareto::quant {

CalibMethod calib_method_by_name(const std::string& name) {
  if (name == "minmax") return CalibMethod::minmax;
  if (name == "percentile") return CalibMethod::percentile;
  if (name == "entropy" || name == "kl") return CalibMethod::entropy;
  if (name == "mse") return CalibMethod::mse;
  fail_argument("unknown calibration method '" + name + "' (minmax, percentile, entropy, mse)");
}

const char* calib_method_name(CalibMethod m) {
  switch (m) {
    case CalibMethod::minmax: return "minmax";
    case CalibMethod::percentile: return "percentile";
    case CalibMethod::entropy: return "entropy";
    case CalibMethod::mse: return "mse";
  }
  return "?";
}

void RangeObserver::observe_extremes(const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) continue;  // an inf/NaN sample must not stretch the range to infinity
    if (!seen_) lo_ = hi_ = x[i];
    seen_ = true;
    lo_ = std::min(lo_, x[i]);
    hi_ = std::max(hi_, x[i]);
  }
}

void RangeObserver::observe_histogram(const float* x, int64_t n) {
  if (hist_.empty()) hist_.assign(kBins, 0);
  const float top = std::max(std::abs(lo_), std::abs(hi_));
  if (!(top > 0)) return;
  const float per_bin = float(kBins) / top;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) continue;
    const int b = std::min(kBins - 1, int(std::abs(x[i]) * per_bin));
    ++hist_[size_t(b)];
    negative_ += x[i] < 0;
    zeros_ += x[i] == 0.f;
  }
}

namespace {

// KL(p || q) of two histograms given as counts (normalized here). Bins
// where q is empty but p is not (the clipped tail lands in p's last bin
// only) get a small share of q's mass, as MXNet's and TensorRT's
// calibrators smooth them, so the divergence stays finite and comparable.
double kl_divergence(const std::vector<double>& p, std::vector<double> q) {
  double sp = 0, sq = 0;
  for (double v : p) sp += v;
  for (double v : q) sq += v;
  if (sp <= 0 || sq <= 0) return 1e30;
  const double eps = 1e-4 * sq / double(q.size());
  for (size_t i = 0; i < q.size(); ++i)
    if (q[i] <= 0 && p[i] > 0) q[i] = eps;
  sq = 0;
  for (double v : q) sq += v;
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i] > 0 && q[i] > 0) kl += p[i] / sp * std::log((p[i] / sp) / (q[i] / sq));
  return kl;
}

// TensorRT's search: for each candidate threshold (a bin edge), the
// reference distribution is the histogram up to it with the clipped tail
// added to its last bin, and the candidate is that histogram merged into
// `levels` quantization bins and spread back over the nonzero source bins.
int entropy_bins(const std::vector<uint64_t>& hist, int levels) {
  const int n = int(hist.size());
  int best = n;
  double best_kl = 1e300;
  for (int i = levels; i <= n; ++i) {
    std::vector<double> p(hist.begin(), hist.begin() + i);
    for (int j = i; j < n; ++j) p[size_t(i - 1)] += double(hist[size_t(j)]);
    std::vector<double> q(size_t(i), 0.0);
    for (int l = 0; l < levels; ++l) {
      const int b0 = int(int64_t(l) * i / levels), b1 = int(int64_t(l + 1) * i / levels);
      double sum = 0;
      int nonzero = 0;
      for (int b = b0; b < b1; ++b) {
        sum += double(hist[size_t(b)]);
        nonzero += hist[size_t(b)] != 0;
      }
      for (int b = b0; b < b1; ++b)
        if (hist[size_t(b)] != 0) q[size_t(b)] = sum / nonzero;
    }
    const double kl = kl_divergence(p, q);
    if (kl < best_kl) {
      best_kl = kl;
      best = i;
    }
  }
  return best;
}

// Expected squared error of quantizing |x| with `levels` steps over [0, t]:
// values inside round to a step (error step^2 / 12), values beyond clip to t.
double clip_mse(const std::vector<uint64_t>& hist, double bin_width, double t, int levels) {
  const double step = t / levels;
  double err = 0;
  for (size_t b = 0; b < hist.size(); ++b) {
    if (!hist[b]) continue;
    const double center = (double(b) + 0.5) * bin_width;
    err += double(hist[b]) * (center <= t ? step * step / 12.0 : (center - t) * (center - t));
  }
  return err;
}

}  // namespace

float RangeObserver::clip_threshold(CalibMethod method, double percentile) const {
  const float top = std::max(std::abs(lo_), std::abs(hi_));
  if (method == CalibMethod::minmax || hist_.empty() || !(top > 0)) return top;
  const double bin_width = double(top) / kBins;
  uint64_t total = 0;
  for (uint64_t c : hist_) total += c;
  if (total == 0) return top;
  // Tensors that are (nearly) one-sided (at most 1% of the values on the
  // other side: after ReLU or hard-swish) use all 256 uint8 levels for
  // [0, t]; two-sided ones about 128 per side.
  const uint64_t minority = std::min(negative_, total - negative_);
  const int levels = double(minority) <= 0.01 * double(total) ? 256 : 128;
  switch (method) {
    case CalibMethod::percentile: {
      const double want = double(total) * std::clamp(percentile, 0.0, 100.0) / 100.0;
      uint64_t acc = 0;
      for (int b = 0; b < kBins; ++b) {
        acc += hist_[size_t(b)];
        if (double(acc) >= want) return float((b + 1) * bin_width);
      }
      return top;
    }
    case CalibMethod::entropy: {
      // Exact zeros (much of a tensor after ReLU) are left out: every range
      // represents 0 exactly (the zero point), so they cost nothing at any
      // threshold, but as a spike in bin 0 they dominated the divergence of
      // wide merged bins and drove the search to clip (PP-OCR cls: output
      // error 0.16 with them, 5.5e-4 without).
      std::vector<uint64_t> nonzero = hist_;
      nonzero[0] -= std::min(nonzero[0], zeros_);
      return float(entropy_bins(nonzero, std::min(levels, kBins)) * bin_width);
    }
    case CalibMethod::mse: {
      double best_t = top, best = 1e300;
      for (int i = 1; i <= 200; ++i) {
        const double t = double(top) * i / 200.0;
        const double e = clip_mse(hist_, bin_width, t, levels);
        if (e < best) {
          best = e;
          best_t = t;
        }
      }
      return float(best_t);
    }
    default: return top;
  }
}

void RangeObserver::range(CalibMethod method, double percentile, float* lo, float* hi) const {
  const float t = clip_threshold(method, percentile);
  *lo = std::min(0.f, std::max(lo_, -t));
  *hi = std::max(0.f, std::min(hi_, t));
  if (*hi - *lo <= 0.f) *hi = *lo + 1.f;  // a constant-zero tensor: any nonzero scale
}

void uint8_params(float lo, float hi, float* scale, uint8_t* zero) {
  lo = std::min(lo, 0.f);
  hi = std::max(hi, 0.f);
  float s = (hi - lo) / 255.f;
  if (!(s > 0.f)) s = 1.f;
  *scale = s;
  *zero = uint8_t(std::clamp(std::nearbyint(-lo / s), 0.f, 255.f));
}

}  // namespace pareto::quant
