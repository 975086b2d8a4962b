#include "kernels/int8_matmul.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/cpu.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/dispatch.h"
#include "kernels/int8_conv.h"
#include "kernels/scratch.h"

namespace pareto::kernels {

namespace {

int64_t block_width(int64_t n, int64_t j0) { return (std::min(kInt8MatmulBlock, n - j0) + 15) / 16 * 16; }

// Rows of x per task: the int32 tile (rows x 64) stays in L1/L2 and the
// panel of one column block is reused across them.
constexpr int64_t kRowBlock = 128;

}  // namespace

Int8MatmulWeights pack_int8_matmul_weights(const int8_t* w, int64_t k, int64_t n) {
  if (k <= 0 || n <= 0) fail_argument("int8 MatMul weights of " + std::to_string(k) + " x " + std::to_string(n));
  if (k > kMaxInt8ConvK) fail_unsupported("int8 MatMul with " + std::to_string(k) + " products per output (at most " + std::to_string(kMaxInt8ConvK) + ")");
  Int8MatmulWeights p;
  p.k = k;
  p.n = n;
  p.k4 = (k + 3) / 4 * 4;
  p.col_sums.assign(size_t(n), 0);
  // Full blocks are 64 wide, the last one narrower: block b starts at b * k4 * 64.
  const int64_t blocks = (n + kInt8MatmulBlock - 1) / kInt8MatmulBlock;
  p.panels.assign(size_t((blocks - 1) * p.k4 * kInt8MatmulBlock + p.k4 * block_width(n, (blocks - 1) * kInt8MatmulBlock)), 0);
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t j0 = b * kInt8MatmulBlock, width = block_width(n, j0), cols = std::min(kInt8MatmulBlock, n - j0);
    uint8_t* panel = p.panels.data() + b * p.k4 * kInt8MatmulBlock;
    for (int64_t kk = 0; kk < k; ++kk)
      for (int64_t j = 0; j < cols; ++j) {
        const int8_t v = w[kk * n + j0 + j];
        panel[((kk / 4) * width + j) * 4 + kk % 4] = uint8_t(int32_t(v) + 128);
        p.col_sums[size_t(j0 + j)] += v;
      }
  }
  return p;
}

bool int8_matmul_fast() { return int8_detail::fast_gemm(); }

void int8_matmul(const float* x, int64_t rows, const Int8MatmulWeights& w, float x_scale, int32_t x_zero, const float* scale, float* y) {
  if (rows <= 0) return;
  const int64_t k = w.k, k4 = w.k4, n = w.n;
  // The signed operand: each row rounded to uint8, then shifted by -128;
  // its zero quads past k add nothing whatever the panel holds there.
  int8_t* a = thread_scratch<int8_t, 0>(size_t(rows * k4));
  int32_t* row_fix = thread_scratch<int32_t, 1>(size_t(rows));
  parallel_for(rows, [&](int64_t r0, int64_t r1) {
    uint8_t* xq = thread_scratch<uint8_t, 1>(size_t(k));
    for (int64_t r = r0; r < r1; ++r) {
      quantize_u8(x + r * k, k, x_scale, x_zero, xq);
      int8_t* ar = a + r * k4;
      int64_t sum = 0;
      for (int64_t i = 0; i < k; ++i) {
        sum += xq[i];
        ar[i] = int8_t(int32_t(xq[i]) - 128);
      }
      std::memset(ar + k, 0, size_t(k4 - k));
      // The per-row part of the correction, with the constant 128 * 128 * k:
      // G = Σ (xq - 128)(w + 128) = Σ xq w + 128 Σ xq - 128 Σ w - 16384 k.
      row_fix[r] = int32_t(uint32_t(int64_t(16384) * k - 128 * sum));
    }
  });
  const int64_t col_blocks = (n + kInt8MatmulBlock - 1) / kInt8MatmulBlock, row_blocks = (rows + kRowBlock - 1) / kRowBlock;
  // The per-column part, (128 - x_zero) * Σ_k w, once per call.
  int32_t* col_fix = thread_scratch<int32_t, 2>(size_t(n));
  for (int64_t j = 0; j < n; ++j) col_fix[j] = int32_t(uint32_t(128 - x_zero) * uint32_t(w.col_sums[size_t(j)]));
  bool vnni = false;  // the AVX-512 epilogue where the VNNI GEMM runs (the same bits as the loop)
  if constexpr (kBuildX86) vnni = int8_detail::use_vnni();
  // Column-block major: a thread's consecutive tasks share one panel.
  parallel_for(col_blocks * row_blocks, [&](int64_t t0, int64_t t1) {
    int32_t* acc = thread_scratch<int32_t, 0>(size_t(kRowBlock * kInt8MatmulBlock));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t cb = t / row_blocks, r0 = t % row_blocks * kRowBlock;
      const int64_t j0 = cb * kInt8MatmulBlock, cols = std::min(kInt8MatmulBlock, n - j0), m = std::min(kRowBlock, rows - r0);
      int8_gemm(a + r0 * k4, k4, m, k4, w.panels.data() + cb * k4 * kInt8MatmulBlock, cols, acc, kInt8MatmulBlock);
      const int32_t* cf = col_fix + j0;
      const float* sc = scale + j0;
      for (int64_t r = 0; r < m; ++r) {
        const int32_t* ar = acc + r * kInt8MatmulBlock;
        const uint32_t fix = uint32_t(row_fix[r0 + r]);
        float* yr = y + (r0 + r) * n + j0;
        if constexpr (kBuildX86)
          if (vnni) {
            avx512vnni::int8_matmul_row(ar, cols, int32_t(fix), cf, sc, yr);
            continue;
          }
        // Wrapping 32-bit sums: the parts may wrap, the true sum fits.
        for (int64_t j = 0; j < cols; ++j) yr[j] = sc[j] * float(int32_t(uint32_t(ar[j]) + fix + uint32_t(cf[j])));
      }
    }
  });
}

void int8_matmul_ref(const float* x, int64_t rows, int64_t k, int64_t n, const int8_t* w, float x_scale, int32_t x_zero,
                     const float* scale, float* y) {
  std::vector<int32_t> xq(static_cast<size_t>(k));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < k; ++i) xq[size_t(i)] = quantize_value(x[r * k + i] / x_scale, x_zero, 0, 255) - x_zero;
    for (int64_t j = 0; j < n; ++j) {
      int64_t s = 0;
      for (int64_t i = 0; i < k; ++i) s += int64_t(xq[size_t(i)]) * w[i * n + j];
      y[r * n + j] = scale[j] * float(s);
    }
  }
}

}  // namespace pareto::kernels
