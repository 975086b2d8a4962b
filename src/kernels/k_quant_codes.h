// The K-quants (Q2_K .. Q6_K) seen as integer codes on fixed per-sub-block
// grids: a super-block of 256 weights stores a header (f16 d and dmin, the
// sub-blocks' 4-8 bit scales and mins) and one code per weight, which a
// reader decodes as d_sub * (code - shift) - m_sub. A quantizer that picks
// codes itself against a header it did not choose (GPTQ: the header from
// the reference quantizer, codes after error feedback) reads the grid with
// k_quant_sub_params, rounds with k_quant_code and stores with
// k_quant_pack_codes; the reference quantizers use the same three, so both
// round a weight the same way.
#pragma once
#include <cstdint>

namespace pareto::kernels {

struct KQuantGrid {
  int sub = 0;    // weights per sub-block (16 or 32)
  int lo = 0;     // code range before the shift
  int hi = 0;
  int shift = 0;  // stored code = code + shift
  bool has_min = false;  // value = d * code - m (Q2_K, Q4_K, Q5_K); else d * code
};

// Q2_K .. Q6_K; false for every other type.
bool is_k_quant(uint32_t type);
KQuantGrid k_quant_grid(uint32_t type);

// The scale d[j] and min m[j] (0 without mins) of each sub-block j of one
// super-block's bytes (256 / grid.sub entries each), as readers decode them.
void k_quant_sub_params(uint32_t type, const uint8_t* block, float* d, float* m);

// The stored code of x on a sub-block's grid (ggml's rounding: nearest,
// clamped; d must be nonzero; any finite x), and what a reader decodes from it.
int k_quant_code(const KQuantGrid& g, float x, float d, float m);
inline float k_quant_value(const KQuantGrid& g, int stored, float d, float m) { return d * float(stored - g.shift) - m; }

// Every code of a super-block (stored codes, 256 of them) written into its
// bytes, the header left as it is.
void k_quant_pack_codes(uint32_t type, const uint8_t* codes, uint8_t* block);

// Each code of a super-block rounded again from x against its header (sub-
// blocks with d = 0 keep the codes they had), as ggml does after packing scales.
void k_quant_recode(uint32_t type, const float* x, const uint8_t* block, uint8_t* codes);

}  // namespace pareto::kernels
