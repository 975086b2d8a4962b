#include "quant/awq.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <map>

#include "core/file.h"
#include "core/thread_pool.h"
#include "kernels/llm_ops.h"
#include "kernels/pareto_formats.h"
#include "kernels/quant_formats.h"
#include "quant/quantize_gguf.h"

namespace pareto::quant {

namespace {

// Quantize and dequantize every row (the weights the model would really use).
void fake_quantize(uint32_t type, std::vector<float>& w, int64_t rows, int64_t cols) {
  type = storage_type(type, cols);
  const size_t rb = kernels::ggml_row_size(type, cols);
  parallel_for(rows, [&](int64_t r0, int64_t r1) {
    std::vector<uint8_t> q(rb);
    for (int64_t r = r0; r < r1; ++r) {
      kernels::quantize_row_ref(type, w.data() + r * cols, q.data(), cols);
      kernels::dequantize_row_ref(type, q.data(), w.data() + r * cols, cols);
    }
  });
}

// What a scale candidate is judged by: the output of the block the matmuls
// belong to, computed from their outputs on the error tokens (null: the
// matmuls' own outputs). AWQ scores q/k/v on the attention output and
// gate/up on the MLP output: per-matmul errors weigh a q or gate error the
// same wherever it lands, and chose worse scales on stories260K.
using BlockOutput = std::function<std::vector<float>(const std::vector<std::vector<float>>& outs, int64_t tokens)>;

// The scale search for matmuls reading activations x [tokens, cols]: returns
// the chosen r and fills s (all ones when no r beats plain rounding). `tie`
// (optional) maps each input column to a class whose columns must share one
// scale (o's columns of the query heads that read one grouped v head).
float search_scales(const Activations& a, int64_t err_tokens, const std::vector<Matrix*>& mats, uint32_t type, int grid, std::vector<float>& s,
                    const BlockOutput& block = nullptr, const std::vector<int64_t>& tie = {}) {
  const int64_t cols = mats[0]->cols;
  std::vector<double> mean_abs(size_t(cols), 0);
  for (int64_t j = 0; j < cols; ++j) mean_abs[size_t(j)] = std::max(a.sum_abs[size_t(j)] / double(a.count), 1e-8);
  if (!tie.empty()) {
    std::map<int64_t, std::pair<double, int>> cls;
    for (int64_t j = 0; j < cols; ++j) {
      cls[tie[size_t(j)]].first += mean_abs[size_t(j)];
      cls[tie[size_t(j)]].second++;
    }
    for (int64_t j = 0; j < cols; ++j) mean_abs[size_t(j)] = cls[tie[size_t(j)]].first / cls[tie[size_t(j)]].second;
  }
  const int64_t et = std::min(err_tokens, a.kept());
  const std::vector<float>& xe = a.rows;
  auto outputs = [&](const std::vector<const Matrix*>& ms) {
    std::vector<std::vector<float>> outs;
    for (const Matrix* m : ms) outs.push_back(matmul(xe, et, *m));
    if (!block) return outs;
    return std::vector<std::vector<float>>{block(outs, et)};
  };
  const std::vector<std::vector<float>> ref = outputs(std::vector<const Matrix*>(mats.begin(), mats.end()));
  double best = -1;
  float best_r = 0;
  std::vector<float> cand(static_cast<size_t>(cols));
  s.assign(size_t(cols), 1.f);
  for (int g = 0; g < grid; ++g) {
    const double r = double(g) / grid;
    double lo = 1e30, hi = 0;
    for (int64_t j = 0; j < cols; ++j) {
      cand[size_t(j)] = float(std::pow(mean_abs[size_t(j)], r));
      lo = std::min(lo, double(cand[size_t(j)]));
      hi = std::max(hi, double(cand[size_t(j)]));
    }
    const float norm = float(1.0 / std::sqrt(hi * lo));  // centre the scales around 1
    for (float& v : cand) v *= norm;
    std::vector<Matrix> qs;
    for (const Matrix* m : mats) {
      Matrix q = *m;
      for (int64_t i = 0; i < q.rows; ++i)
        for (int64_t j = 0; j < cols; ++j) q.w[size_t(i * cols + j)] *= cand[size_t(j)];
      fake_quantize(type, q.w, q.rows, cols);
      for (int64_t i = 0; i < q.rows; ++i)
        for (int64_t j = 0; j < cols; ++j) q.w[size_t(i * cols + j)] /= cand[size_t(j)];
      qs.push_back(std::move(q));
    }
    std::vector<const Matrix*> qp;
    for (const Matrix& q : qs) qp.push_back(&q);
    const std::vector<std::vector<float>> ys = outputs(qp);
    double err = 0;
    for (size_t k = 0; k < ys.size(); ++k)
      for (size_t i = 0; i < ys[k].size(); ++i) err += double(ys[k][i] - ref[k][i]) * double(ys[k][i] - ref[k][i]);
    if (best < 0 || err < best) {
      best = err;
      best_r = float(r);
      s = cand;
    }
  }
  return best_r;
}

// Clipping blocks' Gram matrices of the scaled inputs over the error tokens:
// a weight error e inside a block moves the outputs by sum_t (x_t . e)^2 =
// e^T G e, so clipping is judged by the output error it causes, not by a
// per-weight proxy.
struct BlockGram {
  int64_t bs = 0;
  std::vector<std::vector<float>> g;  // per block, n x n
};

int64_t clip_block(uint32_t type, int64_t cols) { return kernels::ggml_type_traits(storage_type(type, cols)).block_size; }

BlockGram block_gram(const Activations& a, const std::vector<float>& s, int64_t bs) {
  BlockGram G;
  G.bs = bs;
  const int64_t tokens = a.kept(), blocks = (a.cols + bs - 1) / bs;
  G.g.resize(size_t(blocks));
  parallel_for(blocks, [&](int64_t k0, int64_t k1) {
    std::vector<float> xs(static_cast<size_t>(bs));
    for (int64_t k = k0; k < k1; ++k) {
      const int64_t b0 = k * bs, n = std::min(bs, a.cols - b0);
      std::vector<float>& m = G.g[size_t(k)];
      m.assign(size_t(n * n), 0.f);
      for (int64_t t = 0; t < tokens; ++t) {
        for (int64_t i = 0; i < n; ++i) xs[size_t(i)] = a.rows[size_t(t * a.cols + b0 + i)] / s[size_t(b0 + i)];
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < n; ++j) m[size_t(i * n + j)] += xs[size_t(i)] * xs[size_t(j)];
      }
    }
  });
  return G;
}

// e^T G e with 8 partial sums per row (vectorizable without reassociation).
double gram_error(const std::vector<float>& g, const float* e, int64_t n) {
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const float* gi = g.data() + i * n;
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
      for (int u = 0; u < 8; ++u) acc[u] += gi[j + u] * e[j + u];
    float row = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; j < n; ++j) row += gi[j] * e[j];
    total += double(e[i]) * row;
  }
  return total;
}

