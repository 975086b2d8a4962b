#include "kernels/int8_conv.h"

#include <algorithm>
#include <cstring>

#include "core/cpu.h"
#include "core/thread_pool.h"
#include "kernels/dispatch.h"

namespace pareto::kernels {

Int8Weights pack_int8_weights(const void* w, bool w_signed, int64_t rows, int64_t k, const int32_t* zero, int64_t zero_count) {
  Int8Weights p;
  p.rows = rows;
  p.k = k;
  p.k4 = (k + 3) / 4 * 4;
  p.data.assign(size_t(rows * p.k4), 0);
  p.row_sums.assign(size_t(rows), 0);
  p.zero.assign(size_t(rows), 0);
  const int32_t shift = w_signed ? 0 : -128;  // uint8 weights become signed
  for (int64_t r = 0; r < rows; ++r) {
    int32_t sum = 0;
    for (int64_t i = 0; i < k; ++i) {
      const int32_t v = w_signed ? int32_t(static_cast<const int8_t*>(w)[r * k + i])
                                 : int32_t(static_cast<const uint8_t*>(w)[r * k + i]) + shift;
      p.data[size_t(r * p.k4 + i)] = int8_t(v);
      sum += v;
    }
    p.row_sums[size_t(r)] = sum;
    const int32_t z = zero ? zero[zero_count == 1 ? 0 : r] : 0;  // absent: 0, as ONNX defines it
    p.zero[size_t(r)] = z + shift;
    p.any_zero |= p.zero[size_t(r)] != 0;
  }
  return p;
}

void int8_gemm_ref(const int8_t* a, int64_t lda, int64_t m, int64_t k4, const uint8_t* b, int64_t n, int32_t* c, int64_t ldc) {
  const int64_t n16 = (n + 15) / 16 * 16;
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      int32_t acc = 0;
      for (int64_t k = 0; k < k4; ++k) acc += int32_t(a[r * lda + k]) * int32_t(b[((k / 4) * n16 + j) * 4 + k % 4]);
      c[r * ldc + j] = acc;
    }
}

void int8_gemm(const int8_t* a, int64_t lda, int64_t m, int64_t k4, const uint8_t* b, int64_t n, int32_t* c, int64_t ldc) {
  static const bool vnni = [] {
    const CpuFeatures& f = cpu_features();
    return kernel_table().level == IsaLevel::avx512 && f.avx512vnni && f.avx512bw;
  }();
  if (vnni) avx512vnni::int8_gemm(a, lda, m, k4, b, n, c, ldc);
  else int8_gemm_ref(a, lda, m, k4, b, n, c, ldc);
}

