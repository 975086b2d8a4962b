// int8 GEMM for the integer convolutions with AVX-512 VNNI: signed weight
// rows broadcast 4 bytes (4 k-steps) at a time against a panel vector of 16
// pixels x 4 k-steps of unsigned activations; VPDPBUSD adds the four
// products of each lane into its int32 sum (exactly: no saturation).
// Register tile: up to 8 rows x 32 pixels (16 accumulators).
#include "kernels/x86/avx512_intrinsics.h"
// The float epilogue rounds the product and the sum separately, as the
// scalar twin does (the build would otherwise fuse them).
#pragma GCC optimize("fp-contract=off")

#include <cmath>
#include <cstring>

#include "kernels/int8_conv.h"
#include "kernels/x86/activation_avx512.h"
#include "kernels/x86/vnni_helpers.h"

namespace pareto::kernels::avx512vnni {

namespace {

inline int32_t quad(const int8_t* a) {
  int32_t v;
  std::memcpy(&v, a, 4);
  return v;
}

// Rows [0, R) x pixel vectors [j, j + 16 * V) of C. quad(q) points at k-quad
// q's pixel 0: the panel's row, or the shifted conv's input at its offset.
template <int R, int V, class Quad>
void tile(const int8_t* a, int64_t lda, int64_t quads, Quad quad_row, int64_t j, int64_t n, int32_t* c, int64_t ldc) {
  __m512i acc[R][V];
  // Every loop over the tile fully unrolled, or GCC keeps part of acc in memory.
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_si512();
  for (int64_t q = 0; q < quads; ++q) {
    const uint8_t* bq = quad_row(q) + j * 4;
    __m512i bv[V];
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) bv[v] = _mm512_loadu_si512(bq + v * 64);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512i av = _mm512_set1_epi32(quad(a + r * lda + q * 4));
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) acc[r][v] = dpbusd(acc[r][v], bv[v], av);
    }
  }
#pragma GCC unroll 2
  for (int v = 0; v < V; ++v) {
    const int64_t left = n - (j + 16 * v);
    const __mmask16 m = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1u);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) _mm512_mask_storeu_epi32(c + r * ldc + j + 16 * v, m, acc[r][v]);
  }
}

// Rows [0, m) in register tiles of 8 (then the remainder) for pixel
// vectors [j, j + 16 * V).
template <int V, class Quad>
void column(const int8_t* a, int64_t lda, int64_t m, int64_t quads, Quad quad_row, int64_t j, int64_t n, int32_t* c, int64_t ldc) {
  int64_t r = 0;
  for (; r + 8 <= m; r += 8) tile<8, V>(a + r * lda, lda, quads, quad_row, j, n, c + r * ldc, ldc);
  switch (m - r) {
    case 7: tile<7, V>(a + r * lda, lda, quads, quad_row, j, n, c + r * ldc, ldc); break;
    case 6: tile<6, V>(a + r * lda, lda, quads, quad_row, j, n, c + r * ldc, ldc); break;
    case 5: tile<5, V>(a + r * lda, lda, quads, quad_row, j, n, c + r * ldc, ldc); break;
    case 4: tile<4, V>(a + r * lda, lda, quads, quad_row, j, n, c + r * ldc, ldc); break;
    case 3: tile<3, V>(a + r * lda, lda, quads, quad_row, j, n, c + r * ldc, ldc); break;
    case 2: tile<2, V>(a + r * lda, lda, quads, quad_row, j, n, c + r * ldc, ldc); break;
    case 1: tile<1, V>(a + r * lda, lda, quads, quad_row, j, n, c + r * ldc, ldc); break;
    default: break;
  }
}

// Pixel columns outer, row tiles inner: a column's operand (every k-quad of
// 32 pixels) is read from L2 once and then from L1 by each row tile; with
// the rows outer, a block's whole operand went through L1 once per row tile.
template <class Quad>
void gemm(const int8_t* a, int64_t lda, int64_t m, int64_t quads, Quad quad_row, int64_t n, int32_t* c, int64_t ldc) {
  const int64_t n16 = (n + 15) / 16 * 16;
  int64_t j = 0;
  for (; j + 32 <= n16; j += 32) column<2>(a, lda, m, quads, quad_row, j, n, c, ldc);
  if (j < n16) column<1>(a, lda, m, quads, quad_row, j, n, c, ldc);
}

}  // namespace

void int8_gemm(const int8_t* a, int64_t lda, int64_t m, int64_t k4, const uint8_t* b, int64_t n, int32_t* c, int64_t ldc) {
  const int64_t n16 = (n + 15) / 16 * 16;
  gemm(a, lda, m, k4 / 4, [&](int64_t q) { return b + q * n16 * 4; }, n, c, ldc);
}

