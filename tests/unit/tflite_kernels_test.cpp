// TFLite's integer arithmetic (kernels/fixed_point.h) and the quantized NHWC
// reference kernels (kernels/qnhwc.h): exact values where the rounding rule
// decides them, and agreement within one quantization step with the same
// arithmetic done in doubles, on awkward sizes (1, odd, tails).
#include <gtest/gtest.h>

#include <array>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/fixed_point.h"
#include "kernels/qnhwc.h"

namespace pareto::kernels {
namespace {

using fxp::Multiplier;

double real_of(Multiplier m) { return double(m.q) * std::ldexp(1.0, m.shift - 31); }

TEST(FixedPoint, MultiplierAndRoundingRules) {
  EXPECT_EQ(fxp::quantize_multiplier(0.5).q, 1 << 30);
  EXPECT_EQ(fxp::quantize_multiplier(0.5).shift, 0);
  EXPECT_EQ(fxp::quantize_multiplier(1.0).q, 1 << 30);
  EXPECT_EQ(fxp::quantize_multiplier(1.0).shift, 1);
  EXPECT_EQ(fxp::quantize_multiplier(0.0).q, 0);
  EXPECT_EQ(fxp::quantize_multiplier(1e-12).q, 0) << "below 2^-31 the multiplier is 0";
  for (double m : {0.0072973525, 0.3, 0.999999999, 1.5, 123.456})
    EXPECT_NEAR(real_of(fxp::quantize_multiplier(m)) / m, 1.0, 1e-9) << m;
  // Halves go away from zero.
  EXPECT_EQ(fxp::rounding_divide_by_pot(5, 1), 3);
  EXPECT_EQ(fxp::rounding_divide_by_pot(-5, 1), -3);
  EXPECT_EQ(fxp::rounding_divide_by_pot(7, 2), 2);
  EXPECT_EQ(fxp::rounding_divide_by_pot(-6, 2), -2);
  EXPECT_EQ(fxp::rounding_divide_by_pot(-7, 2), -2);
  const int32_t min = std::numeric_limits<int32_t>::min();
  EXPECT_EQ(fxp::rounding_doubling_high_mul(min, min), std::numeric_limits<int32_t>::max());
  EXPECT_EQ(fxp::rounding_doubling_high_mul(1 << 30, 1 << 30), 1 << 29);
  EXPECT_EQ(fxp::saturating_rounding_multiply_by_pot(1 << 29, 3), std::numeric_limits<int32_t>::max());
  EXPECT_EQ(fxp::saturating_rounding_multiply_by_pot(-(1 << 29), 3), min);
  EXPECT_EQ(fxp::rounding_half_sum(3, 4), 4);
  EXPECT_EQ(fxp::rounding_half_sum(-3, -4), -4);
}

TEST(FixedPoint, MultiplyByMultiplierIsTheRoundedProduct) {
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    const double m = std::ldexp(0.5 + double(rng() % 1000000) / 2e6, int(rng() % 20) - 14);
    const int32_t x = int32_t(rng() % 2000001) - 1000000;
    const Multiplier q = fxp::quantize_multiplier(m);
    const double exact = double(x) * real_of(q);
    // Two roundings (the high multiply, then the shift): at most one off the single rounding.
    EXPECT_LE(std::abs(fxp::multiply_by_multiplier(x, q) - std::round(exact)), 1.0) << x << " * " << m;
  }
}

TEST(FixedPoint, ExpAndReciprocalFollowTheirFunctions) {
  EXPECT_EQ(fxp::exp_on_negative_values(0, 5), std::numeric_limits<int32_t>::max());
  for (int integer_bits : {0, 5, 12}) {
    const double one = std::ldexp(1.0, 31 - integer_bits);
    for (double x = -0.001; x > -std::min(32.0, std::ldexp(1.0, integer_bits) - 1e-6); x *= 1.37) {
      const double got = fxp::exp_on_negative_values(int32_t(std::lround(x * one)), integer_bits) / std::ldexp(1.0, 31);
      EXPECT_NEAR(got, std::exp(x), 2e-7 + 1e-6 * std::exp(x)) << "x=" << x << " integer bits " << integer_bits;
    }
  }
  EXPECT_EQ(fxp::exp_on_negative_values(-(int32_t(33) << 20), 11), 0) << "below -32 (11 integer bits) exp is 0";
  for (double a = 0; a < 1; a += 0.0137) {
    const double got = fxp::one_over_one_plus_x(int32_t(std::lround(a * 2147483647.0))) / 2147483648.0;
    EXPECT_NEAR(got, 1 / (1 + a), 1e-8) << a;
  }
  int bits = 0;
  const int32_t r = fxp::reciprocal(int32_t(3) << 19, 12, bits);  // 3.0 in Q12.19
  EXPECT_NEAR(r / 2147483648.0 * std::ldexp(1.0, -bits), 1.0 / 3, 1e-8);
}

// Random uint8 or int8 values.
template <class T>
std::vector<T> random_values(size_t n, std::mt19937& rng) {
  std::vector<T> v(n);
  for (T& x : v) x = T(int(rng() % 256) + int(std::numeric_limits<T>::lowest()));
  return v;
}

template <class T>
void conv_matches_real_arithmetic(bool depthwise, int64_t h, int64_t w, int64_t in_c, int64_t mult_or_out, int64_t k, int64_t stride) {
  std::mt19937 rng(uint32_t(h * 131 + w * 17 + in_c));
  QConvParams p;
  p.in_h = h, p.in_w = w, p.in_c = in_c, p.k_h = k, p.k_w = k, p.stride_h = stride, p.stride_w = stride;
  p.pad_top = k / 2, p.pad_left = k / 2;
  p.out_h = (h + 2 * p.pad_top - k) / stride + 1, p.out_w = (w + 2 * p.pad_left - k) / stride + 1;
  p.depth_multiplier = depthwise ? mult_or_out : 1;
  p.out_c = depthwise ? in_c * mult_or_out : mult_or_out;
  const int32_t in_zero = std::is_signed_v<T> ? -3 : 120, out_zero = std::is_signed_v<T> ? 5 : 130;
  const double in_scale = 0.02, out_scale = 0.05;
  std::vector<double> filter_scale(size_t(p.out_c));
  std::vector<int32_t> filter_offsets(size_t(p.out_c));
  std::vector<Multiplier> m(size_t(p.out_c));
  for (int64_t oc = 0; oc < p.out_c; ++oc) {
    filter_scale[size_t(oc)] = 0.001 * double(1 + oc % 7);
    filter_offsets[size_t(oc)] = std::is_signed_v<T> ? 0 : -(100 + int32_t(oc % 50));
    m[size_t(oc)] = fxp::quantize_multiplier(in_scale * filter_scale[size_t(oc)] / out_scale);
  }
  p.input_offset = -in_zero, p.output_offset = out_zero, p.filter_offsets = filter_offsets.data(), p.multipliers = m.data();
  p.act_min = std::numeric_limits<T>::lowest(), p.act_max = std::numeric_limits<T>::max();
  const std::vector<T> x = random_values<T>(size_t(h * w * in_c), rng);
  const size_t filter_size = depthwise ? size_t(k * k * p.out_c) : size_t(p.out_c * k * k * in_c);
  const std::vector<T> f = random_values<T>(filter_size, rng);
  std::vector<int32_t> bias(size_t(p.out_c));
  for (int32_t& b : bias) b = int32_t(rng() % 2001) - 1000;
  std::vector<T> y(size_t(p.out_h * p.out_w * p.out_c));
  (depthwise ? qdepthwise_nhwc_ref<T> : qconv_nhwc_ref<T>)(p, x.data(), f.data(), bias.data(), y.data());
  int64_t off_by_one = 0;
  for (int64_t oy = 0; oy < p.out_h; ++oy)
    for (int64_t ox = 0; ox < p.out_w; ++ox)
      for (int64_t oc = 0; oc < p.out_c; ++oc) {
        double acc = bias[size_t(oc)];
        for (int64_t ky = 0; ky < k; ++ky)
          for (int64_t kx = 0; kx < k; ++kx) {
            const int64_t iy = oy * stride - p.pad_top + ky, ix = ox * stride - p.pad_left + kx;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            for (int64_t ic = depthwise ? oc / mult_or_out : 0; ic < (depthwise ? oc / mult_or_out + 1 : in_c); ++ic) {
              const double xv = double(x[size_t((iy * w + ix) * in_c + ic)]) - in_zero;
              const size_t fi = depthwise ? size_t((ky * k + kx) * p.out_c + oc) : size_t(((oc * k + ky) * k + kx) * in_c + ic);
              acc += (double(f[fi]) + filter_offsets[size_t(oc)]) * xv;
            }
          }
        const double want = std::clamp(std::round(acc * real_of(m[size_t(oc)])) + out_zero, double(p.act_min), double(p.act_max));
        const double got = y[size_t((oy * p.out_w + ox) * p.out_c + oc)];
        ASSERT_LE(std::abs(got - want), 1.0) << "at " << oy << "," << ox << "," << oc;
        off_by_one += got != want;
      }
  EXPECT_LT(double(off_by_one), 0.01 * double(y.size()) + 1) << "one step off only where two roundings meet";
}

TEST(QuantizedNhwc, ConvolutionsMatchRealArithmeticWithinOneStep) {
  conv_matches_real_arithmetic<uint8_t>(false, 1, 1, 1, 1, 1, 1);
  conv_matches_real_arithmetic<uint8_t>(false, 7, 5, 3, 9, 3, 2);
  conv_matches_real_arithmetic<int8_t>(false, 9, 11, 17, 5, 3, 1);
  conv_matches_real_arithmetic<uint8_t>(true, 6, 9, 5, 1, 3, 1);
  conv_matches_real_arithmetic<int8_t>(true, 13, 4, 3, 2, 5, 2);
}

TEST(QuantizedNhwc, AveragePoolRoundsHalvesAwayFromZeroOverCoveredPixels) {
  QPoolParams p;
  p.in_h = 2, p.in_w = 3, p.channels = 1, p.out_h = 2, p.out_w = 3, p.k_h = 2, p.k_w = 2, p.pad_top = 0, p.pad_left = 0;
  p.act_min = -128, p.act_max = 127;
  // Windows at the bottom and right edge cover fewer pixels: the count is what they cover.
  const std::vector<int8_t> x = {1, 2, 3, 4, 5, -6};
  std::vector<int8_t> y(6);
  qaverage_pool_nhwc_ref<int8_t>(p, x.data(), y.data());
  EXPECT_EQ(y[0], 3);   // (1+2+4+5)/4 = 3
  EXPECT_EQ(y[1], 1);   // (2+3+5-6)/4 = 1
  EXPECT_EQ(y[2], -2);  // (3-6)/2 = -1.5 -> -2
  EXPECT_EQ(y[3], 5);   // (4+5)/2 = 4.5 -> 5
  EXPECT_EQ(y[5], -6);
}

TEST(QuantizedNhwc, AddAndSoftmaxMatchRealArithmeticWithinOneStep) {
  std::mt19937 rng(3);
  for (int64_t n : {1, 15, 1001}) {
    const auto a = random_values<uint8_t>(size_t(n), rng), b = random_values<uint8_t>(size_t(n), rng);
    const QAddParams p = make_qadd_params(0.03f, 128, 0.011f, 100, 0.04f, 120, 0, 255);
    std::vector<uint8_t> y(static_cast<size_t>(n));
    Broadcast same;
    ASSERT_TRUE(broadcast_of({n}, {n}, same));
    qadd_ref<uint8_t>(p, same, a.data(), b.data(), y.data());
    for (int64_t i = 0; i < n; ++i) {
      const double real = 0.03 * (a[size_t(i)] - 128) + 0.011 * (b[size_t(i)] - 100);
      EXPECT_LE(std::abs(y[size_t(i)] - std::clamp(std::round(real / 0.04) + 120, 0.0, 255.0)), 1.0) << i;
    }
    const QSoftmaxParams sp = make_qsoftmax_params(1.0, 0.1);
    std::vector<uint8_t> s(static_cast<size_t>(n));
    qsoftmax_ref<uint8_t>(sp, 1, n, a.data(), s.data());
    double max_in = 0, sum = 0;
    for (uint8_t v : a) max_in = std::max(max_in, double(v));
    for (uint8_t v : a) sum += std::exp(0.1 * (v - max_in));
    for (int64_t i = 0; i < n; ++i)
      EXPECT_LE(std::abs(double(s[size_t(i)]) - std::min(255.0, std::round(std::exp(0.1 * (a[size_t(i)] - max_in)) / sum * 256))), 1.0) << i;
  }
}


TEST(QuantizedNhwc, BroadcastWalksNumpyRules) {
  Broadcast bc;
  ASSERT_TRUE(broadcast_of({48, 48, 1}, {1, 17}, bc));
  EXPECT_EQ(bc.out, (std::vector<int64_t>{48, 48, 17}));
  std::vector<std::array<int64_t, 3>> seen;
  ASSERT_TRUE(broadcast_of({2, 1, 3}, {4, 1}, bc));
  for_each_pair(bc, [&](int64_t i, int64_t a, int64_t b) { seen.push_back({i, a, b}); });
  ASSERT_EQ(seen.size(), 24u);
  for (const auto& [i, a, b] : seen) {  // out[n][r][c] reads a[n][0][c] and b[r][0]
    const int64_t n = i / 12, r = (i / 3) % 4, c = i % 3;
    EXPECT_EQ(a, n * 3 + c) << i;
    EXPECT_EQ(b, r) << i;
  }
  EXPECT_FALSE(broadcast_of({3, 2}, {3}, bc));
  EXPECT_TRUE(broadcast_of({}, {5}, bc));
  EXPECT_EQ(bc.out, (std::vector<int64_t>{5}));
}

TEST(QuantizedNhwc, SubMulAndLogisticMatchRealArithmeticWithinOneStep) {
  std::mt19937 rng(5);
  for (const auto& [sa, sb] : {std::pair<std::vector<int64_t>, std::vector<int64_t>>{{7, 5, 1}, {1, 3}}, {{1}, {9, 4}}, {{33}, {33}}}) {
    Broadcast bc;
    ASSERT_TRUE(broadcast_of(sa, sb, bc));
    int64_t na = 1, nb = 1, n = 1;
    for (int64_t d : sa) na *= d;
    for (int64_t d : sb) nb *= d;
    for (int64_t d : bc.out) n *= d;
    const auto a = random_values<int8_t>(size_t(na), rng), b = random_values<int8_t>(size_t(nb), rng);
    QAddParams sub = make_qadd_params(0.05f, 3, 0.02f, -7, 0.06f, -1, -128, 127);
    sub.b_multiplier.q = -sub.b_multiplier.q;
    QMulParams mul;
    mul.a_offset = -3, mul.b_offset = 7, mul.output_offset = 5, mul.act_min = -128, mul.act_max = 127;
    mul.multiplier = fxp::quantize_multiplier(double(0.05f * 0.02f / 0.01f));
    std::vector<int8_t> ys(static_cast<size_t>(n)), ym(static_cast<size_t>(n));
    qadd_ref<int8_t>(sub, bc, a.data(), b.data(), ys.data());
    qmul_ref<int8_t>(mul, bc, a.data(), b.data(), ym.data());
    for_each_pair(bc, [&](int64_t i, int64_t ai, int64_t bi) {
      const double x = 0.05 * (a[size_t(ai)] - 3), z = 0.02 * (b[size_t(bi)] + 7);
      EXPECT_LE(std::abs(ys[size_t(i)] - std::clamp(std::round((x - z) / 0.06) - 1, -128.0, 127.0)), 1.0) << i;
      EXPECT_LE(std::abs(ym[size_t(i)] - std::clamp(std::round(x * z / 0.01) + 5, -128.0, 127.0)), 1.0) << i;
    });
  }
  // uint8 (zero point 0 out): every input.
  {
    const QLogisticParams p = make_qlogistic_params(0.05f, 128);
    std::vector<uint8_t> x(256), y(256);
    for (int v = 0; v < 256; ++v) x[size_t(v)] = uint8_t(v);
    qlogistic_ref<uint8_t>(p, 256, x.data(), y.data());
    for (size_t i = 0; i < 256; ++i) {
      const double real = 1.0 / (1.0 + std::exp(-0.05 * (int(x[i]) - 128)));
      EXPECT_LE(std::abs(int(y[i]) - std::min(std::round(real * 256), 255.0)), 1.0) << "uint8 input " << int(x[i]);
    }
  }
  // The logistic over every int8 input, for a small and a large input scale (the large one saturates early).
  for (float scale : {0.02f, 0.3f}) {
    const QLogisticParams p = make_qlogistic_params(scale, 10);
    std::vector<int8_t> x(256), y(256);
    for (int v = -128; v < 128; ++v) x[size_t(v + 128)] = int8_t(v);
    qlogistic_ref<int8_t>(p, 256, x.data(), y.data());
    for (size_t i = 0; i < 256; ++i) {
      const double real = 1.0 / (1.0 + std::exp(-scale * (x[i] - 10)));
      EXPECT_LE(std::abs(y[i] - std::clamp(std::round(real * 256) - 128, -128.0, 127.0)), 1.0) << "scale " << scale << " input " << int(x[i]);
    }
  }
}

}  // namespace
}  // namespace pareto::kernels
