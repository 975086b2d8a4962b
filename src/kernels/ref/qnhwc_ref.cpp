// Reference quantized NHWC kernels (kernels/qnhwc.h): plain loops in
// TFLite's reference order, the twins any optimized form is tested against.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/qnhwc.h"

namespace pareto::kernels {

namespace {

template <class T>
T clamp_to(int32_t v, int32_t lo, int32_t hi) {
  return T(std::min(std::max(v, lo), hi));
}

}  // namespace

std::vector<int32_t> qdepthwise_filter_i32(const QConvParams& p, const void* filter, bool is_signed) {
  const int64_t taps = p.k_h * p.k_w;
  std::vector<int32_t> out(size_t(taps * p.out_c));
  for (int64_t t = 0; t < taps; ++t)
    for (int64_t c = 0; c < p.out_c; ++c) {
      const int64_t i = t * p.out_c + c;
      const int32_t w = is_signed ? int32_t(static_cast<const int8_t*>(filter)[i]) : int32_t(static_cast<const uint8_t*>(filter)[i]);
      out[size_t(i)] = w + p.filter_offsets[c];
    }
  return out;
}

template <class T>
void qconv_nhwc_ref(const QConvParams& p, const T* input, const T* filter, const int32_t* bias, T* output) {
  const int64_t rows_end = p.rows_end < 0 ? p.batch * p.out_h : p.rows_end;
  for (int64_t row = p.rows_begin; row < rows_end; ++row) {
    const int64_t b = row / p.out_h, oy = row % p.out_h;
      for (int64_t ox = 0; ox < p.out_w; ++ox) {
        const int64_t iy0 = oy * p.stride_h - p.pad_top, ix0 = ox * p.stride_w - p.pad_left;
        T* out = output + ((b * p.out_h + oy) * p.out_w + ox) * p.out_c;
        for (int64_t oc = 0; oc < p.out_c; ++oc) {
          int32_t acc = 0;
          const T* f = filter + oc * p.k_h * p.k_w * p.in_c;
          for (int64_t ky = 0; ky < p.k_h; ++ky) {
            const int64_t iy = iy0 + ky * p.dilation_h;
            if (iy < 0 || iy >= p.in_h) continue;
            for (int64_t kx = 0; kx < p.k_w; ++kx) {
              const int64_t ix = ix0 + kx * p.dilation_w;
              if (ix < 0 || ix >= p.in_w) continue;
              const T* in = input + ((b * p.in_h + iy) * p.in_w + ix) * p.in_c;
              const T* fk = f + (ky * p.k_w + kx) * p.in_c;
              for (int64_t ic = 0; ic < p.in_c; ++ic)
                acc = fxp::wrapping_add(acc, (int32_t(fk[ic]) + p.filter_offsets[oc]) * (int32_t(in[ic]) + p.input_offset));
            }
          }
          if (bias) acc = fxp::wrapping_add(acc, bias[oc]);
          acc = fxp::wrapping_add(fxp::multiply_by_multiplier(acc, p.multipliers[oc]), p.output_offset);
          out[oc] = clamp_to<T>(acc, p.act_min, p.act_max);
        }
      }
  }
}

template <class T>
void qdepthwise_nhwc_ref(const QConvParams& p, const T* input, const T* filter, const int32_t* bias, T* output) {
  const int64_t rows_end = p.rows_end < 0 ? p.batch * p.out_h : p.rows_end;
  for (int64_t row = p.rows_begin; row < rows_end; ++row) {
    const int64_t b = row / p.out_h, oy = row % p.out_h;
      for (int64_t ox = 0; ox < p.out_w; ++ox) {
        const int64_t iy0 = oy * p.stride_h - p.pad_top, ix0 = ox * p.stride_w - p.pad_left;
        T* out = output + ((b * p.out_h + oy) * p.out_w + ox) * p.out_c;
        for (int64_t oc = 0; oc < p.out_c; ++oc) {
          const int64_t ic = oc / p.depth_multiplier;
          int32_t acc = 0;
          for (int64_t ky = 0; ky < p.k_h; ++ky) {
            const int64_t iy = iy0 + ky * p.dilation_h;
            if (iy < 0 || iy >= p.in_h) continue;
            for (int64_t kx = 0; kx < p.k_w; ++kx) {
              const int64_t ix = ix0 + kx * p.dilation_w;
              if (ix < 0 || ix >= p.in_w) continue;
              const int32_t x = int32_t(input[((b * p.in_h + iy) * p.in_w + ix) * p.in_c + ic]) + p.input_offset;
              const int32_t w = int32_t(filter[(ky * p.k_w + kx) * p.out_c + oc]) + p.filter_offsets[oc];
              acc = fxp::wrapping_add(acc, w * x);
            }
          }
          if (bias) acc = fxp::wrapping_add(acc, bias[oc]);
          acc = fxp::wrapping_add(fxp::multiply_by_multiplier(acc, p.multipliers[oc]), p.output_offset);
          out[oc] = clamp_to<T>(acc, p.act_min, p.act_max);
        }
      }
  }
}

template <class T>
void qfully_connected_ref(const QFullyConnectedParams& p, const T* input, const T* filter, const int32_t* bias, T* output) {
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t o = 0; o < p.units; ++o) {
      int32_t acc = 0;
      const T* in = input + b * p.depth;
      const T* f = filter + o * p.depth;
      for (int64_t d = 0; d < p.depth; ++d)
        acc = fxp::wrapping_add(acc, (int32_t(f[d]) + p.filter_offsets[o]) * (int32_t(in[d]) + p.input_offset));
      if (bias) acc = fxp::wrapping_add(acc, bias[o]);
      acc = fxp::wrapping_add(fxp::multiply_by_multiplier(acc, p.multipliers[o]), p.output_offset);
      output[b * p.units + o] = clamp_to<T>(acc, p.act_min, p.act_max);
    }
}

