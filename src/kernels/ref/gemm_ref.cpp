#include "kernels/gemm.h"

namespace pareto::kernels {

void f32_gemm_ref(const GemmArgs& g) {
  for (int64_t i = 0; i < g.m; ++i) {
    float* c = g.c + i * g.ldc;
    for (int64_t j = 0; j < g.n; ++j) c[j] = g.beta == 0.f ? 0.f : g.beta * c[j];
    for (int64_t p = 0; p < g.k; ++p) {
      float a = g.trans_a ? g.a[p * g.lda + i] : g.a[i * g.lda + p];
      a *= g.alpha;
      if (g.trans_b) {
        for (int64_t j = 0; j < g.n; ++j) c[j] += a * g.b[j * g.ldb + p];
      } else {
        const float* b = g.b + p * g.ldb;
        for (int64_t j = 0; j < g.n; ++j) c[j] += a * b[j];
      }
    }
  }
}

}  // namespace pareto::kernels