void int8_gemm_offsets(const int8_t* a, int64_t lda, int64_t m, int64_t quads, const uint8_t* b, const int64_t* off, int64_t n,
                       int32_t* c, int64_t ldc) {
  gemm(a, lda, m, quads, [&](int64_t q) { return b + off[q]; }, n, c, ldc);
}

namespace {

// x / scale rounded half to even, plus the zero point, clamped to [0, 255]
// (QuantizeLinear to uint8), 16 lanes as int32: by a multiply with the
// reciprocal (a division costs several times more and dominated the
// roundings of the int8 models' tensors). The product t = x * (1/scale),
// both rounded, is within |t| * 2^-22 of the rounded quotient (up to 3
// units in the last place near the top of a binade), so for |t| < 1024
// within 2^-12, and both round to the same integer unless t lies that close
// to a half-integer: those lanes (one in two thousand) are divided after
// all. A larger |t| lands at 0 or 255 after the zero point (0..255, as
// every caller checks) and the clamp whichever way it rounds. (The margin
// was 2^-10 and sent 3% of the vectors to the division, a branch that then
// mispredicted often.) The bytes equal the division's, as the tests check
// against quantize_u8_ref.
struct U8Rounding {
  explicit U8Rounding(float scale, int32_t zero)
      : reciprocal(std::isnormal(scale) && std::isnormal(1.f / scale)),
        s(_mm512_set1_ps(scale)),
        inv(_mm512_set1_ps(1.f / scale)),
        z(_mm512_set1_ps(float(zero))) {}
  __m512i operator()(__m512 xv) const {
    constexpr int kNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
    __m512 v;
    if (reciprocal) {
      const __m512 t = _mm512_mul_ps(xv, inv);
      v = _mm512_roundscale_ps(t, kNearest);
      // |t - v| <= 0.5 (exact); t is within 2^-12 of a half-integer where it is at least 0.5 - 2^-12 (exact too).
      // NaN and infinite lanes compare false and keep v: the quotient's rounding is the same NaN or infinity.
      const __mmask16 near = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(t, v)), _mm512_set1_ps(0.5f - 0x1p-12f), _CMP_GE_OQ);
      if (near) v = _mm512_mask_roundscale_ps(v, near, _mm512_maskz_div_ps(near, xv, s), kNearest);
    } else {
      v = _mm512_roundscale_ps(_mm512_div_ps(xv, s), kNearest);
    }
    v = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(v, z), _mm512_setzero_ps()), _mm512_set1_ps(255.f));  // NaN -> 0 (max returns its second operand)
    return _mm512_cvttps_epi32(v);
  }
  bool reciprocal;
  __m512 s, inv, z;
};

// Row r's vectors: the corrected sums, scale and bias, the residual, `one`
// (the activation), then stored or rounded. Residual and Rounded are
// template arguments so the vector loop carries no branch on them.
template <bool Residual, bool Rounded, class F>
void epilogue_rows(const int32_t* acc, int64_t ld, int64_t rows, int64_t count, const Int8RowsEpilogue& e, F one) {
  const U8Rounding round(e.u8_scale, e.u8_zero);
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t* a = acc + r * ld;
    const int32_t wz = e.w_zero[r];
    const int32_t* col_sums = wz ? e.col_sums : nullptr;
    const __m512i vb = _mm512_set1_epi32(e.base[r]), vz = _mm512_set1_epi32(wz);
    const __m512 s = _mm512_set1_ps(e.scale[r]), b = _mm512_set1_ps(e.bias ? e.bias[r] : 0.f);
    const float* res = Residual ? e.residual + r * e.stride : nullptr;
    uint8_t* u8 = Rounded ? e.u8 + r * e.stride : nullptr;
    float* f32 = Rounded ? nullptr : e.f32 + r * e.stride;
    // Whole vectors with plain loads and stores, the tail with masked ones
    // (masked forms throughout made the loop markedly slower on Zen 5).
    auto step = [&]<bool Tail>(int64_t q, __mmask16 m) {
      auto load_i = [&](const int32_t* p) { return Tail ? _mm512_maskz_loadu_epi32(m, p) : _mm512_loadu_si512(p); };
      __m512i v = _mm512_add_epi32(load_i(a + q), vb);
      if (col_sums) v = _mm512_sub_epi32(v, _mm512_mullo_epi32(vz, load_i(col_sums + q)));
      // Not fused: the scalar loop rounds the product, then the sum.
      __m512 f = _mm512_add_ps(_mm512_mul_ps(s, _mm512_cvtepi32_ps(v)), b);
      if constexpr (Residual) f = _mm512_add_ps(f, Tail ? _mm512_maskz_loadu_ps(m, res + q) : _mm512_loadu_ps(res + q));
      f = one(f);
      if constexpr (Rounded) {
        // The bytes through a register (VPMOVUSDB's store form is microcoded on AMD).
        const __m128i bytes = _mm512_cvtusepi32_epi8(round(f));
        if (Tail) _mm_mask_storeu_epi8(u8 + q, m, bytes);
        else _mm_storeu_si128(reinterpret_cast<__m128i*>(u8 + q), bytes);
      } else {
        if (Tail) _mm512_mask_storeu_ps(f32 + q, m, f);
        else _mm512_storeu_ps(f32 + q, f);
      }
    };
    int64_t q = 0;
    for (; q + 16 <= count; q += 16) step.template operator()<false>(q, __mmask16(0xFFFF));
    if (q < count) step.template operator()<true>(q, __mmask16((1u << (count - q)) - 1u));
  }
}