template <class T>
void qaverage_pool_nhwc_ref(const QPoolParams& p, const T* input, T* output) {
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t oy = 0; oy < p.out_h; ++oy)
      for (int64_t ox = 0; ox < p.out_w; ++ox) {
        const int64_t iy0 = oy * p.stride_h - p.pad_top, ix0 = ox * p.stride_w - p.pad_left;
        const int64_t y0 = std::max<int64_t>(0, -iy0), y1 = std::min(p.k_h, p.in_h - iy0);
        const int64_t x0 = std::max<int64_t>(0, -ix0), x1 = std::min(p.k_w, p.in_w - ix0);
        for (int64_t c = 0; c < p.channels; ++c) {
          int32_t acc = 0;
          int64_t count = 0;
          for (int64_t ky = y0; ky < y1; ++ky)
            for (int64_t kx = x0; kx < x1; ++kx, ++count) acc = fxp::wrapping_add(acc, input[((b * p.in_h + iy0 + ky) * p.in_w + ix0 + kx) * p.channels + c]);
          if (count > 0) {
            const int64_t a = acc;  // in 64 bits: acc + count / 2 may pass int32
            acc = int32_t(a > 0 ? (a + count / 2) / count : (a - count / 2) / count);
          }
          output[((b * p.out_h + oy) * p.out_w + ox) * p.channels + c] = clamp_to<T>(acc, p.act_min, p.act_max);
        }
      }
}

template <class T>
void qmax_pool_nhwc_ref(const QPoolParams& p, const T* input, T* output) {
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t oy = 0; oy < p.out_h; ++oy)
      for (int64_t ox = 0; ox < p.out_w; ++ox) {
        const int64_t iy0 = oy * p.stride_h - p.pad_top, ix0 = ox * p.stride_w - p.pad_left;
        const int64_t y0 = std::max<int64_t>(0, -iy0), y1 = std::min(p.k_h, p.in_h - iy0);
        const int64_t x0 = std::max<int64_t>(0, -ix0), x1 = std::min(p.k_w, p.in_w - ix0);
        for (int64_t c = 0; c < p.channels; ++c) {
          int32_t m = std::numeric_limits<T>::lowest();
          for (int64_t ky = y0; ky < y1; ++ky)
            for (int64_t kx = x0; kx < x1; ++kx) m = std::max<int32_t>(m, input[((b * p.in_h + iy0 + ky) * p.in_w + ix0 + kx) * p.channels + c]);
          output[((b * p.out_h + oy) * p.out_w + ox) * p.channels + c] = clamp_to<T>(m, p.act_min, p.act_max);
        }
      }
}

