// Q4_0 weights repacked at load time for 512-bit integer dot products, and
// the matrix kernels (decode and prefill) that read them.
//
// Why: with GGML's 18-byte blocks every 32 weights cost shuffles, an int32 to
// float conversion and a scale multiply. Repacked, each of the 16 int32 lanes
// of a vpdpbusd belongs to one block: a chunk of 16 blocks (512 weights)
// takes eight vpdpbusd into one accumulator, then one conversion and one
// multiply by the 16 block scales, loaded contiguously. The packed copy
// replaces the mapped one (same 18 bytes per block), it does not sit beside it.
//
// Layout of a [rows, cols] matrix (cols % 512 == 0):
//   qs:     rows * cols/2 bytes, row r at r * cols/2. Chunk c of a row
//           (blocks 16c..16c+15) fills bytes [256c, 256c + 256): byte
//           64j + 4l + e is byte 4j + e of block 16c + l's GGML nibbles, so
//           its low nibble is element 4j + e and its high nibble 16 + 4j + e.
//   scales: rows * cols/32 f16, row-major.
// Activations are laid out to match (Q8Panel): 64-byte step s of a chunk
// holds elements 4s..4s+3 of each of its 16 blocks.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/quant_dot.h"

namespace pareto::kernels {

constexpr int kPackedQ4Chunk = 512;  // weights per row chunk; packed matrices need cols % 512 == 0

struct PackedQ4View {
  const uint8_t* qs = nullptr;
  const uint16_t* scales = nullptr;
  int64_t rows = 0, cols = 0;
};

// Repacks rows [r0, r1) of a GGML Q4_0 matrix into the layout above.
void pack_q4_0_rows(const void* q4_0, int64_t cols, int64_t r0, int64_t r1, uint8_t* qs, uint16_t* scales);
// Dequantizes row r of a packed matrix (same values as GGML's Q4_0 dequantization).
void packed_q4_0_row(const PackedQ4View& w, int64_t r, float* out);

// Activations of several tokens quantized for the packed kernels: per token
// the int8 values in the chunk order above (64-byte aligned), each block's
// scale, and -8 * sum(qs) per block (the Q4_0 offset, which seeds the block's
// int32 lane).
struct Q8Panel {
  const int8_t* qs = nullptr;      // [tokens][cols]
  const float* d = nullptr;        // [tokens][cols/32]
  const int32_t* off = nullptr;    // [tokens][cols/32]
  int64_t tokens = 0, cols = 0;
};

// y[t * ldy + r] = sum_k x[t, k] * w[r, k] for rows [r0, r1), all panel tokens.
using PackedQ4GemmFn = void (*)(const PackedQ4View& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy);
void packed_q4_0_gemm_ref(const PackedQ4View& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy);
namespace avx512vnni {
void packed_q4_0_gemm(const PackedQ4View& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy);
}
PackedQ4GemmFn packed_q4_0_gemm_fn();  // chosen once from cpu features, like quant_dot_table()
// Whether repacking pays on this CPU (a SIMD variant exists); otherwise
// models keep GGML's layout and the row kernels.
bool packed_q4_0_preferred();

// Owns the buffers of a Q8Panel; refilled per matmul without reallocating
// once it has grown to the largest shape.
struct Q8PanelBuffer {
  // Quantizes x [tokens, cols] (cols % 32 == 0) with the same rounding as
  // the Q8A blocks of the row kernels.
  Q8Panel quantize(const float* x, int64_t tokens, int64_t cols);

  std::vector<int8_t> qs;
  std::vector<float> d;
  std::vector<int32_t> off;
  std::vector<Q8aBlock> blocks;
};

}  // namespace pareto::kernels