template <class F>
void epilogue_rows(const int32_t* acc, int64_t ld, int64_t rows, int64_t count, const Int8RowsEpilogue& e, F one) {
  if (e.residual) {
    if (e.u8) epilogue_rows<true, true>(acc, ld, rows, count, e, one);
    else epilogue_rows<true, false>(acc, ld, rows, count, e, one);
  } else {
    if (e.u8) epilogue_rows<false, true>(acc, ld, rows, count, e, one);
    else epilogue_rows<false, false>(acc, ld, rows, count, e, one);
  }
}

}  // namespace

bool int8_epilogue_rows(const int32_t* acc, int64_t ld, int64_t rows, int64_t count, const Int8RowsEpilogue& e) {
  if (!e.act) {
    epilogue_rows(acc, ld, rows, count, e, [](__m512 v) { return v; });
    return true;
  }
  return avx512::with_vector_activation(*e.act, [&](auto one) { epilogue_rows(acc, ld, rows, count, e, one); });
}

void int8_f32_row(const int32_t* acc, int64_t n, int32_t base, int32_t w_zero, const int32_t* col_sums, float scale, float bias, float* row) {
  Int8RowsEpilogue e;
  e.base = &base;
  e.w_zero = &w_zero;
  e.col_sums = col_sums;
  e.scale = &scale;
  e.bias = &bias;
  e.f32 = row;
  int8_epilogue_rows(acc, n, 1, n, e);
}

void quantize_u8(const float* x, int64_t n, float scale, int32_t zero, uint8_t* out) {
  const U8Rounding round(scale, zero);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm512_cvtusepi32_epi8(round(_mm512_loadu_ps(x + i))));
  for (; i < n; ++i) out[i] = uint8_t(quantize_value(x[i] / scale, zero, 0, 255));
}

void quantize_u8_scaled(const float* x, int64_t n, float factor, float scale, int32_t zero, uint8_t* out) {
  const U8Rounding round(scale, zero);
  const __m512 f = _mm512_set1_ps(factor);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm512_cvtusepi32_epi8(round(_mm512_mul_ps(_mm512_loadu_ps(x + i), f))));
  for (; i < n; ++i) out[i] = uint8_t(quantize_value(x[i] * factor / scale, zero, 0, 255));
}

void dequantize_u8(const uint8_t* q, int64_t n, float scale, int32_t zero, float* out) {
  const __m512 s = _mm512_set1_ps(scale);
  const __m512i z = _mm512_set1_epi32(zero);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i v = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i))), z);
    _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_cvtepi32_ps(v), s));
  }
  for (; i < n; ++i) out[i] = float(int32_t(q[i]) - zero) * scale;
}

}  // namespace pareto::kernels::avx512vnni

namespace pareto::kernels::avx512vnni {

void int8_matmul_row(const int32_t* acc, int64_t n, int32_t fix, const int32_t* col_fix, const float* scale, float* y) {
  const __m512i f = _mm512_set1_epi32(fix);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = n - j >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - j)) - 1u);
    // Wrapping 32-bit adds, as the scalar loop's unsigned ones.
    const __m512i v = _mm512_add_epi32(_mm512_add_epi32(_mm512_maskz_loadu_epi32(m, acc + j), f), _mm512_maskz_loadu_epi32(m, col_fix + j));
    _mm512_mask_storeu_ps(y + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, scale + j), _mm512_cvtepi32_ps(v)));
  }
}

}  // namespace pareto::kernels::avx512vnni
