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

// The f32 rate of `threads` threads running that probe at the same time:
// all their multiply-adds over one wall-clock window, from the first
// thread's start to the last one's end, each thread reading the clock
// itself (0 without AVX-512): whether the cores are there. A
// VM's vCPUs may share one physical core at times; then two threads give
// one thread's rate, and no kernel can scale (bench scripts print it beside
// their two-thread timings).
double measure_f32_gmacs_together(int threads, long steps);

// Two threads handing one cache line back and forth up to `rounds` times: the
// round trip's median and largest time in ns. A parallel region pays about
// one round trip to start and one to end; the largest shows the stalls
// (a vCPU descheduled by the host) that hold a region up.
struct HandoffTimes {
  double median_ns = 0, max_ns = 0;
  int rounds = 0;  // measured (fewer than asked where half a second ran out)
};
HandoffTimes measure_handoff(int rounds);

}  // namespace pareto::kernels
