#include "quant/evaluate.h"

#include <cmath>
#include <fstream>

#include "core/error.h"
#include "kernels/quant_formats.h"
#include "llm/model.h"
#include "llm/repack.h"
#include "llm/tokenizer.h"
#include "llm/transformer.h"

namespace pareto::quant {

namespace {

// log-softmax of one row into out; returns the argmax.
int64_t log_softmax(const float* logits, int64_t n, std::vector<double>& out) {
  double mx = logits[0];
  int64_t arg = 0;
  for (int64_t i = 1; i < n; ++i)
    if (logits[i] > mx) {
      mx = logits[i];
      arg = i;
    }
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - mx);
  const double lse = mx + std::log(sum);
  out.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i) out[size_t(i)] = double(logits[i]) - lse;
  return arg;
}

void weight_stats(const llm::Model& m, double* bpw, uint64_t* bytes) {
  uint64_t b = 0, n = 0;
  auto add = [&](const kernels::WeightMatrix& w) {
    b += uint64_t(kernels::ggml_row_size(w.type, w.cols)) * uint64_t(w.rows);
    n += uint64_t(w.rows) * uint64_t(w.cols);
  };
  for (const auto& l : m.layers)
    for (const auto* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) add(*w);
  if (m.output.data != m.token_embd.data) add(m.output);
  *bpw = n ? 8.0 * double(b) / double(n) : 0;
  *bytes = b;
}

}  // namespace

EvalReport evaluate(const std::string& base_path, const std::string& quant_path, const std::string& text, const EvalOptions& o) {
  auto base = llm::Model::load(base_path, o.tokenizer);
  auto quant = llm::Model::load(quant_path, o.tokenizer);
  if (o.repack) {
    llm::repack_for_cpu(*base);
    llm::repack_for_cpu(*quant);
  }
  const llm::ModelConfig &cb = base->config, &cq = quant->config;
  if (cb.vocab != cq.vocab || cb.n_layers != cq.n_layers || cb.dim != cq.dim)
    fail_argument("the models differ in shape (vocab, layers or width): " + base_path + " vs " + quant_path);
  if (base->vocab.pieces.empty()) fail_argument(base_path + ": no tokenizer (pass --tokenizer)");
  llm::Tokenizer tok(base->vocab);
  const int64_t n_ctx = o.ctx;
  if (n_ctx < 8) fail_argument("--ctx must be at least 8");
  std::vector<int32_t> tokens = tok.encode(text, true);
  int64_t chunks = int64_t(tokens.size()) / n_ctx;
  if (o.max_chunks > 0) chunks = std::min(chunks, o.max_chunks);
  if (chunks < 1) fail_argument("the text has " + std::to_string(tokens.size()) + " tokens, fewer than one chunk of " + std::to_string(n_ctx));
  llm::Transformer tb(*base, n_ctx), tq(*quant, n_ctx);
  EvalReport r;
  r.chunks = chunks;
  std::vector<std::vector<float>> layer_base(size_t(cb.n_layers));
  std::vector<double> err(size_t(cb.n_layers), 0), ref(size_t(cb.n_layers), 0), cos_sum(size_t(cb.n_layers), 0);
  int64_t cos_n = 0;
  const int64_t first_scored = n_ctx / 2;
  tb.layer_hook = [&](int64_t l, const float* x, int64_t n, int64_t dim) { layer_base[size_t(l)].assign(x, x + n * dim); };
  tq.layer_hook = [&](int64_t l, const float* x, int64_t n, int64_t dim) {
    const std::vector<float>& b = layer_base[size_t(l)];
    for (int64_t t = first_scored; t < n; ++t) {
      double e = 0, bb = 0, qq = 0, bq = 0;
      for (int64_t i = 0; i < dim; ++i) {
        const double bv = b[size_t(t * dim + i)], qv = x[t * dim + i];
        e += (qv - bv) * (qv - bv);
        bb += bv * bv;
        qq += qv * qv;
        bq += bv * qv;
      }
      err[size_t(l)] += e;
      ref[size_t(l)] += bb;
      cos_sum[size_t(l)] += bq / std::max(std::sqrt(bb * qq), 1e-30);
    }
  };
  double nll_b = 0, nll_q = 0, kl = 0;
  int64_t agree = 0, scored = 0;
  std::vector<double> lb, lq;
  std::vector<int32_t> chunk(static_cast<size_t>(n_ctx));
  for (int64_t c = 0; c < chunks; ++c) {
    std::copy(tokens.begin() + c * n_ctx, tokens.begin() + (c + 1) * n_ctx, chunk.begin());
    chunk[0] = tok.bos();
    const float* logits_b = tb.forward(chunk.data(), n_ctx, 0, true);
    std::vector<float> saved(logits_b + first_scored * cb.vocab, logits_b + (n_ctx - 1) * cb.vocab);
    const float* logits_q = tq.forward(chunk.data(), n_ctx, 0, true);
    for (int64_t t = first_scored; t < n_ctx - 1; ++t) {
      const int64_t ab = log_softmax(saved.data() + (t - first_scored) * cb.vocab, cb.vocab, lb);
      const int64_t aq = log_softmax(logits_q + t * cb.vocab, cb.vocab, lq);
      const int32_t next = chunk[size_t(t + 1)];
      nll_b -= lb[size_t(next)];
      nll_q -= lq[size_t(next)];
      double k = 0;
      for (int64_t i = 0; i < cb.vocab; ++i) k += std::exp(lb[size_t(i)]) * (lb[size_t(i)] - lq[size_t(i)]);
      kl += k;
      agree += ab == aq;
      ++scored;
    }
    cos_n += n_ctx - first_scored;
    if (o.progress) o.progress(c + 1, chunks);
  }
  r.tokens = scored;
  r.ppl_base = std::exp(nll_b / double(scored));
  r.ppl_quant = std::exp(nll_q / double(scored));
  r.kl_mean = kl / double(scored);
  r.top1 = double(agree) / double(scored);
  for (int64_t l = 0; l < cb.n_layers; ++l)
    r.layers.push_back({err[size_t(l)] / std::max(ref[size_t(l)], 1e-30), cos_sum[size_t(l)] / double(std::max<int64_t>(cos_n, 1))});
  weight_stats(*base, &r.bpw_base, &r.bytes_base);
  weight_stats(*quant, &r.bpw_quant, &r.bytes_quant);
  return r;
}

}  // namespace pareto::quant
