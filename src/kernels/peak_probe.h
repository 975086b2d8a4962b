// The multiply-add peak of one core per precision, measured: the ceilings a
// roofline reads kernel rates against (pareto profile, bench/isa_peaks).
#pragma once

namespace pareto::kernels {

// GMAC/s (multiply-adds per second, 1e9) of one thread, 0 where the CPU
// lacks the instruction. 16 independent register chains of one 512-bit
// instruction with no memory operands: VFMADD231PS (f32), VDPBF16PS (bf16),
// VPDPBUSD (int8). `steps` chain steps per precision (1e8/16 takes about
// 0.1-0.2 s for f32 on a 3 GHz core).
struct PeakRates {
  double f32 = 0, bf16 = 0, int8 = 0;
};
PeakRates measure_peak_gmacs(long steps);

}  // namespace pareto::kernels
