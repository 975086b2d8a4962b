#include "quant/gptq.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>

#include "core/dtype.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/f64_update.h"
#include "kernels/k_quant_codes.h"
#include "kernels/pareto_formats.h"
#include "kernels/quant_formats.h"
#include "quant/ggml_block_rules.h"
#include "quant/quantize_gguf.h"
#include "quant/spd_factor.h"

namespace pareto::quant {

namespace {

// A K-quant super-block as the reference quantizer wrote it (its header is
// kept, its codes replaced) and each sub-block's grid.
struct KHeader {
  std::string block;
  float d[16] = {}, m[16] = {};
};
// A block's parameters: GroupParams for Q4_0 / Q4_1 / Q8_0 and the group
// formats (16 bytes a block with act-order's table of every block), a
// K-quant's header only for K-quants.
struct BlockParams {
  kernels::GroupParams g;
  std::shared_ptr<const KHeader> k;
};

// The block rules of the output type, GGML Q4_0 / Q4_1 / Q8_0, a K-quant
// or one of pareto's group formats: a block's parameters from its weights,
// the code of a weight, what a reader decodes, and the block's bytes.
struct BlockRounder {
  uint32_t type = 0;
  bool ggml = true;   // Q4_0 / Q8_0: ggml_block_rules.h
  bool q4_1 = false;  // ggml's Q4_1: [min, max] in 15 steps, f16 d and min (as a group format with a float zero)
  bool k_quant = false;  // Q2_K .. Q6_K: kernels/k_quant_codes.h
  kernels::KQuantGrid grid;
  kernels::GroupFormat f;
  int64_t bs = 32;