QAddParams make_qadd_params(float a_scale, int32_t a_zero, float b_scale, int32_t b_zero, float out_scale, int32_t out_zero,
                            int32_t act_min, int32_t act_max) {
  QAddParams p;
  p.a_offset = -a_zero, p.b_offset = -b_zero, p.output_offset = out_zero;
  // Float arithmetic where TFLite's is float (2 * max and (1 << 20) * scale are exact), then double.
  const double twice_max = double(2 * std::max(a_scale, b_scale));
  p.a_multiplier = fxp::quantize_multiplier(double(a_scale) / twice_max);
  p.b_multiplier = fxp::quantize_multiplier(double(b_scale) / twice_max);
  p.output_multiplier = fxp::quantize_multiplier(twice_max / double(float(1 << p.left_shift) * out_scale));
  p.act_min = act_min, p.act_max = act_max;
  return p;
}

bool broadcast_of(const std::vector<int64_t>& a, const std::vector<int64_t>& b, Broadcast& r) {
  const size_t rank = std::max(a.size(), b.size());
  if (rank > 8) return false;
  r.out.assign(rank, 1), r.a_stride.assign(rank, 0), r.b_stride.assign(rank, 0);
  int64_t as = 1, bs = 1;
  for (size_t k = 0; k < rank; ++k) {  // from the last dimension
    const size_t d = rank - 1 - k;
    const int64_t da = k < a.size() ? a[a.size() - 1 - k] : 1, db = k < b.size() ? b[b.size() - 1 - k] : 1;
    if (da != db && da != 1 && db != 1) return false;
    r.out[d] = da == 1 ? db : da;
    r.a_stride[d] = da == 1 ? 0 : as, r.b_stride[d] = db == 1 ? 0 : bs;
    as *= da, bs *= db;
  }
  return true;
}

template <class T>
void qadd_ref(const QAddParams& p, const Broadcast& bc, const T* a, const T* b, T* output) {
  for_each_pair(bc, [&](int64_t i, int64_t ai, int64_t bi) {
    const int32_t x = (int32_t(a[ai]) + p.a_offset) * (1 << p.left_shift);
    const int32_t y = (int32_t(b[bi]) + p.b_offset) * (1 << p.left_shift);
    const int32_t sum = fxp::multiply_by_multiplier(x, p.a_multiplier) + fxp::multiply_by_multiplier(y, p.b_multiplier);
    output[i] = clamp_to<T>(fxp::multiply_by_multiplier(sum, p.output_multiplier) + p.output_offset, p.act_min, p.act_max);
  });
}

template <class T>
void qmul_ref(const QMulParams& p, const Broadcast& bc, const T* a, const T* b, T* output) {
  for_each_pair(bc, [&](int64_t i, int64_t ai, int64_t bi) {
    const int32_t product = (int32_t(a[ai]) + p.a_offset) * (int32_t(b[bi]) + p.b_offset);  // |product| < 2^17: no overflow
    output[i] = clamp_to<T>(fxp::multiply_by_multiplier(product, p.multiplier) + p.output_offset, p.act_min, p.act_max);
  });
}

QLogisticParams make_qlogistic_params(float input_scale, int32_t input_zero) {
  constexpr int kInputIntegerBits = 4;
  QLogisticParams p;
  p.input_zero = input_zero;
  p.input_multiplier = fxp::quantize_multiplier(double(input_scale) * double(int64_t(1) << (31 - kInputIntegerBits)));
  const int left_shift = std::max(0, p.input_multiplier.shift);
  // The largest centred input whose rescaled value still fits Q4.27.
  const double radius = double((1 << kInputIntegerBits) - 1) * double(int64_t(1) << (31 - kInputIntegerBits)) / double(int64_t(1) << left_shift);
  p.input_range_radius = int32_t(std::min(std::floor(radius), double(std::numeric_limits<int32_t>::max())));
  return p;
}

