// Scalar reference dequantizers for the GGML block formats. Operation order
// mirrors ggml-quants.c so every value is bit-identical (see quant_formats.h).
#include <cstring>
#include <string>

#include "core/dtype.h"
#include "kernels/pareto_formats.h"
#include "kernels/quant_formats.h"

namespace pareto::kernels {

namespace {

constexpr int64_t QK = 32, QK_K = 256;

inline float h2f(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return half_to_float(h);
}

constexpr const int8_t* kIq4nl = kIq4nlValues;

void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = uint8_t((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

void dq_q4_0(const uint8_t* b, float* y) {
  const float d = h2f(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    const int x0 = (qs[j] & 0x0F) - 8, x1 = (qs[j] >> 4) - 8;
    y[j] = float(x0) * d;
    y[j + 16] = float(x1) * d;
  }
}

void dq_q4_1(const uint8_t* b, float* y) {
  const float d = h2f(b), m = h2f(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    const int x0 = qs[j] & 0x0F, x1 = qs[j] >> 4;
    y[j] = float(x0) * d + m;
    y[j + 16] = float(x1) * d + m;
  }
}

void dq_q5_0(const uint8_t* b, float* y) {
  const float d = h2f(b);
  uint32_t qh;
  std::memcpy(&qh, b + 2, 4);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    const uint8_t xh0 = uint8_t(((qh >> (j + 0)) << 4) & 0x10), xh1 = uint8_t((qh >> (j + 12)) & 0x10);
    const int x0 = ((qs[j] & 0x0F) | xh0) - 16, x1 = ((qs[j] >> 4) | xh1) - 16;
    y[j] = float(x0) * d;
    y[j + 16] = float(x1) * d;
  }
}

void dq_q5_1(const uint8_t* b, float* y) {
  const float d = h2f(b), m = h2f(b + 2);
  uint32_t qh;
  std::memcpy(&qh, b + 4, 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    const uint8_t xh0 = uint8_t(((qh >> (j + 0)) << 4) & 0x10), xh1 = uint8_t((qh >> (j + 12)) & 0x10);
    const int x0 = (qs[j] & 0x0F) | xh0, x1 = (qs[j] >> 4) | xh1;
    y[j] = float(x0) * d + m;
    y[j + 16] = float(x1) * d + m;
  }
}

void dq_q8_0(const uint8_t* b, float* y) {
  const float d = h2f(b);
  const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
  for (int j = 0; j < 32; ++j) y[j] = float(qs[j]) * d;
}

// Q2_K: scales[16] qs[64] d dmin
void dq_q2_k(const uint8_t* b, float* y) {
  const uint8_t* scales = b;
  const uint8_t* q = b + 16;
  const float d = h2f(b + 80), min = h2f(b + 82);
  int is = 0;
  for (int n = 0; n < QK_K; n += 128) {
    int shift = 0;
    for (int j = 0; j < 4; ++j) {
      uint8_t sc = scales[is++];
      float dl = d * float(sc & 0xF), ml = min * float(sc >> 4);
      for (int l = 0; l < 16; ++l) *y++ = dl * float(int8_t((q[l] >> shift) & 3)) - ml;
      sc = scales[is++];
      dl = d * float(sc & 0xF);
      ml = min * float(sc >> 4);
      for (int l = 0; l < 16; ++l) *y++ = dl * float(int8_t((q[l + 16] >> shift) & 3)) - ml;
      shift += 2;
    }
    q += 32;
  }
}

// Q3_K: hmask[32] qs[64] scales[12] d
void dq_q3_k(const uint8_t* b, float* y) {
  const uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
  const uint8_t* hm = b;
  const uint8_t* q = b + 32;
  const float d_all = h2f(b + 108);
  uint32_t aux[4];
  std::memcpy(aux, b + 96, 12);
  uint32_t tmp = aux[2];
  aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
  aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
  aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
  aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
  int8_t scales[16];
  std::memcpy(scales, aux, 16);
  int is = 0;
  uint8_t m = 1;
  for (int n = 0; n < QK_K; n += 128) {
    int shift = 0;
    for (int j = 0; j < 4; ++j) {
      float dl = d_all * float(scales[is++] - 32);
      for (int l = 0; l < 16; ++l) *y++ = dl * float(int8_t((q[l + 0] >> shift) & 3) - ((hm[l + 0] & m) ? 0 : 4));
      dl = d_all * float(scales[is++] - 32);
      for (int l = 0; l < 16; ++l) *y++ = dl * float(int8_t((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
      shift += 2;
      m = uint8_t(m << 1);
    }
    q += 32;
  }
}

// Q4_K: d dmin scales[12] qs[128]
void dq_q4_k(const uint8_t* b, float* y) {
  const float d = h2f(b), min = h2f(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* q = b + 16;
  int is = 0;
  uint8_t sc, m;
  for (int j = 0; j < QK_K; j += 64) {
    get_scale_min_k4(is + 0, scales, &sc, &m);
    const float d1 = d * float(sc), m1 = min * float(m);
    get_scale_min_k4(is + 1, scales, &sc, &m);
    const float d2 = d * float(sc), m2 = min * float(m);
    for (int l = 0; l < 32; ++l) *y++ = d1 * float(q[l] & 0xF) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * float(q[l] >> 4) - m2;
    q += 32;
    is += 2;
  }
}

// Q5_K: d dmin scales[12] qh[32] qs[128]
void dq_q5_k(const uint8_t* b, float* y) {
  const float d = h2f(b), min = h2f(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* ql = b + 48;
  int is = 0;
  uint8_t sc, m, u1 = 1, u2 = 2;
  for (int j = 0; j < QK_K; j += 64) {
    get_scale_min_k4(is + 0, scales, &sc, &m);
    const float d1 = d * float(sc), m1 = min * float(m);
    get_scale_min_k4(is + 1, scales, &sc, &m);
    const float d2 = d * float(sc), m2 = min * float(m);
    for (int l = 0; l < 32; ++l) *y++ = d1 * float((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * float((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
    ql += 32;
    is += 2;
    u1 = uint8_t(u1 << 2);
    u2 = uint8_t(u2 << 2);
  }
}

// Q6_K: ql[128] qh[64] scales[16] d
void dq_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = h2f(b + 208);
  for (int n = 0; n < QK_K; n += 128) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int8_t q1 = int8_t((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int8_t q2 = int8_t((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int8_t q3 = int8_t((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int8_t q4 = int8_t((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l + 0] = d * float(sc[is + 0]) * float(q1);
      y[l + 32] = d * float(sc[is + 2]) * float(q2);
      y[l + 64] = d * float(sc[is + 4]) * float(q3);
      y[l + 96] = d * float(sc[is + 6]) * float(q4);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

void dq_iq4_nl(const uint8_t* b, float* y) {
  const float d = h2f(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * float(kIq4nl[qs[j] & 0xf]);
    y[j + 16] = d * float(kIq4nl[qs[j] >> 4]);
  }
}

// IQ4_XS: d scales_h(u16) scales_l[4] qs[128]
void dq_iq4_xs(const uint8_t* b, float* y) {
  const float d = h2f(b);
  uint16_t scales_h;
  std::memcpy(&scales_h, b + 2, 2);
  const uint8_t* scales_l = b + 4;
  const uint8_t* qs = b + 8;
  for (int ib = 0; ib < QK_K / 32; ++ib) {
    const int ls = ((scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((scales_h >> 2 * ib) & 3) << 4);
    const float dl = d * float(ls - 32);
    for (int j = 0; j < 16; ++j) {
      y[j + 0] = dl * float(kIq4nl[qs[j] & 0xf]);
      y[j + 16] = dl * float(kIq4nl[qs[j] >> 4]);
    }
    y += 32;
    qs += 16;
  }
}

using BlockFn = void (*)(const uint8_t*, float*);

struct Entry {
  GgmlTypeTraits traits;
  BlockFn fn;
};

const Entry* entry(uint32_t type) {
  static const Entry table[] = {
      {{"f32", 1, 4, true}, nullptr},        {{"f16", 1, 2, true}, nullptr},        {{"q4_0", QK, 18, true}, dq_q4_0},
      {{"q4_1", QK, 20, true}, dq_q4_1},     {{}, nullptr},                         {{}, nullptr},
      {{"q5_0", QK, 22, true}, dq_q5_0},     {{"q5_1", QK, 24, true}, dq_q5_1},     {{"q8_0", QK, 34, true}, dq_q8_0},
      {{"q8_1", QK, 36, false}, nullptr},    {{"q2_K", QK_K, 84, true}, dq_q2_k},   {{"q3_K", QK_K, 110, true}, dq_q3_k},
      {{"q4_K", QK_K, 144, true}, dq_q4_k},  {{"q5_K", QK_K, 176, true}, dq_q5_k},  {{"q6_K", QK_K, 210, true}, dq_q6_k},
      {{"q8_K", QK_K, 292, false}, nullptr}, {{}, nullptr},                         {{}, nullptr},
      {{}, nullptr},                         {{}, nullptr},                         {{"iq4_nl", QK, 18, true}, dq_iq4_nl},
      {{}, nullptr},                         {{}, nullptr},                         {{"iq4_xs", QK_K, 136, true}, dq_iq4_xs},
      {{"i8", 1, 1, false}, nullptr},        {{"i16", 1, 2, false}, nullptr},       {{"i32", 1, 4, false}, nullptr},
      {{"i64", 1, 8, false}, nullptr},       {{"f64", 1, 8, false}, nullptr},       {{}, nullptr},
      {{"bf16", 1, 2, true}, nullptr},
  };
  return type < std::size(table) ? &table[type] : nullptr;
}

}  // namespace

// pareto's own formats: one block per group (rows may end in a short one);
// q8_row has no fixed block, its rows are sized by ggml_row_size.
const GgmlTypeTraits* pareto_traits(uint32_t type) {
  static const struct Table {
    std::string names[kGroupTypeLast - kGroupTypeFirst];
    GgmlTypeTraits traits[kGroupTypeLast - kGroupTypeFirst];
    GgmlTypeTraits q8_row{"q8_row", 1, 1, true};
    Table() {
      for (uint32_t t = kGroupTypeFirst; t < kGroupTypeLast; ++t) {
        if (!is_group_type(t)) continue;
        const GroupFormat f = group_format(t);
        names[t - kGroupTypeFirst] = pareto_type_name(t);
        traits[t - kGroupTypeFirst] = {names[t - kGroupTypeFirst].c_str(), f.group, group_block_bytes(f), true};
      }
    }
  } table;
  if (type == kQ8RowType) return &table.q8_row;
  return is_group_type(type) ? &table.traits[type - kGroupTypeFirst] : nullptr;
}

const GgmlTypeTraits& ggml_type_traits(uint32_t type) {
  static const GgmlTypeTraits unknown{};
  if (const GgmlTypeTraits* p = pareto_traits(type)) return *p;
  const Entry* e = entry(type);
  return e ? e->traits : unknown;
}

DequantBlockFn dequantize_block_fn(uint32_t type) {
  const Entry* e = entry(type);
  return e ? e->fn : nullptr;
}

size_t ggml_row_size(uint32_t type, int64_t n) {
  if (n < 0 || n > (int64_t(1) << 48)) return 0;  // no real row is that long; the byte counts below cannot overflow
  if (type == kQ8RowType) return q8_row_size(n);
  if (is_group_type(type)) return group_row_size(group_format(type), n);
  const GgmlTypeTraits& t = ggml_type_traits(type);
  if (!t.name || n < 0 || n % t.block_size) return 0;
  return size_t(n / t.block_size) * t.type_size;
}

void dequantize_row_ref(uint32_t type, const void* src, float* dst, int64_t n) {
  const uint8_t* s = static_cast<const uint8_t*>(src);
  if (type == kQ8RowType) return dequantize_q8_row_ref(src, dst, n);
  if (is_group_type(type)) return dequantize_group_row_ref(group_format(type), src, dst, n);
  switch (GgmlType(type)) {
    case GgmlType::f32: std::memcpy(dst, s, size_t(n) * 4); return;
    case GgmlType::f16:
      for (int64_t i = 0; i < n; ++i) dst[i] = h2f(s + 2 * i);
      return;
    case GgmlType::bf16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, s + 2 * i, 2);
        dst[i] = bf16_to_float(v);
      }
      return;
    default: break;
  }
  const Entry* e = entry(type);
  if (!e || !e->fn) return;
  const int64_t bs = e->traits.block_size;
  for (int64_t b = 0; b < n / bs; ++b) e->fn(s + size_t(b) * e->traits.type_size, dst + b * bs);
}

}  // namespace pareto::kernels
