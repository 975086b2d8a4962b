// Reference quantizers for F16, Q8_0, Q4_0 and Q4_K with ggml's rounding
// rules and float operation order, so quantizing the same floats gives the
// same bytes as llama.cpp's `llama-quantize` (built without FMA contraction).
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "kernels/pareto_formats.h"
#include "kernels/quant_formats.h"

namespace pareto::kernels {

namespace {

constexpr int64_t QK = 32, QK_K = 256;

inline void put_f16(uint8_t* p, float v) {
  uint16_t h = float_to_half(v);
  std::memcpy(p, &h, 2);
}

inline float get_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return half_to_float(h);
}

// Round half to even via the float mantissa trick ggml uses (|fval| < 2^22).
inline int nearest_int(float fval) {
  float val = fval + 12582912.f;
  int i;
  std::memcpy(&i, &val, 4);
  return (i & 0x007fffff) - 0x00400000;
}

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

float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min, uint8_t* Laux, float rmin,
                       float rdelta, int nstep) {
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
    diff = diff * diff;
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
        diff = diff * diff;
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

void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = uint8_t((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
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
  uint8_t* sc = y + 4;
  std::memset(sc, 0, 12);
  float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < QK_K / 32; ++j) {
    uint8_t ls = uint8_t(std::min(63, nearest_int(inv_scale * scales[j])));
    uint8_t lm = uint8_t(std::min(63, nearest_int(inv_min * mins[j])));
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
  for (int j = 0; j < QK_K / 32; ++j) {
    uint8_t s, m;
    get_scale_min_k4(j, sc, &s, &m);
    const float d = get_f16(y) * s;
    if (!d) continue;
    const float dm = get_f16(y + 2) * m;
    for (int ii = 0; ii < 32; ++ii) {
      int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = uint8_t(std::max(0, std::min(15, l)));
    }
  }
  uint8_t* q = y + 16;
  for (int j = 0; j < QK_K; j += 64) {
    for (int l = 0; l < 32; ++l) q[l] = uint8_t(L[j + l] | (L[j + l + 32] << 4));
    q += 32;
  }
}

}  // namespace

bool can_quantize(uint32_t type) {
  if (type == kQ8RowType || is_group_type(type)) return true;
  switch (GgmlType(type)) {
    case GgmlType::f32: case GgmlType::f16: case GgmlType::q8_0: case GgmlType::q4_0: case GgmlType::q4_1: case GgmlType::q4_k: return true;
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
    case GgmlType::q4_k:
      for (int64_t b = 0; b < n / QK_K; ++b) q4_k_block(x + b * QK_K, y + b * 144);
      return;
    default: return;
  }
}

}  // namespace pareto::kernels
