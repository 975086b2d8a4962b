// CPU feature detection, read once (cpuid on x86; the ARM seam returns none).
#pragma once
#include <string>

namespace pareto {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512vnni = false;
  bool bmi2 = false, avx512vbmi = false, avx512bf16 = false, avx512fp16 = false, avxvnni = false;
  // AMX tile instructions, usable: the CPU has them, the OS saves the tile
  // state and Linux granted this process the permission to use it.
  bool amx_int8 = false, amx_bf16 = false;
  std::string brand;
};

const CpuFeatures& cpu_features();
std::string cpu_features_string();
int cpu_count();

}  // namespace pareto
