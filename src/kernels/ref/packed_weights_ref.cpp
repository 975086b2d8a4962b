// Portable side of the packed-weight kernels: repacking, row dequantization,
// activation panels and the reference matrix product the SIMD variant is
// tested against.
#include <cstring>

#include "core/dtype.h"
#include "kernels/packed_weights.h"

namespace pareto::kernels {

namespace {
constexpr int64_t kBlockBytes = 18;    // GGML Q4_0: f16 scale + 16 bytes of nibbles
constexpr int64_t kQ8BlockBytes = 34;  // GGML Q8_0: f16 scale + 32 int8

// Position of byte i (0..15) of block l (0..15) within a 256-byte chunk, and
// of element k (0..31) of block l within a 512-element activation chunk.
inline int64_t chunk_byte(int l, int i) { return 64 * (i / 4) + 4 * l + i % 4; }
inline int64_t chunk_element(int l, int k) { return 64 * (k / 4) + 4 * l + k % 4; }

// Stored (unsigned) value of element k of block b of packed row q.
inline int packed_value(const uint8_t* q, int bits, int64_t b, int k) {
  if (bits == 8) return q[(b / 16) * 512 + chunk_element(int(b % 16), k)];
  const uint8_t byte = q[(b / 16) * 256 + chunk_byte(int(b % 16), k % 16)];
  return k < 16 ? byte & 0xF : byte >> 4;
}
inline const uint8_t* packed_row_ptr(const PackedView& w, int64_t r) { return w.qs + packed_qs_bytes(r, w.cols, w.bits); }
}  // namespace

void pack_q4_0_rows(const void* q4_0, int64_t cols, int64_t r0, int64_t r1, uint8_t* qs, uint16_t* scales) {
  const int64_t nb = cols / 32;
  const uint8_t* src = static_cast<const uint8_t*>(q4_0);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = src + r * nb * kBlockBytes;
    uint8_t* out = qs + r * cols / 2;
    for (int64_t b = 0; b < nb; ++b) {
      std::memcpy(&scales[r * nb + b], row + b * kBlockBytes, 2);
      for (int i = 0; i < 16; ++i) out[(b / 16) * 256 + chunk_byte(int(b % 16), i)] = row[b * kBlockBytes + 2 + i];
    }
  }
}

void pack_q8_0_rows(const void* q8_0, int64_t cols, int64_t r0, int64_t r1, uint8_t* qs, uint16_t* scales) {
  const int64_t nb = cols / 32;
  const uint8_t* src = static_cast<const uint8_t*>(q8_0);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = src + r * nb * kQ8BlockBytes;
    uint8_t* out = qs + r * cols;
    for (int64_t b = 0; b < nb; ++b) {
      std::memcpy(&scales[r * nb + b], row + b * kQ8BlockBytes, 2);
      for (int k = 0; k < 32; ++k) out[(b / 16) * 512 + chunk_element(int(b % 16), k)] = uint8_t(row[b * kQ8BlockBytes + 2 + k] ^ 0x80);
    }
  }
}

void packed_row(const PackedView& w, int64_t r, float* out) {
  const uint8_t* q = packed_row_ptr(w, r);
  const int64_t nb = w.cols / 32;
  const int offset = packed_offset(w.bits);
  for (int64_t b = 0; b < nb; ++b) {
    const float d = half_to_float(w.scales[r * nb + b]);
    for (int k = 0; k < 32; ++k) out[b * 32 + k] = float(packed_value(q, w.bits, b, k) - offset) * d;
  }
}

Q8Panel Q8PanelBuffer::quantize(const float* x, int64_t tokens, int64_t cols, int offset) {
  const int64_t nb = cols / 32;
  const QuantDotTable& t = quant_dot_table();
  // +64: the int8 rows start on a cache line (cols is a multiple of 512).
  if (qs.size() < size_t(tokens * cols + 64)) qs.resize(size_t(tokens * cols + 64));
  if (d.size() < size_t(tokens * nb)) d.resize(size_t(tokens * nb));
  if (off.size() < size_t(tokens * nb)) off.resize(size_t(tokens * nb));
  if (blocks.size() < size_t(nb)) blocks.resize(size_t(nb));
  int8_t* base = qs.data() + ((64 - reinterpret_cast<uintptr_t>(qs.data()) % 64) % 64);
  for (int64_t tok = 0; tok < tokens; ++tok) {
    t.quantize(x + tok * cols, cols, blocks.data());
    int8_t* out = base + tok * cols;
    for (int64_t b = 0; b < nb; ++b) {
      const Q8aBlock& blk = blocks[size_t(b)];
      int8_t* chunk = out + (b / 16) * 512;
      // four elements at a time: the 4-byte groups move as one
      for (int k = 0; k < 32; k += 4) std::memcpy(chunk + chunk_element(int(b % 16), k), blk.qs + k, 4);
      d[size_t(tok * nb + b)] = blk.d;
      off[size_t(tok * nb + b)] = -offset * blk.sum;
    }
  }
  return Q8Panel{base, d.data(), off.data(), tokens, cols};
}

void packed_gemm_ref(const PackedView& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy) {
  const int64_t nb = w.cols / 32;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* q = packed_row_ptr(w, r);
    for (int64_t tok = 0; tok < x.tokens; ++tok) {
      const int8_t* a = x.qs + tok * x.cols;
      float acc = 0.f;
      for (int64_t b = 0; b < nb; ++b) {
        int32_t dot = x.off[tok * nb + b];
        for (int k = 0; k < 32; ++k) dot += packed_value(q, w.bits, b, k) * a[(b / 16) * 512 + chunk_element(int(b % 16), k)];
        acc += half_to_float(w.scales[r * nb + b]) * x.d[tok * nb + b] * float(dot);
      }
      y[tok * ldy + r] = acc;
    }
  }
}

}  // namespace pareto::kernels
