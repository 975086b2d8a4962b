#include "kernels/matmul_q.h"

#include <algorithm>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/gemm.h"
#include "kernels/quant_formats.h"

namespace pareto::kernels {

void weight_row(const WeightMatrix& w, int64_t r, float* out) {
  size_t row_bytes = ggml_row_size(w.type, w.cols);
  dequantize_row_ref(w.type, static_cast<const uint8_t*>(w.data) + size_t(r) * row_bytes, out, w.cols);
}

void matmul_weights(const WeightMatrix& w, const float* x, int64_t tokens, float* y) {
  const bool is_f32 = w.type == uint32_t(GgmlType::f32);
  // 64 rows per block: the dequantized block stays in L2, and blocks split across threads.
  constexpr int64_t kRows = 64;
  int64_t blocks = (w.rows + kRows - 1) / kRows;
  int threads = num_threads();
  auto run = [&](int64_t b0, int64_t b1) {
    thread_local std::vector<float> tmp;
    for (int64_t b = b0; b < b1; ++b) {
      int64_t r0 = b * kRows, n = std::min(kRows, w.rows - r0);
      const float* rows;
      if (is_f32) {
        rows = static_cast<const float*>(w.data) + r0 * w.cols;
      } else {
        tmp.resize(size_t(kRows * w.cols));
        for (int64_t r = 0; r < n; ++r) weight_row(w, r0 + r, tmp.data() + r * w.cols);
        rows = tmp.data();
      }
      GemmArgs g;
      g.trans_b = true;
      g.m = tokens;
      g.n = n;
      g.k = w.cols;
      g.a = x;
      g.lda = w.cols;
      g.b = rows;
      g.ldb = w.cols;
      g.c = y + r0;
      g.ldc = w.rows;
      f32_gemm(g);
    }
  };
  if (threads > 1 && blocks > 1) parallel_for(blocks, run);
  else run(0, blocks);
}

}  // namespace pareto::kernels
