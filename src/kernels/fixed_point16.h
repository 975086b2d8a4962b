// gemmlowp's fixed-point arithmetic on int16 raw values, as TFLite's
// integer LSTM (its 8x8_16 kernel) computes its gates: Q3.12 gate sums
// through logistic and tanh to Q0.15. A value with I integer bits is an
// int16 holding x * 2^(15 - I). Plain + and - wrap like int16 arithmetic
// (gemmlowp's scalar int16 operators); products are rounding doubling high
// multiplies; every rounding is the one gemmlowp does, because the model's
// outputs are defined by it.
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/fixed_point.h"

namespace pareto::kernels::fxp16 {

inline int16_t wrap(int32_t x) { return int16_t(uint16_t(uint32_t(x))); }
inline int16_t saturate(int32_t x) { return int16_t(std::clamp<int32_t>(x, INT16_MIN, INT16_MAX)); }

// round(a * b / 2^15), halves away from zero; MIN * MIN saturates.
inline int16_t rdhm(int16_t a, int16_t b) {
  if (a == b && a == INT16_MIN) return INT16_MAX;
  const int32_t ab = int32_t(a) * int32_t(b);
  const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
  return int16_t((ab + nudge) / (1 << 15));  // truncates toward zero
}

// x / 2^exponent rounded to nearest, halves away from zero (the int32 rule
// gives the same value for int16 inputs).
inline int16_t rounding_divide_by_pot(int16_t x, int exponent) { return int16_t(fxp::rounding_divide_by_pot(x, exponent)); }

// x * 2^exponent: saturated for exponent > 0, rounded for exponent < 0.
inline int16_t saturating_multiply_by_pot(int16_t x, int exponent) {
  if (exponent < 0) return rounding_divide_by_pot(x, -exponent);
  if (exponent == 0) return x;
  const int32_t threshold = (1 << (15 - exponent)) - 1;
  if (x > threshold) return INT16_MAX;
  if (x < -threshold) return INT16_MIN;
  return wrap(int32_t(x) * (1 << exponent));
}

// gemmlowp writes its constants as Q0.31 int32 literals; an int16 type
// takes them rounded to 16 bits.
inline int16_t constant(int32_t q31) { return int16_t(fxp::rounding_divide_by_pot(q31, 16)); }

inline int16_t rounding_half_sum(int16_t a, int16_t b) {
  const int32_t sum = int32_t(a) + int32_t(b);
  return int16_t((sum + (sum >= 0 ? 1 : -1)) / 2);
}

constexpr int16_t kOneQ0 = INT16_MAX;  // "one" with no integer bits is the largest value
constexpr int16_t kOneQ2 = 1 << 13;

// exp(a) for a in [-1/4, 0), Q0.15: Taylor expansion around -1/8.
inline int16_t exp_on_quarter_interval(int16_t a) {
  const int16_t constant_term = constant(1895147668), one_third = constant(715827883);
  const int16_t x = wrap(a + (1 << 12));  // a + 1/8
  const int16_t x2 = rdhm(x, x), x3 = rdhm(x2, x), x4 = rdhm(x2, x2);
  const int16_t x4_over_4 = rounding_divide_by_pot(x4, 2);
  const int16_t poly = rounding_divide_by_pot(wrap(rdhm(wrap(x4_over_4 + x3), one_third) + x2), 1);
  return saturate(int32_t(constant_term) + rdhm(constant_term, wrap(x + poly)));
}

// exp(a) for a <= 0 with `integer_bits` integer bits; result Q0.15.
inline int16_t exp_on_negative_values(int16_t a, int integer_bits) {
  const int fractional = 15 - integer_bits;
  const int16_t one_quarter = int16_t(1 << (fractional - 2));
  const int16_t a_mod_quarter_minus_quarter = wrap((a & (one_quarter - 1)) - one_quarter);
  int16_t result = exp_on_quarter_interval(saturating_multiply_by_pot(a_mod_quarter_minus_quarter, integer_bits));
  const int16_t remainder = wrap(a_mod_quarter_minus_quarter - a);
  // exp(-2^k) for k = -2 .. 4, applied for each whole power of two in -a.
  static constexpr struct {
    int exponent;
    int32_t multiplier;
  } kBarrel[] = {{-2, 1672461947}, {-1, 1302514674}, {0, 790015084}, {1, 290630308}, {2, 39332535}, {3, 720401}, {4, 242}};
  for (const auto& b : kBarrel) {
    if (integer_bits <= b.exponent) continue;
    const int shift = fractional + b.exponent;
    if (shift < 16 && (remainder & (1 << shift)) != 0) result = rdhm(result, constant(b.multiplier));
  }
  if (integer_bits > 5) {
    const int16_t clamp = constant(-(1 << (36 - integer_bits)));
    if (a < clamp) result = 0;
  }
  if (a == 0) result = kOneQ0;
  return result;
}

// Newton-Raphson for 1 / (1 + a), a in [0, 1): three steps from 48/17 - 32/17 d, in Q2.13.
inline int16_t reciprocal_steps(int16_t half_denominator) {
  int16_t x = wrap(constant(1515870810) + rdhm(half_denominator, constant(-1010580540)));
  for (int i = 0; i < 3; ++i) {
    const int16_t one_minus = wrap(kOneQ2 - rdhm(half_denominator, x));
    x = wrap(x + saturating_multiply_by_pot(rdhm(x, one_minus), 2));
  }
  return x;
}

// 1 / (1 + a) for a in [0, 1) in Q0.15.
inline int16_t one_over_one_plus_x(int16_t a) { return saturating_multiply_by_pot(reciprocal_steps(rounding_half_sum(a, kOneQ0)), 1); }

// (1 - a) / (1 + a) for a in [0, 1) in Q0.15.
inline int16_t one_minus_x_over_one_plus_x(int16_t a) {
  return saturating_multiply_by_pot(wrap(reciprocal_steps(rounding_half_sum(a, kOneQ0)) - kOneQ2), 2);
}

// 1 / (1 + exp(-a)) of a value with `integer_bits` integer bits; Q0.15.
inline int16_t logistic(int16_t a, int integer_bits) {
  if (a == 0) return constant(1 << 30);
  const bool positive = a > 0;
  const int16_t magnitude = positive ? a : wrap(-a);
  const int16_t p = one_over_one_plus_x(exp_on_negative_values(wrap(-magnitude), integer_bits));
  return positive ? p : wrap(kOneQ0 - p);
}

// tanh(a) of a value with `integer_bits` integer bits; Q0.15. exp(2n) for
// n <= 0 is read as n with one more integer bit (the raw value unchanged).
inline int16_t tanh(int16_t a, int integer_bits) {
  if (a == 0) return 0;
  const bool negative = a < 0;
  const int16_t n = negative ? a : wrap(-a);
  const int16_t t = one_minus_x_over_one_plus_x(exp_on_negative_values(n, integer_bits + 1));
  return negative ? wrap(-t) : t;
}

}  // namespace pareto::kernels::fxp16
