// GGML weights repacked at load time for 512-bit integer dot products, and
// the matrix kernel (decode and prefill) that reads them.
//
// Why: with GGML's row formats every 32 weights cost shuffles, scalar scale
// decoding, an int32 to float conversion and a scale multiply. Repacked,
// each of the 16 int32 lanes of a vpdpbusd belongs to one 32-weight block: a
// chunk of 16 blocks (512 weights) takes eight vpdpbusd into the lanes, then
// one conversion and one multiply by the 16 block scales, loaded
// contiguously. The packed copy replaces the mapped one and costs about the
// same bytes (Q4_K 4.75 bits per weight against 4.5, Q5_K 5.75 / 5.5,
// Q6_K 6.625 / 6.5625, Q4_0 and Q8_0 unchanged).
//
// A row is ceil(cols / 512) chunks; chunk c holds blocks 16c..16c+15 (block
// l of the chunk in lane l), the last one B = (cols % 512) / 32 blocks when
// cols is not a multiple of 512. Per chunk, `qs` holds the quant bits and
// `meta` the scales, rows one after the other.
//
// Quant bits (weights stored unsigned; with S = 4B bytes per step, S = 64
// for a whole chunk, step s = elements 4s..4s+3 of each block, byte 4l + e
// for element 4s + e of block l):
//   Q8_0  8 steps: step s at S*s, byte = weight/scale + 128.
//   4-bit 4 steps (Q4_0, Q4_1, Q4_K, IQ4_NL, IQ4_XS (table indices), and
//         the low nibbles of Q5_0, Q5_1, Q5_K, Q6_K): byte
//         S*j + 4l + e holds element 4j + e of block l in its low nibble and
//         element 16 + 4j + e in its high nibble (steps j and j + 4).
//   Q5_0, Q5_1, Q5_K  then 8 words of 8 bytes: bit 4l + e of word s is bit
//         4 of element 4s + e of block l.
//   Q6_K  then the same bit planes for bit 4 and (8 more words) bit 5.
//   Q2_K, Q3_K  two 64-byte vectors of crumbs, then (Q3_K) one of high
//         bits, whatever the chunk's length (unused lanes zero): bits
//         2k, 2k + 1 of byte 64v + 4l + e are bits 0, 1 of element
//         4(4v + k) + e of block l (step 4v + k); bit s of byte 128 + 4l + e
//         is bit 2 of element 4s + e. Unpacked with a shift and a mask
//         per step (a bit plane per bit took a mask register per step and
//         bit: Q3_K decoded slower than Q4_K on fewer bytes).
// Meta per chunk (a last short chunk keeps the whole size, unused lanes zero):
//   Q4_0 / Q8_0 / Q5_0 / IQ4_NL  16 f16 block scales (value = scale *
//                (stored - offset), IQ4_NL's stored = table[nibble] + 128).
//   Q4_1 / Q5_1  16 f16 scales, 16 f16 negated minimums: value = d*q + m.
//   IQ4_XS       f32 d[2], then i8 (scale - 32) per block [16]: value =
//                d*sc*table[nibble].
//   Q4_K / Q5_K  f32 d[2], f32 dmin[2] of the chunk's two super-blocks, then
//                u8 sc[16], u8 m[16] per block: value = d*sc*q - dmin*m.
//   Q6_K, Q3_K   f32 d[2], then i8 scales of the first 16 elements of each
//                block [16], of the last 16 [16]: value = d*sc*(q - 32),
//                resp. d*sc*(q - 4) (Q3_K's sc already less 32).
//   Q2_K         f32 d[2], f32 dmin[2], then GGML's scale bytes (scale in
//                the low nibble, min in the high) of the first 16 elements
//                [16], of the last 16 [16]: value = d*sc*q - dmin*m.
// Activations are laid out to match (Q8Panel).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <vector>

#include "kernels/quant_dot.h"

