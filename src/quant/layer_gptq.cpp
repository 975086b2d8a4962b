#include "quant/layer_gptq.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/thread_pool.h"
#include "quant/gptq.h"
#include "runtime/ops/conv_params.h"

namespace pareto::quant {

namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Which of `total` rows to take: all, or max_rows of them drawn from the
// seeded generator (repeats allowed: only the sum's shape matters).
std::vector<int64_t> pick_rows(int64_t total, int64_t max_rows, uint64_t seed) {
  std::vector<int64_t> rows;
  if (total <= max_rows) {
    for (int64_t i = 0; i < total; ++i) rows.push_back(i);
    return rows;
  }
  uint64_t state = seed;
  for (int64_t i = 0; i < max_rows; ++i) rows.push_back(int64_t(splitmix64(state) % uint64_t(total)));
  std::sort(rows.begin(), rows.end());  // walks the input in order
  return rows;
}


}  // namespace

int8_t symmetric_code(float w, float scale) {
  const float v = std::nearbyint(w / scale);
  return std::isnan(v) ? int8_t(0) : int8_t(std::clamp(v, -127.f, 127.f));
}

LayerHessian LayerHessian::for_conv(const ir::Node& conv, const Shape& w) {
  LayerHessian l;
  if (w.size() != 3 && w.size() != 4) {
    l.unsupported_ = "not a 1-D or 2-D conv";
    return l;
  }
  const size_t d = w.size() - 2;
  l.groups_ = conv.attr_i("group", 1);
  l.in_per_group_ = w[1];
  const Shape kernel(w.begin() + 2, w.end());
  std::vector<int64_t> strides = conv.attr_ints("strides", std::vector<int64_t>(d, 1));
  std::vector<int64_t> dil = conv.attr_ints("dilations", std::vector<int64_t>(d, 1));
  std::vector<int64_t> pads = conv.attr_ints("pads", std::vector<int64_t>(2 * d, 0));
  // The float run checks the conv before any row is added; these checks keep
  // this class safe on its own (no division by a zero stride, no group count
  // past the output channels, no product of dims that overflows).
  bool valid = w[0] > 0 && w[1] > 0 && l.groups_ > 0 && w[0] % l.groups_ == 0 && strides.size() == d && dil.size() == d && pads.size() == 2 * d;
  l.cols_ = w[1];
  for (size_t i = 0; valid && i < d; ++i) {
    valid = kernel[i] > 0 && kernel[i] <= kMaxCols && strides[i] > 0 && dil[i] > 0 && pads[i] >= 0 && pads[i + d] >= 0 &&
            strides[i] <= kMaxGeometry && dil[i] <= kMaxGeometry && pads[i] <= kMaxGeometry && pads[i + d] <= kMaxGeometry;
    if (valid) l.cols_ = std::min(l.cols_, kMaxCols + 1) * kernel[i];  // capped first: no overflow, still past the limit
  }
  if (!valid) {
    l.unsupported_ = "conv attributes do not match its weights";
    return l;
  }
  l.node_ = conv;
  l.weight_shape_ = w;
  if (l.cols_ > kMaxCols)
    l.unsupported_ = std::to_string(w[1]) + " x kernel inputs per output (GPTQ takes up to " + std::to_string(kMaxCols) + ")";
  return l;
}

LayerHessian LayerHessian::for_matmul(int64_t k) {
  LayerHessian l;
  l.matmul_ = true;
  l.cols_ = l.in_per_group_ = k;
  if (k <= 0) l.unsupported_ = "an empty MatMul";
  else if (k > kMaxCols) l.unsupported_ = std::to_string(k) + " inputs per output (GPTQ takes up to " + std::to_string(kMaxCols) + ")";
  return l;
}

