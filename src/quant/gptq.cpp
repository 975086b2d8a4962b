#include "quant/gptq.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/quant_formats.h"
#include "quant/ggml_block_rules.h"

namespace pareto::quant {

namespace {

// In-place Cholesky of a symmetric positive definite matrix (lower L, H = L L^T).
bool cholesky(std::vector<double>& a, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double d = a[size_t(j * n + j)];
    for (int64_t k = 0; k < j; ++k) d -= a[size_t(j * n + k)] * a[size_t(j * n + k)];
    if (!(d > 0)) return false;
    d = std::sqrt(d);
    a[size_t(j * n + j)] = d;
    parallel_for(n - j - 1, [&](int64_t b, int64_t e) {
      for (int64_t i = j + 1 + b; i < j + 1 + e; ++i) {
        double s = a[size_t(i * n + j)];
        for (int64_t k = 0; k < j; ++k) s -= a[size_t(i * n + k)] * a[size_t(j * n + k)];
        a[size_t(i * n + j)] = s / d;
      }
    });
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = i + 1; k < n; ++k) a[size_t(i * n + k)] = 0;
  return true;
}

// H^-1 from its lower Cholesky factor L: solve L Y = I, then L^T X = Y.
std::vector<double> inverse_from_cholesky(const std::vector<double>& l, int64_t n) {
  std::vector<double> inv(size_t(n * n), 0);
  parallel_for(n, [&](int64_t c0, int64_t c1) {
    std::vector<double> y(static_cast<size_t>(n));
    for (int64_t c = c0; c < c1; ++c) {
      for (int64_t i = 0; i < n; ++i) {
        double s = i == c ? 1.0 : 0.0;
        for (int64_t k = 0; k < i; ++k) s -= l[size_t(i * n + k)] * y[size_t(k)];
        y[size_t(i)] = s / l[size_t(i * n + i)];
      }
      for (int64_t i = n - 1; i >= 0; --i) {
        double s = y[size_t(i)];
        for (int64_t k = i + 1; k < n; ++k) s -= l[size_t(k * n + i)] * inv[size_t(k * n + c)];
        inv[size_t(i * n + c)] = s / l[size_t(i * n + i)];
      }
    }
  });
  return inv;
}

}  // namespace

GptqResult gptq_quantize(const std::vector<float>& w_in, int64_t rows, int64_t cols, const std::vector<float>& x, uint32_t type, double damping,
                         int64_t block) {
  if (!is_q4_0(type) && type != uint32_t(kernels::GgmlType::q8_0)) fail_unsupported("GPTQ writes q4_0 or q8_0");
  if (cols % 32) fail_argument("GPTQ needs rows that are a multiple of 32 long");
  GptqResult res;
  const int64_t tokens = int64_t(x.size()) / cols;
  std::vector<float> w = w_in;
  // H = X^T X / tokens
  std::vector<double> h(size_t(cols * cols), 0);
  parallel_for(cols, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t t = 0; t < tokens; ++t) {
        const double xi = x[size_t(t * cols + i)];
        if (xi == 0) continue;
        for (int64_t j = 0; j < cols; ++j) h[size_t(i * cols + j)] += xi * x[size_t(t * cols + j)];
      }
  });
  double mean_diag = 0;
  for (int64_t i = 0; i < cols; ++i) {
    if (h[size_t(i * cols + i)] == 0) {  // a dead input: nothing to preserve, weight dropped
      h[size_t(i * cols + i)] = 1;
      for (int64_t r = 0; r < rows; ++r) w[size_t(r * cols + i)] = 0;
      res.dead_columns++;
    }
    mean_diag += h[size_t(i * cols + i)] / double(cols);
  }
  std::vector<double> u;  // upper Cholesky factor of H^-1
  for (double damp = damping; damp < 100 && u.empty(); damp *= 10) {
    std::vector<double> l = h;
    for (int64_t i = 0; i < cols; ++i) l[size_t(i * cols + i)] += damp * mean_diag;
    if (!cholesky(l, cols)) continue;
    std::vector<double> inv = inverse_from_cholesky(l, cols);
    if (!cholesky(inv, cols)) continue;
    u.assign(size_t(cols * cols), 0);  // U = L^T of chol(H^-1)
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j <= i; ++j) u[size_t(j * cols + i)] = inv[size_t(i * cols + j)];
    res.damping = damp;
  }
  const size_t row_bytes = kernels::ggml_row_size(type, cols), bb = block_bytes(type);
  res.bytes.assign(row_bytes * size_t(rows), '\0');
  if (u.empty()) {  // every damping failed: round to nearest, reported
    res.fell_back = true;
    for (int64_t r = 0; r < rows; ++r) kernels::quantize_row_ref(type, w.data() + r * cols, res.bytes.data() + size_t(r) * row_bytes, cols);
    return res;
  }
  std::vector<int> codes(size_t(rows * cols));
  std::vector<float> scale(size_t(rows * (cols / 32)));
  block = std::max<int64_t>(32, block / 32 * 32);
  parallel_for(rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* wr = w.data() + r * cols;
      float dh = 0, id = 0;  // the current block's f16-rounded scale and ggml's inverse
      for (int64_t i1 = 0; i1 < cols; i1 += block) {
        const int64_t i2 = std::min(cols, i1 + block);
        std::vector<double> err(size_t(i2 - i1), 0);
        for (int64_t c = i1; c < i2; ++c) {
          if (c % 32 == 0) {
            const float d = ggml_block_scale(type, wr + c);
            dh = f16_rounded(d);
            id = d ? 1.f / d : 0.f;
            scale[size_t(r * (cols / 32) + c / 32)] = dh;
          }
          const int q = ggml_code(type, wr[c], id);
          codes[size_t(r * cols + c)] = q;
          const double e = (double(wr[c]) - ggml_value(type, q, dh)) / u[size_t(c * cols + c)];
          err[size_t(c - i1)] = e;
          for (int64_t k = c + 1; k < i2; ++k) wr[k] -= float(e * u[size_t(c * cols + k)]);
        }
        // Lazy batch update: the block's errors reach the later columns at once.
        for (int64_t k = i2; k < cols; ++k) {
          double s = 0;
          for (int64_t c = i1; c < i2; ++c) s += err[size_t(c - i1)] * u[size_t(c * cols + k)];
          wr[k] -= float(s);
        }
      }
      uint8_t* out = reinterpret_cast<uint8_t*>(res.bytes.data()) + size_t(r) * row_bytes;
      for (int64_t b = 0; b < cols / 32; ++b)
        write_ggml_block(type, scale[size_t(r * (cols / 32) + b)], codes.data() + r * cols + b * 32, out + size_t(b) * bb);
    }
  });
  return res;
}

}  // namespace pareto::quant