namespace pareto::kernels {

constexpr int kPackedChunk = 512;  // weights per row chunk; rows need cols % 32 == 0

enum class PackedKind : uint8_t { q4_0, q8_0, q4_k, q5_k, q6_k, q4_1, q5_0, q5_1, iq4_nl, iq4_xs, q2_k, q3_k };

// The packed kind a GGML type repacks to, if any, and back.
std::optional<PackedKind> packed_kind_for(uint32_t ggml_type);
uint32_t packed_ggml_type(PackedKind k);
const char* packed_kind_name(PackedKind k);

// Calls f(std::integral_constant<PackedKind, K>{}) for the kind at hand, so
// a kernel's per-kind template instantiations share one switch.
template <class F>
void visit_packed_kind(PackedKind k, F&& f) {
  switch (k) {
    case PackedKind::q4_0: return f(std::integral_constant<PackedKind, PackedKind::q4_0>{});
    case PackedKind::q8_0: return f(std::integral_constant<PackedKind, PackedKind::q8_0>{});
    case PackedKind::q4_k: return f(std::integral_constant<PackedKind, PackedKind::q4_k>{});
    case PackedKind::q5_k: return f(std::integral_constant<PackedKind, PackedKind::q5_k>{});
    case PackedKind::q6_k: return f(std::integral_constant<PackedKind, PackedKind::q6_k>{});
    case PackedKind::q4_1: return f(std::integral_constant<PackedKind, PackedKind::q4_1>{});
    case PackedKind::q5_0: return f(std::integral_constant<PackedKind, PackedKind::q5_0>{});
    case PackedKind::q5_1: return f(std::integral_constant<PackedKind, PackedKind::q5_1>{});
    case PackedKind::iq4_nl: return f(std::integral_constant<PackedKind, PackedKind::iq4_nl>{});
    case PackedKind::iq4_xs: return f(std::integral_constant<PackedKind, PackedKind::iq4_xs>{});
    case PackedKind::q2_k: return f(std::integral_constant<PackedKind, PackedKind::q2_k>{});
    case PackedKind::q3_k: return f(std::integral_constant<PackedKind, PackedKind::q3_k>{});
  }
}

// Whether the low four bits of each weight sit in a nibble plane (all but
// Q8_0's bytes and Q2_K / Q3_K's crumbs).
constexpr bool packed_nibbles(PackedKind k) { return k != PackedKind::q8_0 && k != PackedKind::q2_k && k != PackedKind::q3_k; }
// Whether the low two bits of each weight sit in crumb vectors (Q2_K, Q3_K).
constexpr bool packed_crumbs(PackedKind k) { return k == PackedKind::q2_k || k == PackedKind::q3_k; }
// Bits stored beyond the nibbles: in bit planes above the nibble (Q5_*: the
// fifth, Q6_K: fifth and sixth), or all of them (Q2_K: 2, Q3_K: 3; in
// crumbs and Q3_K's high-bit bytes, 64 bytes per bit either way).
constexpr int packed_high_bits(PackedKind k) {
  switch (k) {
    case PackedKind::q6_k: case PackedKind::q2_k: return 2;
    case PackedKind::q5_k: case PackedKind::q5_0: case PackedKind::q5_1: return 1;
    case PackedKind::q3_k: return 3;
    default: return 0;
  }
}
// Kinds with a scale per 16 weights (the two halves of each block).
constexpr bool packed_halves(PackedKind k) { return k == PackedKind::q6_k || k == PackedKind::q3_k || k == PackedKind::q2_k; }
// What the halves kinds store above the signed value, taken out through the panel's half sums.
constexpr int packed_half_offset(PackedKind k) { return k == PackedKind::q6_k ? 32 : k == PackedKind::q3_k ? 4 : 0; }
// Nibbles index the IQ4 table of non-uniform values (stored + 128).
constexpr bool packed_lookup(PackedKind k) { return k == PackedKind::iq4_nl || k == PackedKind::iq4_xs; }
// Kinds whose values carry a subtracted minimum per block (value = scale * q - min).
constexpr bool packed_has_mins(PackedKind k) {
  return k == PackedKind::q4_k || k == PackedKind::q5_k || k == PackedKind::q4_1 || k == PackedKind::q5_1;
}
// Quant bytes of a chunk of `blocks` 32-weight blocks (16 for a whole one).
constexpr size_t packed_chunk_qs_bytes(PackedKind k, int blocks = 16) {
  if (k == PackedKind::q8_0) return 32 * size_t(blocks);
  return (packed_nibbles(k) ? 16 * size_t(blocks) : 0) + 64 * size_t(packed_high_bits(k));
}
constexpr size_t packed_chunk_meta_bytes(PackedKind k) {
  switch (k) {
    case PackedKind::q4_k: case PackedKind::q5_k: case PackedKind::q2_k: return 48;
    case PackedKind::q6_k: case PackedKind::q3_k: return 40;
    case PackedKind::q4_1: case PackedKind::q5_1: return 64;
    case PackedKind::iq4_xs: return 24;
    default: return 32;
  }
}
// What the unsigned storage adds to each weight of the single-scale kinds
// (the kernels take it back out through the panel's sums).
constexpr int packed_offset(PackedKind k) {
  switch (k) {
    case PackedKind::q4_0: return 8;
    case PackedKind::q5_0: return 16;
    case PackedKind::q8_0: case PackedKind::iq4_nl: case PackedKind::iq4_xs: return 128;
    default: return 0;
  }
}
inline int64_t packed_chunks(int64_t cols) { return (cols + kPackedChunk - 1) / kPackedChunk; }
inline int packed_tail_blocks(int64_t cols) { return int(cols % kPackedChunk / 32); }
inline size_t packed_row_qs_bytes(PackedKind k, int64_t cols) {
  const int tail = packed_tail_blocks(cols);
  return size_t(cols / kPackedChunk) * packed_chunk_qs_bytes(k) + (tail ? packed_chunk_qs_bytes(k, tail) : 0);
}
inline size_t packed_qs_bytes(PackedKind k, int64_t rows, int64_t cols) { return size_t(rows) * packed_row_qs_bytes(k, cols); }
inline size_t packed_meta_bytes(PackedKind k, int64_t rows, int64_t cols) { return size_t(rows) * size_t(packed_chunks(cols)) * packed_chunk_meta_bytes(k); }
// Whether a [rows, cols] matrix of this type can be repacked.
bool packable(uint32_t ggml_type, int64_t cols);

struct PackedView {
  const uint8_t* qs = nullptr;
  const uint8_t* meta = nullptr;
  int64_t rows = 0, cols = 0;
  PackedKind kind = PackedKind::q4_0;
};

// Repack rows [r0, r1) of a GGML matrix of the kind's type (packable) into
// the layout above; qs and meta are the whole matrix's arrays.
void pack_rows(PackedKind kind, const void* ggml, int64_t cols, int64_t r0, int64_t r1, uint8_t* qs, uint8_t* meta);
// Dequantizes row r of a packed matrix (bit for bit GGML's dequantization).
void packed_row(const PackedView& w, int64_t r, float* out);

// Activations of several tokens quantized for the packed kernels: per token
// the int8 values in the chunk order above (64-byte aligned; a short last
// chunk padded with zeros to 512, the per-block arrays to 16 blocks per
// chunk) and per block:
// its scale, -offset * sum(qs) (seeds the block's int32 lane), and for the
// kinds that need them d * sum(qs) (the minimums of Q4_K, Q5_K, Q4_1, Q5_1),
// -offset * the sums of each 16-element half (Q6_K, Q3_K; per chunk the 16
// first halves, then the 16 last) and d * those sums (Q2_K's minimums).
struct Q8TilePanel;
struct Q8Panel {
  const int8_t* qs = nullptr;       // [tokens][chunks * 512]
  const float* d = nullptr;         // [tokens][chunks * 16]
  const int32_t* off = nullptr;     // [tokens][chunks * 16]
  const float* dsum = nullptr;      // [tokens][chunks * 16] (kinds with minimums)
  const int32_t* off16 = nullptr;   // [tokens][chunks * 32] (Q6_K, Q3_K)
  const float* dsum16 = nullptr;    // [tokens][chunks * 32] (Q2_K)
  int64_t tokens = 0, cols = 0;
  const Q8TilePanel* tiles = nullptr;  // the same in tile order, where the AMX kernel runs
};

// A panel rearranged for the AMX kernel (x86/packed_gemm_amx.cpp), built
// once per matmul: per group of 16 tokens (the last one padded with zeros)
// and block, the B tile of 8 rows of 64 bytes (row s: elements 4s..4s+3 of
// the block for each of the 16 tokens), and per block 16-token vectors of
// the panel's per-block values (d, off, dsum; per half block off16, dsum16).
struct Q8TilePanel {
  static constexpr int64_t kTileBytes = 512;
  std::vector<int8_t> qs;
  std::vector<float> d, dsum, dsum16;
  std::vector<int32_t> off, off16;
  int64_t groups = 0, nbp = 0;

