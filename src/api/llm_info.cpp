// What `pareto info` and the APIs report about a loaded language model.
#include "api/llm_info.h"

#include <algorithm>
#include <map>

#include "kernels/quant_formats.h"
#include "llm/chat.h"
#include "llm/repack.h"

namespace pareto::api {

LlmInfo describe_llm(const llm::Model& m, int64_t ctx, size_t kv_cache_bytes) {
  const llm::ModelConfig& c = m.config;
  LlmInfo i;
  i.arch = c.arch;
  i.chat_format = llm::chat_format_name(llm::detect_chat_format(m.vocab.chat_template));
  i.path = m.path;
  i.dim = c.dim;
  i.layers = c.n_layers;
  i.heads = c.n_heads;
  i.kv_heads = c.n_kv_heads;
  i.ffn = c.ffn_dim;
  i.vocab = c.vocab;
  i.ctx = ctx;
  i.model_ctx = c.ctx_len;
  i.weight_bytes = m.weight_bytes;
  i.kv_cache_bytes = kv_cache_bytes;
  {
    std::map<uint32_t, size_t> by_type;
    auto add = [&](const kernels::WeightMatrix& w) {
      if (w.data) by_type[w.type] += kernels::ggml_row_size(w.type, w.cols) * size_t(w.rows);
    };
    add(m.token_embd);
    if (m.output.data != m.token_embd.data) add(m.output);
    for (const auto& l : m.layers)
      for (const auto* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) add(*w);
    size_t best = 0;
    for (auto& [t, b] : by_type)
      if (b > best) {
        best = b;
        i.weight_type = kernels::ggml_type_traits(t).name;
      }
  }
  int64_t per_layer = c.dim * c.n_heads * c.head_dim * 2 + c.dim * c.n_kv_heads * c.head_dim * 2 + 3 * c.dim * c.ffn_dim + 2 * c.dim;
  i.parameters = c.n_layers * per_layer + c.vocab * c.dim * (m.output.data == m.token_embd.data ? 1 : 2) + c.dim;
  return i;
}

std::unique_ptr<llm::Model> load_llm(const std::string& path, const LlmOptions& options) {
  auto model = llm::Model::load(path, options.tokenizer);
  if (options.repack) llm::repack_for_cpu(*model);
  return model;
}

int64_t llm_context(const llm::Model& model, const LlmOptions& options) {
  constexpr int64_t kDefaultCtxCap = 4096;
  return options.ctx > 0 ? options.ctx : std::min(model.config.ctx_len, kDefaultCtxCap);
}

}  // namespace pareto::api
