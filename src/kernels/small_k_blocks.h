// Shared by the small-k GEMM kernels (x86/pointwise_avx512.cpp,
// arm/pointwise_neon.cpp).
#pragma once
#include <cstdint>
#include <type_traits>

namespace pareto::kernels {

// The ISA kernels' split of m output channels into register tiles 8, 4, 2
// and 1 high: block(std::integral_constant<int, R>{}, r) for each block of
// R rows from row r.
template <class Block>
void small_k_row_blocks(int64_t m, Block block) {
  int64_t r = 0;
  for (; r + 8 <= m; r += 8) block(std::integral_constant<int, 8>{}, r);
  if (m - r >= 4) block(std::integral_constant<int, 4>{}, r), r += 4;
  if (m - r >= 2) block(std::integral_constant<int, 2>{}, r), r += 2;
  if (m - r >= 1) block(std::integral_constant<int, 1>{}, r);
}

}  // namespace pareto::kernels
