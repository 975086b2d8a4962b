// f64_subtract_products (GPTQ's factor update): the dispatched variant
// (AVX-512F where the CPU has it) and the reference both give, bit for bit,
// the textbook loop's s -= a*b in ascending k, on awkward shapes: one row,
// row counts off the 4-row tiles, columns off the 16-wide and 4-wide tiles
// and the masked tail, k = 0, and strides wider than the block.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/cpu.h"
#include "kernels/f64_update.h"

using namespace pareto;

namespace {

std::vector<double> random_doubles(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> d(0, 1);
  std::vector<double> v(n);
  for (double& x : v) x = d(rng) * std::ldexp(1.0, int(rng() % 9) - 4);  // magnitudes 2^-4 .. 2^4: roundings differ by order
  return v;
}

}  // namespace

TEST(F64Update, EveryVariantIsTheTextbookLoopBitForBit) {
  const char* isa = kernels::f64_subtract_products_isa();
  if (std::strcmp(isa, "avx512") != 0) std::printf("f64_subtract_products runs the reference here (no AVX-512F): its twin is not tested\n");
  for (int64_t rows : {1, 3, 4, 5, 9})
    for (int64_t cols : {1, 3, 4, 7, 15, 16, 17, 33})
      for (int64_t k : {0, 1, 7, 64}) {
        const int64_t ldc = cols + 3, lda = k + 5, ldb = cols + 11;
        const std::vector<double> c0 = random_doubles(size_t(rows * ldc), uint32_t(rows * 1000 + cols * 10 + k));
        const std::vector<double> a = random_doubles(size_t(rows * lda), uint32_t(k + 7));
        const std::vector<double> b = random_doubles(size_t((k + 1) * ldb), uint32_t(cols + 9));
        std::vector<double> want = c0, ref = c0, got = c0;
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t q = 0; q < cols; ++q) {
            double s = want[size_t(r * ldc + q)];
            for (int64_t kk = 0; kk < k; ++kk) s -= a[size_t(r * lda + kk)] * b[size_t(kk * ldb + q)];
            want[size_t(r * ldc + q)] = s;
          }
        kernels::f64_subtract_products_ref(ref.data(), ldc, a.data(), lda, b.data(), ldb, rows, cols, k);
        kernels::f64_subtract_products(got.data(), ldc, a.data(), lda, b.data(), ldb, rows, cols, k);
        // memcmp over the whole buffers: also the padding columns stay untouched.
        EXPECT_EQ(std::memcmp(ref.data(), want.data(), want.size() * sizeof(double)), 0) << rows << "x" << cols << " k=" << k;
        EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(double)), 0) << isa << " " << rows << "x" << cols << " k=" << k;
      }
}
