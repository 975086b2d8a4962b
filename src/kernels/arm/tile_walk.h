// The walk the Arm conv GEMMs (int8 SDOT, bf16 BFDOT, f16 FMLA) share:
// blocks of 4 weight rows (the last 1-3) by 16 pixels, each handed to the
// kernel's register tile with its row count as a compile-time constant.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace pareto::kernels {

// tile(std::integral_constant<int, R>{}, r, j, count): rows [r, r + R),
// pixels [j, j + count), count <= 16.
template <class Tile>
void for_each_4x16_tile(int64_t m, int64_t n, Tile tile) {
  for (int64_t r = 0; r < m; r += 4)
    for (int64_t j = 0; j < n; j += 16) {
      const int64_t count = std::min<int64_t>(16, n - j);
      switch (std::min<int64_t>(4, m - r)) {
        case 4: tile(std::integral_constant<int, 4>{}, r, j, count); break;
        case 3: tile(std::integral_constant<int, 3>{}, r, j, count); break;
        case 2: tile(std::integral_constant<int, 2>{}, r, j, count); break;
        default: tile(std::integral_constant<int, 1>{}, r, j, count); break;
      }
    }
}

}  // namespace pareto::kernels
