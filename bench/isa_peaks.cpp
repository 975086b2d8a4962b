// The multiply-add peak of one core per precision (kernels/peak_probe.h):
// a ceiling to read kernel rates against (GMAC/s = multiply-adds per
// second). On the AMD EPYC (Zen 4) of this project's measurements about
// 180-210 int8, 56 f32, 112 bf16, so int8 can be at most ~3.5x f32 there.
// pareto profile measures the same ceilings for its roofline. Prints 0 for
// what the CPU lacks.
// usage: build/bench/pareto_isa_peaks
#include <cstdio>

#include "kernels/peak_probe.h"

int main() {
  for (int round = 0; round < 3; ++round) {
    const pareto::kernels::PeakRates r = pareto::kernels::measure_peak_gmacs(100000000 / 16);
    std::printf("round %d:  int8 (vpdpbusd) %6.1f GMAC/s  f32 (vfmadd231ps) %6.1f GMAC/s  bf16 (vdpbf16ps) %6.1f GMAC/s\n", round, r.int8,
                r.f32, r.bf16);
  }
  return 0;
}