  explicit BlockRounder(uint32_t t) : type(t) {
    q4_1 = t == uint32_t(kernels::GgmlType::q4_1);
    k_quant = kernels::is_k_quant(t);
    ggml = !kernels::is_group_type(t) && !q4_1 && !k_quant;
    if (k_quant) {
      grid = kernels::k_quant_grid(t);
      bs = kernels::ggml_type_traits(t).block_size;
    } else if (!ggml) {
      f = q4_1 ? kernels::GroupFormat{4, 32, true} : kernels::group_format(t);
      bs = f.group;
    }
  }
  BlockParams params(const float* w, int64_t count) const {
    BlockParams p;
    if (k_quant) {  // the header ggml's rounding picks for these weights (count == bs)
      auto k = std::make_shared<KHeader>();
      k->block.assign(block_bytes_(), '\0');
      kernels::quantize_row_ref(type, w, k->block.data(), count);
      kernels::k_quant_sub_params(type, reinterpret_cast<const uint8_t*>(k->block.data()), k->d, k->m);
      p.k = std::move(k);
      return p;
    }
    if (q4_1) {
      float lo = w[0], hi = w[0];
      for (int64_t i = 1; i < count; ++i) lo = std::min(lo, w[i]), hi = std::max(hi, w[i]);
      const float d = f16_rounded((hi - lo) / 15), m = f16_rounded(lo);
      p.g = kernels::GroupParams{d ? d : 1.f, -m / (d ? d : 1.f)};
    } else if (!ggml) {
      p.g = kernels::stored_group_params(f, kernels::group_params(w, count, f.bits, f.asym));
    } else {
      const float d = ggml_block_scale(type, w);
      // scale: the f16 value readers use; zero carries ggml's inverse of the unrounded d.
      p.g = kernels::GroupParams{f16_rounded(d), d ? 1.f / d : 0.f};
    }
    return p;
  }
  // The code of v at position `at` of its block.
  int code(float v, const BlockParams& p, int64_t at) const {
    if (k_quant) {
      const int64_t j = at / grid.sub;
      // d = 0: every code reads -m (the reference keeps the codes its search left; the bytes differ, the values not)
      return p.k->d[j] ? kernels::k_quant_code(grid, v, p.k->d[j], p.k->m[j]) : grid.shift;
    }
    return ggml ? ggml_code(type, v, p.g.zero) : kernels::group_code(v, p.g, f.bits);
  }
  float value(int q, const BlockParams& p, int64_t at) const {
    if (k_quant) return kernels::k_quant_value(grid, q, p.k->d[at / grid.sub], p.k->m[at / grid.sub]);
    return ggml ? ggml_value(type, q, p.g.scale) : p.g.scale * (float(q) - p.g.zero);
  }
  void write(const BlockParams& p, const int* codes, int64_t count, uint8_t* out) const {
    if (k_quant) {
      uint8_t stored[256];
      for (int64_t j = 0; j < count; ++j) stored[j] = uint8_t(codes[j]);
      std::memcpy(out, p.k->block.data(), p.k->block.size());
      kernels::k_quant_pack_codes(type, stored, out);
      return;
    }
    if (q4_1) {
      const uint16_t d = float_to_half(p.g.scale), m = float_to_half(-p.g.zero * p.g.scale);
      std::memcpy(out, &d, 2);
      std::memcpy(out + 2, &m, 2);
      for (int j = 0; j < 16; ++j) out[4 + j] = uint8_t(codes[j] | (codes[j + 16] << 4));
      return;
    }
    if (ggml) write_ggml_block(type, p.g.scale, codes, out);
    else kernels::write_group_block(f, p.g, codes, count, out);
  }
  size_t block_bytes_() const {
    return ggml || q4_1 || k_quant ? kernels::ggml_type_traits(type).type_size : kernels::group_block_bytes(f);
  }
};

}  // namespace

// H = X^T X: h[i][j] = the sum over tokens, in order, of x[t][i] x[t][j]
// (a float times a float is exact in double). Run as H -= (-X^T) X on the
// update kernel, which subtracts each product in turn (negation is exact:
// the same bits), blocked for the cache: 128 tokens by 256 columns of X
// stay in L2 while every row of H passes over them.
std::vector<double> gptq_hessian(const std::vector<float>& x, int64_t cols) {
  if (cols <= 0 || x.size() % size_t(cols)) fail_argument("GPTQ inputs are not whole rows of " + std::to_string(cols));
  std::vector<double> h(size_t(cols * cols), 0);
  gptq_hessian_add(x.data(), int64_t(x.size()) / cols, cols, h.data());
  return h;
}

void gptq_hessian_add(const float* x, int64_t tokens, int64_t cols, double* h) {
  constexpr int64_t kTokens = 128, kColumns = 256;
  // Double copies of one block of tokens at a time (X and -X^T): 2 x 128 x cols doubles, not the whole input twice.
  std::vector<double> xd(size_t(kTokens * cols)), neg_xt(size_t(kTokens * cols));
  for (int64_t t0 = 0; t0 < tokens; t0 += kTokens) {
    const int64_t nt = std::min(kTokens, tokens - t0);
    for (int64_t t = 0; t < nt; ++t)
      for (int64_t i = 0; i < cols; ++i) {
        const double v = x[size_t((t0 + t) * cols + i)];
        xd[size_t(t * cols + i)] = v;
        neg_xt[size_t(i * nt + t)] = -v;
      }
    for (int64_t c0 = 0; c0 < cols; c0 += kColumns)
      parallel_for((cols + 7) / 8, [&](int64_t b, int64_t e) {
        for (int64_t g = b; g < e; ++g) {
          const int64_t r0 = g * 8;
          kernels::f64_subtract_products(h + r0 * cols + c0, cols, &neg_xt[size_t(r0 * nt)], nt, &xd[size_t(c0)], cols,
                                         std::min<int64_t>(8, cols - r0), std::min(kColumns, cols - c0), nt);
        }
      });
  }
}

bool gptq_writes(uint32_t type) {
  return kernels::is_group_type(type) || is_q4_0(type) || type == uint32_t(kernels::GgmlType::q4_1) ||
         type == uint32_t(kernels::GgmlType::q8_0) || kernels::is_k_quant(type);
}

GptqFactor gptq_factor(const std::vector<float>& x, int64_t cols, const GptqOptions& o) {
  if (cols <= 0 || x.size() % size_t(cols)) fail_argument("GPTQ inputs are not whole rows of " + std::to_string(cols));
  return gptq_factor_from_hessian(gptq_hessian(x, cols), cols, o);
}

GptqFactor gptq_factor_from_hessian(std::vector<double> h, int64_t cols, const GptqOptions& o) {
  if (cols <= 0 || h.size() != size_t(cols) * size_t(cols)) fail_argument("GPTQ Hessian is not " + std::to_string(cols) + " x " + std::to_string(cols));
  GptqFactor f;
  f.cols = cols;
  f.act_order = o.act_order;
  f.first_damping = o.damping;
  double mean_diag = 0;
  f.dead.assign(size_t(cols), 0);
  for (int64_t i = 0; i < cols; ++i) {
    if (h[size_t(i * cols + i)] == 0) {  // a dead input: nothing to preserve, its weights are dropped
      h[size_t(i * cols + i)] = 1;
      f.dead[size_t(i)] = 1;
    }
    mean_diag += h[size_t(i * cols + i)] / double(cols);
  }
  // Act-order: columns with the most input energy first.
  f.perm.resize(size_t(cols));
  for (int64_t i = 0; i < cols; ++i) f.perm[size_t(i)] = i;
  if (o.act_order) {
    std::stable_sort(f.perm.begin(), f.perm.end(), [&](int64_t a, int64_t b) { return h[size_t(a * cols + a)] > h[size_t(b * cols + b)]; });
    std::vector<double> hp(h.size());
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j) hp[size_t(i * cols + j)] = h[size_t(f.perm[size_t(i)] * cols + f.perm[size_t(j)])];
    h.swap(hp);
  }
  for (double damp = o.damping; damp < 100 && f.u.empty(); damp *= 10) {
    if (inverse_upper_cholesky(h, cols, damp * mean_diag, f.u)) f.damping = damp;
  }
  return f;
}

