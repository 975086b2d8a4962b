#include "quant/calibrated_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/file.h"
#include "core/thread_pool.h"
#include "frontend/gguf/gguf_writer.h"
#include "kernels/gemm.h"
#include "kernels/quant_formats.h"
#include "llm/tokenizer.h"
#include "quant/calibration.h"
#include "quant/quantize_gguf.h"

namespace pareto::quant {

Matrix to_f32(const kernels::WeightMatrix& m) {
  Matrix r{m.rows, m.cols, std::vector<float>(size_t(m.rows * m.cols))};
  for (int64_t i = 0; i < m.rows; ++i) kernels::weight_row(m, i, r.w.data() + i * m.cols);
  return r;
}

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

void scale_columns(Matrix& m, const std::vector<float>& s) {
  for (int64_t i = 0; i < m.rows; ++i)
    for (int64_t j = 0; j < m.cols; ++j) m.w[size_t(i * m.cols + j)] *= s[size_t(j)];
}

void divide_rows(Matrix& m, const std::vector<float>& s) {
  for (int64_t i = 0; i < m.rows; ++i)
    for (int64_t j = 0; j < m.cols; ++j) m.w[size_t(i * m.cols + j)] /= s[size_t(i)];
}

void Activations::add(const float* x, int64_t n, int64_t c) {
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

Activations activations_of(const std::vector<float>& x, int64_t cols) {
  Activations a;
  a.keep = int64_t(x.size()) / cols;
  a.add(x.data(), a.keep, cols);
  return a;
}

CalibratedLayer copy_layer(const llm::LayerWeights& w, int64_t dim) {
  CalibratedLayer y;
  y.attn_norm.assign(static_cast<const float*>(w.attn_norm.data), static_cast<const float*>(w.attn_norm.data) + dim);
  y.ffn_norm.assign(static_cast<const float*>(w.ffn_norm.data), static_cast<const float*>(w.ffn_norm.data) + dim);
  y.q = to_f32(w.wq), y.k = to_f32(w.wk), y.v = to_f32(w.wv), y.o = to_f32(w.wo);
  y.gate = to_f32(w.w_gate), y.up = to_f32(w.w_up), y.down = to_f32(w.w_down);
  if (w.bq) y.bq.assign(w.bq, w.bq + y.q.rows);
  if (w.bk) y.bk.assign(w.bk, w.bk + y.k.rows);
  if (w.bv) y.bv.assign(w.bv, w.bv + y.v.rows);
  return y;
}

CalibrationSequences open_calibrated(const std::string& in, const CalibratedOptions& o, CalibratedModel& m, CalibratedReport& rep) {
  m.model = llm::Model::load(in);
  m.file = gguf::File::open(in);
  if (m.model->vocab.pieces.empty()) fail_argument(in + ": no tokenizer in the file (calibration needs to tokenize text)");
  llm::Tokenizer tok(m.model->vocab);
  CalibrationSource src;  // sequences as long as the model allows, up to o.ctx (512)
  src.text = o.calib_text;
  src.random = o.calib_random;
  src.tokens = o.calib_tokens;
  src.ctx = o.ctx;
  CalibrationSequences seq = calibration_sequences(*m.model, tok, src);
  rep.calibration = seq.what;
  rep.tokens = seq.count;
  m.ctx = seq.ctx;
  m.error_tokens = std::max<int64_t>(seq.ctx, o.error_tokens / seq.ctx * seq.ctx);
  rep.ratio.assign(size_t(m.model->config.n_layers), std::vector<float>(4, -1.f));
  return seq;
}

CalibratedModel calibrate_model(const std::string& in, const CalibratedOptions& o, CalibratedReport& rep) {
  const double t0 = now_seconds();
  CalibratedModel m;
  const CalibrationSequences seq = open_calibrated(in, o, m, rep);
  const llm::ModelConfig& c = m.model->config;
  // Collect the matmul inputs of every layer over the calibration chunks.
  const int64_t L = c.n_layers;
  m.acts.assign(size_t(L), std::vector<Activations>(4));
  for (auto& layer : m.acts)
    for (Activations& a : layer) a.keep = m.error_tokens;
  {
    const std::unique_ptr<llm::Model> fast = int8_forward_copy(*m.model);
    if (fast) rep.calibration += ", forward pass on a Q8_0 copy of the weights";
    llm::Transformer tr(fast ? *fast : *m.model, m.ctx);
    tr.input_hook = [&](int64_t l, llm::MatmulInput which, const float* x, int64_t n, int64_t cols) {
      m.acts[size_t(l)][size_t(which)].add(x, n, cols);
    };
    for (int64_t s = 0; s < seq.count; s += m.ctx) tr.forward(seq.tokens.data() + s, m.ctx, 0, false);
  }
  rep.calibration_seconds = now_seconds() - t0;
  for (int64_t l = 0; l < L; ++l) m.layers.push_back(copy_layer(m.model->layers[size_t(l)], c.dim));
  return m;
}

std::vector<ScaleGroup> scale_groups(CalibratedModel& m, int64_t l) { return scale_groups(m.model->config, m.layers[size_t(l)]); }

std::vector<ScaleGroup> scale_groups(const llm::ModelConfig& c, CalibratedLayer& y) {
  const int64_t hd = c.head_dim, q_dim = c.n_heads * hd, kv_dim = c.n_kv_heads * hd, group = c.n_heads / c.n_kv_heads, dim = c.dim;
  // o's column h * hd + d reads v's row (h / group) * hd + d: with grouped
  // heads the columns of one v row share its scale.
  std::vector<int64_t> o_tie(static_cast<size_t>(q_dim));
  for (int64_t j = 0; j < q_dim; ++j) o_tie[size_t(j)] = (j / hd / group) * hd + j % hd;
  std::vector<ScaleGroup> g;
  g.push_back({llm::MatmulInput::attn, {&y.q, &y.k, &y.v}, {}, [&y, dim](const std::vector<float>& s) {
                 for (int64_t j = 0; j < dim; ++j) y.attn_norm[size_t(j)] /= s[size_t(j)];
               }});
  g.push_back({llm::MatmulInput::attn_out, {&y.o}, o_tie, [&y, o_tie, q_dim, kv_dim](const std::vector<float>& s) {
                 std::vector<float> sv(static_cast<size_t>(kv_dim));
                 for (int64_t j = 0; j < q_dim; ++j) sv[size_t(o_tie[size_t(j)])] = s[size_t(j)];
                 divide_rows(y.v, sv);
                 for (size_t j = 0; j < y.bv.size(); ++j) y.bv[j] /= sv[j];  // v's bias is part of its row
               }});
  g.push_back({llm::MatmulInput::ffn, {&y.gate, &y.up}, {}, [&y, dim](const std::vector<float>& s) {
                 for (int64_t j = 0; j < dim; ++j) y.ffn_norm[size_t(j)] /= s[size_t(j)];
               }});
  g.push_back({llm::MatmulInput::down, {&y.down}, {}, [&y](const std::vector<float>& s) { divide_rows(y.up, s); }});
  return g;
}

std::vector<NamedMatrix> layer_matrices(CalibratedLayer& y) {
  using In = llm::MatmulInput;
  return {{"attn_q.weight", &y.q, In::attn},        {"attn_k.weight", &y.k, In::attn},   {"attn_v.weight", &y.v, In::attn},
          {"attn_output.weight", &y.o, In::attn_out}, {"ffn_gate.weight", &y.gate, In::ffn}, {"ffn_up.weight", &y.up, In::ffn},
          {"ffn_down.weight", &y.down, In::down}};
}

CalibratedReport run_calibrated(const std::string& in, const std::string& out, const CalibratedOptions& o, const LayerRewrite& rewrite_layer) {
  const double t0 = now_seconds();
  CalibratedReport rep;
  CalibratedModel m = calibrate_model(in, o, rep);
  const int64_t L = int64_t(m.layers.size());
  for (int64_t l = 0; l < L; ++l) {
    rewrite_layer(m, l, rep);
    if (o.progress) o.progress(int(l + 1), int(L), now_seconds() - t0);
  }
  write_calibrated(m, o, out);
  rep.seconds = now_seconds() - t0;
  return rep;
}

namespace {

const Matrix* layer_matrix(const CalibratedLayer& y, const std::string& part) {
  for (const NamedMatrix& nm : layer_matrices(const_cast<CalibratedLayer&>(y)))
    if (part == nm.name) return nm.matrix;
  return nullptr;
}

}  // namespace

uint32_t calibrated_type(const CalibratedOptions& o, const std::string& name) {
  const auto it = o.tensor_types.find(name);
  return it != o.tensor_types.end() ? it->second : o.type;
}

void write_calibrated(const CalibratedModel& m, const CalibratedOptions& o, const std::string& out) {
  const int64_t L = int64_t(m.layers.size());
  gguf::Writer w;
  for (const auto& [key, value] : m.file->kv) w.set_value(key, value);
  if (o.file_type) w.set_u32("general.file_type", o.file_type);
  auto tensor_type = [&](const std::string& name, int64_t cols) {
    return o.quantize ? storage_type(calibrated_type(o, name), cols) : uint32_t(kernels::GgmlType::f32);
  };
  auto emit = [&](const std::string& name, const std::vector<int64_t>& ne, const float* data, int64_t rows, int64_t cols, bool matrix) {
    const uint32_t type = matrix ? tensor_type(name, cols) : uint32_t(kernels::GgmlType::f32);
    const std::string bytes = round_rows(type, data, rows, cols);
    w.add_tensor(name, type, ne, bytes.data(), bytes.size());
  };
  for (const gguf::TensorInfo& t : m.file->tensors) {
    int64_t l = -1;
    char part[64] = {};
    if (std::sscanf(t.name.c_str(), "blk.%ld.%63s", &l, part) == 2 && l >= 0 && l < L) {
      const CalibratedLayer& y = m.layers[size_t(l)];
      const std::string p = part;
      if (auto it = m.packed.find(t.name); it != m.packed.end()) {
        w.add_tensor(t.name, storage_type(calibrated_type(o, t.name), t.ne[0]), t.ne, it->second.data(), it->second.size());
        continue;
      }
      if (const Matrix* mat = layer_matrix(y, p)) {
        emit(t.name, t.ne, mat->w.data(), mat->rows, mat->cols, true);
        continue;
      }
      if (p == "attn_v.bias" && !y.bv.empty()) {
        emit(t.name, t.ne, y.bv.data(), 1, int64_t(y.bv.size()), false);
        continue;
      }
      if (p == "attn_norm.weight" || p == "ffn_norm.weight") {
        const std::vector<float>& v = p == "attn_norm.weight" ? y.attn_norm : y.ffn_norm;
        emit(t.name, t.ne, v.data(), 1, m.model->config.dim, false);
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
}

}  // namespace pareto::quant
