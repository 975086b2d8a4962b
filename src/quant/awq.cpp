#include "quant/awq.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "core/error.h"
#include "core/file.h"
#include "core/thread_pool.h"
#include "frontend/gguf/gguf_writer.h"
#include "kernels/gemm.h"
#include "kernels/llm_ops.h"
#include "kernels/pareto_formats.h"
#include "kernels/quant_formats.h"
#include "llm/model.h"
#include "llm/tokenizer.h"
#include "llm/transformer.h"
#include "quant/calibration.h"
#include "quant/gptq.h"
#include "quant/quantize_gguf.h"
#include "quant/smoothquant.h"

namespace pareto::quant {

namespace {

struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<float> w;  // row-major [rows, cols]
};

Matrix to_f32(const kernels::WeightMatrix& m) {
  Matrix r{m.rows, m.cols, std::vector<float>(size_t(m.rows * m.cols))};
  for (int64_t i = 0; i < m.rows; ++i) kernels::weight_row(m, i, r.w.data() + i * m.cols);
  return r;
}

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

// Y[t, r] = sum_k X[t, k] W[r, k]
std::vector<float> matmul(const std::vector<float>& x, int64_t tokens, const Matrix& m) {
  std::vector<float> y(size_t(tokens * m.rows));
  kernels::GemmArgs g;
  g.trans_b = true;
  g.m = tokens;
  g.n = m.rows;
  g.k = m.cols;
  g.a = x.data();
  g.lda = m.cols;
  g.b = m.w.data();
  g.ldb = m.cols;
  g.c = y.data();
  g.ldc = m.rows;
  kernels::f32_gemm(g);
  return y;
}

// One matmul input over the calibration text: per-channel statistics of
// every token, and the rows themselves only for the first `keep` tokens (the
// error tokens; GPTQ keeps all for its Hessian). 1.1B at 4096 tokens would
// otherwise hold 4 GB of activations.
struct Activations {
  int64_t cols = 0, count = 0, keep = 0;
  std::vector<float> rows;
  std::vector<double> sum_abs;
  std::vector<float> max_abs;

  void add(const float* x, int64_t n, int64_t c) {
    if (sum_abs.empty()) {
      cols = c;
      sum_abs.assign(size_t(c), 0);
      max_abs.assign(size_t(c), 0);
    }
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < c; ++j) {
        const float v = x[t * c + j];
        sum_abs[size_t(j)] += std::fabs(v);
        max_abs[size_t(j)] = std::max(max_abs[size_t(j)], std::fabs(v));
      }
    const int64_t take = std::min(n, keep - int64_t(rows.size()) / std::max<int64_t>(c, 1));
    if (take > 0) rows.insert(rows.end(), x, x + take * c);
    count += n;
  }
  int64_t kept() const { return cols ? int64_t(rows.size()) / cols : 0; }
};

