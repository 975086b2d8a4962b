// Reference quantizers for Q5_0, Q5_1, Q5_K and Q6_K, with ggml's rounding
// rules and float operation order (the same bytes as llama-quantize; tested
// against its files in tests/unit/quantize_test.cpp). The fifth (and sixth)
// bit of each code is stored apart from the low nibbles, as ggml lays it out.
#include <algorithm>
#include <cfloat>
#include <cmath>

#include "kernels/k_quant_codes.h"
#include "kernels/quant_formats.h"
#include "kernels/ref/ggml_quant_common.h"

namespace pareto::kernels::ggml_ref {

namespace {

// Low nibbles of codes j and j + 16 share byte j; bit 4 of code j goes to bit j of qh.
void pack_q5_32(const uint8_t* codes, uint8_t* qh_out, uint8_t* qs) {
  uint32_t qh = 0;
  for (int j = 0; j < QK / 2; ++j) {
    const uint8_t a = codes[j], b = codes[j + QK / 2];
    qs[j] = uint8_t((a & 0x0F) | ((b & 0x0F) << 4));
    qh |= uint32_t((a & 0x10u) >> 4) << j;
    qh |= uint32_t((b & 0x10u) >> 4) << (j + QK / 2);
  }
  std::memcpy(qh_out, &qh, 4);
}

// ggml's make_qx_quants with rmse_type 1 and no importance: symmetric codes
// in [-nmax, nmax - 1] (returned shifted by nmax), the scale refined over 18
// nearby trial scales for the least x^2-weighted error.
float qx_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < 1e-15f) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = int8_t(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * x[i]);
      l = std::max(-nmax, std::min(nmax - 1, l));
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) L[i] = int8_t(nmax + std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i]))));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

}  // namespace

// Q5_0: d (f16) qh[4] qs[16]; symmetric, d = max / -16.
void q5_0_block(const float* x, uint8_t* y) {
  float amax = 0.f, max = 0.f;
  for (int j = 0; j < QK; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  const float d = max / -16;
  const float id = d ? 1.0f / d : 0.0f;
  put_f16(y, d);
  uint8_t codes[QK];
  for (int j = 0; j < QK; ++j) codes[j] = uint8_t(std::min<int>(31, int8_t(x[j] * id + 16.5f)));
  pack_q5_32(codes, y + 2, y + 6);
}

// Q5_1: d m (f16) qh[4] qs[16]; [min, max] in 31 steps.
void q5_1_block(const float* x, uint8_t* y) {
  float min = FLT_MAX, max = -FLT_MAX;
  for (int j = 0; j < QK; ++j) {
    min = std::min(min, x[j]);
    max = std::max(max, x[j]);
  }
  const float d = (max - min) / ((1 << 5) - 1);
  const float id = d ? 1.0f / d : 0.0f;
  put_f16(y, d);
  put_f16(y + 2, min);
  uint8_t codes[QK];
  for (int j = 0; j < QK; ++j) codes[j] = uint8_t((x[j] - min) * id + 0.5f);
  pack_q5_32(codes, y + 4, y + 8);
}

// Q5_K: d dmin (f16) scales[12] qh[32] qs[128]; 8 sub-blocks of 32 with a
// 6-bit scale and min each, codes in [0, 31].
void q5_k_block(const float* x, uint8_t* y) {
  uint8_t L[QK_K], Laux[32];
  float weights[32], mins[QK_K / 32], scales[QK_K / 32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < QK_K / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = qkx2_quants(32, 31, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.5f, 0.1f, 15, false);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  k_scales_and_codes(x, scales, mins, max_scale, max_min, uint32_t(GgmlType::q5_k), y, L);
  k_quant_pack_codes(uint32_t(GgmlType::q5_k), L, y);
}

// Q6_K: ql[128] qh[64] scales[16] (int8) d (f16); 16 sub-blocks of 16,
// codes in [-32, 31] stored plus 32.
void q6_k_block(const float* x, uint8_t* y) {
  int8_t L[QK_K];
  float scales[QK_K / 16];
  float max_scale = 0, max_abs_scale = 0;
  for (int ib = 0; ib < QK_K / 16; ++ib) {
    scales[ib] = qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
    const float a = std::fabs(scales[ib]);
    if (a > max_abs_scale) {
      max_abs_scale = a;
      max_scale = scales[ib];
    }
  }
  auto* sc = reinterpret_cast<int8_t*>(y + 192);
  if (max_abs_scale < 1e-15f) {
    std::memset(y, 0, 210);
    return;
  }
  const float iscale = -128.f / max_scale;
  put_f16(y + 208, 1 / iscale);
  for (int ib = 0; ib < QK_K / 16; ++ib) sc[ib] = int8_t(std::min(127, nearest_int(iscale * scales[ib])));
  // Codes (stored + 32, as qx_quants left them) again against the scales as stored.
  uint8_t* codes = reinterpret_cast<uint8_t*>(L);
  k_quant_recode(uint32_t(GgmlType::q6_k), x, y, codes);
  k_quant_pack_codes(uint32_t(GgmlType::q6_k), codes, y);
}

}  // namespace pareto::kernels::ggml_ref