  void build(const Q8Panel& x);  // token groups split across the thread pool
  const int8_t* tile(int64_t group, int64_t block) const { return qs.data() + (group * nbp + block) * kTileBytes; }
};

// y[t * ldy + r] = sum_k x[t, k] * w[r, k] for rows [r0, r1), all panel tokens.
using PackedGemmFn = void (*)(const PackedView& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy);
void packed_gemm_ref(const PackedView& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy);
namespace avx512vnni {
void packed_gemm(const PackedView& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy);
}
namespace neon {  // AArch64 (arm/packed_gemm_neon.cpp, arm/packed_gemm_dotprod.cpp)
void packed_gemm(const PackedView& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy);
}
namespace dotprod {
void packed_gemm(const PackedView& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy);
}
namespace amx {  // AMX-INT8 tiles, for batches (x86/packed_gemm_amx.cpp)
void packed_gemm(const PackedView& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy);
}
PackedGemmFn packed_gemm_fn();  // chosen once from cpu features, like quant_dot_table()
// The kernel for batches of at least kPackedTileTokens tokens where the CPU
// has AMX-INT8 (null otherwise: packed_gemm_fn() serves every batch).
// Below a full 16-token tile most of each tile product would be padding.
constexpr int64_t kPackedTileTokens = 16;
PackedGemmFn packed_gemm_tiles_fn();
// Whether repacking pays on this CPU (a SIMD variant exists); otherwise
// models keep GGML's layout and the row kernels.
bool packed_weights_preferred();
// Whether a matrix of this (packable) GGML type is better repacked here:
// every kind on x86-64; on AArch64 all but Q6_K, whose two bit planes cost
// more to expand with NEON than the row kernel's 2-bit fields (bench/arm_mca.sh:
// packed Q6_K decode 411 / 180 / 127 cycles per 256 weights on Cortex-A55 /
// A76 / Neoverse-N2 models, row SDOT dot 324 / 127 / 111).
bool packed_type_preferred(uint32_t ggml_type);

// Owns the buffers of a Q8Panel; refilled per matmul without reallocating
// once it has grown to the largest shape.
struct Q8PanelBuffer {
  // Quantizes x [tokens, cols] (cols % 32 == 0) with the same rounding as
  // the Q8A blocks of the row kernels, with the sums `kind` needs.
  Q8Panel quantize(const float* x, int64_t tokens, int64_t cols, PackedKind kind);

  std::vector<int8_t> qs;
  std::vector<float> d, dsum, dsum16;
  std::vector<int32_t> off, off16;
  std::vector<Q8aBlock> blocks;
};

}  // namespace pareto::kernels
