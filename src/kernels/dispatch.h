// The kernel table, filled once from cpu features. Tests may force a level.
#pragma once
#include <string>

#include "kernels/gemm.h"

namespace pareto::kernels {

enum class IsaLevel { ref = 0, avx2 = 1, avx512 = 2 };

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
// Overrides the selection (e.g. PARETO_ISA=ref for debugging); returns false if unsupported here.
bool force_isa_level(IsaLevel level);
std::string kernel_summary();

}  // namespace pareto::kernels