GptqResult gptq_quantize(const std::vector<float>& w_in, int64_t rows, int64_t cols, const std::vector<float>& x, uint32_t type,
                         const GptqOptions& o) {
  return gptq_quantize(w_in, rows, cols, gptq_factor(x, cols, o), type, o);
}

GptqResult gptq_quantize(const std::vector<float>& w_in, int64_t rows, int64_t cols, const GptqFactor& f, uint32_t type, const GptqOptions& o) {
  const bool group = kernels::is_group_type(type);
  if (!gptq_writes(type)) fail_unsupported("GPTQ writes q4_0, q4_1, q8_0, the K-quants or pareto's group formats");
  if (!group && cols % kernels::ggml_type_traits(type).block_size)
    fail_argument("GPTQ to " + std::string(kernels::ggml_type_traits(type).name) + " needs rows that are a multiple of " +
                  std::to_string(kernels::ggml_type_traits(type).block_size) + " long");
  if (f.cols != cols || f.act_order != o.act_order || f.first_damping != o.damping)
    fail(StatusCode::internal, "a GPTQ factor of other inputs, another column order or another damping");
  const BlockRounder rounder(type);
  GptqResult res;
  std::vector<float> w = w_in;
  for (int64_t i = 0; i < cols; ++i)
    if (f.dead[size_t(i)]) {
      for (int64_t r = 0; r < rows; ++r) w[size_t(r * cols + i)] = 0;
      res.dead_columns++;
    }
  const int64_t nblocks = (cols + rounder.bs - 1) / rounder.bs;
  const size_t row_bytes = kernels::ggml_row_size(type, cols), bb = rounder.block_bytes_();
  const std::vector<int64_t>& perm = f.perm;
  const std::vector<double>& u = f.u;
  // With act-order, block parameters are fixed up front from the weights as
  // given ("static groups"), since a block's columns are no longer
  // quantized together.
  std::vector<BlockParams> fixed;
  if (o.act_order) {
    fixed.resize(size_t(rows * nblocks));
    parallel_for(rows, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t b = 0; b < nblocks; ++b)
          fixed[size_t(r * nblocks + b)] = rounder.params(w.data() + r * cols + b * rounder.bs, std::min(rounder.bs, cols - b * rounder.bs));
    });
  }
  res.damping = f.damping;
  if (u.empty()) {  // every damping failed: round to nearest, reported
    res.fell_back = true;
    res.bytes = round_rows(type, w.data(), rows, cols);
    return res;
  }
  res.bytes.assign(row_bytes * size_t(rows), '\0');
  // Columns per lazy batch: whole blocks, or a divisor of a block (a K-quant's
  // 256), so a block's parameters are taken after every earlier column's error reached it.
  int64_t lazy = std::max<int64_t>(32, o.block / 32 * 32);
  if (lazy % rounder.bs && rounder.bs % lazy) lazy = std::max<int64_t>(1, lazy / rounder.bs) * rounder.bs;
  // Rows in groups of kRows, in step over the columns: each lazy batch's
  // update of the later columns is one product of the group's errors with
  // the factor's rows on the update kernel (the factor's rows read once
  // per group, not once per row, and contiguously). For every weight the
  // sum over the batch is the same double sum in the same order, then
  // rounded to float once: the same bytes as one row at a time.
  constexpr int64_t kRows = 8;
  parallel_for((rows + kRows - 1) / kRows, [&](int64_t g0, int64_t g1) {
    std::vector<float> wp(size_t(kRows * cols));
    std::vector<int> codes(size_t(kRows * cols));
    std::vector<BlockParams> params(size_t(kRows * nblocks));
    std::vector<double> neg_err(size_t(kRows * lazy)), sums(size_t(kRows * cols));
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t r0 = g * kRows, nr = std::min(kRows, rows - r0);
      for (int64_t rr = 0; rr < nr; ++rr) {
        const float* wr = w.data() + (r0 + rr) * cols;
        for (int64_t i = 0; i < cols; ++i) wp[size_t(rr * cols + i)] = wr[perm[size_t(i)]];  // processing order
        if (o.act_order) std::copy(fixed.begin() + (r0 + rr) * nblocks, fixed.begin() + (r0 + rr + 1) * nblocks, params.begin() + rr * nblocks);
      }
      for (int64_t i1 = 0; i1 < cols; i1 += lazy) {
        const int64_t i2 = std::min(cols, i1 + lazy);
        for (int64_t rr = 0; rr < nr; ++rr) {
          float* wpr = wp.data() + rr * cols;
          BlockParams* pr = params.data() + rr * nblocks;
          for (int64_t i = i1; i < i2; ++i) {
            const int64_t c = perm[size_t(i)], b = c / rounder.bs;
            // In natural order a block's parameters come from the error-updated weights when it is reached.
            if (!o.act_order && c % rounder.bs == 0) pr[b] = rounder.params(wpr + i, std::min(rounder.bs, cols - c));
            const int q = rounder.code(wpr[i], pr[b], c % rounder.bs);
            codes[size_t(rr * cols + c)] = q;
            const double e = (double(wpr[i]) - rounder.value(q, pr[b], c % rounder.bs)) / u[size_t(i * cols + i)];
            neg_err[size_t(rr * lazy + (i - i1))] = -e;
            for (int64_t k = i + 1; k < i2; ++k) wpr[k] -= float(e * u[size_t(i * cols + k)]);
          }
        }
        // Lazy batch update: sum = 0, then sum -= (-e_i) u[i][k] for the
        // batch's i in order (x - (-y) is x + y exactly), then one rounding.
        const int64_t width = cols - i2;
        if (width == 0) continue;
        std::fill(sums.begin(), sums.begin() + nr * width, 0.0);
        kernels::f64_subtract_products(sums.data(), width, neg_err.data(), lazy, &u[size_t(i1 * cols + i2)], cols, nr, width, i2 - i1);
        for (int64_t rr = 0; rr < nr; ++rr)
          for (int64_t k = 0; k < width; ++k) wp[size_t(rr * cols + i2 + k)] -= float(sums[size_t(rr * width + k)]);
      }
      for (int64_t rr = 0; rr < nr; ++rr) {
        uint8_t* out = reinterpret_cast<uint8_t*>(res.bytes.data()) + size_t(r0 + rr) * row_bytes;
        for (int64_t b = 0; b < nblocks; ++b)
          rounder.write(params[size_t(rr * nblocks + b)], codes.data() + rr * cols + b * rounder.bs, std::min(rounder.bs, cols - b * rounder.bs),
                        out + size_t(b) * bb);
      }
    }
  });
  return res;
}

}  // namespace pareto::quant