void LayerHessian::add(const Tensor& x, int64_t max_rows, uint64_t seed) {
  if (!unsupported_.empty()) return;
  if (x.dtype() != DType::f32) {
    unsupported_ = "its input is not float";
    return;
  }
  if (h_.empty()) h_.assign(size_t(groups_ * cols_ * cols_), 0.0);  // bytes(): the caller's budget
  if (!matmul_) return add_conv_rows(x, max_rows, seed);
  if (x.rank() < 1 || x.dim(x.rank() - 1) != cols_) fail(StatusCode::internal, "MatMul input rows do not match its weights");
  const std::vector<int64_t> rows = pick_rows(x.numel() / cols_, max_rows, seed);
  constexpr size_t kChunk = 1024;
  std::vector<float> a(std::min(rows.size(), kChunk) * size_t(cols_));
  for (size_t r0 = 0; r0 < rows.size(); r0 += kChunk) {
    const size_t nr = std::min(kChunk, rows.size() - r0);
    for (size_t r = 0; r < nr; ++r) std::copy_n(x.data<float>() + rows[r0 + r] * cols_, cols_, a.begin() + int64_t(r) * cols_);
    gptq_hessian_add(a.data(), int64_t(nr), cols_, h_.data());
  }
  rows_seen_ += int64_t(rows.size());
}

void LayerHessian::add_conv_rows(const Tensor& x, int64_t max_rows, uint64_t seed) {
  const float* xd = x.data<float>();
  // The conv op's own geometry (auto_pad, 1-D as height 1), checked against this input.
  const kernels::ConvParams geo = runtime::conv_params_of(node_, x.shape(), weight_shape_);
  if (geo.c_in != groups_ * in_per_group_) fail(StatusCode::internal, "conv input channels do not match its weights");
  const int64_t c = geo.c_in, ih = geo.h, iw = geo.w, out[2] = {geo.out_h, geo.out_w};
  if (out[0] <= 0 || out[1] <= 0) return;
  const std::vector<int64_t> picked = pick_rows(geo.n * out[0] * out[1], max_rows, seed);
  const int64_t kh = geo.kh, kw = geo.kw;
  constexpr size_t kChunk = 1024;  // rows gathered at a time: the im2col copy stays small
  std::vector<float> a(std::min(picked.size(), kChunk) * size_t(cols_));
  for (int64_t g = 0; g < groups_; ++g)
    for (size_t r0 = 0; r0 < picked.size(); r0 += kChunk) {
      const size_t nr = std::min(kChunk, picked.size() - r0);
      for (size_t r = 0; r < nr; ++r) {
        const int64_t at = picked[r0 + r], b = at / (out[0] * out[1]), oy = at / out[1] % out[0], ox = at % out[1];
        float* row = a.data() + int64_t(r) * cols_;
        for (int64_t ci = 0; ci < in_per_group_; ++ci) {
          const float* plane = xd + ((b * c) + g * in_per_group_ + ci) * ih * iw;
          for (int64_t ky = 0; ky < kh; ++ky) {
            const int64_t iy = oy * geo.stride_h - geo.pad_top + ky * geo.dil_h;
            for (int64_t kx = 0; kx < kw; ++kx) {
              const int64_t ix = ox * geo.stride_w - geo.pad_left + kx * geo.dil_w;
              *row++ = iy >= 0 && iy < ih && ix >= 0 && ix < iw ? plane[iy * iw + ix] : 0.f;
            }
          }
        }
      }
      gptq_hessian_add(a.data(), int64_t(nr), cols_, h_.data() + g * cols_ * cols_);
    }
  rows_seen_ += int64_t(picked.size());
}

void LayerHessian::add_input_noise(double variance, int64_t rows) {
  const double v = double(rows) * variance;
  if (!(v > 0) || !std::isfinite(v) || h_.empty()) return;
  for (int64_t g = 0; g < groups_; ++g)
    for (int64_t i = 0; i < cols_; ++i) h_[size_t((g * cols_ + i) * cols_ + i)] += v;
}

void LayerHessian::shrink_to_diagonal() {
  if (rows_seen_ <= 0 || h_.empty()) return;
  const double factor = 1.0 + double(cols_) / double(rows_seen_);
  for (int64_t g = 0; g < groups_; ++g)
    for (int64_t i = 0; i < cols_; ++i) h_[size_t((g * cols_ + i) * cols_ + i)] *= factor;
}

