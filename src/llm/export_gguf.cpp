#include "llm/export_gguf.h"

#include <vector>

#include "core/error.h"
#include "kernels/quant_formats.h"

namespace pareto::llm {

namespace {

std::string gguf_piece(const std::string& piece, const std::string& space) {
  if (space == "\xe2\x96\x81") return piece;
  std::string out;
  for (char ch : piece) out += ch == ' ' ? std::string("\xe2\x96\x81") : std::string(1, ch);
  return out;
}

// SentencePiece token types as GGUF stores them: 1 normal, 2 unknown, 3 control, 6 byte.
int32_t token_type(const Vocab& v, int32_t id) {
  if (!v.types.empty()) return v.types[size_t(id)];
  if (id == v.unk) return 2;
  if (id == v.bos || id == v.eos) return 3;
  const std::string& p = v.pieces[size_t(id)];
  if (p.size() == 6 && p.rfind("<0x", 0) == 0 && p[5] == '>') return 6;
  return 1;
}

}  // namespace

uint32_t llama_file_type(uint32_t type) {
  switch (kernels::GgmlType(type)) {
    case kernels::GgmlType::f16: return 1;
    case kernels::GgmlType::q4_0: return 2;
    case kernels::GgmlType::q4_1: return 3;
    case kernels::GgmlType::q8_0: return 7;
    case kernels::GgmlType::q4_k: return 14;
    case kernels::GgmlType::q2_k: return 10;
    case kernels::GgmlType::q3_k: return 11;
    default: return 0;
  }
}

void write_llama_metadata(gguf::Writer& w, const ModelConfig& c, const std::string& name, uint32_t file_type) {
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", name);
  w.set_u32("general.file_type", file_type);
  w.set_u32("llama.context_length", uint32_t(c.ctx_len));
  w.set_u32("llama.embedding_length", uint32_t(c.dim));
  w.set_u32("llama.block_count", uint32_t(c.n_layers));
  w.set_u32("llama.feed_forward_length", uint32_t(c.ffn_dim));
  w.set_u32("llama.attention.head_count", uint32_t(c.n_heads));
  w.set_u32("llama.attention.head_count_kv", uint32_t(c.n_kv_heads));
  w.set_f32("llama.attention.layer_norm_rms_epsilon", c.rms_eps);
  w.set_f32("llama.rope.freq_base", c.rope_base);
  w.set_u32("llama.rope.dimension_count", uint32_t(c.rope_dims > 0 ? c.rope_dims : c.head_dim));
  w.set_u32("llama.vocab_size", uint32_t(c.vocab));
}

void export_gguf(const Model& m, const std::string& path) {
  const ModelConfig& c = m.config;
  if (c.arch != "llama") fail_unsupported("exporting architecture '" + c.arch + "' to GGUF (llama only)");
  if (m.vocab.pieces.empty()) fail_argument("the model has no vocabulary to export (pass its tokenizer)");
  gguf::Writer w;
  write_llama_metadata(w, c, "pareto-export", 0);
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (int32_t i = 0; i < int32_t(m.vocab.pieces.size()); ++i) {
    tokens.push_back(gguf_piece(m.vocab.pieces[size_t(i)], m.vocab.space));
    scores.push_back(i < int32_t(m.vocab.scores.size()) ? m.vocab.scores[size_t(i)] : 0.f);
    types.push_back(token_type(m.vocab, i));
  }
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_strings("tokenizer.ggml.tokens", tokens);
  w.set_f32s("tokenizer.ggml.scores", scores);
  w.set_i32s("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.bos_token_id", uint32_t(m.vocab.bos));
  w.set_u32("tokenizer.ggml.eos_token_id", uint32_t(m.vocab.eos));
  w.set_u32("tokenizer.ggml.unknown_token_id", uint32_t(m.vocab.unk));
  // Tensors keep their stored type (f32 for llama2.c); ne = [cols, rows].
  auto add = [&](const std::string& name, const kernels::WeightMatrix& t) {
    if (!t.data) return;
    if (t.packed_meta) fail_unsupported(name + ": exporting a repacked matrix (open the model without repacking)");
    const size_t bytes = kernels::ggml_row_size(t.type, t.cols) * size_t(t.rows);
    std::vector<int64_t> ne = t.rows == 1 ? std::vector<int64_t>{t.cols} : std::vector<int64_t>{t.cols, t.rows};
    w.add_tensor(name, t.type, ne, t.data, bytes);
  };
  add("token_embd.weight", m.token_embd);
  add("output_norm.weight", m.output_norm);
  add("output.weight", m.output);  // also when tied to the embedding, as llama.cpp's converter writes it
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& L = m.layers[size_t(l)];
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", L.attn_norm);
    add(p + "attn_q.weight", L.wq);
    add(p + "attn_k.weight", L.wk);
    add(p + "attn_v.weight", L.wv);
    add(p + "attn_output.weight", L.wo);
    add(p + "ffn_norm.weight", L.ffn_norm);
    add(p + "ffn_gate.weight", L.w_gate);
    add(p + "ffn_up.weight", L.w_up);
    add(p + "ffn_down.weight", L.w_down);
  }
  w.write(path);
}

}  // namespace pareto::llm
