// The K-quants' code grids, header decoding and code layouts
// (k_quant_codes.h), in ggml's float operation order (built without
// fused multiply-adds, as the reference quantizers are).
#include "kernels/k_quant_codes.h"

#include <algorithm>
#include <cstring>

#include "kernels/quant_formats.h"
#include "kernels/ref/ggml_quant_common.h"

namespace pareto::kernels {

using namespace ggml_ref;

namespace {

// 2-bit codes: 4 per byte, element j + 32 k of each 128 in bits 2k.
void pack_2bit(const uint8_t* codes, uint8_t* qs) {
  for (int j = 0; j < QK_K; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = uint8_t(codes[j + l] | (codes[j + l + 32] << 2) | (codes[j + l + 64] << 4) | (codes[j + l + 96] << 6));
}

// Each 64 codes: the first 32 in low nibbles, the next 32 in high nibbles.
void pack_nibbles(const uint8_t* codes, uint8_t* qs) {
  for (int j = 0; j < QK_K; j += 64, qs += 32)
    for (int l = 0; l < 32; ++l) qs[l] = uint8_t((codes[j + l] & 0xF) | ((codes[j + l + 32] & 0xF) << 4));
}

// Q3_K: the third bit of code j in bit j / 32 of hmask[j % 32], the low two bits as 2-bit codes.
void pack_q3_k(const uint8_t* codes, uint8_t* y) {
  uint8_t* hmask = y;
  std::memset(hmask, 0, 32);
  uint8_t low[QK_K];
  for (int j = 0; j < QK_K; ++j) {
    if (codes[j] > 3) hmask[j % 32] = uint8_t(hmask[j % 32] | (1 << (j / 32)));
    low[j] = uint8_t(codes[j] & 3);
  }
  pack_2bit(low, y + 32);
}

// Q5_K: nibbles as Q4_K after qh[32]; the fifth bits in qh, two bits per 64 codes.
void pack_q5_k(const uint8_t* codes, uint8_t* y) {
  uint8_t* qh = y + 16;
  std::memset(qh, 0, QK_K / 8);
  for (int n = 0, shift = 0; n < QK_K; n += 64, shift += 2)
    for (int j = 0; j < 32; ++j) qh[j] = uint8_t(qh[j] | ((codes[n + j] >> 4) << shift) | ((codes[n + j + 32] >> 4) << (shift + 1)));
  pack_nibbles(codes, y + 48);
}

// Q6_K: per 128 codes, low nibbles of j and j + 64 share ql[j] (j < 32; 32 .. 63 the same with + 32),
// the top two bits of j, j + 32, j + 64, j + 96 in qh[j].
void pack_q6_k(const uint8_t* codes, uint8_t* y) {
  uint8_t* ql = y;
  uint8_t* qh = y + 128;
  for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32)
    for (int l = 0; l < 32; ++l) {
      const uint8_t* c = codes + j + l;
      ql[l] = uint8_t((c[0] & 0xF) | ((c[64] & 0xF) << 4));
      ql[l + 32] = uint8_t((c[32] & 0xF) | ((c[96] & 0xF) << 4));
      qh[l] = uint8_t((c[0] >> 4) | ((c[32] >> 4) << 2) | ((c[64] >> 4) << 4) | ((c[96] >> 4) << 6));
    }
}

// Q3_K's 16 six-bit scales (stored + 32) from its 12 packed bytes.
int q3_k_scale(const uint8_t* sc, int j) {
  const int s = j < 8 ? sc[j] & 0xF : sc[j - 8] >> 4;
  return (s | (((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

}  // namespace

bool is_k_quant(uint32_t type) {
  switch (GgmlType(type)) {
    case GgmlType::q2_k: case GgmlType::q3_k: case GgmlType::q4_k: case GgmlType::q5_k: case GgmlType::q6_k: return true;
    default: return false;
  }
}

KQuantGrid k_quant_grid(uint32_t type) {
  switch (GgmlType(type)) {
    case GgmlType::q2_k: return {16, 0, 3, 0, true};
    case GgmlType::q3_k: return {16, -4, 3, 4, false};
    case GgmlType::q4_k: return {32, 0, 15, 0, true};
    case GgmlType::q5_k: return {32, 0, 31, 0, true};
    case GgmlType::q6_k: return {16, -32, 31, 32, false};
    default: return {};
  }
}

void k_quant_sub_params(uint32_t type, const uint8_t* y, float* d, float* m) {
  switch (GgmlType(type)) {
    case GgmlType::q2_k:
      for (int j = 0; j < 16; ++j) {
        d[j] = get_f16(y + 80) * float(y[j] & 0xF);
        m[j] = get_f16(y + 82) * float(y[j] >> 4);
      }
      return;
    case GgmlType::q3_k:
      for (int j = 0; j < 16; ++j) d[j] = get_f16(y + 108) * float(q3_k_scale(y + 96, j)), m[j] = 0;
      return;
    case GgmlType::q4_k: case GgmlType::q5_k:
      for (int j = 0; j < 8; ++j) {
        uint8_t s, mn;
        get_scale_min_k4(j, y + 4, &s, &mn);
        d[j] = get_f16(y) * float(s);
        m[j] = get_f16(y + 2) * float(mn);
      }
      return;
    case GgmlType::q6_k:
      for (int j = 0; j < 16; ++j) d[j] = get_f16(y + 208) * float(int8_t(y[192 + j])), m[j] = 0;
      return;
    default: return;
  }
}

int k_quant_code(const KQuantGrid& g, float x, float d, float m) {
  float t = g.has_min ? (x + m) / d : x / d;
  // Clamped before rounding: nearest_int holds for |t| < 2^22 only, and a
  // quantizer that moved x after the header was made (GPTQ) can go far out;
  // for the values ggml rounds the result is the same (NaN stays NaN: code 0, as in ggml).
  if (t < float(g.lo)) t = float(g.lo);
  else if (t > float(g.hi)) t = float(g.hi);
  return std::clamp(nearest_int(t), g.lo, g.hi) + g.shift;
}

void k_quant_pack_codes(uint32_t type, const uint8_t* codes, uint8_t* y) {
  switch (GgmlType(type)) {
    case GgmlType::q2_k: return pack_2bit(codes, y + 16);
    case GgmlType::q3_k: return pack_q3_k(codes, y);
    case GgmlType::q4_k: return pack_nibbles(codes, y + 16);
    case GgmlType::q5_k: return pack_q5_k(codes, y);
    case GgmlType::q6_k: return pack_q6_k(codes, y);
    default: return;
  }
}

void k_quant_recode(uint32_t type, const float* x, const uint8_t* block, uint8_t* codes) {
  const KQuantGrid g = k_quant_grid(type);
  float d[16], m[16];
  k_quant_sub_params(type, block, d, m);
  for (int j = 0; j < QK_K / g.sub; ++j) {
    if (!d[j]) continue;
    for (int i = j * g.sub; i < (j + 1) * g.sub; ++i) codes[i] = uint8_t(k_quant_code(g, x[i], d[j], m[j]));
  }
}

}  // namespace pareto::kernels
