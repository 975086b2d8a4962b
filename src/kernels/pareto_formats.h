// pareto's own weight formats, for what GGML's types cannot express: 2..8-bit
// group-wise codes with groups of 32..256 and a tail group for rows that are
// not a multiple of the group (W3A16, W2A16, W4 g128 ...), and int8 weights
// with one scale per output channel for W8A8 (activations quantized per
// token at run time). Stored in GGUF under type ids above ggml's range
// (llama.cpp does not load them; standard types are used wherever one fits).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/dtype.h"

namespace pareto::kernels {

// ---- group-wise codes ------------------------------------------------------
// Block of `group` weights: f16 d, [f16 m when asymmetric], then the codes
// bit-packed LSB first (8 codes fill exactly `bits` bytes). Value of code q:
// asymmetric d * q + m; symmetric d * (q - (2^(bits-1) - 1)).
struct GroupFormat {
  int bits = 0;
  int64_t group = 0;
  bool asym = false;
};

constexpr uint32_t kGroupTypeFirst = 1024, kGroupTypeLast = 1024 + 9 * 16;
// int8 per output channel: f32 d, i32 sum of the row's codes, int8 codes.
constexpr uint32_t kQ8RowType = 1200;
constexpr size_t kQ8RowHeader = 8;

// 0 when not representable (bits 2..8, group 32/64/128/256).
uint32_t group_type(int bits, int64_t group, bool asym);
bool is_group_type(uint32_t type);
GroupFormat group_format(uint32_t type);  // requires is_group_type
inline size_t group_block_bytes(const GroupFormat& f) { return (f.asym ? 4 : 2) + size_t(f.group * f.bits / 8); }
std::string pareto_type_name(uint32_t type);  // "pq3g64a", "pq4g128s", "q8_row"; "" if not pareto's

// Shared rounding rule (also quant/group_quant.h): x ~= scale * (code - zero),
// codes 0..2^bits-1; symmetric: scale = amax / (2^(bits-1) - 1), zero the
// middle code; asymmetric: [min, max] spread over all codes, integer zero.
struct GroupParams {
  float scale = 1.f, zero = 0.f;
};
inline GroupParams group_params(const float* x, int64_t n, int bits, bool asym) {
  GroupParams p;
  if (asym) {
    float lo = x[0], hi = x[0];
    for (int64_t i = 1; i < n; ++i) {
      lo = std::min(lo, x[i]);
      hi = std::max(hi, x[i]);
    }
    lo = std::min(lo, 0.f);  // the range holds 0, so the zero point is a valid code
    hi = std::max(hi, 0.f);
    const int levels = (1 << bits) - 1;
    p.scale = hi > lo ? (hi - lo) / float(levels) : 1.f;
    p.zero = std::clamp(std::round(-lo / p.scale), 0.f, float(levels));
  } else {
    float amax = 0;
    for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
    const int qmax = (1 << (bits - 1)) - 1;
    p.scale = amax > 0 ? amax / float(qmax) : 1.f;
    p.zero = float(qmax);
  }
  return p;
}
inline int group_code(float x, const GroupParams& p, int bits) {
  return std::clamp(int(std::lround(x / p.scale + p.zero)), 0, (1 << bits) - 1);
}

// Walks a row block by block: fn(first element, count, d, m, codes) with the
// block's affine (value of code q = d * q + m). Every reader goes through it;
// `to_float` widens the f16 fields (ISA code passes its hardware conversion:
// the portable one costs a third of decode speed at one block per 128 codes).
inline float portable_f16(uint16_t h) { return half_to_float(h); }
template <typename Fn, typename ToFloat = float (*)(uint16_t)>
void for_each_group_block(const GroupFormat& f, const void* row, int64_t n, Fn fn, ToFloat to_float = portable_f16) {
  const uint8_t* b = static_cast<const uint8_t*>(row);
  const size_t head = f.asym ? 4 : 2;
  for (int64_t g0 = 0; g0 < n; g0 += f.group, b += group_block_bytes(f)) {
    uint16_t hd, hm = 0;
    std::memcpy(&hd, b, 2);
    if (f.asym) std::memcpy(&hm, b + 2, 2);
    const float d = to_float(hd), m = f.asym ? to_float(hm) : -d * float((1 << (f.bits - 1)) - 1);
    fn(g0, std::min(f.group, n - g0), d, m, b + head);
  }
}

// Unpacks a row (n a multiple of 32) to one byte per code and (d, m) per
// 32-code sub-block; spread(codes of 32, out) is the ISA's bit spreader.
template <typename Spread, typename ToFloat = float (*)(uint16_t)>
void unpack_group_row(const GroupFormat& f, const void* row, int64_t n, uint8_t* codes, float* dm, Spread spread,
                      ToFloat to_float = portable_f16) {
  for_each_group_block(
      f, row, n,
      [&](int64_t g0, int64_t count, float d, float m, const uint8_t* qs) {
        for (int64_t s = 0; s < count / 32; ++s) {
          spread(qs + s * 4 * f.bits, codes + g0 + s * 32);
          dm[2 * (g0 / 32 + s)] = d;
          dm[2 * (g0 / 32 + s) + 1] = m;
        }
      },
      to_float);
}

// Rows of n elements (any n; a short last group stores only its own codes).
size_t group_row_size(const GroupFormat& f, int64_t n);
void quantize_group_row_ref(const GroupFormat& f, const float* x, void* dst, int64_t n);
void dequantize_group_row_ref(const GroupFormat& f, const void* src, float* dst, int64_t n);
// Writes one block from chosen params and codes (count <= group; the rest zero).
void write_group_block(const GroupFormat& f, const GroupParams& p, const int* codes, int64_t count, uint8_t* out);
// The f16-rounded params a reader will use (quantizers that pick codes themselves).
GroupParams stored_group_params(const GroupFormat& f, const GroupParams& p);

// ---- int8 per output channel (W8A8) ----------------------------------------
inline size_t q8_row_size(int64_t n) { return kQ8RowHeader + size_t(n); }
// Row r of a q8_row matrix of n columns: its scale, the sum of its codes as
// stored (a file field: kernels use it in 64-bit arithmetic), its codes.
struct Q8RowView {
  float d;
  int32_t wsum;
  const int8_t* qs;
};
inline Q8RowView q8_row_at(const uint8_t* w, int64_t n, int64_t r) {
  const uint8_t* p = w + size_t(r) * q8_row_size(n);
  Q8RowView v;
  std::memcpy(&v.d, p, 4);
  std::memcpy(&v.wsum, p + 4, 4);
  v.qs = reinterpret_cast<const int8_t*>(p + kQ8RowHeader);
  return v;
}
void quantize_q8_row_ref(const float* x, void* dst, int64_t n);
void dequantize_q8_row_ref(const void* src, float* dst, int64_t n);

// Per-token activations: u8 = round(x / scale) + 128, scale = amax / 127.
using QuantizeTokenFn = void (*)(const float* x, int64_t n, uint8_t* q, float* scale);
// y[t * ldy + r] for rows [r0, r1) of a q8_row matrix (row stride q8_row_size(n))
// and tokens [0, tokens) of per-token activations (stride n).
using Q8RowGemmFn = void (*)(const uint8_t* w, int64_t n, int64_t r0, int64_t r1, const uint8_t* xq, const float* xscale,
                             int64_t tokens, float* y, int64_t ldy);
void f32_q8tok_quantize_ref(const float* x, int64_t n, uint8_t* q, float* scale);
void q8_row_gemm_ref(const uint8_t* w, int64_t n, int64_t r0, int64_t r1, const uint8_t* xq, const float* xscale, int64_t tokens,
                     float* y, int64_t ldy);

}  // namespace pareto::kernels
