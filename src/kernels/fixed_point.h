// Integer arithmetic of TFLite's quantized kernels (gemmlowp conventions):
// a real multiplier as a Q0.31 integer and a power-of-two exponent,
// rounding doubling high multiplies, rounding shifts, and the fixed-point
// exp and reciprocal its softmax uses. Quantized TFLite models are defined
// by this arithmetic, so outputs equal TFLite's only when each rounding
// step is the same: every function here states the rounding it does.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

namespace pareto::kernels::fxp {

// A real multiplier m = q * 2^(shift - 31) with q in [2^30, 2^31) (or 0).
struct Multiplier {
  int32_t q = 0;
  int shift = 0;
};

// frexp, rounded half away from zero; multipliers below 2^-31 become 0.
inline Multiplier quantize_multiplier(double m) {
  Multiplier r;
  if (m == 0.0 || !std::isfinite(m)) return r;  // callers refuse non-finite scales; 0 keeps this total
  int exponent = 0;
  const double frac = std::frexp(m, &exponent);
  int64_t q = int64_t(std::round(frac * double(int64_t(1) << 31)));
  if (q == (int64_t(1) << 31)) q /= 2, ++exponent;
  if (exponent < -31) return r;
  if (exponent > 30) exponent = 30, q = (int64_t(1) << 31) - 1;  // saturate: no real model scale gets here
  r.q = int32_t(q);
  r.shift = exponent;
  return r;
}

// round(a * b / 2^31), halves away from zero, saturating the one overflow (MIN * MIN).
inline int32_t rounding_doubling_high_mul(int32_t a, int32_t b) {
  if (a == b && a == std::numeric_limits<int32_t>::min()) return std::numeric_limits<int32_t>::max();
  const int64_t ab = int64_t(a) * int64_t(b);
  const int64_t nudge = ab >= 0 ? (int64_t(1) << 30) : (1 - (int64_t(1) << 30));
  return int32_t((ab + nudge) / (int64_t(1) << 31));  // division truncates toward zero
}

// x / 2^exponent, rounded to nearest with halves away from zero. In 64
// bits, so exponents of 31 and more (a softmax over many equal values
// reaches them; TFLite's int32 shift is undefined there) give the rounded
// quotient too.
inline int32_t rounding_divide_by_pot(int32_t x, int exponent) {
  if (exponent <= 0) return x;
  if (exponent > 62) return 0;
  const int64_t mask = (int64_t(1) << exponent) - 1;
  const int64_t remainder = int64_t(x) & mask;
  const int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return int32_t((int64_t(x) >> exponent) + (remainder > threshold ? 1 : 0));
}

// a + b with int32's two's-complement wrap (TFLite's accumulators wrap on
// the machines it runs on; signed overflow in C++ is undefined).
inline int32_t wrapping_add(int32_t a, int32_t b) { return int32_t(uint32_t(a) + uint32_t(b)); }

// x * m for the multiplier m (any shift: left part exact, right part rounded).
inline int32_t multiply_by_multiplier(int32_t x, Multiplier m) {
  // quantize_multiplier keeps shift in [-31, 30].
  const int left = m.shift > 0 ? m.shift : 0, right = m.shift > 0 ? 0 : -m.shift;
  // Wraps like TFLite's int32 arithmetic when x << left overflows (never for real scales).
  const int32_t shifted = int32_t(uint32_t(x) << left);
  return rounding_divide_by_pot(rounding_doubling_high_mul(shifted, m.q), right);
}

// x * 2^exponent saturated to int32 (exponent > 0), or rounded (exponent < 0).
inline int32_t saturating_rounding_multiply_by_pot(int32_t x, int exponent) {
  if (exponent < 0) return rounding_divide_by_pot(x, -exponent);
  if (exponent == 0) return x;
  const int32_t threshold = int32_t((int64_t(1) << (31 - exponent)) - 1);
  if (x > threshold) return std::numeric_limits<int32_t>::max();
  if (x < -threshold) return std::numeric_limits<int32_t>::min();
  return int32_t(uint32_t(x) << exponent);
}

// (a + b) / 2 rounded half away from zero, without overflow.
inline int32_t rounding_half_sum(int32_t a, int32_t b) {
  const int64_t sum = int64_t(a) + int64_t(b);
  return int32_t((sum + (sum >= 0 ? 1 : -1)) / 2);
}

// Fixed-point numbers are int32 with `I` integer bits (Q I.31-I); a product
// of Q a and Q b is Q a+b, computed by rounding_doubling_high_mul.

// exp(a) for a in [-1/4, 0) in Q0.31: Taylor expansion around -1/8 to the fourth power.
int32_t exp_on_quarter_interval(int32_t a);
// exp(a) for a <= 0, a in Q(integer_bits).(31-integer_bits); result Q0.31.
int32_t exp_on_negative_values(int32_t a, int integer_bits);
// 1 / (1 + a) for a in [0, 1) in Q0.31 (three Newton-Raphson steps); result Q0.31.
int32_t one_over_one_plus_x(int32_t a);
// The reciprocal of x (Q x_integer_bits), as TFLite's softmax scales by it:
// returns 1 / (x / 2^bits_over_unit) in Q0.31 and sets bits_over_unit.
int32_t reciprocal(int32_t x, int x_integer_bits, int& bits_over_unit);

}  // namespace pareto::kernels::fxp
