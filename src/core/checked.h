// Size arithmetic on values read from files and the network: sums and
// products that report overflow instead of wrapping. A hostile header whose
// fields each pass their own bound can still make a wrapped total pass a
// size check and send reads past the end of the data.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>

namespace pareto {

inline std::optional<uint64_t> checked_add(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

inline std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// The product of all factors, or nullopt when it does not fit.
inline std::optional<uint64_t> checked_product(std::initializer_list<uint64_t> factors) {
  uint64_t r = 1;
  for (uint64_t f : factors) {
    auto next = checked_mul(r, f);
    if (!next) return std::nullopt;
    r = *next;
  }
  return r;
}

}  // namespace pareto