// AWQ's clipping step: per row and block (the format's group; both ends for
// asymmetric formats), shrink the block's range (ratios 1.0 down to 0.55)
// when that lowers the output error e^T G e on the error tokens; the
// quantizer then rounds the clipped block. K-quants search their own
// super-block scales.
void clip_search(Matrix& m, const BlockGram& gram, uint32_t type) {
  type = storage_type(type, m.cols);
  const int64_t bs = kernels::ggml_type_traits(type).block_size;
  if ((bs > 32 && !kernels::is_group_type(type)) || gram.bs != bs) return;
  const bool asym = kernels::is_group_type(type) ? kernels::group_format(type).asym : type == uint32_t(kernels::GgmlType::q4_1);
  parallel_for(m.rows, [&](int64_t r0, int64_t r1) {
    std::vector<uint8_t> q(kernels::ggml_row_size(type, bs));
    std::vector<float> block(static_cast<size_t>(bs)), clipped(static_cast<size_t>(bs)), deq(static_cast<size_t>(bs));
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t b0 = 0; b0 < m.cols; b0 += bs) {
        const int64_t n = std::min(bs, m.cols - b0);
        float* w = m.w.data() + r * m.cols + b0;
        std::copy(w, w + n, block.begin());
        float lo = 0, hi = 0;
        for (int64_t i = 0; i < n; ++i) {
          lo = std::min(lo, block[size_t(i)]);
          hi = std::max(hi, block[size_t(i)]);
        }
        if (!asym) hi = std::max(hi, -lo), lo = -hi;
        double best = -1;
        float best_ratio = 1.f;
        for (int k = 0; k < 10; ++k) {
          const float ratio = 1.f - 0.05f * float(k);
          for (int64_t i = 0; i < n; ++i) clipped[size_t(i)] = std::clamp(block[size_t(i)], lo * ratio, hi * ratio);
          kernels::quantize_row_ref(type, clipped.data(), q.data(), n);
          kernels::dequantize_row_ref(type, q.data(), deq.data(), n);
          for (int64_t i = 0; i < n; ++i) deq[size_t(i)] -= block[size_t(i)];
          const double err = gram_error(gram.g[size_t(b0 / bs)], deq.data(), n);
          if (best < 0 || err < best) {
            best = err;
            best_ratio = ratio;
          }
        }
        for (int64_t i = 0; i < n; ++i) w[i] = std::clamp(block[size_t(i)], lo * best_ratio, hi * best_ratio);
      }
  });
}

