// GPTQ's dense factorizations: the blocked Cholesky and triangular inverse
// give their unblocked twins' bits (memcmp) at 1 and 2 threads on sizes that
// put the 64-wide panels and the 4-wide tiles' tails everywhere, and the
// factor GPTQ uses satisfies U^T U H = I with U upper and a positive diagonal.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "quant/gptq.h"
#include "quant/spd_factor.h"

using namespace pareto;

namespace {

// X^T X / tokens + 0.01 I from Gaussian inputs with correlated columns (each
// column mixes its neighbour, as real activations do), and one dead input.
std::vector<double> spd(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> d(0, 1);
  const int64_t tokens = n + 17;
  std::vector<double> x(size_t(tokens * n));
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t j = 0; j < n; ++j) x[size_t(t * n + j)] = d(rng) + (j ? 0.7 * x[size_t(t * n + j - 1)] : 0);
  if (n > 2)
    for (int64_t t = 0; t < tokens; ++t) x[size_t(t * n + n / 2)] = 0;
  std::vector<double> h(size_t(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t t = 0; t < tokens; ++t) s += x[size_t(t * n + i)] * x[size_t(t * n + j)];
      h[size_t(i * n + j)] = s / double(tokens) + (i == j ? 0.01 : 0);
    }
  return h;
}

const int64_t kSizes[] = {1, 2, 3, 5, 63, 64, 65, 67, 131, 200};

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

}  // namespace

TEST(SpdFactor, BlockedCholeskyIsTheUnblockedBitForBit) {
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (int64_t n : kSizes) {
      const std::vector<double> h = spd(n, uint32_t(n));
      std::vector<double> blocked = h, plain = h;
      ASSERT_TRUE(quant::cholesky_lower(blocked, n));
      ASSERT_TRUE(quant::cholesky_lower_unblocked(plain, n));
      EXPECT_TRUE(same_bits(blocked, plain)) << "n=" << n << " threads=" << threads;
      // And it is a factor: L L^T = H to rounding.
      double worst = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j <= i; ++j) {
          double s = 0;
          for (int64_t k = 0; k <= j; ++k) s += blocked[size_t(i * n + k)] * blocked[size_t(j * n + k)];
          worst = std::max(worst, std::abs(s - h[size_t(i * n + j)]) / std::sqrt(h[size_t(i * n + i)] * h[size_t(j * n + j)]));
        }
      EXPECT_LT(worst, 1e-12) << "n=" << n;
    }
  }
  set_num_threads(1);
}

TEST(SpdFactor, BlockedLowerInverseIsTheUnblockedBitForBit) {
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (int64_t n : kSizes) {
      std::vector<double> l = spd(n, uint32_t(n + 100));
      ASSERT_TRUE(quant::cholesky_lower_unblocked(l, n));
      EXPECT_TRUE(same_bits(quant::lower_inverse(l, n), quant::lower_inverse_unblocked(l, n))) << "n=" << n << " threads=" << threads;
    }
  }
  set_num_threads(1);
}

TEST(SpdFactor, InverseUpperCholeskyIsGptqsFactor) {
  for (int64_t n : kSizes) {
    const std::vector<double> h = spd(n, uint32_t(n + 200));
    std::vector<double> u;
    ASSERT_TRUE(quant::inverse_upper_cholesky(h, n, 0.0, u));
    ASSERT_EQ(u.size(), size_t(n * n));
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_GT(u[size_t(i * n + i)], 0) << "n=" << n << " i=" << i;
      for (int64_t j = 0; j < i; ++j) EXPECT_EQ(u[size_t(i * n + j)], 0) << "n=" << n;
    }
    // U^T U = H^-1, checked as (U^T U) H = I; H's condition number here is
    // at most about 1e4, so 1e-9 leaves room for rounding only.
    std::vector<double> uu(size_t(n * n), 0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t k = 0; k <= std::min(i, j); ++k) s += u[size_t(k * n + i)] * u[size_t(k * n + j)];
        uu[size_t(i * n + j)] = s;
      }
    double worst = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t k = 0; k < n; ++k) s += uu[size_t(i * n + k)] * h[size_t(k * n + j)];
        worst = std::max(worst, std::abs(s - (i == j ? 1.0 : 0.0)));
      }
    EXPECT_LT(worst, 1e-9) << "n=" << n;
    // The damping added inside is H + dI factored: the same bits.
    std::vector<double> damped = h, u_damped, u_inside;
    for (int64_t i = 0; i < n; ++i) damped[size_t(i * n + i)] += 0.125;
    ASSERT_TRUE(quant::inverse_upper_cholesky(damped, n, 0.0, u_damped));
    ASSERT_TRUE(quant::inverse_upper_cholesky(h, n, 0.125, u_inside));
    EXPECT_TRUE(same_bits(u_damped, u_inside)) << "n=" << n;
  }
}

TEST(SpdFactor, NotPositiveDefiniteIsReported) {
  for (int64_t n : {1, 3, 70}) {
    std::vector<double> h = spd(n, 7);
    h[size_t((n - 1) * n + (n - 1))] = -1;  // a negative pivot, last in the reversed order's first panel or the plain order's last
    std::vector<double> a = h, u;
    EXPECT_FALSE(quant::cholesky_lower(a, n));
    EXPECT_FALSE(quant::inverse_upper_cholesky(h, n, 0.0, u));
    EXPECT_TRUE(u.empty());
  }
}

// GPTQ's Hessian, blocked over tokens and columns on the update kernel:
// the textbook sum over tokens in order, bit for bit, with a dead input,
// on sizes off the 8-row, 16-column, 128-token and 256-column blocks.
TEST(SpdFactor, GptqHessianIsTheTextbookSumBitForBit) {
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (int64_t cols : {1, 5, 17, 300})
      for (int64_t tokens : {1, 3, 130, 257}) {
        std::mt19937 rng(uint32_t(cols * 1000 + tokens));
        std::normal_distribution<float> d(0.f, 3.f);
        std::vector<float> x(size_t(tokens * cols));
        for (float& v : x) v = d(rng);
        for (int64_t t = 0; t < tokens; ++t) x[size_t(t * cols + cols / 2)] = 0;  // a dead input
        std::vector<double> want(size_t(cols * cols), 0);
        for (int64_t i = 0; i < cols; ++i)
          for (int64_t t = 0; t < tokens; ++t)
            for (int64_t j = 0; j < cols; ++j) want[size_t(i * cols + j)] += double(x[size_t(t * cols + i)]) * double(x[size_t(t * cols + j)]);
        EXPECT_TRUE(same_bits(quant::gptq_hessian(x, cols), want)) << cols << " cols, " << tokens << " tokens, " << threads << " threads";
      }
  }
  set_num_threads(1);
}