// gemmlowp's logistic of a Q4.27 value, in Q0.31: 1 / (1 + exp(-|x|)) for the
// positive half, one minus it for the negative, exactly one half at zero.
static int32_t logistic_q4(int32_t x) {
  if (x == 0) return int32_t(1) << 30;
  const int32_t magnitude = x > 0 ? x : -x;
  const int32_t positive = fxp::one_over_one_plus_x(fxp::exp_on_negative_values(-magnitude, 4));
  return x > 0 ? positive : std::numeric_limits<int32_t>::max() - positive;
}

template <class T>
void qlogistic_ref(const QLogisticParams& p, int64_t n, const T* input, T* output) {
  constexpr bool is_signed = std::is_signed_v<T>;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t centred = int32_t(input[i]) - p.input_zero;
    int32_t q;
    if (centred <= -p.input_range_radius) {
      q = std::numeric_limits<T>::min();
    } else if (centred >= p.input_range_radius) {
      q = std::numeric_limits<T>::max();
    } else {
      const int32_t in_q4 = fxp::multiply_by_multiplier(centred, p.input_multiplier);
      q = fxp::rounding_divide_by_pot(logistic_q4(in_q4), 23);  // Q0.31 to 8 fractional bits
      q = is_signed ? std::clamp(q - 128, -128, 127) : std::min(q, 255);
    }
    output[i] = T(q);
  }
}

QSoftmaxParams make_qsoftmax_params(double beta, double input_scale) {
  constexpr int kScaledDiffIntegerBits = 5;
  QSoftmaxParams p;
  const double real = std::min(beta * input_scale * double(int64_t(1) << (31 - kScaledDiffIntegerBits)), double((int64_t(1) << 31) - 1));
  p.input_multiplier = fxp::quantize_multiplier(real);
  const int left_shift = std::max(0, p.input_multiplier.shift);
  // The largest input difference whose rescaled value still fits Q5.26.
  const double radius = double((1 << kScaledDiffIntegerBits) - 1) * double(int64_t(1) << (31 - kScaledDiffIntegerBits)) /
                        double(int64_t(1) << left_shift);
  p.diff_min = -int32_t(std::floor(radius));
  return p;
}

template <class T>
void qsoftmax_ref(const QSoftmaxParams& p, int64_t rows, int64_t depth, const T* input, T* output) {
  constexpr int kScaledDiffIntegerBits = 5, kAccumulationIntegerBits = 12;
  const int left_shift = std::max(0, p.input_multiplier.shift);
  auto exp_of = [&](int32_t diff) {
    // Multiplier > 1: the shift is all left (exact), then the rounding high multiply.
    const int32_t scaled = fxp::rounding_doubling_high_mul(int32_t(uint32_t(diff) << left_shift), p.input_multiplier.q);
    return fxp::exp_on_negative_values(scaled, kScaledDiffIntegerBits);
  };
  for (int64_t r = 0; r < rows; ++r) {
    const T* in = input + r * depth;
    T* out = output + r * depth;
    int32_t max_in_row = std::numeric_limits<T>::lowest();
    for (int64_t c = 0; c < depth; ++c) max_in_row = std::max<int32_t>(max_in_row, in[c]);
    int32_t sum = 0;  // Q12.19
    for (int64_t c = 0; c < depth; ++c) {
      const int32_t diff = int32_t(in[c]) - max_in_row;
      if (diff >= p.diff_min) sum = fxp::wrapping_add(sum, fxp::saturating_rounding_multiply_by_pot(exp_of(diff), -kAccumulationIntegerBits));
    }
    int bits_over_unit = 0;
    const int32_t scale = fxp::reciprocal(sum, kAccumulationIntegerBits, bits_over_unit);
    const int exponent = bits_over_unit + 31 - 8;
    for (int64_t c = 0; c < depth; ++c) {
      const int32_t diff = int32_t(in[c]) - max_in_row;
      int32_t v = std::numeric_limits<T>::lowest();
      if (diff >= p.diff_min) {
        const int32_t unsat = fxp::rounding_divide_by_pot(fxp::rounding_doubling_high_mul(scale, exp_of(diff)), exponent);
        v = unsat + int32_t(std::numeric_limits<T>::lowest());
      }
      out[c] = clamp_to<T>(v, std::numeric_limits<T>::lowest(), std::numeric_limits<T>::max());
    }
  }
}