inline void add_bias(float* x, const std::vector<float>& b, int64_t n) {
  if (!b.empty())
    for (int64_t i = 0; i < n; ++i) x[i] += b[size_t(i)];
}

}  // namespace

LayerComparison compare_on_layer(const std::vector<float>& w, int64_t rows, int64_t cols, const std::vector<float>& x_calib,
                                 const std::vector<float>& x_test, uint32_t type, int grid) {
  LayerComparison c;
  Matrix base{rows, cols, w};
  const int64_t n_calib = int64_t(x_calib.size()) / cols, n_test = int64_t(x_test.size()) / cols;
  const std::vector<float> ref = matmul(x_test, n_test, base);
  auto error = [&](const Matrix& m) {
    const std::vector<float> y = matmul(x_test, n_test, m);
    double e = 0;
    for (size_t i = 0; i < y.size(); ++i) e += double(y[i] - ref[i]) * double(y[i] - ref[i]);
    return e;
  };
  Matrix rtn = base;
  fake_quantize(type, rtn.w, rows, cols);
  c.rtn_error = error(rtn);
  Matrix awq = base;
  std::vector<float> s;
  const Activations calib = activations_of(x_calib, cols);
  c.ratio = search_scales(calib, n_calib, {&awq}, type, grid, s);
  scale_columns(awq, s);
  clip_search(awq, block_gram(calib, s, clip_block(type, cols)), type);
  fake_quantize(type, awq.w, rows, cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) awq.w[size_t(i * cols + j)] /= s[size_t(j)];
  c.awq_error = error(awq);
  return c;
}

