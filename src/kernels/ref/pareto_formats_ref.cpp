// Reference quantizers, dequantizers and dot products for pareto's own
// formats (kernels/pareto_formats.h).
#include <cstring>

#include "core/dtype.h"
#include "kernels/pareto_formats.h"
#include "kernels/quant_dot.h"

namespace pareto::kernels {

namespace {

constexpr int64_t kGroups[] = {32, 64, 128, 256};

int group_index(int64_t group) {
  for (int i = 0; i < 4; ++i)
    if (kGroups[i] == group) return i;
  return -1;
}

inline void store_f16(uint8_t* p, float v) {
  const uint16_t h = float_to_half(v);
  std::memcpy(p, &h, 2);
}

// Code i of a block's packed stream (LSB first).
inline int code_at(const uint8_t* qs, int bits, int64_t i) {
  const int64_t bit = i * bits;
  uint32_t v = qs[bit / 8];
  if (bit % 8 + bits > 8) v |= uint32_t(qs[bit / 8 + 1]) << 8;
  return int((v >> (bit % 8)) & ((1u << bits) - 1));
}

}  // namespace

uint32_t group_type(int bits, int64_t group, bool asym) {
  const int gi = group_index(group);
  if (bits < 2 || bits > 8 || gi < 0) return 0;
  return kGroupTypeFirst + uint32_t(bits) * 16 + uint32_t(gi) * 2 + (asym ? 1 : 0);
}

bool is_group_type(uint32_t type) {
  if (type < kGroupTypeFirst || type >= kGroupTypeLast) return false;
  const uint32_t v = type - kGroupTypeFirst;
  return v / 16 >= 2 && v / 16 <= 8 && (v % 16) / 2 < 4;
}

GroupFormat group_format(uint32_t type) {
  const uint32_t v = type - kGroupTypeFirst;
  return GroupFormat{int(v / 16), kGroups[(v % 16) / 2], (v & 1) != 0};
}

std::string pareto_type_name(uint32_t type) {
  if (type == kQ8RowType) return "q8_row";
  if (!is_group_type(type)) return "";
  const GroupFormat f = group_format(type);
  return "pq" + std::to_string(f.bits) + "g" + std::to_string(f.group) + (f.asym ? "a" : "s");
}

// A short last group stores only its own codes.
size_t group_row_size(const GroupFormat& f, int64_t n) {
  const int64_t tail = n % f.group;
  return size_t(n / f.group) * group_block_bytes(f) + (tail ? size_t(f.asym ? 4 : 2) + size_t((tail * f.bits + 7) / 8) : 0);
}

GroupParams stored_group_params(const GroupFormat& f, const GroupParams& p) {
  GroupParams s = p;
  s.scale = half_to_float(float_to_half(p.scale));
  if (s.scale == 0) s.scale = 1.f;  // never divide by a scale f16 flushed to zero
  if (f.asym) s.zero = -half_to_float(float_to_half(-p.scale * p.zero)) / s.scale;  // what d * q + m decodes to
  return s;
}

void write_group_block(const GroupFormat& f, const GroupParams& p, const int* codes, int64_t count, uint8_t* out) {
  std::memset(out, 0, size_t(f.asym ? 4 : 2) + size_t((count * f.bits + 7) / 8));
  store_f16(out, p.scale);
  if (f.asym) store_f16(out + 2, -p.scale * p.zero);
  uint8_t* qs = out + (f.asym ? 4 : 2);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t bit = i * f.bits;
    const uint32_t v = uint32_t(codes[i]) << (bit % 8);
    qs[bit / 8] = uint8_t(qs[bit / 8] | (v & 0xFF));
    if (bit % 8 + f.bits > 8) qs[bit / 8 + 1] = uint8_t(qs[bit / 8 + 1] | (v >> 8));
  }
}