Activations activations_of(const std::vector<float>& x, int64_t cols) {
  Activations a;
  a.keep = int64_t(x.size()) / cols;
  a.add(x.data(), a.keep, cols);
  return a;
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

void scale_columns(Matrix& m, const std::vector<float>& s) {
  for (int64_t i = 0; i < m.rows; ++i)
    for (int64_t j = 0; j < m.cols; ++j) m.w[size_t(i * m.cols + j)] *= s[size_t(j)];
}
void divide_rows(Matrix& m, const std::vector<float>& s) {
  for (int64_t i = 0; i < m.rows; ++i)
    for (int64_t j = 0; j < m.cols; ++j) m.w[size_t(i * m.cols + j)] /= s[size_t(i)];
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

float smoothquant_alpha(const std::string& arch) {
  if (arch == "llama") return 0.85f;
  if (arch == "mistral") return 0.8f;
  return 0.5f;
}

AwqReport awq_quantize_gguf(const std::string& in, const std::string& out, const AwqOptions& o) {
  const double t0 = now_seconds();
  auto model = llm::Model::load(in);
  auto file = gguf::File::open(in);
  const llm::ModelConfig& c = model->config;
  if (model->vocab.pieces.empty()) fail_argument(in + ": no tokenizer in the file (AWQ needs to tokenize calibration text)");
  llm::Tokenizer tok(model->vocab);
  AwqReport rep;
  std::vector<int32_t> tokens;
  // Calibration sequences as long as the model allows, up to o.ctx (512).
  int64_t ctx = c.ctx_len > 0 ? std::min(o.ctx, c.ctx_len) : o.ctx;
  CalibrationSource src;
  src.text = o.calib_text;
  src.random = o.calib_random;
  src.tokens = o.calib_tokens;
  src.ctx = ctx;
  tokens = calibration_tokens(*model, tok, src, &rep.calibration);
  if (int64_t(tokens.size()) < ctx && tokens.size() >= 16) ctx = int64_t(tokens.size());  // a short text: one shorter sequence
  const int64_t n_tok = std::min<int64_t>(o.calib_tokens, int64_t(tokens.size()) / ctx * ctx);
  if (n_tok < ctx) fail_argument("calibration text has " + std::to_string(tokens.size()) + " tokens; at least " + std::to_string(ctx) + " needed");
  rep.tokens = n_tok;
  const float alpha = o.alpha > 0 ? o.alpha : smoothquant_alpha(c.arch);
  // Collect the matmul inputs of every layer over the calibration chunks.
  const int64_t L = c.n_layers;
  const int64_t error_tokens = std::max<int64_t>(ctx, o.error_tokens / ctx * ctx);
  std::vector<std::vector<Activations>> acts(size_t(L), std::vector<Activations>(4));
  for (auto& layer : acts)
    for (Activations& a : layer) a.keep = o.method == "gptq" ? n_tok : error_tokens;
  {
    const std::unique_ptr<llm::Model> fast = int8_forward_copy(*model);
    if (fast) rep.calibration += ", forward pass on a Q8_0 copy of the weights";
    llm::Transformer tr(fast ? *fast : *model, ctx);
    tr.input_hook = [&](int64_t l, llm::MatmulInput which, const float* x, int64_t n, int64_t cols) {
      acts[size_t(l)][size_t(which)].add(x, n, cols);
    };
    for (int64_t s = 0; s < n_tok; s += ctx) tr.forward(tokens.data() + s, ctx, 0, false);
  }
  rep.calibration_seconds = now_seconds() - t0;
  // f32 copies of everything the scales touch.
  struct Layer {
    std::vector<float> attn_norm, ffn_norm;
    std::vector<float> bq, bk, bv;  // q/k/v biases (qwen2), empty when the model has none
    Matrix q, k, v, o, gate, up, down;
  };
  std::vector<Layer> layers(static_cast<size_t>(L));
  for (int64_t l = 0; l < L; ++l) {
    const llm::LayerWeights& w = model->layers[size_t(l)];
    Layer& y = layers[size_t(l)];
    y.attn_norm.assign(static_cast<const float*>(w.attn_norm.data), static_cast<const float*>(w.attn_norm.data) + c.dim);
    y.ffn_norm.assign(static_cast<const float*>(w.ffn_norm.data), static_cast<const float*>(w.ffn_norm.data) + c.dim);
    y.q = to_f32(w.wq), y.k = to_f32(w.wk), y.v = to_f32(w.wv), y.o = to_f32(w.wo);
    y.gate = to_f32(w.w_gate), y.up = to_f32(w.w_up), y.down = to_f32(w.w_down);
    if (w.bq) y.bq.assign(w.bq, w.bq + y.q.rows);
    if (w.bk) y.bk.assign(w.bk, w.bk + y.k.rows);
    if (w.bv) y.bv.assign(w.bv, w.bv + y.v.rows);
  }
  rep.ratio.assign(size_t(L), std::vector<float>(4, -1.f));
  std::map<std::string, std::string> gptq;  // tensor name -> GGML bytes
  for (int64_t l = 0; l < L && o.method == "gptq"; ++l) {
    Layer& y = layers[size_t(l)];
    const std::string p = "blk." + std::to_string(l) + ".";
    const std::pair<const char*, std::pair<Matrix*, int>> mats[] = {
        {"attn_q.weight", {&y.q, 0}},   {"attn_k.weight", {&y.k, 0}},  {"attn_v.weight", {&y.v, 0}},    {"attn_output.weight", {&y.o, 1}},
        {"ffn_gate.weight", {&y.gate, 2}}, {"ffn_up.weight", {&y.up, 2}}, {"ffn_down.weight", {&y.down, 3}}};
    for (const auto& [name, mg] : mats) {
      if (!o.quantize) continue;
      GptqOptions go;
      go.act_order = o.act_order;
      const GptqResult g =
          gptq_quantize(mg.first->w, mg.first->rows, mg.first->cols, acts[size_t(l)][size_t(mg.second)].rows, storage_type(o.type, mg.first->cols), go);
      if (g.fell_back) rep.notes.push_back(p + name + ": Cholesky failed at every damping, rounded to nearest");
      gptq[p + name] = g.bytes;
    }
    if (o.progress) o.progress(int(l + 1), int(L), now_seconds() - t0);
  }
  for (int64_t l = 0; l < L && o.method != "gptq"; ++l) {
    Layer& y = layers[size_t(l)];
    // Block outputs for the search: attention (RoPE, causal, grouped heads,
    // calibration chunks start at position 0) through o, and the MLP through down.
    const int64_t hd = c.head_dim, q_dim = c.n_heads * hd, kv_dim = c.n_kv_heads * hd, group = c.n_heads / c.n_kv_heads;
    const BlockOutput attention = [&](const std::vector<std::vector<float>>& outs, int64_t n) {
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
    const BlockOutput mlp = [&](const std::vector<std::vector<float>>& outs, int64_t n) {
      std::vector<float> h = outs[0];
      kernels::f32_silu_mul(h.data(), outs[1].data(), int64_t(h.size()));
      return matmul(h, n, y.down);
    };
    auto run = [&](int g, std::vector<Matrix*> mats, const std::function<void(const std::vector<float>&)>& fold, const BlockOutput& block = nullptr,
                   const std::vector<int64_t>& tie = {}) {
      std::vector<float> s;
      const Activations& x = acts[size_t(l)][size_t(g)];
      if (o.method == "smoothquant") {
        // One s for the group: the largest weight per input column over its matrices.
        Matrix joint{0, mats[0]->cols, {}};
        for (Matrix* m : mats) {
          joint.w.insert(joint.w.end(), m->w.begin(), m->w.end());
          joint.rows += m->rows;
        }
        s = smoothing_scales(joint.w, joint.rows, joint.cols, x.max_abs, alpha);
        if (!tie.empty()) {  // columns that share a v row share its scale: the largest of them
          std::map<int64_t, float> top;
          for (size_t j = 0; j < s.size(); ++j) top[tie[j]] = std::max(top[tie[j]], s[j]);
          for (size_t j = 0; j < s.size(); ++j) s[j] = top[tie[j]];
        }
        rep.ratio[size_t(l)][size_t(g)] = alpha;
        for (Matrix* m : mats) scale_columns(*m, s);
        fold(s);
        return;
      }
      rep.ratio[size_t(l)][size_t(g)] = search_scales(x, error_tokens, mats, o.type, o.grid, s, block, tie);
      for (Matrix* m : mats) scale_columns(*m, s);
      if (o.quantize) {
        const BlockGram gram = block_gram(x, s, clip_block(o.type, mats[0]->cols));
        for (Matrix* m : mats) clip_search(*m, gram, o.type);
      }
      fold(s);
    };
    run(0, {&y.q, &y.k, &y.v}, [&](const std::vector<float>& s) {
      for (int64_t j = 0; j < c.dim; ++j) y.attn_norm[size_t(j)] /= s[size_t(j)];
    }, attention);
    // o's column h * hd + d reads v's row (h / group) * hd + d: with grouped
    // heads the columns of one v row share its scale.
    std::vector<int64_t> o_tie(static_cast<size_t>(q_dim));
    for (int64_t j = 0; j < q_dim; ++j) o_tie[size_t(j)] = (j / hd / group) * hd + j % hd;
    run(1, {&y.o}, [&](const std::vector<float>& s) {
      std::vector<float> sv(static_cast<size_t>(kv_dim));
      for (int64_t j = 0; j < q_dim; ++j) sv[size_t(o_tie[size_t(j)])] = s[size_t(j)];
      divide_rows(y.v, sv);
      for (size_t j = 0; j < y.bv.size(); ++j) y.bv[j] /= sv[j];  // v's bias is part of its row
    }, nullptr, o_tie);
    run(2, {&y.gate, &y.up}, [&](const std::vector<float>& s) {
      for (int64_t j = 0; j < c.dim; ++j) y.ffn_norm[size_t(j)] /= s[size_t(j)];
    }, mlp);
    run(3, {&y.down}, [&](const std::vector<float>& s) { divide_rows(y.up, s); });
    if (o.progress) o.progress(int(l + 1), int(L), now_seconds() - t0);
  }
  // Write: the scaled layers from our copies, everything else as RTN does it.
  gguf::Writer w;
  for (const auto& [key, value] : file->kv) w.set_value(key, value);
  auto tensor_type = [&](int64_t cols) { return o.quantize ? storage_type(o.type, cols) : uint32_t(kernels::GgmlType::f32); };
  auto emit = [&](const std::string& name, const std::vector<int64_t>& ne, const float* data, int64_t rows, int64_t cols, bool matrix) {
    const uint32_t type = matrix ? tensor_type(cols) : uint32_t(kernels::GgmlType::f32);
    const size_t rb = kernels::ggml_row_size(type, cols);
    std::string bytes(rb * size_t(rows), '\0');
    for (int64_t r = 0; r < rows; ++r) kernels::quantize_row_ref(type, data + r * cols, bytes.data() + size_t(r) * rb, cols);
    w.add_tensor(name, type, ne, bytes.data(), bytes.size());
  };
  for (const gguf::TensorInfo& t : file->tensors) {
    int64_t l = -1;
    char part[64] = {};
    if (std::sscanf(t.name.c_str(), "blk.%ld.%63s", &l, part) == 2 && l >= 0 && l < L) {
      Layer& y = layers[size_t(l)];
      const std::string p = part;
      const Matrix* m = p == "attn_q.weight" ? &y.q : p == "attn_k.weight" ? &y.k : p == "attn_v.weight" ? &y.v : p == "attn_output.weight" ? &y.o
                      : p == "ffn_gate.weight" ? &y.gate : p == "ffn_up.weight" ? &y.up : p == "ffn_down.weight" ? &y.down : nullptr;
      if (auto it = gptq.find(t.name); it != gptq.end()) {
        w.add_tensor(t.name, storage_type(o.type, t.ne[0]), t.ne, it->second.data(), it->second.size());
        continue;
      }
      if (m) {
        emit(t.name, t.ne, m->w.data(), m->rows, m->cols, true);
        continue;
      }
      if (p == "attn_v.bias" && !y.bv.empty()) {
        emit(t.name, t.ne, y.bv.data(), 1, int64_t(y.bv.size()), false);
        continue;
      }
      if (p == "attn_norm.weight" || p == "ffn_norm.weight") {
        const std::vector<float>& v = p == "attn_norm.weight" ? y.attn_norm : y.ffn_norm;
        emit(t.name, t.ne, v.data(), 1, c.dim, false);
        continue;
      }
    }
    const bool matrix = t.ne.size() >= 2 && t.ne[1] > 1;
    if (matrix && o.quantize) {  // token embedding, output: plain rounding
      const int64_t cols = t.ne[0], rows = t.numel() / cols;
      std::vector<float> f(size_t(t.numel()));
      const size_t in_rb = kernels::ggml_row_size(t.type, cols);
      for (int64_t r = 0; r < rows; ++r) kernels::dequantize_row_ref(t.type, t.data + size_t(r) * in_rb, f.data() + r * cols, cols);
      emit(t.name, t.ne, f.data(), rows, cols, true);
    } else {
      w.add_tensor(t.name, t.type, t.ne, t.data, t.nbytes);
    }
  }
  w.write(out);
  rep.seconds = now_seconds() - t0;
  return rep;
}

}  // namespace pareto::quant
