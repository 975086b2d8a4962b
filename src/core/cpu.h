// CPU feature detection, read once (cpuid on x86; the ARM seam returns none).
#pragma once
#include <string>

namespace pareto {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512vnni = false;
  bool bmi2 = false, avx512vbmi = false, avx512bf16 = false, avx512fp16 = false, avxvnni = false;
  // AMX tile instructions: the CPU has them and the OS saves the tile
  // state. Using them also needs amx_tile_state_granted().
  bool amx_int8 = false, amx_bf16 = false;
  std::string brand;
};

const CpuFeatures& cpu_features();
// Asks Linux, once per process, for the AMX tile state (arch_prctl
// ARCH_REQ_XCOMP_PERM; without it the first tile instruction faults); true
// when granted. Called only when an AMX kernel is about to be chosen: the
// grant is process-wide and makes signal frames ~8 KiB larger (a host's
// small sigaltstack() then fails), so merely reading the features must not
// ask.
bool amx_tile_state_granted();
std::string cpu_features_string();
int cpu_count();

}  // namespace pareto
