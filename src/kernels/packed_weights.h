// Q4_0 and Q8_0 weights repacked at load time for 512-bit integer dot
// products, and the matrix kernel (decode and prefill) that reads them.
//
// Why: with GGML's 18- and 34-byte blocks every 32 weights cost shuffles, an
// int32 to float conversion and a scale multiply. Repacked, each of the 16
// int32 lanes of a vpdpbusd belongs to one block: a chunk of 16 blocks (512
// weights) takes eight vpdpbusd into one accumulator, then one conversion and
// one multiply by the 16 block scales, loaded contiguously. The packed copy
// replaces the mapped one (same bytes per block), it does not sit beside it.
//
// Layout of a [rows, cols] matrix (cols % 512 == 0), weights stored unsigned
// (Q4_0: nibble = weight/scale + 8; Q8_0: byte = weight/scale + 128):
//   qs:     rows * cols * bits/8 bytes, row-major. Q8_0: chunk c of a row
//           (blocks 16c..16c+15) fills 512 bytes; byte 64s + 4l + e is
//           element 4s + e of block 16c + l. Q4_0: the chunk fills 256 bytes;
//           byte 64j + 4l + e is byte 4j + e of block 16c + l's GGML nibbles,
//           so its low nibble is element 4j + e and its high nibble 16 + 4j + e.
//   scales: rows * cols/32 f16, row-major.
// Activations are laid out to match (Q8Panel): 64-byte step s of a chunk
// holds elements 4s..4s+3 of each of its 16 blocks.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/quant_dot.h"

namespace pareto::kernels {

constexpr int kPackedChunk = 512;  // weights per row chunk; packed matrices need cols % 512 == 0

struct PackedView {
  const uint8_t* qs = nullptr;
  const uint16_t* scales = nullptr;
  int64_t rows = 0, cols = 0;
  int bits = 4;  // 4: from Q4_0, 8: from Q8_0
};
// What the unsigned storage adds to each weight (the kernels take it back out).
inline int packed_offset(int bits) { return bits == 4 ? 8 : 128; }
inline size_t packed_qs_bytes(int64_t rows, int64_t cols, int bits) { return size_t(rows) * size_t(cols) * size_t(bits) / 8; }

// Repack rows [r0, r1) of a GGML Q4_0 / Q8_0 matrix into the layout above.
void pack_q4_0_rows(const void* q4_0, int64_t cols, int64_t r0, int64_t r1, uint8_t* qs, uint16_t* scales);
void pack_q8_0_rows(const void* q8_0, int64_t cols, int64_t r0, int64_t r1, uint8_t* qs, uint16_t* scales);
// Dequantizes row r of a packed matrix (same values as GGML's dequantization).
void packed_row(const PackedView& w, int64_t r, float* out);

// Activations of several tokens quantized for the packed kernels: per token
// the int8 values in the chunk order above (64-byte aligned), each block's
// scale, and -offset * sum(qs) per block (takes the weights' storage offset
// back out; it seeds the block's int32 lane).
struct Q8Panel {
  const int8_t* qs = nullptr;      // [tokens][cols]
  const float* d = nullptr;        // [tokens][cols/32]
  const int32_t* off = nullptr;    // [tokens][cols/32]
  int64_t tokens = 0, cols = 0;
};

// y[t * ldy + r] = sum_k x[t, k] * w[r, k] for rows [r0, r1), all panel tokens.
using PackedGemmFn = void (*)(const PackedView& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy);
void packed_gemm_ref(const PackedView& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy);
namespace avx512vnni {
void packed_gemm(const PackedView& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy);
}
PackedGemmFn packed_gemm_fn();  // chosen once from cpu features, like quant_dot_table()
// Whether repacking pays on this CPU (a SIMD variant exists); otherwise
// models keep GGML's layout and the row kernels.
bool packed_weights_preferred();

// Owns the buffers of a Q8Panel; refilled per matmul without reallocating
// once it has grown to the largest shape.
struct Q8PanelBuffer {
  // Quantizes x [tokens, cols] (cols % 512 == 0) with the same rounding as
  // the Q8A blocks of the row kernels, for weights stored with `offset`.
  Q8Panel quantize(const float* x, int64_t tokens, int64_t cols, int offset);

  std::vector<int8_t> qs;
  std::vector<float> d;
  std::vector<int32_t> off;
  std::vector<Q8aBlock> blocks;
};

}  // namespace pareto::kernels
