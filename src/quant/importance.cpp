#include "quant/importance.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/dtype.h"
#include "core/error.h"
#include "kernels/pareto_formats.h"
#include "kernels/quant_formats.h"
#include "llm/model.h"
#include "llm/tokenizer.h"
#include "llm/transformer.h"
#include "quant/ggml_block_rules.h"

namespace pareto::quant {

Importance collect_importance(const std::string& model_path, const std::string& text, int64_t ctx, int64_t max_tokens, int64_t* used) {
  auto model = llm::Model::load(model_path);
  if (model->vocab.pieces.empty()) fail_argument(model_path + ": no tokenizer in the file");
  llm::Tokenizer tok(model->vocab);
  const std::vector<int32_t> tokens = tok.encode(text, true);
  const int64_t n = std::min<int64_t>(max_tokens, int64_t(tokens.size()) / ctx * ctx);
  if (n < ctx) fail_argument("the text has " + std::to_string(tokens.size()) + " tokens, fewer than one chunk of " + std::to_string(ctx));
  static const char* names[4][3] = {{"attn_q.weight", "attn_k.weight", "attn_v.weight"},
                                    {"attn_output.weight", nullptr, nullptr},
                                    {"ffn_gate.weight", "ffn_up.weight", nullptr},
                                    {"ffn_down.weight", nullptr, nullptr}};
  std::map<std::string, std::vector<double>> sums;
  llm::Transformer tr(*model, ctx);
  tr.input_hook = [&](int64_t l, llm::MatmulInput which, const float* x, int64_t rows, int64_t cols) {
    std::vector<double> acc(static_cast<size_t>(cols), 0);
    for (int64_t t = 0; t < rows; ++t)
      for (int64_t j = 0; j < cols; ++j) acc[size_t(j)] += double(x[t * cols + j]) * x[t * cols + j];
    for (const char* nm : names[int(which)]) {
      if (!nm) continue;
      auto& s = sums["blk." + std::to_string(l) + "." + nm];
      if (s.empty()) s.assign(size_t(cols), 0);
      for (int64_t j = 0; j < cols; ++j) s[size_t(j)] += acc[size_t(j)];
    }
  };
  for (int64_t s = 0; s < n; s += ctx) tr.forward(tokens.data() + s, ctx, 0, false);
  Importance imp;
  for (auto& [name, s] : sums) {
    std::vector<float> v(s.size());
    for (size_t j = 0; j < s.size(); ++j) v[j] = float(s[j] / double(n));
    imp[name] = std::move(v);
  }
  if (used) *used = n;
  return imp;
}

// Text format: one line per tensor, "name count v0 v1 ...".
void save_importance(const std::string& path, const Importance& imp) {
  std::ofstream f(path);
  if (!f) fail(StatusCode::io_error, path + ": cannot write");
  f.precision(9);
  for (const auto& [name, v] : imp) {
    f << name << ' ' << v.size();
    for (float x : v) f << ' ' << x;
    f << '\n';
  }
}

Importance load_importance(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail(StatusCode::io_error, path + ": cannot open");
  Importance imp;
  std::string line;
  for (int ln = 1; std::getline(f, line); ++ln) {
    if (line.empty()) continue;
    std::istringstream in(line);
    std::string name;
    size_t n = 0;
    if (!(in >> name >> n) || n > (size_t(1) << 24)) fail_argument(path + ":" + std::to_string(ln) + ": expected 'name count values...'");
    std::vector<float> v(n);
    for (float& x : v)
      if (!(in >> x) || !std::isfinite(x) || x < 0) fail_argument(path + ":" + std::to_string(ln) + ": bad value for " + name);
    imp[name] = std::move(v);
  }
  return imp;
}

namespace {

// pareto's group formats: each group's range shrunk (both ends when
// asymmetric) by up to 30% when that lowers the weighted error; the group is
// then written from the shrunk range, codes rounded as usual.
void group_row_weighted(const kernels::GroupFormat& f, const float* w, const float* imp, uint8_t* out, int64_t cols) {
  std::vector<float> clipped(static_cast<size_t>(f.group)), deq(static_cast<size_t>(f.group));
  std::vector<uint8_t> q(kernels::group_block_bytes(f)), best_q(q.size());
  for (int64_t g0 = 0; g0 < cols; g0 += f.group, out += kernels::group_block_bytes(f)) {
    const int64_t n = std::min(f.group, cols - g0);
    float lo = 0, hi = 0;
    for (int64_t i = 0; i < n; ++i) lo = std::min(lo, w[g0 + i]), hi = std::max(hi, w[g0 + i]);
    if (!f.asym) hi = std::max(hi, -lo), lo = -hi;
    double best = -1;
    for (int k = 0; k <= 12; ++k) {  // k = 0: the plain rounding, so the weighted error never grows
      const float ratio = 1.f - 0.025f * float(k);
      for (int64_t i = 0; i < n; ++i) clipped[size_t(i)] = std::clamp(w[g0 + i], lo * ratio, hi * ratio);
      kernels::quantize_group_row_ref(f, clipped.data(), q.data(), n);
      kernels::dequantize_group_row_ref(f, q.data(), deq.data(), n);
      double err = 0;
      for (int64_t i = 0; i < n; ++i) err += double(imp[g0 + i] + 1e-10f) * (deq[size_t(i)] - w[g0 + i]) * (deq[size_t(i)] - w[g0 + i]);
      if (best < 0 || err < best) {
        best = err;
        best_q = q;
      }
    }
    std::copy(best_q.begin(), best_q.begin() + std::ptrdiff_t(kernels::group_row_size(f, n)), out);
  }
}

}  // namespace

void quantize_row_weighted(uint32_t type, const float* w, const float* imp, void* out, int64_t cols) {
  if (kernels::is_group_type(type)) return group_row_weighted(kernels::group_format(type), w, imp, static_cast<uint8_t*>(out), cols);
  if (!is_q4_0(type) && type != uint32_t(kernels::GgmlType::q8_0)) return kernels::quantize_row_ref(type, w, out, cols);
  uint8_t* y = static_cast<uint8_t*>(out);
  int codes[32];
  for (int64_t b = 0; b < cols / 32; ++b) {
    const float* x = w + b * 32;
    const float* im = imp + b * 32;
    const float d0 = ggml_block_scale(type, x);
    // ggml's own scale (k = 0) is a candidate: the weighted error never grows.
    double best = -1;
    float best_d = d0;
    for (int k = 0; k <= 12 && d0 != 0; ++k) {
      const float d = d0 * (1.f - 0.025f * float(k)), dh = f16_rounded(d), id = 1.f / d;
      double err = 0;
      for (int j = 0; j < 32; ++j) {
        const double diff = double(ggml_value(type, ggml_code(type, x[j], id), dh)) - x[j];
        err += double(im[j] + 1e-10f) * diff * diff;
      }
      if (best < 0 || err < best) {
        best = err;
        best_d = d;
      }
    }
    const float id = best_d ? 1.f / best_d : 0.f;
    for (int j = 0; j < 32; ++j) codes[j] = ggml_code(type, x[j], id);
    write_ggml_block(type, best_d, codes, y + size_t(b) * block_bytes(type));
  }
}

}  // namespace pareto::quant
