// The int8 MatMul (swapped-role VNNI GEMM + exact corrections) against its
// direct-loop twin, bit for bit: awkward sizes (1, odd, tails of the
// 16-column vectors and 64-column panels, more rows than one row block),
// zero points at both ends, saturating inputs, the largest k, 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/int8_matmul.h"
#include "kernel_test_util.h"

using namespace pareto;
using namespace pareto::kernels;

namespace {

struct Case {
  int64_t rows, k, n;
};

void expect_same(const std::vector<float>& want, const std::vector<float>& got, const std::string& what) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_EQ(std::memcmp(&want[i], &got[i], sizeof(float)), 0) << what << " at " << i << ": " << want[i] << " vs " << got[i];
}

std::vector<int8_t> random_weights(size_t n, uint32_t seed) {
  std::vector<int8_t> w(n);
  std::mt19937 rng(seed);
  for (int8_t& v : w) v = int8_t(int32_t(rng() % 256) - 128);
  return w;
}

}  // namespace

TEST(Int8Matmul, MatchesReferenceOnAwkwardSizes) {
  const std::vector<Case> cases = {{1, 1, 1},    {1, 3, 15},   {3, 4, 16},    {5, 5, 17},   {2, 7, 63},   {7, 120, 64},
                                   {9, 121, 65}, {40, 120, 200}, {129, 33, 70}, {300, 257, 31}, {17, 64, 129}};
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const Case& c : cases)
      for (int32_t zero : {0, 7, 128, 255}) {
        // Inputs past both ends of the uint8 range saturate, as QuantizeLinear does.
        std::vector<float> x = pareto::testing::uniform(size_t(c.rows * c.k), uint32_t(c.k * 31 + zero), -3.f, 3.f);
        const std::vector<int8_t> w = random_weights(size_t(c.k * c.n), uint32_t(c.n + zero));
        std::vector<float> scale = pareto::testing::uniform(size_t(c.n), 5, 1e-4f, 2e-2f);
        const float x_scale = 0.013f;
        const Int8MatmulWeights packed = pack_int8_matmul_weights(w.data(), c.k, c.n);
        // Sentinels around y: nothing is written past its rows.
        std::vector<float> want(size_t(c.rows * c.n + 8), -9.f), got(size_t(c.rows * c.n + 8), -9.f);
        int8_matmul_ref(x.data(), c.rows, c.k, c.n, w.data(), x_scale, zero, scale.data(), want.data());
        int8_matmul(x.data(), c.rows, packed, x_scale, zero, scale.data(), got.data());
        expect_same(want, got,
                    "rows=" + std::to_string(c.rows) + " k=" + std::to_string(c.k) + " n=" + std::to_string(c.n) + " zero=" +
                        std::to_string(zero) + " threads=" + std::to_string(threads));
      }
  }
  set_num_threads(1);
}

// k at the limit with every product at its extreme: the corrections'
// parts wrap 32 bits, the sum they give must not.
TEST(Int8Matmul, LargestKWithExtremeValuesIsExact) {
  const int64_t rows = 3, k = 65536, n = 17;
  std::vector<float> x(size_t(rows * k));
  for (int64_t i = 0; i < rows * k; ++i) x[size_t(i)] = (i / k == 1) ? -1e9f : 1e9f;  // rows of 255 and of 0
  std::vector<int8_t> w(size_t(k * n));
  for (int64_t i = 0; i < k * n; ++i) w[size_t(i)] = (i % n) % 2 ? int8_t(127) : int8_t(-128);
  std::vector<float> scale(size_t(n), 1.f);
  for (int32_t zero : {0, 255}) {
    std::vector<float> want(size_t(rows * n)), got(size_t(rows * n));
    int8_matmul_ref(x.data(), rows, k, n, w.data(), 1.f, zero, scale.data(), want.data());
    int8_matmul(x.data(), rows, pack_int8_matmul_weights(w.data(), k, n), 1.f, zero, scale.data(), got.data());
    expect_same(want, got, "zero=" + std::to_string(zero));
    // Row 0 with zero 0: 255 * -128 * 65536, the most negative sum there is.
    if (zero == 0) {
      EXPECT_EQ(got[0], float(int64_t(255) * -128 * k));
    }
  }
}

TEST(Int8Matmul, NanInputRoundsToTheLowEnd) {
  const int64_t rows = 2, k = 5, n = 3;
  std::vector<float> x = {std::numeric_limits<float>::quiet_NaN(), 1, 2, 3, 4, 5, 6, 7, 8, std::numeric_limits<float>::infinity()};
  const std::vector<int8_t> w = random_weights(size_t(k * n), 3);
  std::vector<float> scale(size_t(n), 0.5f), want(size_t(rows * n)), got(size_t(rows * n));
  int8_matmul_ref(x.data(), rows, k, n, w.data(), 0.1f, 3, scale.data(), want.data());
  int8_matmul(x.data(), rows, pack_int8_matmul_weights(w.data(), k, n), 0.1f, 3, scale.data(), got.data());
  expect_same(want, got, "NaN and infinity");
}

TEST(Int8Matmul, RefusesOversizedK) {
  std::vector<int8_t> w(size_t(65537), 1);
  EXPECT_ANY_THROW(pack_int8_matmul_weights(w.data(), 65537, 1));
  EXPECT_ANY_THROW(pack_int8_matmul_weights(w.data(), 0, 1));
}