void quantize_group_row_ref(const GroupFormat& f, const float* x, void* dst, int64_t n) {
  uint8_t* out = static_cast<uint8_t*>(dst);
  int codes[256];
  for (int64_t g0 = 0; g0 < n; g0 += f.group, out += group_block_bytes(f)) {
    const int64_t count = std::min(f.group, n - g0);
    // Codes are rounded against the f16 scale the reader will see.
    const GroupParams p = stored_group_params(f, group_params(x + g0, count, f.bits, f.asym));
    for (int64_t i = 0; i < count; ++i) codes[i] = group_code(x[g0 + i], p, f.bits);
    write_group_block(f, p, codes, count, out);
  }
}

void dequantize_group_row_ref(const GroupFormat& f, const void* src, float* dst, int64_t n) {
  for_each_group_block(f, src, n, [&](int64_t g0, int64_t count, float d, float m, const uint8_t* qs) {
    for (int64_t i = 0; i < count; ++i) dst[g0 + i] = d * float(code_at(qs, f.bits, i)) + m;
  });
}

void group_unpack_ref(const void* row, int64_t n, const GroupFormat& f, uint8_t* codes, float* dm) {
  unpack_group_row(f, row, n, codes, dm, [&](const uint8_t* qs, uint8_t* out) {
    for (int i = 0; i < 32; ++i) out[i] = uint8_t(code_at(qs, f.bits, i));
  });
}

float q8a_codes_dot_ref(const uint8_t* codes, const float* dm, const Q8aBlock* x, int64_t n) {
  float acc = 0;
  for (int64_t s = 0; s < n / 32; ++s) {
    int32_t dot = 0;
    for (int i = 0; i < 32; ++i) dot += codes[s * 32 + i] * x[s].qs[i];
    acc += x[s].d * (dm[2 * s] * float(dot) + dm[2 * s + 1] * float(x[s].sum));
  }
  return acc;
}

void quantize_q8_row_ref(const float* x, void* dst, int64_t n) {
  uint8_t* out = static_cast<uint8_t*>(dst);
  float amax = 0;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.f, id = d ? 1.f / d : 0.f;
  int32_t sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int q = std::clamp(int(std::lround(x[i] * id)), -127, 127);
    out[kQ8RowHeader + size_t(i)] = uint8_t(int8_t(q));
    sum += q;
  }
  std::memcpy(out, &d, 4);
  std::memcpy(out + 4, &sum, 4);
}

void dequantize_q8_row_ref(const void* src, float* dst, int64_t n) {
  const uint8_t* s = static_cast<const uint8_t*>(src);
  float d;
  std::memcpy(&d, s, 4);
  for (int64_t i = 0; i < n; ++i) dst[i] = d * float(int8_t(s[kQ8RowHeader + size_t(i)]));
}

void f32_q8tok_quantize_ref(const float* x, int64_t n, uint8_t* q, float* scale) {
  float amax = 0;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.f, id = d ? 1.f / d : 0.f;
  for (int64_t i = 0; i < n; ++i) q[i] = uint8_t(std::clamp(int(std::lrintf(x[i] * id)), -127, 127) + 128);
  *scale = d;
}

void q8_row_gemm_ref(const uint8_t* w, int64_t n, int64_t r0, int64_t r1, const uint8_t* xq, const float* xscale, int64_t tokens,
                     float* y, int64_t ldy) {
  for (int64_t r = r0; r < r1; ++r) {
    const Q8RowView row = q8_row_at(w, n, r);
    for (int64_t t = 0; t < tokens; ++t) {
      const uint8_t* xt = xq + t * n;
      int32_t dot = 0;
      for (int64_t i = 0; i < n; ++i) dot += int32_t(xt[i]) * row.qs[i];
      // The +128 offset of the activations cancels; in 64 bits, since wsum
      // comes from the file (a hostile one must not overflow).
      y[t * ldy + r] = row.d * xscale[t] * float(int64_t(dot) - 128 * int64_t(row.wsum));
    }
  }
}

}  // namespace pareto::kernels
