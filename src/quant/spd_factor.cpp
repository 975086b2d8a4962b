#include "quant/spd_factor.h"

#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"

namespace pareto::quant {

namespace {

constexpr int64_t kBlock = 64;  // panel width: a 4-row tile's 64 coefficients stay in L1

size_t at(int64_t i, int64_t j, int64_t n) { return size_t(i * n + j); }

// c[r][q] -= sum over kk < kb, ascending, of a[r][kk] * p[kk][q], for r < R
// rows and q < 4 columns, each product rounded, then the difference: the
// textbook loops' operations, kept in registers for the kb steps.
template <int R>
void tile_subtract(double* __restrict c, int64_t ldc, const double* __restrict a, int64_t lda, const double* __restrict p,
                   int64_t ldp, int64_t kb) {
  double acc[R][4];
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < 4; ++q) acc[r][q] = c[r * ldc + q];
  for (int64_t kk = 0; kk < kb; ++kk) {
    const double* pk = p + kk * ldp;
    for (int r = 0; r < R; ++r) {
      const double ar = a[r * lda + kk];
      for (int q = 0; q < 4; ++q) acc[r][q] -= ar * pk[q];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < 4; ++q) c[r * ldc + q] = acc[r][q];
}

// tile_subtract for any row count up to 4.
void rows_subtract(int rows, double* c, int64_t ldc, const double* a, int64_t lda, const double* p, int64_t ldp, int64_t kb) {
  switch (rows) {
    case 4: tile_subtract<4>(c, ldc, a, lda, p, ldp, kb); break;
    case 3: tile_subtract<3>(c, ldc, a, lda, p, ldp, kb); break;
    case 2: tile_subtract<2>(c, ldc, a, lda, p, ldp, kb); break;
    default: tile_subtract<1>(c, ldc, a, lda, p, ldp, kb); break;
  }
}

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
  const int64_t groups = (m + 3) / 4;
  parallel_triangular(groups, [&](int64_t g) {
    // Row groups from the bottom hold the most columns: cost falls with t.
    const int64_t r0 = k1 + (groups - 1 - g) * 4, rows = std::min<int64_t>(4, n - r0);
    const int64_t cols = r0 + rows - k1;  // columns k1 .. last row of the group
    int64_t q = 0;
    for (; q + 4 <= cols; q += 4)
      rows_subtract(int(rows), &a[at(r0, k1 + q, n)], n, &a[at(r0, k0, n)], n, &pt[size_t(q)], m, kb);
    for (; q < cols; ++q)
      for (int64_t r = r0; r < r0 + rows; ++r) {
        double s = a[at(r, k1 + q, n)];
        for (int64_t kk = 0; kk < kb; ++kk) s -= a[at(r, k0 + kk, n)] * pt[size_t(kk * m + q)];
        a[at(r, k1 + q, n)] = s;
      }
  });
}

// Rows [i0, i1) of M = L^-1, rows above done. Each element takes
// s = delta_ij; s -= l[i][k] m[k][j] for k = j .. i-1; m[i][j] = s / l[i][i].
// Columns are independent, so threads take column quads; within a quad the
// terms from rows above the block (k < i0) come first, four rows at a time
// over the earlier rows' values, then the block's own rows in order.
void invert_rows(const std::vector<double>& l, std::vector<double>& m, int64_t n, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) m[at(i, i, n)] = 1;
  const int64_t quads = (i1 + 3) / 4;
  parallel_triangular(quads, [&](int64_t jq) {
    const int64_t j0 = jq * 4, width = std::min<int64_t>(4, i1 - j0);
    if (width == 4 && j0 + 3 < i0) {
      // The first terms of the quad's columns, k = j .. j0+2, one column at a time.
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t q = 0; q < 3; ++q) {
          const int64_t j = j0 + q;
          double s = m[at(i, j, n)];
          for (int64_t k = j; k < j0 + 3; ++k) s -= l[at(i, k, n)] * m[at(k, j, n)];
          m[at(i, j, n)] = s;
        }
      for (int64_t k = j0 + 3; k < i0; k += kBlock) {
        const int64_t kb = std::min(kBlock, i0 - k);
        for (int64_t r = i0; r < i1; r += 4)
          rows_subtract(int(std::min<int64_t>(4, i1 - r)), &m[at(r, j0, n)], n, &l[at(r, k, n)], n, &m[at(k, j0, n)], n, kb);
      }
      for (int64_t i = i0; i < i1; ++i) {
        double acc[4];
        for (int q = 0; q < 4; ++q) acc[q] = m[at(i, j0 + q, n)];
        for (int64_t k = i0; k < i; ++k) {
          const double lik = l[at(i, k, n)];
          for (int q = 0; q < 4; ++q) acc[q] -= lik * m[at(k, j0 + q, n)];
        }
        for (int q = 0; q < 4; ++q) m[at(i, j0 + q, n)] = acc[q] / l[at(i, i, n)];
      }
      return;
    }
    for (int64_t j = j0; j < j0 + width; ++j)  // quads reaching the block's own columns, or a tail
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

bool inverse_upper_cholesky(const std::vector<double>& h, int64_t n, std::vector<double>& u) {
  std::vector<double> r(size_t(n * n));
  parallel_for(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      for (int64_t j = 0; j < n; ++j) r[at(i, j, n)] = h[at(n - 1 - i, n - 1 - j, n)];
  });
  if (!cholesky_lower(r, n)) return false;
  const std::vector<double> m = lower_inverse(r, n);
  u.assign(size_t(n * n), 0);
  parallel_for(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      for (int64_t j = i; j < n; ++j) u[at(i, j, n)] = m[at(n - 1 - i, n - 1 - j, n)];
  });
  return true;
}

}  // namespace pareto::quant