namespace {

// Activation value at (c, ih, iw) of one image in the unsigned form, or the
// zero point (padding is the real value 0).
struct Source {
  const uint8_t* x;  // the image's first channel
  int64_t h, w;
  uint8_t flip;       // 0x80 for int8 input (x + 128 in two's complement), else 0
  uint8_t pad;        // the zero point, unsigned form
};

// Pixels [first, first + count) of the im2col matrix into the VNNI panel
// [k4/4][n16][4]; col_sums[j] = Σ_k of column j (for nonzero weight zero points).
void build_panel(const ConvParams& p, const Source& s, int64_t cin_g, int64_t k4, int64_t first, int64_t count, uint8_t* panel,
                 int32_t* col_sums) {
  const int64_t n16 = (count + 15) / 16 * 16;
  std::memset(panel, 0, size_t(k4 * n16));
  const int64_t k = cin_g * p.kh * p.kw;
  for (int64_t kk = 0; kk < k; ++kk) {
    const int64_t c = kk / (p.kh * p.kw), i = kk / p.kw % p.kh, j = kk % p.kw;
    const uint8_t* plane = s.x + c * s.h * s.w;
    uint8_t* dst = panel + (kk / 4) * n16 * 4 + kk % 4;
    for (int64_t q = 0; q < count; ++q) {
      const int64_t oh = (first + q) / p.out_w, ow = (first + q) % p.out_w;
      const int64_t ih = oh * p.stride_h - p.pad_top + i * p.dil_h, iw = ow * p.stride_w - p.pad_left + j * p.dil_w;
      dst[q * 4] = ih >= 0 && ih < s.h && iw >= 0 && iw < s.w ? uint8_t(plane[ih * s.w + iw] ^ s.flip) : s.pad;
    }
  }
  if (col_sums) {
    std::fill(col_sums, col_sums + count, 0);
    for (int64_t kq = 0; kq < k4 / 4; ++kq)
      for (int64_t q = 0; q < count; ++q)
        for (int b = 0; b < 4; ++b) col_sums[q] += panel[(kq * n16 + q) * 4 + b];
  }
}

// Output element: the corrected sum through the epilogue.
template <class Store>
void finish_tile(const Int8Weights& w, int64_t oc0, int64_t rows, const int32_t* acc, int64_t ld,
                 const int32_t* col_sums, int32_t x_zero_u, int64_t count, Store store) {
  const int32_t k = int32_t(w.k);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t oc = oc0 + r;
    const int32_t wz = w.zero[size_t(oc)];
    const int32_t base = -x_zero_u * w.row_sums[size_t(oc)] + k * x_zero_u * wz;
    for (int64_t q = 0; q < count; ++q) {
      int32_t s = acc[r * ld + q] + base;
      if (wz) s -= wz * col_sums[q];
      store(oc, q, s);
    }
  }
}

}  // namespace

void int8_conv2d(const Int8ConvParams& p, const void* x, const Int8Weights& w, void* y) {
  const ConvParams& g = p.geo;
  const int64_t cin_g = g.c_in / g.group, cout_g = g.c_out / g.group, plane = g.out_h * g.out_w;
  const int64_t k4 = w.k4;
  const uint8_t flip = p.x_signed ? 0x80 : 0;
  const int32_t x_zero_u = p.x_signed ? p.x_zero + 128 : p.x_zero;
  // Column blocks whose panel (k4 bytes per column) and int32 tile stay in L2.
  int64_t block = std::max<int64_t>(16, ((int64_t(256) << 10) / (k4 + 4 * cout_g)) / 16 * 16);
  const int64_t planes = g.n * g.group;
  if (num_threads() > 1 && planes * ((plane + block - 1) / block) < 4 * num_threads())
    block = std::max<int64_t>(16, (plane * planes / (4 * num_threads()) + 15) / 16 * 16);
  block = std::min(block, (plane + 15) / 16 * 16);
  const int64_t blocks = (plane + block - 1) / block;
  parallel_for(planes * blocks, [&](int64_t begin, int64_t end) {
    thread_local std::vector<uint8_t> panel;
    thread_local std::vector<int32_t> acc, col_sums;
    panel.resize(size_t(k4 * ((block + 15) / 16 * 16)));
    acc.resize(size_t(cout_g * block));
    col_sums.resize(size_t(block));
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n = t / blocks / g.group, gr = t / blocks % g.group, first = t % blocks * block;
      const int64_t count = std::min(block, plane - first);
      Source s{static_cast<const uint8_t*>(x) + (n * g.c_in + gr * cin_g) * g.h * g.w, g.h, g.w, flip, uint8_t(x_zero_u)};
      build_panel(g, s, cin_g, k4, first, count, panel.data(), w.any_zero ? col_sums.data() : nullptr);
      int8_gemm(w.data.data() + gr * cout_g * k4, k4, cout_g, k4, panel.data(), count, acc.data(), count);
      const int64_t out0 = (n * g.c_out + gr * cout_g) * plane + first;  // element of (oc = gr*cout_g, first)
      auto at = [&](int64_t oc, int64_t q) { return out0 + (oc - gr * cout_g) * plane + q; };
      const Int8Epilogue& e = p.out;
      switch (e.kind) {
        case Int8Output::i32:
          finish_tile(w, gr * cout_g, cout_g, acc.data(), count, col_sums.data(), x_zero_u, count,
                      [&](int64_t oc, int64_t q, int32_t v) { static_cast<int32_t*>(y)[at(oc, q)] = v; });
          break;
        case Int8Output::q8: {
          const int32_t lo = e.y_signed ? -128 : 0, hi = e.y_signed ? 127 : 255;
          finish_tile(w, gr * cout_g, cout_g, acc.data(), count, col_sums.data(), x_zero_u, count,
                      [&](int64_t oc, int64_t q, int32_t v) {
                        const int32_t b = e.bias_i32 ? e.bias_i32[oc] : 0;
                        const int32_t r = quantize_value(e.scale[oc] * float(v + b), e.y_zero, lo, hi);
                        static_cast<uint8_t*>(y)[at(oc, q)] = uint8_t(r);
                      });
          break;
        }
        case Int8Output::f32: {
          float* yf = static_cast<float*>(y);
          finish_tile(w, gr * cout_g, cout_g, acc.data(), count, col_sums.data(), x_zero_u, count,
                      [&](int64_t oc, int64_t q, int32_t v) { yf[at(oc, q)] = e.scale[oc] * float(v) + (e.bias_f32 ? e.bias_f32[oc] : 0.f); });
          if (e.act.active())
            for (int64_t oc = gr * cout_g; oc < (gr + 1) * cout_g; ++oc) {
              float* row = yf + at(oc, 0);
              apply_activation(e.act.act, row, e.act.residual ? e.act.residual + at(oc, 0) : nullptr, count);
            }
          break;
        }
      }
    }
  });
}

