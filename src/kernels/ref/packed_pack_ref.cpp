// Repacking GGML rows into the packed layout of kernels/packed_weights.h:
// each 512-weight chunk is first decoded to one unsigned integer per weight
// plus its scales (the same integers GGML's dequantization multiplies), then
// written as nibble and bit planes. Portable; runs once per matrix at load.
#include <algorithm>
#include <cstring>

#include "core/dtype.h"
#include "kernels/packed_weights.h"
#include "kernels/quant_formats.h"

namespace pareto::kernels {

namespace {

constexpr int kBlocks = 16;  // 32-weight blocks per chunk


// One chunk decoded: q[32 * l + k] is element k of block l, stored unsigned.
struct Chunk {
  uint8_t q[kPackedChunk];
};

// Q4_K / Q5_K super-block at `b` into blocks 8h..8h+7 of the chunk (h = 0, 1).
void decode_q45_k(const uint8_t* b, bool five, int h, Chunk& out, uint8_t* meta) {
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* ql = b + (five ? 48 : 16);
  const float d = f16_at(b), dmin = f16_at(b + 2);
  std::memcpy(meta + 4 * h, &d, 4);
  std::memcpy(meta + 8 + 4 * h, &dmin, 4);
  for (int j = 0; j < 8; ++j) {
    k_quant_scale_min(j, scales, meta + 16 + 8 * h + j, meta + 32 + 8 * h + j);
    const int p = j / 2, shift = 4 * (j % 2);
    for (int l = 0; l < 32; ++l) {
      int v = (ql[32 * p + l] >> shift) & 0xF;
      if (five && (qh[l] >> j) & 1) v += 16;
      out.q[32 * (8 * h + j) + l] = uint8_t(v);
    }
  }
}

// Q6_K super-block at `b` into blocks 8h..8h+7: 6-bit values (stored with
// GGML's +32), first-half scales at meta[8 + l], last-half at meta[24 + l].
void decode_q6_k(const uint8_t* b, int h, Chunk& out, uint8_t* meta) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const float d = f16_at(b + 208);
  std::memcpy(meta + 4 * h, &d, 4);
  uint8_t q[256];
  for (int n = 0; n < 2; ++n)
    for (int l = 0; l < 32; ++l) {
      const uint8_t lo = ql[64 * n + l], lo2 = ql[64 * n + l + 32], hi = qh[32 * n + l];
      q[128 * n + l] = uint8_t((lo & 0xF) | ((hi & 3) << 4));
      q[128 * n + l + 32] = uint8_t((lo2 & 0xF) | (((hi >> 2) & 3) << 4));
      q[128 * n + l + 64] = uint8_t((lo >> 4) | (((hi >> 4) & 3) << 4));
      q[128 * n + l + 96] = uint8_t((lo2 >> 4) | (((hi >> 6) & 3) << 4));
    }
  std::memcpy(out.q + 256 * h, q, 256);
  for (int j = 0; j < 8; ++j) {
    meta[8 + 8 * h + j] = b[192 + 2 * j];
    meta[24 + 8 * h + j] = b[192 + 2 * j + 1];
  }
}

// Blocks of 32 with an f16 scale (and for Q4_1/Q5_1 a minimum, stored
// negated) and 4 or 5 bits per weight: Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL (its
// nibbles kept as table indices).
void decode_small_block(PackedKind kind, const uint8_t* b, int l, Chunk& out, uint8_t* meta) {
  const bool has_min = kind == PackedKind::q4_1 || kind == PackedKind::q5_1;
  const bool five = kind == PackedKind::q5_0 || kind == PackedKind::q5_1;
  std::memcpy(meta + 2 * l, b, 2);
  if (has_min) {
    uint16_t m;
    std::memcpy(&m, b + 2, 2);
    m = uint16_t(m ^ 0x8000);  // negated: value = d*q - (-m), exactly d*q + m
    std::memcpy(meta + 32 + 2 * l, &m, 2);
  }
  uint32_t qh = 0;
  if (five) std::memcpy(&qh, b + (has_min ? 4 : 2), 4);
  const uint8_t* qs = b + 2 + (has_min ? 2 : 0) + (five ? 4 : 0);
  for (int i = 0; i < 16; ++i) {
    out.q[32 * l + i] = uint8_t((qs[i] & 0xF) | (((qh >> i) & 1) << 4));
    out.q[32 * l + 16 + i] = uint8_t((qs[i] >> 4) | (((qh >> (i + 16)) & 1) << 4));
  }
}

// IQ4_XS super-block at `b` into blocks 8h..8h+7: table indices, scale - 32.
void decode_iq4_xs(const uint8_t* b, int h, Chunk& out, uint8_t* meta) {
  const float d = f16_at(b);
  std::memcpy(meta + 4 * h, &d, 4);
  uint16_t scales_h;
  std::memcpy(&scales_h, b + 2, 2);
  for (int j = 0; j < 8; ++j) {
    const int ls = ((b[4 + j / 2] >> 4 * (j % 2)) & 0xF) | (((scales_h >> 2 * j) & 3) << 4);
    meta[8 + 8 * h + j] = uint8_t(int8_t(ls - 32));
    const uint8_t* qs = b + 8 + 16 * j;
    for (int i = 0; i < 16; ++i) {
      out.q[32 * (8 * h + j) + i] = qs[i] & 0xF;
      out.q[32 * (8 * h + j) + 16 + i] = qs[i] >> 4;
    }
  }
}

// Q2_K / Q3_K super-block at `b` into blocks 8h..8h+7. Element e of the
// super-block: 2 bits at shift 2 * ((e % 128) / 32) of byte 32 * (e / 128) +
// e % 32 (Q3_K adds bit (4 * (e / 128) + (e % 128) / 32) of hmask[e % 32]
// as bit 2); scale group e / 16.
void decode_q23_k(PackedKind kind, const uint8_t* b, int h, Chunk& out, uint8_t* meta) {
  const bool three = kind == PackedKind::q3_k;
  const uint8_t* qs = b + (three ? 32 : 16);
  for (int e = 0; e < 256; ++e) {
    const int n = e / 128, j = (e % 128) / 32, l = e % 32;
    int v = (qs[32 * n + l] >> (2 * j)) & 3;
    if (three) v |= ((b[l] >> (4 * n + j)) & 1) << 2;
    out.q[256 * h + e] = uint8_t(v);
  }
  if (three) {
    const float d = f16_at(b + 108);
    std::memcpy(meta + 4 * h, &d, 4);
    int8_t sc[16];
    q3_k_scales(b, sc);
    for (int j = 0; j < 8; ++j) {
      meta[8 + 8 * h + j] = uint8_t(sc[2 * j]);
      meta[24 + 8 * h + j] = uint8_t(sc[2 * j + 1]);
    }
  } else {
    const float d = f16_at(b + 80), dmin = f16_at(b + 82);
    std::memcpy(meta + 4 * h, &d, 4);
    std::memcpy(meta + 8 + 4 * h, &dmin, 4);
    for (int j = 0; j < 8; ++j) {
      meta[16 + 8 * h + j] = b[2 * j];
      meta[32 + 8 * h + j] = b[2 * j + 1];
    }
  }
}

// Decodes the `blocks` blocks of chunk c of a GGML row into integers and
// writes its meta bytes (K-quant chunks hold whole super-blocks: 8 or 16).
void decode_chunk(PackedKind kind, const uint8_t* row, int64_t c, int blocks, Chunk& out, uint8_t* meta) {
  switch (kind) {
    case PackedKind::q4_0:
      for (int l = 0; l < blocks; ++l) {
        const uint8_t* b = row + (c * kBlocks + l) * 18;
        std::memcpy(meta + 2 * l, b, 2);
        for (int i = 0; i < 16; ++i) {
          out.q[32 * l + i] = b[2 + i] & 0xF;
          out.q[32 * l + 16 + i] = b[2 + i] >> 4;
        }
      }
      break;
    case PackedKind::q8_0:
      for (int l = 0; l < blocks; ++l) {
        const uint8_t* b = row + (c * kBlocks + l) * 34;
        std::memcpy(meta + 2 * l, b, 2);
        for (int k = 0; k < 32; ++k) out.q[32 * l + k] = uint8_t(b[2 + k] ^ 0x80);
      }
      break;
    case PackedKind::q4_k:
    case PackedKind::q5_k: {
      const int64_t sb = kind == PackedKind::q5_k ? 176 : 144;
      for (int h = 0; h < blocks / 8; ++h) decode_q45_k(row + (2 * c + h) * sb, kind == PackedKind::q5_k, h, out, meta);
      break;
    }
    case PackedKind::q6_k:
      for (int h = 0; h < blocks / 8; ++h) decode_q6_k(row + (2 * c + h) * 210, h, out, meta);
      break;
    case PackedKind::iq4_xs:
      for (int h = 0; h < blocks / 8; ++h) decode_iq4_xs(row + (2 * c + h) * 136, h, out, meta);
      break;
    case PackedKind::q2_k: case PackedKind::q3_k: {
      const int64_t sb = kind == PackedKind::q3_k ? 110 : 84;
      for (int h = 0; h < blocks / 8; ++h) decode_q23_k(kind, row + (2 * c + h) * sb, h, out, meta);
      break;
    }
    case PackedKind::q4_1: case PackedKind::q5_0: case PackedKind::q5_1: case PackedKind::iq4_nl: {
      const size_t bytes = ggml_type_traits(uint32_t(packed_ggml_type(kind))).type_size;
      for (int l = 0; l < blocks; ++l) decode_small_block(kind, row + (c * kBlocks + l) * int64_t(bytes), l, out, meta);
      break;
    }
  }
}

void set_bit(uint8_t* plane, int bit, int v) {
  if (v) plane[bit / 8] = uint8_t(plane[bit / 8] | (1 << (bit % 8)));
}

// Writes the `blocks` decoded blocks of a chunk as the kind's nibble / byte
// planes (steps of 4 * blocks bytes), bit planes or crumbs.
void write_planes(PackedKind kind, const Chunk& in, int blocks, uint8_t* qs) {
  std::memset(qs, 0, packed_chunk_qs_bytes(kind, blocks));
  const int step = 4 * blocks;
  const bool nibbles = packed_nibbles(kind);
  uint8_t* planes = qs + (nibbles ? 4 * step : 0);
  const int first_plane_bit = nibbles ? 4 : 0;
  for (int l = 0; l < blocks; ++l)
    for (int k = 0; k < 32; ++k) {
      const int v = in.q[32 * l + k], s = k / 4, lane_byte = 4 * l + k % 4;
      if (kind == PackedKind::q8_0) {
        qs[step * s + lane_byte] = uint8_t(v);
        continue;
      }
      if (nibbles) {
        uint8_t& nib = qs[step * (s % 4) + lane_byte];
        nib = uint8_t(nib | ((v & 0xF) << (k < 16 ? 0 : 4)));
      }
      if (packed_crumbs(kind)) {
        qs[64 * (s / 4) + lane_byte] = uint8_t(qs[64 * (s / 4) + lane_byte] | ((v & 3) << (2 * (s % 4))));
        if (kind == PackedKind::q3_k) qs[128 + lane_byte] = uint8_t(qs[128 + lane_byte] | (((v >> 2) & 1) << s));
        continue;
      }
      for (int p = 0; p < packed_high_bits(kind); ++p) set_bit(planes + 64 * p + 8 * s, lane_byte, (v >> (first_plane_bit + p)) & 1);
    }
}

}  // namespace