namespace {

// The block outputs AWQ judges scales by: attention (RoPE, causal, grouped
// heads, calibration chunks start at position 0) through o for q/k/v, and the
// MLP through down for gate/up; o and down by their own outputs.
BlockOutput block_output(const llm::ModelConfig& c, const CalibratedLayer& y, int64_t ctx, llm::MatmulInput input) {
  if (input == llm::MatmulInput::attn)
    return [&c, &y, ctx](const std::vector<std::vector<float>>& outs, int64_t n) {
      const int64_t hd = c.head_dim, q_dim = c.n_heads * hd, kv_dim = c.n_kv_heads * hd, group = c.n_heads / c.n_kv_heads;
      std::vector<float> q = outs[0], k = outs[1], v = outs[2], att(size_t(n * q_dim));
      parallel_for(n, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          add_bias(q.data() + t * q_dim, y.bq, q_dim);
          add_bias(k.data() + t * kv_dim, y.bk, kv_dim);
          add_bias(v.data() + t * kv_dim, y.bv, kv_dim);
          kernels::f32_rope(q.data() + t * q_dim, c.n_heads, hd, c.rope_dims, t % ctx, c.rope_base, c.rope_neox);
          kernels::f32_rope(k.data() + t * kv_dim, c.n_kv_heads, hd, c.rope_dims, t % ctx, c.rope_base, c.rope_neox);
        }
      });
      parallel_for(n, [&](int64_t t0, int64_t t1) {
        std::vector<float> scratch(static_cast<size_t>(ctx));
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t start = t / ctx * ctx;
          for (int64_t h = 0; h < c.n_heads; ++h)
            kernels::f32_attention_head(q.data() + t * q_dim + h * hd, k.data() + start * kv_dim + (h / group) * hd,
                                        v.data() + start * kv_dim + (h / group) * hd, t - start + 1, hd, kv_dim, scratch.data(),
                                        att.data() + t * q_dim + h * hd);
        }
      });
      return matmul(att, n, y.o);
    };
  if (input == llm::MatmulInput::ffn)
    return [&y](const std::vector<std::vector<float>>& outs, int64_t n) {
      std::vector<float> h = outs[0];
      kernels::f32_silu_mul(h.data(), outs[1].data(), int64_t(h.size()));
      return matmul(h, n, y.down);
    };
  return nullptr;
}

}  // namespace

std::array<float, 2> awq_block(const llm::ModelConfig& c, CalibratedLayer& y, const std::vector<Activations>& acts, int64_t ctx, int64_t error_tokens,
                               bool attention, uint32_t type, int grid, bool clip) {
  std::array<float, 2> ratio{-1.f, -1.f};
  int k = 0;
  for (ScaleGroup& g : scale_groups(c, y)) {
    const bool attention_group = g.input == llm::MatmulInput::attn || g.input == llm::MatmulInput::attn_out;
    if (attention_group != attention) continue;
    std::vector<float> s;
    const Activations& x = acts[size_t(g.input)];
    ratio[size_t(k++)] = search_scales(x, error_tokens, g.mats, type, grid, s, block_output(c, y, ctx, g.input), g.tie);
    for (Matrix* mat : g.mats) scale_columns(*mat, s);
    if (clip) {
      const BlockGram gram = block_gram(x, s, clip_block(type, g.mats[0]->cols));
      for (Matrix* mat : g.mats) clip_search(*mat, gram, type);
    }
    g.fold(s);
  }
  return ratio;
}

CalibratedReport awq_quantize(const std::string& in, const std::string& out, const CalibratedOptions& o) {
  return run_calibrated(in, out, o, [&](CalibratedModel& m, int64_t l, CalibratedReport& rep) {
    const llm::ModelConfig& c = m.model->config;
    const std::array<float, 2> attn = awq_block(c, m.layers[size_t(l)], m.acts[size_t(l)], m.ctx, m.error_tokens, true, o.type, o.grid, o.quantize);
    const std::array<float, 2> mlp = awq_block(c, m.layers[size_t(l)], m.acts[size_t(l)], m.ctx, m.error_tokens, false, o.type, o.grid, o.quantize);
    std::vector<float>& r = rep.ratio[size_t(l)];
    r[size_t(llm::MatmulInput::attn)] = attn[0], r[size_t(llm::MatmulInput::attn_out)] = attn[1];
    r[size_t(llm::MatmulInput::ffn)] = mlp[0], r[size_t(llm::MatmulInput::down)] = mlp[1];
  });
}

}  // namespace pareto::quant
