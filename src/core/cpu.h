// CPU feature detection, read once (cpuid on x86; the ARM seam returns none).
#pragma once
#include <string>

namespace pareto {

// The architecture this build targets. Kernels of the other one are not
// compiled; calls to them sit behind `if constexpr` on these, so they are
// never linked there.
#if defined(__x86_64__)
inline constexpr bool kBuildX86 = true, kBuildArm64 = false;
#elif defined(__aarch64__)
inline constexpr bool kBuildX86 = false, kBuildArm64 = true;
#else
inline constexpr bool kBuildX86 = false, kBuildArm64 = false;
#endif

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512vnni = false;
  bool bmi2 = false, avx512vbmi = false, avx512bf16 = false, avx512fp16 = false, avxvnni = false;
  // AMX tile instructions: the CPU has them and the OS saves the tile
  // state. Using them also needs amx_tile_state_granted().
  bool amx_int8 = false, amx_bf16 = false;
  // AArch64, from the kernel's HWCAP words (getauxval): Advanced SIMD, FP16
  // arithmetic, the int8 dot product (SDOT/UDOT), int8 matrix multiply
  // (SMMLA/USMMLA), BF16, SVE/SVE2 and SME (SME has no kernel yet: a seam).
  bool neon = false, fp16 = false, dotprod = false, i8mm = false, arm_bf16 = false, sve = false, sve2 = false, sme = false;
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
// The AArch64 features in two HWCAP words (AT_HWCAP, AT_HWCAP2): what
// detection uses on Arm, callable anywhere so the mapping is tested on x86 too.
CpuFeatures arm_features_from_hwcaps(unsigned long hwcap, unsigned long hwcap2);
int cpu_count();

}  // namespace pareto
