// kernels::plane_sums (GlobalAveragePool's and squeeze-excite's pool; on
// AVX-512 sixteen planes at once) against plane_sum_ref plane by plane,
// bit for bit: plane counts around its groups of 16, plane sizes with and
// without a tail, values spread over magnitudes so the order of additions
// shows in the bits, negative zeros.
#include <gtest/gtest.h>

#include <cstdint>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/conv.h"

using namespace pareto::kernels;

TEST(PlaneSums, SameBitsAsThePlaneByPlaneSum) {
  for (int64_t n : {1, 7, 15, 16, 17, 48, 192, 193, 576})
    for (int64_t count : {1, 5, 15, 16, 17, 31, 32, 33, 200}) {
      std::vector<float> s(size_t(n * count));
      uint32_t st = uint32_t(n * 131 + count);
      for (float& v : s) {
        st = st * 1664525u + 1013904223u;
        const int e = int(st >> 27) - 16;  // magnitudes 2^-16 .. 2^15
        v = std::ldexp(float(int32_t(st >> 8) % 1000 - 500) / 500.f, e);
        if ((st & 0xFF) == 7) v = -0.f;
      }
      std::vector<float> got(size_t(count) + 4, 99.f), want(size_t(count) + 4, 99.f);
      plane_sums(s.data(), n, count, got.data());
      for (int64_t p = 0; p < count; ++p) want[size_t(p)] = plane_sum_ref(s.data() + p * n, n);
      ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float))) << "n " << n << " count " << count;
    }
}

// Planes of negative zeros sum to +0, as the twin's 0 + (-0).
TEST(PlaneSums, NegativeZerosSumToPositiveZero) {
  std::vector<float> s(size_t(16 * 20), -0.f);
  std::vector<float> got(16);
  plane_sums(s.data(), 20, 16, got.data());
  for (float v : got) EXPECT_FALSE(std::signbit(v));
}