uint32_t packed_ggml_type(PackedKind k) {
  switch (k) {
    case PackedKind::q4_0: return uint32_t(GgmlType::q4_0);
    case PackedKind::q8_0: return uint32_t(GgmlType::q8_0);
    case PackedKind::q4_k: return uint32_t(GgmlType::q4_k);
    case PackedKind::q5_k: return uint32_t(GgmlType::q5_k);
    case PackedKind::q6_k: return uint32_t(GgmlType::q6_k);
    case PackedKind::q4_1: return uint32_t(GgmlType::q4_1);
    case PackedKind::q5_0: return uint32_t(GgmlType::q5_0);
    case PackedKind::q5_1: return uint32_t(GgmlType::q5_1);
    case PackedKind::iq4_nl: return uint32_t(GgmlType::iq4_nl);
    case PackedKind::iq4_xs: return uint32_t(GgmlType::iq4_xs);
    case PackedKind::q2_k: return uint32_t(GgmlType::q2_k);
    case PackedKind::q3_k: return uint32_t(GgmlType::q3_k);
  }
  return 0;
}

std::optional<PackedKind> packed_kind_for(uint32_t ggml_type) {
  switch (GgmlType(ggml_type)) {
    case GgmlType::q4_0: return PackedKind::q4_0;
    case GgmlType::q8_0: return PackedKind::q8_0;
    case GgmlType::q4_k: return PackedKind::q4_k;
    case GgmlType::q5_k: return PackedKind::q5_k;
    case GgmlType::q6_k: return PackedKind::q6_k;
    case GgmlType::q4_1: return PackedKind::q4_1;
    case GgmlType::q5_0: return PackedKind::q5_0;
    case GgmlType::q5_1: return PackedKind::q5_1;
    case GgmlType::iq4_nl: return PackedKind::iq4_nl;
    case GgmlType::iq4_xs: return PackedKind::iq4_xs;
    case GgmlType::q2_k: return PackedKind::q2_k;
    case GgmlType::q3_k: return PackedKind::q3_k;
    default: return std::nullopt;
  }
}

