// kernels::plane_sums (GlobalAveragePool's and squeeze-excite's pool; on
// AVX-512 sixteen planes at once) against plane_sum_ref plane by plane,
// bit for bit: plane counts around its groups of 16, plane sizes with and
// without a tail, planes apart by more than their size, values spread over
// magnitudes so the order of additions shows in the bits, negative zeros;
// and plane_means (chunks of large planes) against plane_mean_ref.
#include <gtest/gtest.h>

#include <cstdint>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/conv.h"

using namespace pareto::kernels;

namespace {

// Values spread over magnitudes 2^-16 .. 2^15, some negative zeros.
std::vector<float> spread(size_t size, uint32_t seed) {
  std::vector<float> s(size);
  uint32_t st = seed;
  for (float& v : s) {
    st = st * 1664525u + 1013904223u;
    const int e = int(st >> 27) - 16;
    v = std::ldexp(float(int32_t(st >> 8) % 1000 - 500) / 500.f, e);
    if ((st & 0xFF) == 7) v = -0.f;
  }
  return s;
}

}  // namespace

TEST(PlaneSums, SameBitsAsThePlaneByPlaneSum) {
  for (int64_t n : {1, 7, 15, 16, 17, 48, 192, 193, 576})
    for (int64_t count : {1, 5, 15, 16, 17, 31, 32, 33, 200})
      for (int64_t stride : {n, n + 21}) {
        const std::vector<float> s = spread(size_t(stride * count), uint32_t(n * 131 + count));
        std::vector<float> got(size_t(count) + 4, 99.f), want(size_t(count) + 4, 99.f);
        plane_sums(s.data(), n, stride, count, got.data());
        for (int64_t p = 0; p < count; ++p) want[size_t(p)] = plane_sum_ref(s.data() + p * stride, n);
        ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float))) << "n " << n << " count " << count << " stride " << stride;
      }
}

// The means in chunks: the bits of plane_mean_ref (its chunks summed in
// order) at 1 and 2 threads, planes whole below 1024 values (then the
// plain sum's bits), an even count of chunks of whole vectors above (the
// last one short), nothing written past the count.
TEST(PlaneSums, MeansInChunksSameBitsAtAnyThreadCount) {
  EXPECT_EQ(plane_sum_chunk(1023), 1023);
  EXPECT_EQ(plane_sum_chunk(25600), 3200);  // PP-OCR det's 160 x 160: 8 chunks, the thread split at row 80
  for (int64_t n : {int64_t(1), int64_t(1000), int64_t(1023), int64_t(1024), int64_t(1025), int64_t(6400), int64_t(25607)}) {
    const int64_t chunk = plane_sum_chunk(n), chunks = (n + chunk - 1) / chunk;
    EXPECT_EQ(chunk % 16 == 0 || chunks == 1, true) << n;
    EXPECT_EQ(chunks == 1 || chunks % 2 == 0, true) << n;
    for (int64_t count : {int64_t(1), int64_t(17), int64_t(96)}) {
      const std::vector<float> s = spread(size_t(n * count), uint32_t(n + 7 * count));
      std::vector<float> want(size_t(count) + 4, 99.f);
      for (int64_t p = 0; p < count; ++p) want[size_t(p)] = plane_mean_ref(s.data() + p * n, n);
      if (chunks == 1) {
        for (int64_t p = 0; p < count; ++p) ASSERT_EQ(want[size_t(p)], plane_sum_ref(s.data() + p * n, n) / float(n)) << n;
      }
      for (int threads : {1, 2}) {
        pareto::set_num_threads(threads);
        std::vector<float> got(size_t(count) + 4, 99.f);
        plane_means(s.data(), n, count, got.data());
        ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float))) << "n " << n << " count " << count << " threads " << threads;
      }
    }
  }
  pareto::set_num_threads(1);
}

// Planes of negative zeros sum to +0, as the twin's 0 + (-0).
TEST(PlaneSums, NegativeZerosSumToPositiveZero) {
  std::vector<float> s(size_t(16 * 20), -0.f);
  std::vector<float> got(16);
  plane_sums(s.data(), 20, 20, 16, got.data());
  for (float v : got) EXPECT_FALSE(std::signbit(v));
}
