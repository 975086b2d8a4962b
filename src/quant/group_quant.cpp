#include "quant/group_quant.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kernels/pareto_formats.h"

namespace pareto::quant {

std::vector<uint8_t> pack_codes(const std::vector<uint32_t>& codes, int bits) {
  std::vector<uint8_t> out((codes.size() * size_t(bits) + 7) / 8, 0);
  size_t bit = 0;
  for (uint32_t c : codes)
    for (int b = 0; b < bits; ++b, ++bit)
      if ((c >> b) & 1u) out[bit / 8] = uint8_t(out[bit / 8] | (1u << (bit % 8)));
  return out;
}

std::vector<uint32_t> unpack_codes(const std::vector<uint8_t>& packed, int bits, int64_t n) {
  if (packed.size() * 8 < size_t(n) * size_t(bits)) fail_argument("packed codes are shorter than " + std::to_string(n) + " values");
  std::vector<uint32_t> codes(static_cast<size_t>(n), 0);
  size_t bit = 0;
  for (auto& c : codes)
    for (int b = 0; b < bits; ++b, ++bit) c |= uint32_t((packed[bit / 8] >> (bit % 8)) & 1u) << b;
  return codes;
}

QuantizedRow quantize_group_row(const float* x, int64_t n, const GroupQuantParams& p) {
  if (p.bits < 2 || p.bits > 8 || p.group < 1) fail_argument("group quantization needs 2..8 bits and a positive group");
  QuantizedRow q;
  q.n = n;
  std::vector<uint32_t> codes(static_cast<size_t>(n));
  for (int64_t g0 = 0; g0 < n; g0 += p.group) {
    const int64_t count = std::min(n - g0, p.group);
    // The runtime formats' rule (kernels/pareto_formats.h), with float parameters.
    const kernels::GroupParams gp = kernels::group_params(x + g0, count, p.bits, p.asymmetric);
    for (int64_t i = g0; i < g0 + count; ++i) codes[size_t(i)] = uint32_t(kernels::group_code(x[i], gp, p.bits));
    q.scale.push_back(gp.scale);
    if (p.asymmetric) q.zero.push_back(gp.zero);
  }
  q.packed = pack_codes(codes, p.bits);
  return q;
}

void dequantize_group_row(const QuantizedRow& q, const GroupQuantParams& p, float* out) {
  const std::vector<uint32_t> codes = unpack_codes(q.packed, p.bits, q.n);
  const int qmax_sym = (1 << (p.bits - 1)) - 1;
  for (int64_t i = 0; i < q.n; ++i) {
    const size_t g = size_t(i / p.group);
    out[i] = p.asymmetric ? (float(codes[size_t(i)]) - q.zero[g]) * q.scale[g] : float(int(codes[size_t(i)]) - qmax_sym) * q.scale[g];
  }
}

}  // namespace pareto::quant