bool gptq_int8_codes(const float* w, int64_t rows, int64_t cols, const float* scales, const double* hessian, int8_t* codes) {
  auto nearest = [&](int64_t r) {
    for (int64_t i = 0; i < cols; ++i) codes[r * cols + i] = symmetric_code(w[r * cols + i], scales[r]);
  };
  const GptqFactor f = hessian ? gptq_factor_from_hessian(std::vector<double>(hessian, hessian + cols * cols), cols) : GptqFactor{};
  if (f.u.empty()) {
    for (int64_t r = 0; r < rows; ++r) nearest(r);
    return false;
  }
  const std::vector<double>& u = f.u;
  parallel_for(rows, [&](int64_t r0, int64_t r1) {
    std::vector<double> wp(static_cast<size_t>(cols));
    for (int64_t r = r0; r < r1; ++r) {
      const float* wr = w + r * cols;
      const float s = scales[r];
      // A non-finite weight would spread NaN over its whole channel.
      if (!std::all_of(wr, wr + cols, [](float v) { return std::isfinite(v); }) || !(s > 0) || !std::isfinite(s)) {
        nearest(r);
        continue;
      }
      std::copy(wr, wr + cols, wp.begin());
      for (int64_t i = 0; i < cols; ++i) {
        if (f.dead[size_t(i)]) {  // no calibration input reached it: nothing to trade, rounded as it is
          codes[r * cols + i] = symmetric_code(wr[i], s);
          continue;
        }
        const double q = std::clamp(std::nearbyint(wp[size_t(i)] / s), -127.0, 127.0);
        codes[r * cols + i] = int8_t(q);
        const double e = (wp[size_t(i)] - q * s) / u[size_t(i * cols + i)];
        const double* ui = &u[size_t(i * cols)];
        for (int64_t k = i + 1; k < cols; ++k) wp[size_t(k)] -= e * ui[k];
      }
    }
  });
  return true;
}

// A channel's symmetric int8 scale from its largest |w|: max / 127, or 1
// for a channel of zeros (or an infinite weight, which has no finite scale).
float symmetric_scale(float max_abs) { return max_abs > 0 && std::isfinite(max_abs) ? max_abs / 127.f : 1.f; }

// Per-row symmetric scales of w [rows, cols] (max |w| / 127).
std::vector<float> symmetric_row_scales(const float* w, int64_t rows, int64_t cols) {
  std::vector<float> scales(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    float m = 0;
    for (int64_t i = 0; i < cols; ++i) m = std::max(m, std::abs(w[r * cols + i]));
    scales[size_t(r)] = symmetric_scale(m);
  }
  return scales;
}

// A conv's int8 weights chosen by GPTQ (quant/layer_gptq.h), group by group
// (a group's output channels read only its input channels); false where
// every group fell back to rounding to nearest.
bool conv_gptq_codes(const Tensor& w, const LayerHessian& h, int8_t* codes) {
  const int64_t oc = w.dim(0), cols = h.cols(), per_group = oc / h.groups();
  const std::vector<float> scales = symmetric_row_scales(w.data<float>(), oc, cols);
  bool any = false;
  for (int64_t g = 0; g < h.groups(); ++g) {
    const int64_t r0 = g * per_group;
    any |= gptq_int8_codes(w.data<float>() + r0 * cols, per_group, cols, scales.data() + r0, h.hessian(g), codes + r0 * cols);
  }
  return any;
}

// A MatMul's B [k, n] by GPTQ, per column (the output channels): codes [k, n].
bool matmul_gptq_codes(const Tensor& b, const LayerHessian& h, int8_t* codes) {
  const int64_t k = b.dim(0), n = b.dim(1);
  std::vector<float> rows(size_t(k * n));  // B^T: a row per output column
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < n; ++j) rows[size_t(j * k + i)] = b.data<float>()[i * n + j];
  const std::vector<float> scales = symmetric_row_scales(rows.data(), n, k);
  std::vector<int8_t> t(size_t(k * n));
  const bool served = gptq_int8_codes(rows.data(), n, k, scales.data(), h.hessian(0), t.data());
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < n; ++j) codes[i * n + j] = t[size_t(j * k + i)];
  return served;
}

}  // namespace pareto::quant
