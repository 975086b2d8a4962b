#include "quant/calibration.h"

#include <algorithm>
#include <random>

#include "core/error.h"
#include "core/file.h"
#include "core/thread_pool.h"
#include "kernels/quant_formats.h"
#include "llm/repack.h"
#include "llm/sampler.h"
#include "llm/transformer.h"

namespace pareto::quant {

namespace {

// Self-generated calibration text: the base model sampling from BOS (seeded).
std::vector<int32_t> generate_tokens(const llm::Model& m, const llm::Tokenizer& tok, int64_t n, int64_t ctx) {
  std::vector<int32_t> out;
  llm::SamplerOptions so;
  so.temperature = 1.0f;
  so.seed = 1234;
  for (uint64_t chunk = 0; int64_t(out.size()) < n; ++chunk) {
    llm::Transformer tr(m, ctx);
    llm::Sampler sampler(so);
    int32_t t = tok.bos();
    out.push_back(t);
    for (int64_t pos = 0; pos + 1 < ctx && int64_t(out.size()) < n; ++pos) {
      const float* l = tr.forward(&t, 1, pos);
      std::vector<float> copy(l, l + m.config.vocab);
      t = sampler.sample(copy.data(), m.config.vocab);
      out.push_back(t);
    }
  }
  return out;
}

}  // namespace

std::vector<int32_t> calibration_tokens(const llm::Model& m, const llm::Tokenizer& tok, const CalibrationSource& src, std::string* what) {
  if (src.random) {
    std::mt19937 rng(1234);
    std::vector<int32_t> tokens(size_t(src.tokens / src.ctx * src.ctx));
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = i % size_t(src.ctx) == 0 ? tok.bos() : int32_t(rng() % uint32_t(m.config.vocab));
    *what = "random tokens (seed 1234)";
    return tokens;
  }
  if (!src.text.empty()) {
    *what = "calibration text";
    return tok.encode(src.text, true);
  }
  *what = "text sampled from the base model (seed 1234)";
  return generate_tokens(m, tok, src.tokens, src.ctx);
}

CalibrationSequences calibration_sequences(const llm::Model& m, const llm::Tokenizer& tok, CalibrationSource src) {
  if (m.config.ctx_len > 0) src.ctx = std::min(src.ctx, m.config.ctx_len);
  CalibrationSequences s;
  s.tokens = calibration_tokens(m, tok, src, &s.what);
  s.ctx = src.ctx;
  if (int64_t(s.tokens.size()) < s.ctx && s.tokens.size() >= 16) s.ctx = int64_t(s.tokens.size());  // a short text: one shorter sequence
  s.count = std::min<int64_t>(src.tokens, int64_t(s.tokens.size()) / s.ctx * s.ctx);
  if (s.count < s.ctx) fail_argument("calibration text has " + std::to_string(s.tokens.size()) + " tokens; at least " + std::to_string(s.ctx) + " needed");
  return s;
}

std::unique_ptr<llm::Model> int8_forward_copy(const llm::Model& m) {
  auto copy = std::make_unique<llm::Model>(m);
  bool converted = false;
  auto convert = [&](kernels::WeightMatrix& w) {
    using kernels::GgmlType;
    if ((w.type != uint32_t(GgmlType::f16) && w.type != uint32_t(GgmlType::bf16)) || w.cols % 32 || !w.data) return;
    const size_t rb = kernels::ggml_row_size(uint32_t(GgmlType::q8_0), w.cols);
    std::shared_ptr<void> buf = allocate_large(rb * size_t(w.rows));
    const kernels::WeightMatrix src = w;
    parallel_for(w.rows, [&](int64_t r0, int64_t r1) {
      std::vector<float> row(static_cast<size_t>(src.cols));
      for (int64_t r = r0; r < r1; ++r) {
        kernels::weight_row(src, r, row.data());
        kernels::quantize_row_ref(uint32_t(GgmlType::q8_0), row.data(), static_cast<uint8_t*>(buf.get()) + size_t(r) * rb, src.cols);
      }
    });
    copy->owners.push_back(buf);
    w.type = uint32_t(GgmlType::q8_0);
    w.data = buf.get();
    converted = true;
  };
  for (auto& l : copy->layers)
    for (auto* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) convert(*w);
  if (!converted) return nullptr;
  llm::repack_for_cpu(*copy);
  return copy;
}

}  // namespace pareto::quant
