// Reference integer dot products: the oracle for the ISA variants. Per block
// the integer sum is exact; blocks accumulate in float in order.
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "kernels/quant_dot.h"

namespace pareto::kernels {

void f32_q8a_quantize_ref(const float* x, int64_t n, Q8aBlock* out) {
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* xb = x + b * 32;
    float amax = 0.f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xb[j]));
    float d = amax / 127.f, id = d > 0 ? 1.f / d : 0.f;
    int32_t sum = 0;
    for (int j = 0; j < 32; ++j) {
      int q = int(std::nearbyint(xb[j] * id));
      out[b].qs[j] = int8_t(q);
      sum += q;
    }
    out[b].d = d;
    out[b].sum = sum;
  }
}

float q8a_q4_0_dot_ref(const void* row, const Q8aBlock* x, int64_t n) {
  const uint8_t* w = static_cast<const uint8_t*>(row);
  float acc = 0.f;
  for (int64_t b = 0; b < n / 32; ++b, w += 18) {
    uint16_t h;
    std::memcpy(&h, w, 2);
    int32_t isum = 0;
    for (int j = 0; j < 16; ++j) {
      isum += ((w[2 + j] & 0xF) - 8) * x[b].qs[j];
      isum += ((w[2 + j] >> 4) - 8) * x[b].qs[j + 16];
    }
    acc += half_to_float(h) * x[b].d * float(isum);
  }
  return acc;
}

float q8a_q8_0_dot_ref(const void* row, const Q8aBlock* x, int64_t n) {
  const uint8_t* w = static_cast<const uint8_t*>(row);
  float acc = 0.f;
  for (int64_t b = 0; b < n / 32; ++b, w += 34) {
    uint16_t h;
    std::memcpy(&h, w, 2);
    const int8_t* q = reinterpret_cast<const int8_t*>(w + 2);
    int32_t isum = 0;
    for (int j = 0; j < 32; ++j) isum += q[j] * x[b].qs[j];
    acc += half_to_float(h) * x[b].d * float(isum);
  }
  return acc;
}

}  // namespace pareto::kernels