template <class T>
void resize_bilinear_nhwc_ref(const ResizeParams& p, const T* input, T* output) {
  float sy = float(p.in_h) / float(p.out_h), sx = float(p.in_w) / float(p.out_w);
  if (p.align_corners && p.out_h > 1) sy = float(p.in_h - 1) / float(p.out_h - 1);
  if (p.align_corners && p.out_w > 1) sx = float(p.in_w - 1) / float(p.out_w - 1);
  auto source = [&](int64_t v, float scale, int64_t size, float& f, int64_t& lo, int64_t& hi) {
    f = p.half_pixel_centers ? (float(v) + 0.5f) * scale - 0.5f : float(v) * scale;
    lo = std::max<int64_t>(int64_t(std::floor(f)), 0);
    hi = std::min<int64_t>(int64_t(std::ceil(f)), size - 1);
  };
  const float offset = p.round ? 0.5f : 0.0f;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t y = 0; y < p.out_h; ++y) {
      float fy;
      int64_t y0, y1;
      source(y, sy, p.in_h, fy, y0, y1);
      for (int64_t x = 0; x < p.out_w; ++x) {
        float fx;
        int64_t x0, x1;
        source(x, sx, p.in_w, fx, x0, x1);
        const T* r0 = input + (b * p.in_h + y0) * p.in_w * p.channels;
        const T* r1 = input + (b * p.in_h + y1) * p.in_w * p.channels;
        T* out = output + ((b * p.out_h + y) * p.out_w + x) * p.channels;
        const float dy = fy - float(y0), dx = fx - float(x0);
        for (int64_t c = 0; c < p.channels; ++c) {
          const float v = float(r0[x0 * p.channels + c]) * (1 - dy) * (1 - dx) + float(r1[x0 * p.channels + c]) * dy * (1 - dx) +
                          float(r0[x1 * p.channels + c]) * (1 - dy) * dx + float(r1[x1 * p.channels + c]) * dy * dx + offset;
          // Inside the type's range by construction (a convex combination); clamped against float rounding.
          out[c] = T(std::clamp(v, float(std::numeric_limits<T>::lowest()), float(std::numeric_limits<T>::max())));
        }
      }
    }
}

template <class T>
void qconcat_ref(int64_t outer, int64_t inner, const std::vector<const T*>& inputs, const std::vector<int64_t>& axis_sizes,
                 const std::vector<float>& scales, const std::vector<int32_t>& zeros, float out_scale, int32_t out_zero, T* output) {
  const float inverse_out_scale = 1.0f / out_scale;
  for (int64_t o = 0; o < outer; ++o)
    for (size_t i = 0; i < inputs.size(); ++i) {
      const int64_t n = axis_sizes[i] * inner;
      const T* in = inputs[i] + o * n;
      if (scales[i] == out_scale && zeros[i] == out_zero) {
        std::copy(in, in + n, output);
      } else {
        const float scale = scales[i] * inverse_out_scale, bias = -float(zeros[i]) * scale;
        for (int64_t j = 0; j < n; ++j) {
          const float v = std::round(float(in[j]) * scale + bias) + float(out_zero);
          output[j] = T(std::clamp(v, float(std::numeric_limits<T>::lowest()), float(std::numeric_limits<T>::max())));
        }
      }
      output += n;
    }
}

template <class T, class TIndex>
void argmax_ref(int64_t outer, int64_t depth, int64_t inner, const T* input, TIndex* output) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T* in = input + o * depth * inner + i;
      int64_t best = 0;
      for (int64_t c = 1; c < depth; ++c)
        if (in[c * inner] > in[best * inner]) best = c;
      output[o * inner + i] = TIndex(best);
    }
}

