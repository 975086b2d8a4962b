// The dense double-precision update of GPTQ's factorizations
// (quant/spd_factor.cpp): C -= A B over a block of k columns of A.
//
// c[r][q] -= sum over kk < k, ascending, of a[r][kk] * b[kk][q], for r <
// rows and q < cols, each product rounded and then subtracted (two
// roundings, no fused multiply-add). Each element takes the same
// operations in the same order whatever the vector width, so every ISA
// variant gives the reference's bits: GPTQ's output does not depend on the
// CPU it was made on.
#pragma once
#include <cstdint>

namespace pareto::kernels {

void f64_subtract_products(double* c, int64_t ldc, const double* a, int64_t lda, const double* b, int64_t ldb, int64_t rows,
                           int64_t cols, int64_t k);
void f64_subtract_products_ref(double* c, int64_t ldc, const double* a, int64_t lda, const double* b, int64_t ldb, int64_t rows,
                               int64_t cols, int64_t k);
// The ISA the dispatched variant uses ("avx512" or "ref").
const char* f64_subtract_products_isa();

namespace avx512f64 {  // x86-64 builds: AVX-512F, compiled with -ffp-contract=off
void f64_subtract_products(double* c, int64_t ldc, const double* a, int64_t lda, const double* b, int64_t ldb, int64_t rows,
                           int64_t cols, int64_t k);
}

}  // namespace pareto::kernels
