// Generic group-wise integer quantization of a row: `bits` (2..8) per weight,
// one scale (and, asymmetric, one zero point) per group of `group` weights,
// codes bit-packed little-endian. A row whose length is not a multiple of the
// group ends in a shorter tail group; nothing is truncated. The building block
// for pareto's own low-bit formats (GGML's types cover 4 and 8 bits in groups
// of 32 only).
#pragma once
#include <cstdint>
#include <vector>

namespace pareto::quant {

struct GroupQuantParams {
  int bits = 4;
  int64_t group = 128;
  bool asymmetric = false;
};

struct QuantizedRow {
  std::vector<uint8_t> packed;  // ceil(n * bits / 8) bytes
  std::vector<float> scale;     // per group
  std::vector<float> zero;      // per group (asymmetric), in code units
  int64_t n = 0;
};

// Round to nearest: symmetric codes in [-(2^(b-1) - 1), 2^(b-1) - 1] with
// scale amax / (2^(b-1) - 1); asymmetric codes in [0, 2^b - 1] over [min, max].
QuantizedRow quantize_group_row(const float* x, int64_t n, const GroupQuantParams& p);
void dequantize_group_row(const QuantizedRow& q, const GroupQuantParams& p, float* out);

// Bit packing alone (codes already offset to be non-negative).
std::vector<uint8_t> pack_codes(const std::vector<uint32_t>& codes, int bits);
std::vector<uint32_t> unpack_codes(const std::vector<uint8_t>& packed, int bits, int64_t n);

}  // namespace pareto::quant
