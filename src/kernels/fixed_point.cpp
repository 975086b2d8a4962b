#include "kernels/fixed_point.h"

namespace pareto::kernels::fxp {

namespace {

inline int32_t mul(int32_t a, int32_t b) { return rounding_doubling_high_mul(a, b); }

// exp(-2^k) in Q0.31 for k = -2 .. 4: multiplies in one factor per set bit
// of the input's integer and upper fractional part.
struct ExpStep {
  int exponent;
  int32_t factor;
};
constexpr ExpStep kExpSteps[] = {{-2, 1672461947}, {-1, 1302514674}, {0, 790015084}, {1, 290630308},
                                 {2, 39332535},    {3, 720401},      {4, 242}};

}  // namespace

int32_t exp_on_quarter_interval(int32_t a) {
  constexpr int32_t kExpMinusEighth = 1895147668;  // exp(-1/8) in Q0.31
  constexpr int32_t kOneThird = 715827883;
  const int32_t x = a + (1 << 28);  // a + 1/8
  const int32_t x2 = mul(x, x), x3 = mul(x2, x), x4 = mul(x2, x2);
  const int32_t x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2);
  // x^4/24 + x^3/6 + x^2/2 = ((x^4/4 + x^3) / 3 + x^2) / 2
  const int32_t poly = saturating_rounding_multiply_by_pot(mul(x4_over_4 + x3, kOneThird) + x2, -1);
  return kExpMinusEighth + mul(kExpMinusEighth, x + poly);
}

int32_t exp_on_negative_values(int32_t a, int integer_bits) {
  const int fractional_bits = 31 - integer_bits;
  const int32_t one_quarter = int32_t(1) << (fractional_bits - 2);
  // a = (a mod 1/4 - 1/4) - remainder: exp of the first part by polynomial,
  // of the remainder (a sum of powers of two) by the table of factors.
  const int32_t a_mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter;
  int32_t result = exp_on_quarter_interval(saturating_rounding_multiply_by_pot(a_mod_quarter_minus_quarter, integer_bits));
  const int32_t remainder = a_mod_quarter_minus_quarter - a;
  for (const ExpStep& s : kExpSteps) {
    if (integer_bits <= s.exponent) continue;
    const int bit = fractional_bits + s.exponent;
    if (remainder & (int32_t(1) << bit)) result = mul(result, s.factor);
  }
  if (integer_bits > 5 && a < -(int32_t(1) << (36 - integer_bits))) result = 0;  // below -32: exp rounds to 0
  if (a == 0) result = std::numeric_limits<int32_t>::max();
  return result;
}

int32_t one_over_one_plus_x(int32_t a) {
  // Newton-Raphson on half the denominator (1 + a) / 2, in Q2.29, from the
  // linear first guess 48/17 - 32/17 * d.
  constexpr int32_t k48Over17 = 1515870810, kMinus32Over17 = -1010580540, kOneQ2 = int32_t(1) << 29;
  const int32_t half_denominator = rounding_half_sum(a, std::numeric_limits<int32_t>::max());
  int32_t x = k48Over17 + mul(half_denominator, kMinus32Over17);
  for (int i = 0; i < 3; ++i) {
    const int32_t one_minus_dx = kOneQ2 - mul(half_denominator, x);
    x = x + saturating_rounding_multiply_by_pot(mul(x, one_minus_dx), 2);
  }
  // x is 1 / half_denominator in Q2.29; 1 / (1 + a) is half of that, in Q0.31.
  return saturating_rounding_multiply_by_pot(x, 1);
}

int32_t reciprocal(int32_t x, int x_integer_bits, int& bits_over_unit) {
  const int headroom_plus_one = x > 0 ? __builtin_clz(uint32_t(x)) : 0;
  bits_over_unit = x_integer_bits - headroom_plus_one;
  const int32_t shifted_minus_one = int32_t((uint32_t(x) << headroom_plus_one) - (uint32_t(1) << 31));
  return one_over_one_plus_x(shifted_minus_one);
}

}  // namespace pareto::kernels::fxp