const char* packed_kind_name(PackedKind k) { return ggml_type_traits(packed_ggml_type(k)).name; }

bool packable(uint32_t ggml_type, int64_t cols) {
  const std::optional<PackedKind> kind = packed_kind_for(ggml_type);
  return kind && cols > 0 && ggml_row_size(ggml_type, cols) && cols % 32 == 0;
}

void pack_rows(PackedKind kind, const void* ggml, int64_t cols, int64_t r0, int64_t r1, uint8_t* qs, uint8_t* meta) {
  const size_t row_bytes = ggml_row_size(packed_ggml_type(kind), cols), row_qs = packed_row_qs_bytes(kind, cols);
  const int64_t chunks = packed_chunks(cols);
  const size_t cq = packed_chunk_qs_bytes(kind), cm = packed_chunk_meta_bytes(kind);
  Chunk chunk;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(ggml) + size_t(r) * row_bytes;
    for (int64_t c = 0; c < chunks; ++c) {
      const int blocks = int(std::min<int64_t>(kBlocks, cols / 32 - 16 * c));
      uint8_t* m = meta + size_t(r * chunks + c) * cm;
      std::memset(m, 0, cm);
      decode_chunk(kind, row, c, blocks, chunk, m);
      write_planes(kind, chunk, blocks, qs + size_t(r) * row_qs + size_t(c) * cq);
    }
  }
}

}  // namespace pareto::kernels
