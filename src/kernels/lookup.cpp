#include "kernels/lookup.h"

#include "core/cpu.h"
#include "kernels/dispatch.h"

namespace pareto::kernels {

void lookup_bytes_ref(const uint8_t* x, int64_t n, const uint8_t* table, uint8_t* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = table[x[i]];
}

void lookup_floats_ref(const uint8_t* x, int64_t n, const float* table, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = table[x[i]];
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

void lookup_floats(const uint8_t* x, int64_t n, const float* table, float* y) {
  // The vector kernel first splits the table into byte planes (some 70
  // instructions): not worth it for a short run.
  if constexpr (kBuildX86)
    if (n >= 64 && use_vbmi()) return avx512vbmi::lookup_floats(x, n, table, y);
  lookup_floats_ref(x, n, table, y);
}

}  // namespace pareto::kernels
