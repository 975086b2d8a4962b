// Reference quantizers for F16, Q8_0, Q4_0, Q4_1, Q2_K, Q3_K and Q4_K (Q5_0, Q5_1, Q5_K and Q6_K in
// quantize_ref_q56.cpp) with ggml's rounding
// rules and float operation order, so quantizing the same floats gives the
// same bytes as llama.cpp's `llama-quantize` (built without FMA contraction).
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "kernels/k_quant_codes.h"
#include "kernels/pareto_formats.h"
#include "kernels/quant_formats.h"
#include "kernels/ref/ggml_quant_common.h"

namespace pareto::kernels {

namespace {

using namespace ggml_ref;

void q8_0_block(const float* x, uint8_t* y) {
  float amax = 0.f;
  for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / ((1 << 7) - 1);
  const float id = d ? 1.0f / d : 0.0f;
  put_f16(y, d);
  for (int j = 0; j < QK; ++j) y[2 + j] = uint8_t(int8_t(std::roundf(x[j] * id)));
}

void q4_0_block(const float* x, uint8_t* y) {
  float amax = 0.f, max = 0.f;
  for (int j = 0; j < QK; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  const float d = max / -8;
  const float id = d ? 1.0f / d : 0.0f;
  put_f16(y, d);
  for (int j = 0; j < QK / 2; ++j) {
    const float x0 = x[j] * id, x1 = x[QK / 2 + j] * id;
    const uint8_t xi0 = uint8_t(std::min<int>(15, int8_t(x0 + 8.5f)));
    const uint8_t xi1 = uint8_t(std::min<int>(15, int8_t(x1 + 8.5f)));
    y[2 + j] = uint8_t(xi0 | (xi1 << 4));
  }
}

// ggml's quantize_row_q4_1_ref: [min, max] in 15 steps, f16 d and m.
void q4_1_block(const float* x, uint8_t* y) {
  float min = x[0], max = x[0];
  for (int j = 1; j < QK; ++j) {
    min = std::min(min, x[j]);
    max = std::max(max, x[j]);
  }
  const float d = (max - min) / ((1 << 4) - 1);
  const float id = d ? 1.0f / d : 0.0f;
  put_f16(y, d);
  put_f16(y + 2, min);
  for (int j = 0; j < QK / 2; ++j) {
    const float x0 = (x[j] - min) * id, x1 = (x[QK / 2 + j] - min) * id;
    const uint8_t xi0 = uint8_t(std::min<int>(15, int8_t(x0 + 0.5f)));
    const uint8_t xi1 = uint8_t(std::min<int>(15, int8_t(x1 + 0.5f)));
    y[4 + j] = uint8_t(xi0 | (xi1 << 4));
  }
}

// use_mad: weighted absolute instead of squared error (ggml's Q2_K).
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min, uint8_t* Laux, float rmin,
                       float rdelta, int nstep, bool use_mad = false) {
  float min = x[0], max = x[0];
  float sum_w = weights[0], sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_mad = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * (x[i] - min));
    L[i] = uint8_t(std::max(0, std::min(nmax, l)));
    float diff = scale * L[i] + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_mad += weights[i] * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * (x[i] - min));
      l = std::max(0, std::min(nmax, l));
      Laux[i] = uint8_t(l);
      float w = weights[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float mad = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * Laux[i] + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        mad += weights[i] * diff;
      }
      if (mad < best_mad) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_mad = mad;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// Signed codes in [-nmax, nmax) for a 16-value group, refined 5 rounds by
// the weighted least-squares scale (weights x^2); returns the scale.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L) {
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
  const float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i])));
    L[i] = int8_t(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * L[i];
      if (slx > 0) {
        float sl2 = suml2 - w * L[i] * L[i];
        const int new_l = std::max(-nmax, std::min(nmax - 1, nearest_int(x[i] * sl2 / slx)));
        if (new_l != L[i]) {
          slx += w * x[i] * new_l;
          sl2 += w * new_l * new_l;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = int8_t(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = int8_t(L[i] + nmax);
  return sumlx / suml2;
}

// Q3_K: hmask[32] qs[64] scales[12] d
void q3_k_block(const float* x, uint8_t* y) {
  int8_t L[QK_K];
  float scales[QK_K / 16];
  float max_scale = 0, amax = 0;
  for (int j = 0; j < QK_K / 16; ++j) {
    scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
    const float scale = std::fabs(scales[j]);
    if (scale > amax) {
      amax = scale;
      max_scale = scales[j];
    }
  }
  uint8_t* sc = y + 96;
  std::memset(sc, 0, 12);
  if (max_scale) {
    const float iscale = -32.f / max_scale;
    put_f16(y + 108, 1 / iscale);
    for (int j = 0; j < QK_K / 16; ++j) {
      int l = std::max(-32, std::min(31, nearest_int(iscale * scales[j]))) + 32;
      if (j < 8) sc[j] = uint8_t(l & 0xF);
      else sc[j - 8] = uint8_t(sc[j - 8] | ((l & 0xF) << 4));
      l >>= 4;
      sc[j % 4 + 8] = uint8_t(sc[j % 4 + 8] | (l << (2 * (j / 4))));
    }
  } else {
    put_f16(y + 108, 0.f);
  }
  // Codes (0 .. 7, stored as make_q3_quants left them) again against the scales as stored.
  uint8_t* codes = reinterpret_cast<uint8_t*>(L);
  k_quant_recode(uint32_t(GgmlType::q3_k), x, y, codes);
  k_quant_pack_codes(uint32_t(GgmlType::q3_k), codes, y);
}

// Q2_K: scales[16] (4-bit scale | 4-bit min) qs[64] d dmin
void q2_k_block(const float* x, uint8_t* y) {
  uint8_t L[QK_K], Laux[16];
  float weights[16], mins[QK_K / 16], scales[QK_K / 16];
  const float q4scale = 15.f;
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < QK_K / 16; ++j) {
    for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
    scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  uint8_t* sc = y;
  if (max_scale > 0) {
    const float iscale = q4scale / max_scale;
    for (int j = 0; j < QK_K / 16; ++j) sc[j] = uint8_t(nearest_int(iscale * scales[j]));
    put_f16(y + 80, max_scale / q4scale);
  } else {
    for (int j = 0; j < QK_K / 16; ++j) sc[j] = 0;
    put_f16(y + 80, 0.f);
  }
  if (max_min > 0) {
    const float iscale = q4scale / max_min;
    for (int j = 0; j < QK_K / 16; ++j) sc[j] = uint8_t(sc[j] | (nearest_int(iscale * mins[j]) << 4));
    put_f16(y + 82, max_min / q4scale);
  } else {
    put_f16(y + 82, 0.f);
  }
  k_quant_recode(uint32_t(GgmlType::q2_k), x, y, L);
  k_quant_pack_codes(uint32_t(GgmlType::q2_k), L, y);
}

// Q4_K: d dmin scales[12] qs[128]
void q4_k_block(const float* x, uint8_t* y) {
  uint8_t L[QK_K], Laux[32];
  float weights[32], mins[QK_K / 32], scales[QK_K / 32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < QK_K / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = make_qkx2_quants(32, 15, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -1.f, 0.1f, 20);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  k_scales_and_codes(x, scales, mins, max_scale, max_min, uint32_t(GgmlType::q4_k), y, L);
  k_quant_pack_codes(uint32_t(GgmlType::q4_k), L, y);
}

}  // namespace

void ggml_ref::k_scales_and_codes(const float* x, const float* scales, const float* mins, float max_scale, float max_min, uint32_t type, uint8_t* y,
                                  uint8_t* L) {
  uint8_t* sc = y + 4;
  std::memset(sc, 0, 12);
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f, inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < QK_K / 32; ++j) {
    const uint8_t ls = uint8_t(std::min(63, nearest_int(inv_scale * scales[j])));
    const uint8_t lm = uint8_t(std::min(63, nearest_int(inv_min * mins[j])));
    if (j < 4) {
      sc[j] = ls;
      sc[j + 4] = lm;
    } else {
      sc[j + 4] = uint8_t((ls & 0xF) | ((lm & 0xF) << 4));
      sc[j - 4] |= uint8_t((ls >> 4) << 6);
      sc[j - 0] |= uint8_t((lm >> 4) << 6);
    }
  }
  put_f16(y, max_scale / 63.f);
  put_f16(y + 2, max_min / 63.f);
  // Codes again against the scales as stored (6 bits, f16), as ggml does.
  k_quant_recode(type, x, y, L);
}

float ggml_ref::qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min, uint8_t* Laux, float rmin,
                            float rdelta, int nstep, bool use_mad) {
  return make_qkx2_quants(n, nmax, x, weights, L, the_min, Laux, rmin, rdelta, nstep, use_mad);
}

bool can_quantize(uint32_t type) {
  if (type == kQ8RowType || is_group_type(type)) return true;
  switch (GgmlType(type)) {
    case GgmlType::f32: case GgmlType::f16: case GgmlType::q8_0: case GgmlType::q4_0: case GgmlType::q4_1: case GgmlType::q4_k:
    case GgmlType::q3_k: case GgmlType::q2_k: case GgmlType::q5_0: case GgmlType::q5_1: case GgmlType::q5_k: case GgmlType::q6_k: return true;
    default: return false;
  }
}

void quantize_row_ref(uint32_t type, const float* x, void* dst, int64_t n) {
  uint8_t* y = static_cast<uint8_t*>(dst);
  if (type == kQ8RowType) return quantize_q8_row_ref(x, dst, n);
  if (is_group_type(type)) return quantize_group_row_ref(group_format(type), x, dst, n);
  switch (GgmlType(type)) {
    case GgmlType::f32: std::memcpy(y, x, size_t(n) * 4); return;
    case GgmlType::f16:
      for (int64_t i = 0; i < n; ++i) put_f16(y + 2 * i, x[i]);
      return;
    case GgmlType::q8_0:
      for (int64_t b = 0; b < n / QK; ++b) q8_0_block(x + b * QK, y + b * 34);
      return;
    case GgmlType::q4_0:
      for (int64_t b = 0; b < n / QK; ++b) q4_0_block(x + b * QK, y + b * 18);
      return;
    case GgmlType::q4_1:
      for (int64_t b = 0; b < n / QK; ++b) q4_1_block(x + b * QK, y + b * 20);
      return;
    case GgmlType::q3_k:
      for (int64_t b = 0; b < n / QK_K; ++b) q3_k_block(x + b * QK_K, y + b * 110);
      return;
    case GgmlType::q2_k:
      for (int64_t b = 0; b < n / QK_K; ++b) q2_k_block(x + b * QK_K, y + b * 84);
      return;
    case GgmlType::q4_k:
      for (int64_t b = 0; b < n / QK_K; ++b) q4_k_block(x + b * QK_K, y + b * 144);
      return;
    case GgmlType::q5_0:
      for (int64_t b = 0; b < n / QK; ++b) q5_0_block(x + b * QK, y + b * 22);
      return;
    case GgmlType::q5_1:
      for (int64_t b = 0; b < n / QK; ++b) q5_1_block(x + b * QK, y + b * 24);
      return;
    case GgmlType::q5_k:
      for (int64_t b = 0; b < n / QK_K; ++b) q5_k_block(x + b * QK_K, y + b * 176);
      return;
    case GgmlType::q6_k:
      for (int64_t b = 0; b < n / QK_K; ++b) q6_k_block(x + b * QK_K, y + b * 210);
      return;
    default: return;
  }
}

}  // namespace pareto::kernels
