// f64_subtract_products (GPTQ's factor update): the reference and the
// AVX-512F twin (called directly; skipped on CPUs without AVX-512F) both
// give, bit for bit, the textbook loop's s -= a*b in ascending k, on
// awkward shapes: one row, every row count of the tiles, columns off the
// 16-wide and 4-wide tiles and the masked tail, k = 0, and strides wider
// than the block.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
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

namespace {

using UpdateFn = void (*)(double*, int64_t, const double*, int64_t, const double*, int64_t, int64_t, int64_t, int64_t);

// Every shape against the textbook loop, memcmp over whole buffers (the
// padding columns must stay untouched too). Rows 1..9 and 17 reach every
// row count of the 4- and 8-row tiles; columns off the 16-wide tile and the
// masked tail; k = 0.
void expect_textbook(UpdateFn fn, const char* name) {
  for (int64_t rows : {1, 2, 3, 4, 5, 6, 7, 8, 9, 17})
    for (int64_t cols : {1, 3, 4, 7, 15, 16, 17, 33})
      for (int64_t k : {0, 1, 7, 64}) {
        const int64_t ldc = cols + 3, lda = k + 5, ldb = cols + 11;
        const std::vector<double> c0 = random_doubles(size_t(rows * ldc), uint32_t(rows * 1000 + cols * 10 + k));
        const std::vector<double> a = random_doubles(size_t(rows * lda), uint32_t(k + 7));
        const std::vector<double> b = random_doubles(size_t((k + 1) * ldb), uint32_t(cols + 9));
        std::vector<double> want = c0, got = c0;
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t q = 0; q < cols; ++q) {
            double s = want[size_t(r * ldc + q)];
            for (int64_t kk = 0; kk < k; ++kk) s -= a[size_t(r * lda + kk)] * b[size_t(kk * ldb + q)];
            want[size_t(r * ldc + q)] = s;
          }
        fn(got.data(), ldc, a.data(), lda, b.data(), ldb, rows, cols, k);
        EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(double)), 0) << name << " " << rows << "x" << cols << " k=" << k;
      }
}

}  // namespace

TEST(F64Update, ReferenceIsTheTextbookLoopBitForBit) { expect_textbook(kernels::f64_subtract_products_ref, "ref"); }

TEST(F64Update, Avx512IsTheTextbookLoopBitForBit) {
  if constexpr (!kBuildX86) {
    GTEST_SKIP() << "x86-64 only";
  } else {
    if (!cpu_features().avx512f) GTEST_SKIP() << "this CPU has no AVX-512F: the AVX-512 twin is not run";
    expect_textbook(kernels::avx512f64::f64_subtract_products, "avx512");
    EXPECT_STREQ(kernels::f64_subtract_products_isa(), "avx512");
  }
}
