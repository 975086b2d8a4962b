#include "kernels/f64_update.h"

#include <cstdlib>
#include <cstring>

#include "core/cpu.h"

namespace pareto::kernels {

namespace {

// R rows x 4 columns kept in registers for the k steps.
template <int R>
void tile(double* __restrict c, int64_t ldc, const double* __restrict a, int64_t lda, const double* __restrict b, int64_t ldb,
          int64_t k) {
  double acc[R][4];
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < 4; ++q) acc[r][q] = c[r * ldc + q];
  for (int64_t kk = 0; kk < k; ++kk) {
    const double* bk = b + kk * ldb;
    for (int r = 0; r < R; ++r) {
      const double ar = a[r * lda + kk];
      for (int q = 0; q < 4; ++q) acc[r][q] -= ar * bk[q];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < 4; ++q) c[r * ldc + q] = acc[r][q];
}

void column(double* c, int64_t ldc, const double* a, int64_t lda, const double* b, int64_t ldb, int64_t rows, int64_t k) {
  for (int64_t r = 0; r < rows; ++r) {
    double s = c[r * ldc];
    for (int64_t kk = 0; kk < k; ++kk) s -= a[r * lda + kk] * b[kk * ldb];
    c[r * ldc] = s;
  }
}

using UpdateFn = void (*)(double*, int64_t, const double*, int64_t, const double*, int64_t, int64_t, int64_t, int64_t);

UpdateFn choose() {
  if constexpr (kBuildX86) {
    const char* isa = std::getenv("PARETO_ISA");
    const bool force_ref = isa && !std::strcmp(isa, "ref");
    if (!force_ref && cpu_features().avx512f) return avx512f64::f64_subtract_products;
  }
  return f64_subtract_products_ref;
}

UpdateFn chosen() {
  static const UpdateFn fn = choose();
  return fn;
}

}  // namespace

void f64_subtract_products_ref(double* c, int64_t ldc, const double* a, int64_t lda, const double* b, int64_t ldb, int64_t rows,
                               int64_t cols, int64_t k) {
  for (int64_t r = 0; r < rows; r += 4) {
    const int64_t n = rows - r < 4 ? rows - r : 4;
    double* cr = c + r * ldc;
    const double* ar = a + r * lda;
    int64_t q = 0;
    for (; q + 4 <= cols; q += 4) switch (n) {
        case 4: tile<4>(cr + q, ldc, ar, lda, b + q, ldb, k); break;
        case 3: tile<3>(cr + q, ldc, ar, lda, b + q, ldb, k); break;
        case 2: tile<2>(cr + q, ldc, ar, lda, b + q, ldb, k); break;
        default: tile<1>(cr + q, ldc, ar, lda, b + q, ldb, k); break;
      }
    for (; q < cols; ++q) column(cr + q, ldc, ar, lda, b + q, ldb, n, k);
  }
}

void f64_subtract_products(double* c, int64_t ldc, const double* a, int64_t lda, const double* b, int64_t ldb, int64_t rows,
                           int64_t cols, int64_t k) {
  chosen()(c, ldc, a, lda, b, ldb, rows, cols, k);
}

const char* f64_subtract_products_isa() { return chosen() == f64_subtract_products_ref ? "ref" : "avx512"; }

}  // namespace pareto::kernels
