// Reference integer dot products: the oracle for the ISA variants. Per block
// the integer sum is exact; blocks accumulate in float in order.
#include <cmath>
#include <cstring>
#include <vector>

#include "core/dtype.h"
#include "kernels/quant_dot.h"

namespace pareto::kernels {

void f32_q8a_quantize_ref(const float* x, int64_t n, Q8aBlock* out) {
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* xb = x + b * 32;
    float amax = 0.f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xb[j]));
    // ggml's Q8_0 rounding (roundf, scale kept as f16), so Q4_0/Q5_0/Q8_0 dots match llama.cpp's.
    float d = amax / 127.f, id = d > 0 ? 1.f / d : 0.f;
    int32_t sum = 0;
    for (int j = 0; j < 32; ++j) {
      // In float, before converting: NaN and infinities (hostile weights) must
      // not reach an int conversion; NaN gives -128 like the vector twins.
      const float r = std::roundf(xb[j] * id);
      const int q = !(r > -128.f) ? -128 : r > 127.f ? 127 : int(r);
      out[b].qs[j] = int8_t(q);
      sum += q;
    }
    out[b].d = half_to_float(float_to_half(d));
    out[b].sum = sum;
  }
}

float q8a_q4_0_dot_ref(const void* row, const Q8aBlock* x, int64_t n) {
  const uint8_t* w = static_cast<const uint8_t*>(row);
  float acc = 0.f;
  for (int64_t b = 0; b < n / 32; ++b, w += 18) {
    uint16_t h;
    std::memcpy(&h, w, 2);
    int32_t isum = 0;
    for (int j = 0; j < 16; ++j) {
      isum += ((w[2 + j] & 0xF) - 8) * x[b].qs[j];
      isum += ((w[2 + j] >> 4) - 8) * x[b].qs[j + 16];
    }
    acc += half_to_float(h) * x[b].d * float(isum);
  }
  return acc;
}

float q8a_q8_0_dot_ref(const void* row, const Q8aBlock* x, int64_t n) {
  const uint8_t* w = static_cast<const uint8_t*>(row);
  float acc = 0.f;
  for (int64_t b = 0; b < n / 32; ++b, w += 34) {
    uint16_t h;
    std::memcpy(&h, w, 2);
    const int8_t* q = reinterpret_cast<const int8_t*>(w + 2);
    int32_t isum = 0;
    for (int j = 0; j < 32; ++j) isum += q[j] * x[b].qs[j];
    acc += half_to_float(h) * x[b].d * float(isum);
  }
  return acc;
}

float f32_f16_dot_ref(const void* row, const float* x, int64_t n) {
  const uint16_t* w = static_cast<const uint16_t*>(row);
  float acc = 0.f;
  for (int64_t i = 0; i < n; ++i) acc += half_to_float(w[i]) * x[i];
  return acc;
}

