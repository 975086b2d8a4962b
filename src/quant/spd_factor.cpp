#include "quant/spd_factor.h"

#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"
#include "kernels/f64_update.h"

namespace pareto::quant {

namespace {

constexpr int64_t kBlock = 64;  // panel width: an 8-row tile's 64 coefficients per row stay in L1
constexpr int64_t kCols = 16;   // columns of L^-1 a task takes: one AVX-512 tile

size_t at(int64_t i, int64_t j, int64_t n) { return size_t(i * n + j); }

// Splits `count` tasks whose cost falls linearly with the index (triangular
// work) over the pool: task t is paired with task count-1-t, so every
// thread's share is near equal.
template <class F>
void parallel_triangular(int64_t count, F&& f) {
  parallel_for((count + 1) / 2, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      f(t);
      if (count - 1 - t != t) f(count - 1 - t);
    }
  });
}

// Columns [k0, k1) of the Cholesky factor, whose earlier columns' terms are
// already subtracted: the diagonal block first, then every row below it.
bool factor_panel(std::vector<double>& a, int64_t n, int64_t k0, int64_t k1) {
  for (int64_t j = k0; j < k1; ++j) {
    double d = a[at(j, j, n)];
    for (int64_t k = k0; k < j; ++k) d -= a[at(j, k, n)] * a[at(j, k, n)];
    if (!(d > 0)) return false;
    a[at(j, j, n)] = std::sqrt(d);
    for (int64_t i = j + 1; i < k1; ++i) {
      double s = a[at(i, j, n)];
      for (int64_t k = k0; k < j; ++k) s -= a[at(i, k, n)] * a[at(j, k, n)];
      a[at(i, j, n)] = s / a[at(j, j, n)];
    }
  }
  parallel_for(n - k1, [&](int64_t b, int64_t e) {
    for (int64_t i = k1 + b; i < k1 + e; ++i)
      for (int64_t j = k0; j < k1; ++j) {
        double s = a[at(i, j, n)];
        for (int64_t k = k0; k < j; ++k) s -= a[at(i, k, n)] * a[at(j, k, n)];
        a[at(i, j, n)] = s / a[at(j, j, n)];
      }
  });
  return true;
}

// a[i][j] -= sum over k in [k0, k1) of a[i][k] a[j][k] for k1 <= j <= i: the
// panel's terms subtracted from the rest of the lower triangle. Tiles may
// also write above the diagonal, which is never read and zeroed at the end.
void update_trailing(std::vector<double>& a, int64_t n, int64_t k0, int64_t k1) {
  const int64_t kb = k1 - k0, m = n - k1;
  std::vector<double> pt(size_t(kb * m));  // pt[kk][j - k1] = a[j][k0 + kk]
  parallel_for(m, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j)
      for (int64_t kk = 0; kk < kb; ++kk) pt[size_t(kk * m + j)] = a[at(k1 + j, k0 + kk, n)];
  });
  const int64_t groups = (m + 7) / 8;
  parallel_triangular(groups, [&](int64_t g) {
    // Row groups from the bottom hold the most columns: cost falls with g.
    const int64_t r0 = k1 + (groups - 1 - g) * 8, rows = std::min<int64_t>(8, n - r0);
    const int64_t cols = r0 + rows - k1;  // columns k1 .. last row of the group
    kernels::f64_subtract_products(&a[at(r0, k1, n)], n, &a[at(r0, k0, n)], n, pt.data(), m, rows, cols, kb);
  });
}