template <class T>
void qmean_hw_ref(int64_t batch, int64_t h, int64_t w, int64_t c, const T* input, int32_t input_zero, float input_scale,
                  int32_t output_zero, float output_scale, T* output) {
  const int64_t count = h * w;
  const fxp::Multiplier m = fxp::quantize_multiplier(double(input_scale) / double(output_scale));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t ch = 0; ch < c; ++ch) {
      int32_t acc = 0;
      for (int64_t i = 0; i < count; ++i) acc = fxp::wrapping_add(acc, int32_t(input[(b * count + i) * c + ch]) - input_zero);
      const int64_t a = fxp::multiply_by_multiplier(acc, m);  // in 64 bits from here: a + count / 2 may pass int32
      const int64_t mean = (a > 0 ? (a + count / 2) / count : (a - count / 2) / count) + output_zero;
      output[b * c + ch] = T(std::clamp<int64_t>(mean, std::numeric_limits<T>::lowest(), std::numeric_limits<T>::max()));
    }
}

template <class TIn, class TOut>
void qrequantize_ref(int64_t n, const TIn* input, int32_t input_zero, fxp::Multiplier m, int32_t output_zero, TOut* output) {
  for (int64_t i = 0; i < n; ++i) {
    const int32_t v = fxp::multiply_by_multiplier(int32_t(input[i]) - input_zero, m) + output_zero;
    output[i] = clamp_to<TOut>(v, std::numeric_limits<TOut>::lowest(), std::numeric_limits<TOut>::max());
  }
}

#define PARETO_QNHWC_INSTANCES(T)                                                                              \
  template void qconv_nhwc_ref<T>(const QConvParams&, const T*, const T*, const int32_t*, T*);                  \
  template void qdepthwise_nhwc_ref<T>(const QConvParams&, const T*, const T*, const int32_t*, T*);             \
  template void qfully_connected_ref<T>(const QFullyConnectedParams&, const T*, const T*, const int32_t*, T*);  \
  template void qaverage_pool_nhwc_ref<T>(const QPoolParams&, const T*, T*);                                    \
  template void qmax_pool_nhwc_ref<T>(const QPoolParams&, const T*, T*);                                        \
  template void qadd_ref<T>(const QAddParams&, const Broadcast&, const T*, const T*, T*);                       \
  template void qmul_ref<T>(const QMulParams&, const Broadcast&, const T*, const T*, T*);                       \
  template void qlogistic_ref<T>(const QLogisticParams&, int64_t, const T*, T*);                                \
  template void qsoftmax_ref<T>(const QSoftmaxParams&, int64_t, int64_t, const T*, T*);                         \
  template void qmean_hw_ref<T>(int64_t, int64_t, int64_t, int64_t, const T*, int32_t, float, int32_t, float, T*); \
  template void resize_bilinear_nhwc_ref<T>(const ResizeParams&, const T*, T*);                                 \
  template void qconcat_ref<T>(int64_t, int64_t, const std::vector<const T*>&, const std::vector<int64_t>&,       \
                               const std::vector<float>&, const std::vector<int32_t>&, float, int32_t, T*);      \
  template void argmax_ref<T, int32_t>(int64_t, int64_t, int64_t, const T*, int32_t*);                     \
  template void argmax_ref<T, int64_t>(int64_t, int64_t, int64_t, const T*, int64_t*);
PARETO_QNHWC_INSTANCES(uint8_t)
PARETO_QNHWC_INSTANCES(int8_t)
#undef PARETO_QNHWC_INSTANCES
template void resize_bilinear_nhwc_ref<float>(const ResizeParams&, const float*, float*);
template void qrequantize_ref<uint8_t, int8_t>(int64_t, const uint8_t*, int32_t, fxp::Multiplier, int32_t, int8_t*);
template void qrequantize_ref<int8_t, uint8_t>(int64_t, const int8_t*, int32_t, fxp::Multiplier, int32_t, uint8_t*);
template void qrequantize_ref<int8_t, int8_t>(int64_t, const int8_t*, int32_t, fxp::Multiplier, int32_t, int8_t*);
template void qrequantize_ref<uint8_t, uint8_t>(int64_t, const uint8_t*, int32_t, fxp::Multiplier, int32_t, uint8_t*);

}  // namespace pareto::kernels