// Q5_0: d qh(u32) qs[16]; element j uses the nibble and bit j of qh, minus 16.
float q8a_q5_0_dot_ref(const void* row, const Q8aBlock* x, int64_t n) {
  const uint8_t* w = static_cast<const uint8_t*>(row);
  float acc = 0.f;
  for (int64_t b = 0; b < n / 32; ++b, w += 22) {
    uint16_t h;
    std::memcpy(&h, w, 2);
    uint32_t qh;
    std::memcpy(&qh, w + 2, 4);
    int32_t isum = 0;
    for (int j = 0; j < 16; ++j) {
      isum += (((w[6 + j] & 0xF) | (((qh >> j) & 1) << 4)) - 16) * x[b].qs[j];
      isum += (((w[6 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16) * x[b].qs[j + 16];
    }
    acc += half_to_float(h) * x[b].d * float(isum);
  }
  return acc;
}

// Q6_K: ql[128] qh[64] scales[16] d; value = d * sc[g] * (q - 32) per 16-element group g.
float q8a_q6_k_dot_ref(const void* row, const Q8aBlock* x, int64_t n) {
  const uint8_t* w = static_cast<const uint8_t*>(row);
  float acc = 0.f;
  int8_t q[256];
  for (int64_t sb = 0; sb < n / 256; ++sb, w += 210) {
    const uint8_t* ql = w;
    const uint8_t* qh = w + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(w + 192);
    uint16_t h;
    std::memcpy(&h, w + 208, 2);
    const float d = half_to_float(h);
    for (int c = 0; c < 2; ++c)
      for (int l = 0; l < 32; ++l) {
        const uint8_t* L = ql + 64 * c;
        const uint8_t* H = qh + 32 * c;
        q[128 * c + l + 0] = int8_t((L[l] & 0xF) | (((H[l] >> 0) & 3) << 4)) - 32;
        q[128 * c + l + 32] = int8_t((L[l + 32] & 0xF) | (((H[l] >> 2) & 3) << 4)) - 32;
        q[128 * c + l + 64] = int8_t((L[l] >> 4) | (((H[l] >> 4) & 3) << 4)) - 32;
        q[128 * c + l + 96] = int8_t((L[l + 32] >> 4) | (((H[l] >> 6) & 3) << 4)) - 32;
      }
    for (int g = 0; g < 16; ++g) {
      const Q8aBlock& xb = x[sb * 8 + g / 2];
      int32_t isum = 0;
      for (int l = 0; l < 16; ++l) isum += q[16 * g + l] * xb.qs[16 * (g % 2) + l];
      acc += d * float(sc[g]) * xb.d * float(isum);
    }
  }
  return acc;
}

// Q4_K: d dmin scales[12] qs[128]; value = d*sc*q - dmin*m per 32-element sub-block.
namespace {
// Q4_K and Q5_K share the layout of scales, mins and low nibbles; Q5_K adds
// a fifth bit per element from qh (bit j for sub-block j).
float k_quant_4_5_dot_ref(const uint8_t* w, const Q8aBlock* x, int64_t n, bool five) {
  const int64_t block_bytes = five ? 176 : 144;
  float acc = 0.f;
  for (int64_t sb = 0; sb < n / 256; ++sb, w += block_bytes) {
    uint16_t h0, h1;
    std::memcpy(&h0, w, 2);
    std::memcpy(&h1, w + 2, 2);
    const float d = half_to_float(h0), dmin = half_to_float(h1);
    const uint8_t* qh = w + 16;
    const uint8_t* q = w + (five ? 48 : 16);
    for (int j = 0; j < 8; ++j) {
      const Q8aBlock& xb = x[sb * 8 + j];
      uint8_t sc, m;
      k_quant_scale_min(j, w + 4, &sc, &m);
      const uint8_t* qj = q + (j / 2) * 32;
      int32_t isum = 0;
      for (int l = 0; l < 32; ++l) {
        const int v = ((j % 2) ? (qj[l] >> 4) : (qj[l] & 0xF)) + (five ? ((qh[l] >> j) & 1) * 16 : 0);
        isum += v * xb.qs[l];
      }
      acc += d * float(sc) * xb.d * float(isum) - dmin * float(m) * xb.d * float(xb.sum);
    }
  }
  return acc;
}
}  // namespace

float q8a_q4_k_dot_ref(const void* row, const Q8aBlock* x, int64_t n) {
  return k_quant_4_5_dot_ref(static_cast<const uint8_t*>(row), x, n, false);
}


float q8a_q4_1_dot_ref(const void* row, const Q8aBlock* x, int64_t n) {
  const uint8_t* w = static_cast<const uint8_t*>(row);
  float acc = 0.f;
  for (int64_t b = 0; b < n / 32; ++b, w += 20) {
    uint16_t hd, hm;
    std::memcpy(&hd, w, 2);
    std::memcpy(&hm, w + 2, 2);
    int32_t isum = 0;
    for (int j = 0; j < 16; ++j) isum += (w[4 + j] & 0xF) * x[b].qs[j] + (w[4 + j] >> 4) * x[b].qs[j + 16];
    // w = d*q + m: the minimum meets the activation block's sum
    acc += half_to_float(hd) * x[b].d * float(isum) + half_to_float(hm) * x[b].d * float(x[b].sum);
  }
  return acc;
}

float q8a_q5_k_dot_ref(const void* row, const Q8aBlock* x, int64_t n) {
  return k_quant_4_5_dot_ref(static_cast<const uint8_t*>(row), x, n, true);
}

float q8a_q3_k_dot_ref(const void* row, const Q8aBlock* x, int64_t n) {
  const uint8_t* w = static_cast<const uint8_t*>(row);
  float acc = 0.f;
  for (int64_t sb = 0; sb < n / 256; ++sb, w += 110) {
    uint16_t hd;
    std::memcpy(&hd, w + 108, 2);
    const float d = half_to_float(hd);
    int8_t sc[16];
    q3_k_scales(w, sc);
    const uint8_t* hm = w;
    for (int b = 0; b < 8; ++b) {  // activation block b: elements 32b..32b+31, two 16-element scale groups
      const Q8aBlock& xb = x[sb * 8 + b];
      const uint8_t* q = w + 32 + (b / 4) * 32;
      const int shift = 2 * (b % 4), hbit = b;  // high-mask bit: 4 * (b / 4) + b % 4 == b
      for (int h = 0; h < 2; ++h) {
        int32_t isum = 0;
        for (int l = 0; l < 16; ++l) {
          const int i = 16 * h + l;
          const int v = ((q[i] >> shift) & 3) - (((hm[i] >> hbit) & 1) ? 0 : 4);
          isum += v * xb.qs[i];
        }
        acc += d * float(sc[2 * b + h]) * xb.d * float(isum);
      }
    }
  }
  return acc;
}

float f32_bf16_dot_ref(const void* row, const float* x, int64_t n) {
  const uint16_t* w = static_cast<const uint16_t*>(row);
  float acc = 0.f;
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t bits = uint32_t(w[i]) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    acc += f * x[i];
  }
  return acc;
}

}  // namespace pareto::kernels

namespace pareto::kernels {

void bf16_round_row_ref(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &x[i], 4);
    if ((bits & 0x7FFFFFFF) > 0x7F800000) y[i] = uint16_t((bits >> 16) | 0x40);  // quiet NaN
    else y[i] = uint16_t((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
  }
}

void bf16_widen_row_ref(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t bits = uint32_t(x[i]) << 16;
    std::memcpy(&y[i], &bits, 4);
  }
}

int64_t bf16_tile_groups(int64_t tokens) { return (tokens + 31) / 32 * 2; }

void bf16_tile_panel(const uint16_t* x, int64_t tokens, int64_t cols, std::vector<uint16_t>& panel) {
  const int64_t steps = cols / 32;
  panel.assign(size_t(bf16_tile_groups(tokens) * steps * 512), 0);
  for (int64_t tok = 0; tok < tokens; ++tok) {
    const uint16_t* src = x + tok * cols;
    uint16_t* dst = panel.data() + (tok / 16) * steps * 512 + (tok % 16) * 2;
    // columns k, k + 1 are one 32-bit pair: row (k % 32) / 2 of step k / 32
    for (int64_t k = 0; k < cols; k += 2) std::memcpy(dst + (k / 32) * 512 + (k % 32) / 2 * 32, src + k, 4);
  }
}

void half_gemm_ref(const uint16_t* w, bool bf16, int64_t cols, int64_t r0, int64_t r1, const void* x, int64_t tokens, float* y, int64_t ldy) {
  std::vector<float> wide;
  const float* xf = static_cast<const float*>(x);
  if (bf16) {
    wide.resize(size_t(tokens * cols));
    bf16_widen_row_ref(static_cast<const uint16_t*>(x), wide.data(), tokens * cols);
    xf = wide.data();
  }
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t t = 0; t < tokens; ++t)
      y[t * ldy + r] = bf16 ? f32_bf16_dot_ref(w + r * cols, xf + t * cols, cols) : f32_f16_dot_ref(w + r * cols, xf + t * cols, cols);
}

}  // namespace pareto::kernels
