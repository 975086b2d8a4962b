// AVX-512F twin of f64_subtract_products_ref: 8 rows x 16 columns of C in
// registers (16 zmm), one broadcast of a[r][kk] per row and two loads of
// b[kk] per step (the loads of b, from L2, bound the 4-row form). Built with -ffp-contract=off and written as a multiply, then a
// subtract: the reference's two roundings per term, so its bits.
#include <immintrin.h>

#include "kernels/f64_update.h"

namespace pareto::kernels::avx512f64 {

namespace {

template <int R>
void tile16(double* c, int64_t ldc, const double* a, int64_t lda, const double* b, int64_t ldb, int64_t k) {
  __m512d lo[R], hi[R];
  for (int r = 0; r < R; ++r) {
    lo[r] = _mm512_loadu_pd(c + r * ldc);
    hi[r] = _mm512_loadu_pd(c + r * ldc + 8);
  }
  for (int64_t kk = 0; kk < k; ++kk) {
    const __m512d b0 = _mm512_loadu_pd(b + kk * ldb), b1 = _mm512_loadu_pd(b + kk * ldb + 8);
    for (int r = 0; r < R; ++r) {
      const __m512d ar = _mm512_set1_pd(a[r * lda + kk]);
      lo[r] = _mm512_sub_pd(lo[r], _mm512_mul_pd(ar, b0));
      hi[r] = _mm512_sub_pd(hi[r], _mm512_mul_pd(ar, b1));
    }
  }
  for (int r = 0; r < R; ++r) {
    _mm512_storeu_pd(c + r * ldc, lo[r]);
    _mm512_storeu_pd(c + r * ldc + 8, hi[r]);
  }
}

// Fewer than 16 columns left: one masked vector of up to 8 at a time.
void tail(double* c, int64_t ldc, const double* a, int64_t lda, const double* b, int64_t ldb, int64_t rows, int64_t cols, int64_t k) {
  for (int64_t q = 0; q < cols; q += 8) {
    const __mmask8 m = __mmask8(cols - q >= 8 ? 0xff : (1u << (cols - q)) - 1);
    for (int64_t r = 0; r < rows; ++r) {
      __m512d acc = _mm512_maskz_loadu_pd(m, c + r * ldc + q);
      for (int64_t kk = 0; kk < k; ++kk)
        acc = _mm512_sub_pd(acc, _mm512_mul_pd(_mm512_set1_pd(a[r * lda + kk]), _mm512_maskz_loadu_pd(m, b + kk * ldb + q)));
      _mm512_mask_storeu_pd(c + r * ldc + q, m, acc);
    }
  }
}

}  // namespace

void f64_subtract_products(double* c, int64_t ldc, const double* a, int64_t lda, const double* b, int64_t ldb, int64_t rows,
                           int64_t cols, int64_t k) {
  for (int64_t r = 0; r < rows; r += 8) {
    const int64_t n = rows - r < 8 ? rows - r : 8;
    double* cr = c + r * ldc;
    const double* ar = a + r * lda;
    int64_t q = 0;
    for (; q + 16 <= cols; q += 16) switch (n) {
        case 8: tile16<8>(cr + q, ldc, ar, lda, b + q, ldb, k); break;
        case 7: tile16<7>(cr + q, ldc, ar, lda, b + q, ldb, k); break;
        case 6: tile16<6>(cr + q, ldc, ar, lda, b + q, ldb, k); break;
        case 5: tile16<5>(cr + q, ldc, ar, lda, b + q, ldb, k); break;
        case 4: tile16<4>(cr + q, ldc, ar, lda, b + q, ldb, k); break;
        case 3: tile16<3>(cr + q, ldc, ar, lda, b + q, ldb, k); break;
        case 2: tile16<2>(cr + q, ldc, ar, lda, b + q, ldb, k); break;
        default: tile16<1>(cr + q, ldc, ar, lda, b + q, ldb, k); break;
      }
    if (q < cols) tail(cr + q, ldc, ar, lda, b + q, ldb, n, cols - q, k);
  }
}

}  // namespace pareto::kernels::avx512f64
