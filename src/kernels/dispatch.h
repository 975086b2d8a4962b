// The kernel table, chosen once at start-up from cpu features (PARETO_ISA=ref|avx2
// lowers it; on AArch64 PARETO_ISA=ref|neon|dotprod caps the level) and
// immutable afterwards, so concurrent sessions share it safely.
#pragma once
#include <string>

#include "kernels/gemm.h"

namespace pareto::kernels {

// x86 levels are ordered (a CPU with one has the ones below); neon is AArch64's.
enum class IsaLevel { ref = 0, avx2 = 1, avx512 = 2, neon = 3 };

struct KernelTable {
  IsaLevel level = IsaLevel::ref;
  GemmFn f32_gemm = nullptr;
  size_t (*packed_a_floats)(int64_t m, int64_t k) = nullptr;
  void (*pack_a)(const GemmArgs& g, float* packed) = nullptr;
  void (*f32_gemm_packed)(const GemmArgs& g, const float* packed) = nullptr;
};

const KernelTable& kernel_table();
// Highest level this CPU supports.
IsaLevel best_isa_level();
const char* isa_level_name(IsaLevel level);
// The table of one level (tests compare levels side by side without touching
// the process-wide choice); nullptr when this CPU lacks it.
const KernelTable* kernel_table_for(IsaLevel level);
std::string kernel_summary();
// Whether the environment lets kernels use AMX (PARETO_AMX=0 or PARETO_ISA=ref/avx2 turn it off).
bool amx_allowed();

}  // namespace pareto::kernels