void int8_conv2d_ref(const Int8ConvParams& p, const void* x, const void* w, bool w_signed, const int32_t* w_zero,
                     int64_t w_zero_count, void* y) {
  const ConvParams& g = p.geo;
  const int64_t cin_g = g.c_in / g.group, cout_g = g.c_out / g.group;
  auto xv = [&](int64_t i) { return p.x_signed ? int32_t(static_cast<const int8_t*>(x)[i]) : int32_t(static_cast<const uint8_t*>(x)[i]); };
  auto wv = [&](int64_t i) { return w_signed ? int32_t(static_cast<const int8_t*>(w)[i]) : int32_t(static_cast<const uint8_t*>(w)[i]); };
  const Int8Epilogue& e = p.out;
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oc = 0; oc < g.c_out; ++oc) {
      const int64_t gr = oc / cout_g;
      const int32_t wz = w_zero ? w_zero[w_zero_count == 1 ? 0 : oc] : 0;
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          int32_t s = 0;
          for (int64_t c = 0; c < cin_g; ++c)
            for (int64_t i = 0; i < g.kh; ++i)
              for (int64_t j = 0; j < g.kw; ++j) {
                const int64_t ih = oh * g.stride_h - g.pad_top + i * g.dil_h, iw = ow * g.stride_w - g.pad_left + j * g.dil_w;
                if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;  // padding: x - x_zero = 0
                const int32_t xi = xv(((n * g.c_in + gr * cin_g + c) * g.h + ih) * g.w + iw) - p.x_zero;
                s += xi * (wv(((oc * cin_g + c) * g.kh + i) * g.kw + j) - wz);
              }
          const int64_t at = ((n * g.c_out + oc) * g.out_h + oh) * g.out_w + ow;
          if (e.kind == Int8Output::i32) {
            static_cast<int32_t*>(y)[at] = s;
          } else if (e.kind == Int8Output::q8) {
            const int32_t b = e.bias_i32 ? e.bias_i32[oc] : 0;
            const int32_t r = quantize_value(e.scale[oc] * float(s + b), e.y_zero, e.y_signed ? -128 : 0, e.y_signed ? 127 : 255);
            static_cast<uint8_t*>(y)[at] = uint8_t(r);
          } else {
            float v = e.scale[oc] * float(s) + (e.bias_f32 ? e.bias_f32[oc] : 0.f);
            apply_activation_generic(e.act.act, &v, e.act.residual ? e.act.residual + at : nullptr, 1);
            static_cast<float*>(y)[at] = v;
          }
        }
    }
}

}  // namespace pareto::kernels
