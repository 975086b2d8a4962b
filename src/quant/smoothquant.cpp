#include "quant/smoothquant.h"

#include <algorithm>
#include <cmath>
#include <map>


namespace pareto::quant {

std::vector<float> smoothing_scales(const std::vector<float>& w, int64_t rows, int64_t cols, const std::vector<float>& x_max, float alpha) {
  std::vector<float> s(static_cast<size_t>(cols), 1.f);
  for (int64_t j = 0; j < cols; ++j) {
    const float xm = x_max[size_t(j)];
    float wm = 0;
    for (int64_t r = 0; r < rows; ++r) wm = std::max(wm, std::fabs(w[size_t(r * cols + j)]));
    if (xm > 0 && wm > 0) s[size_t(j)] = std::pow(xm, alpha) / std::pow(wm, 1.f - alpha);
    s[size_t(j)] = std::max(s[size_t(j)], 1e-5f);
  }
  return s;
}

std::vector<float> channel_max_abs(const std::vector<float>& x, int64_t cols) {
  std::vector<float> m(static_cast<size_t>(cols), 0.f);
  for (size_t i = 0; i < x.size(); ++i) m[i % size_t(cols)] = std::max(m[i % size_t(cols)], std::fabs(x[i]));
  return m;
}

namespace {
// Symmetric int8 rounding of v[0..n) with one scale (amax / 127), in place.
void fake_int8(float* v, int64_t n, int64_t stride) {
  float amax = 0;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(v[i * stride]));
  if (amax == 0) return;
  const float d = amax / 127.f;
  for (int64_t i = 0; i < n; ++i) v[i * stride] = std::roundf(v[i * stride] / d) * d;
}
}  // namespace

double w8a8_error(const std::vector<float>& w, int64_t rows, int64_t cols, const std::vector<float>& x, const std::vector<float>& s,
                  ActGranularity act) {
  const int64_t tokens = int64_t(x.size()) / cols;
  std::vector<float> wq = w, xq = x;
  if (!s.empty())
    for (int64_t j = 0; j < cols; ++j) {
      for (int64_t r = 0; r < rows; ++r) wq[size_t(r * cols + j)] *= s[size_t(j)];
      for (int64_t t = 0; t < tokens; ++t) xq[size_t(t * cols + j)] /= s[size_t(j)];
    }
  for (int64_t r = 0; r < rows; ++r) fake_int8(wq.data() + r * cols, cols, 1);  // per output channel
  if (act == ActGranularity::per_tensor) fake_int8(xq.data(), tokens * cols, 1);
  else
    for (int64_t t = 0; t < tokens; ++t) fake_int8(xq.data() + t * cols, cols, 1);
  double err = 0;
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double exact = 0, quant = 0;
      for (int64_t j = 0; j < cols; ++j) {
        exact += double(x[size_t(t * cols + j)]) * w[size_t(r * cols + j)];
        quant += double(xq[size_t(t * cols + j)]) * wq[size_t(r * cols + j)];
      }
      err += (quant - exact) * (quant - exact);
    }
  return err;
}

float smoothquant_alpha(const std::string& arch) {
  if (arch == "llama") return 0.85f;
  if (arch == "mistral") return 0.8f;
  return 0.5f;
}

CalibratedReport smoothquant_model(const std::string& in, const std::string& out, const CalibratedOptions& o) {
  return run_calibrated(in, out, o, [&](CalibratedModel& m, int64_t l, CalibratedReport& rep) {
    const float alpha = o.alpha > 0 ? o.alpha : smoothquant_alpha(m.model->config.arch);
    for (ScaleGroup& g : scale_groups(m, l)) {
      // One s for the group: the largest weight per input column over its matrices.
      Matrix joint{0, g.mats[0]->cols, {}};
      for (const Matrix* mat : g.mats) {
        joint.w.insert(joint.w.end(), mat->w.begin(), mat->w.end());
        joint.rows += mat->rows;
      }
      std::vector<float> s = smoothing_scales(joint.w, joint.rows, joint.cols, m.acts[size_t(l)][size_t(g.input)].max_abs, alpha);
      if (!g.tie.empty()) {  // columns that share a v row share its scale: the largest of them
        std::map<int64_t, float> top;
        for (size_t j = 0; j < s.size(); ++j) top[g.tie[j]] = std::max(top[g.tie[j]], s[j]);
        for (size_t j = 0; j < s.size(); ++j) s[j] = top[g.tie[j]];
      }
      rep.ratio[size_t(l)][size_t(g.input)] = alpha;
      for (Matrix* mat : g.mats) scale_columns(*mat, s);
      g.fold(s);
    }
  });
}

}  // namespace pareto::quant