// Rows [i0, i1) of M = L^-1, rows above done. Each element takes
// s = delta_ij; s -= l[i][k] m[k][j] for k = j .. i-1; m[i][j] = s / l[i][i].
// Columns are independent, so threads take blocks of kCols columns; within
// a block the terms from rows above the block (k < i0) come first, the
// whole row block at a time over the earlier rows' values, then the
// block's own rows in order.
void invert_rows(const std::vector<double>& l, std::vector<double>& m, int64_t n, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) m[at(i, i, n)] = 1;
  const int64_t blocks = (i1 + kCols - 1) / kCols;
  parallel_triangular(blocks, [&](int64_t jb) {
    const int64_t j0 = jb * kCols, width = std::min(kCols, i1 - j0), rows = i1 - i0;
    if (width == kCols && j0 + kCols - 1 < i0) {
      // k = j .. j0+kCols-2 hold terms for some of the block's columns only: one column at a time.
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t j = j0; j < j0 + kCols - 1; ++j) {
          double s = m[at(i, j, n)];
          for (int64_t k = j; k < j0 + kCols - 1; ++k) s -= l[at(i, k, n)] * m[at(k, j, n)];
          m[at(i, j, n)] = s;
        }
      for (int64_t k = j0 + kCols - 1; k < i0; k += kBlock)
        kernels::f64_subtract_products(&m[at(i0, j0, n)], n, &l[at(i0, k, n)], n, &m[at(k, j0, n)], n, rows, kCols, std::min(kBlock, i0 - k));
      for (int64_t i = i0; i < i1; ++i) {
        kernels::f64_subtract_products(&m[at(i, j0, n)], n, &l[at(i, i0, n)], n, &m[at(i0, j0, n)], n, 1, kCols, i - i0);
        for (int64_t j = j0; j < j0 + kCols; ++j) m[at(i, j, n)] /= l[at(i, i, n)];
      }
      return;
    }
    for (int64_t j = j0; j < j0 + width; ++j)  // blocks reaching the row block's own columns, or a tail
      for (int64_t i = std::max(i0, j); i < i1; ++i) {
        double s = m[at(i, j, n)];
        for (int64_t k = j; k < i; ++k) s -= l[at(i, k, n)] * m[at(k, j, n)];
        m[at(i, j, n)] = s / l[at(i, i, n)];
      }
  });
}

}  // namespace

bool cholesky_lower_unblocked(std::vector<double>& a, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double d = a[at(j, j, n)];
    for (int64_t k = 0; k < j; ++k) d -= a[at(j, k, n)] * a[at(j, k, n)];
    if (!(d > 0)) return false;
    d = std::sqrt(d);
    a[at(j, j, n)] = d;
    for (int64_t i = j + 1; i < n; ++i) {
      double s = a[at(i, j, n)];
      for (int64_t k = 0; k < j; ++k) s -= a[at(i, k, n)] * a[at(j, k, n)];
      a[at(i, j, n)] = s / d;
    }
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = i + 1; k < n; ++k) a[at(i, k, n)] = 0;
  return true;
}

bool cholesky_lower(std::vector<double>& a, int64_t n) {
  for (int64_t k0 = 0; k0 < n; k0 += kBlock) {
    const int64_t k1 = std::min(n, k0 + kBlock);
    if (!factor_panel(a, n, k0, k1)) return false;
    if (k1 < n) update_trailing(a, n, k0, k1);
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = i + 1; k < n; ++k) a[at(i, k, n)] = 0;
  return true;
}

std::vector<double> lower_inverse_unblocked(const std::vector<double>& l, int64_t n) {
  std::vector<double> m(size_t(n * n), 0);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = j; i < n; ++i) {
      double s = i == j ? 1.0 : 0.0;
      for (int64_t k = j; k < i; ++k) s -= l[at(i, k, n)] * m[at(k, j, n)];
      m[at(i, j, n)] = s / l[at(i, i, n)];
    }
  return m;
}

std::vector<double> lower_inverse(const std::vector<double>& l, int64_t n) {
  std::vector<double> m(size_t(n * n), 0);
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) invert_rows(l, m, n, i0, std::min(n, i0 + kBlock));
  return m;
}

bool inverse_upper_cholesky(const std::vector<double>& h, int64_t n, double add_to_diagonal, std::vector<double>& u) {
  // J H J is H's elements in reverse order (index i n + j -> n^2-1 - (i n + j)), and so is J M J.
  std::vector<double> r(h.rbegin(), h.rend());
  for (int64_t i = 0; i < n; ++i) r[at(i, i, n)] += add_to_diagonal;
  if (!cholesky_lower(r, n)) return false;
  std::vector<double> m = lower_inverse(r, n);
  std::reverse(m.begin(), m.end());
  u = std::move(m);
  return true;
}

}  // namespace pareto::quant
