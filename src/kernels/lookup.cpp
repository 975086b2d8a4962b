#include "kernels/lookup.h"

#include <cstring>

#include "core/cpu.h"
#include "kernels/dispatch.h"

namespace pareto::kernels {

void split_float_table(const float* table, uint8_t* planes) {
  for (int j = 0; j < 256; ++j) {
    uint32_t bits;
    std::memcpy(&bits, table + j, 4);
    for (int k = 0; k < 4; ++k) planes[k * 256 + j] = uint8_t(bits >> (8 * k));
  }
}

void lookup_bytes_ref(const uint8_t* x, int64_t n, const uint8_t* table, uint8_t* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = table[x[i]];
}

void lookup_floats_ref(const uint8_t* x, int64_t n, const uint8_t* planes, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t b = x[i];
    const uint32_t bits = uint32_t(planes[b]) | uint32_t(planes[256 + b]) << 8 | uint32_t(planes[512 + b]) << 16 | uint32_t(planes[768 + b]) << 24;
    std::memcpy(y + i, &bits, 4);
  }
}

namespace {
bool use_vbmi() {
  if constexpr (!kBuildX86) return false;
  // Built with the VNNI part's flags (CMakeLists.txt), so gated as that part is.
  static const bool ok = kernel_table().level == IsaLevel::avx512 && cpu_features().avx512vbmi && cpu_features().avx512bw &&
                         cpu_features().avx512vnni;
  return ok;
}
}  // namespace

void lookup_bytes(const uint8_t* x, int64_t n, const uint8_t* table, uint8_t* y) {
  if constexpr (kBuildX86)
    if (use_vbmi()) return avx512vbmi::lookup_bytes(x, n, table, y);
  lookup_bytes_ref(x, n, table, y);
}

void lookup_floats(const uint8_t* x, int64_t n, const uint8_t* planes, float* y) {
  if constexpr (kBuildX86)
    if (use_vbmi()) return avx512vbmi::lookup_floats(x, n, planes, y);
  lookup_floats_ref(x, n, planes, y);
}

}  // namespace pareto::kernels
