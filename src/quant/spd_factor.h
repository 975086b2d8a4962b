// Dense factorizations of symmetric positive definite matrices for GPTQ
// (row-major doubles, n x n). Each blocked routine has an unblocked twin
// (the textbook loops) and gives exactly its bits at every thread count:
// every element takes the same subtractions in the same order, one rounding
// each (no fused multiply-add: the quant layer is built without FMA on
// x86-64 and with -ffp-contract=off on AArch64), only grouped for the cache.
// The blocked forms turned a 5632-wide GPTQ factor from minutes into seconds.
#pragma once
#include <cstdint>
#include <vector>

namespace pareto::quant {

// In place: the lower Cholesky factor L of A (A = L L^T), upper part zeroed.
// False when a pivot is not positive (A is not positive definite in doubles).
bool cholesky_lower(std::vector<double>& a, int64_t n);
bool cholesky_lower_unblocked(std::vector<double>& a, int64_t n);

// M = L^-1 for a lower triangular L with a nonzero diagonal (M lower too).
std::vector<double> lower_inverse(const std::vector<double>& l, int64_t n);
std::vector<double> lower_inverse_unblocked(const std::vector<double>& l, int64_t n);

// The upper triangular U with a positive diagonal and U^T U = H^-1 (GPTQ's
// factor), without forming H^-1: with J the order reversal, factor
// J H J = L L^T; then H = (J L J)(J L J)^T with J L J upper, so
// U = (J L J)^-1 = J L^-1 J. One Cholesky and one triangular inverse
// (2n^3/3 flops) instead of a Cholesky, a full inverse and a second
// Cholesky of it (5n^3/3), and no explicit inverse to lose definiteness.
// add_to_diagonal (GPTQ's damping) is added to H's diagonal first. False
// when that H is not positive definite.
bool inverse_upper_cholesky(const std::vector<double>& h, int64_t n, double add_to_diagonal, std::vector<double>& u);

}  // namespace pareto::quant
