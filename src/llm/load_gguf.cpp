// GGUF models: hyper-parameters from `<arch>.*` metadata, weights as views
// into the mapped file (any GGML type), tokenizer from `tokenizer.ggml.*`.
#include <cstring>

#include "core/error.h"
#include "core/file.h"
#include "pareto/limits.hpp"
#include "frontend/gguf/gguf_reader.h"
#include "kernels/quant_formats.h"
#include "llm/arch.h"
#include "llm/model.h"

namespace pareto::llm {

namespace {

class Binder {
 public:
  Binder(const gguf::File& f, Model& m) : f_(f), m_(m) {}

  // A matrix with ne = [cols, rows] (ne[0] contiguous).
  kernels::WeightMatrix matrix(const std::string& name, int64_t rows, int64_t cols, bool optional = false) {
    const gguf::TensorInfo* t = f_.tensor(name);
    if (!t) {
      if (optional) return {};
      fail_model(f_.path + ": missing tensor '" + name + "'");
    }
    if (t->ne.size() > 2 || t->ne[0] != cols || (t->ne.size() == 2 ? t->ne[1] : 1) != rows)
      fail_model(f_.path + ": tensor '" + name + "' has shape " + shape(t->ne) + ", expected [" + std::to_string(cols) + ", " +
                 std::to_string(rows) + "]");
    if (!kernels::ggml_type_traits(t->type).can_dequantize)
      fail_unsupported(f_.path + ": tensor '" + name + "' has type " + kernels::ggml_type_traits(t->type).name + ", which pareto cannot compute with yet");
    m_.weight_bytes += t->nbytes;
    return kernels::WeightMatrix{t->type, t->data, rows, cols};
  }

  // A vector used directly as float32 (norm weights, biases); converted once if stored otherwise.
  const float* vector(const std::string& name, int64_t n, bool optional = false) {
    kernels::WeightMatrix w = matrix(name, 1, n, optional);
    if (!w.data) return nullptr;
    if (w.type == uint32_t(kernels::GgmlType::f32)) return static_cast<const float*>(w.data);
    auto buf = std::make_shared<std::vector<float>>(size_t(n));
    kernels::weight_row(w, 0, buf->data());
    m_.owners.push_back(buf);
    return buf->data();
  }

 private:
  static std::string shape(const std::vector<int64_t>& ne) {
    std::string s = "[";
    for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "]";
  }
  const gguf::File& f_;
  Model& m_;
};

kernels::WeightMatrix f32_vector(const float* p, int64_t n) { return {uint32_t(kernels::GgmlType::f32), p, 1, n}; }

}  // namespace

void load_gguf_vocab(const gguf::File& f, Vocab& v) {
  std::string model = f.get_string("tokenizer.ggml.model", "");
  if (model.empty()) return;  // no tokenizer in the file
  if (model == "llama") {
    v.kind = Vocab::Kind::spm;
    v.space = "\xe2\x96\x81";
  } else if (model == "gpt2") {
    v.kind = Vocab::Kind::bpe;
    v.space = " ";
  } else {
    fail_unsupported(f.path + ": tokenizer model '" + model + "'");
  }
  const gguf::Value* tokens = f.find("tokenizer.ggml.tokens");
  if (!tokens || tokens->elem_type != gguf::ValueType::string) fail_model(f.path + ": tokenizer.ggml.tokens missing or not strings");
  check_limit(f.path + ": tokenizer.ggml.tokens (tokens)", tokens->count, "vocab-size");
  v.pieces = tokens->strs;
  if (const gguf::Value* s = f.find("tokenizer.ggml.scores"))
    for (size_t k = 0; k < s->count && s->elem_type != gguf::ValueType::string; ++k) v.scores.push_back(float(s->number(k)));
  if (const gguf::Value* t = f.find("tokenizer.ggml.token_type"))
    for (int64_t x : t->ints) v.types.push_back(int32_t(x));
  if (const gguf::Value* mg = f.find("tokenizer.ggml.merges")) v.merges = mg->strs;
  if (!v.scores.empty() && v.scores.size() != v.pieces.size()) fail_model(f.path + ": tokenizer scores and tokens differ in count");
  if (!v.types.empty() && v.types.size() != v.pieces.size()) fail_model(f.path + ": tokenizer token types and tokens differ in count");
  int64_t n = int64_t(v.pieces.size());
  auto id = [&](const char* key, int64_t def) {
    int64_t x = f.get_int(key, def);
    if (x < -1 || x >= n) fail_model(f.path + ": " + key + " = " + std::to_string(x) + " is not a token id");  // -1: none
    return int32_t(x);
  };
  v.bos = id("tokenizer.ggml.bos_token_id", v.kind == Vocab::Kind::spm ? 1 : -1);
  v.eos = id("tokenizer.ggml.eos_token_id", v.kind == Vocab::Kind::spm ? 2 : -1);
  v.unk = id("tokenizer.ggml.unknown_token_id", v.kind == Vocab::Kind::spm ? 0 : -1);
  if (const gguf::Value* b = f.find("tokenizer.ggml.add_bos_token")) v.add_bos = b->i != 0;
  else v.add_bos = v.kind == Vocab::Kind::spm;
  if (const gguf::Value* s = f.find("tokenizer.ggml.add_space_prefix")) v.add_space_prefix = s->i != 0;
  v.pre = f.get_string("tokenizer.ggml.pre", "");
  v.chat_template = f.get_string("tokenizer.chat_template", "");
}

std::unique_ptr<Model> load_gguf_model(const std::string& path) {
  auto file = gguf::File::open(path);
  auto m = std::make_unique<Model>();
  m->path = path;
  m->owners.push_back(file);
  ModelConfig& c = m->config;
  c.arch = file->get_string("general.architecture");
  const ArchSpec* spec = find_arch(c.arch);
  if (!spec) fail_unsupported(path + ": architecture '" + c.arch + "' (pareto runs: " + arch_names() + ")");
  const std::string a = c.arch + ".";
  c.dim = file->get_int(a + "embedding_length");
  c.n_layers = file->get_int(a + "block_count");
  c.n_heads = file->get_int(a + "attention.head_count");
  c.n_kv_heads = file->get_int(a + "attention.head_count_kv", c.n_heads);
  c.ffn_dim = file->get_int(a + "feed_forward_length");
  c.ctx_len = file->get_int(a + "context_length", 2048);
  c.rms_eps = float(file->get_float(a + "attention.layer_norm_rms_epsilon", 1e-5));
  c.rope_base = float(file->get_float(a + "rope.freq_base", 10000.0));
  c.rope_neox = spec->rope_neox;
  if (c.dim <= 0 || c.n_layers <= 0 || c.n_layers > 4096 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.ffn_dim <= 0 || c.dim % c.n_heads ||
      c.n_heads % c.n_kv_heads)
    fail_model(path + ": inconsistent hyper-parameters (dim " + std::to_string(c.dim) + ", heads " + std::to_string(c.n_heads) + "/" +
               std::to_string(c.n_kv_heads) + ", layers " + std::to_string(c.n_layers) + ")");
  c.head_dim = file->get_int(a + "attention.key_length", c.dim / c.n_heads);
  // Bounded before the products below (q_dim, KV rows) are formed.
  if (c.head_dim <= 0 || c.head_dim > 8192 || c.n_heads > 65536 || c.dim > (int64_t(1) << 20) || c.ffn_dim > (int64_t(1) << 22))
    fail_model(path + ": hyper-parameters out of range (head dim " + std::to_string(c.head_dim) + ", heads " + std::to_string(c.n_heads) +
               ", dim " + std::to_string(c.dim) + ", ffn " + std::to_string(c.ffn_dim) + ")");
  c.rope_dims = file->get_int(a + "rope.dimension_count", c.head_dim);
  if (c.rope_dims <= 0 || c.rope_dims > c.head_dim || c.rope_dims % 2) fail_model(path + ": rope.dimension_count " + std::to_string(c.rope_dims) + " is invalid");
  load_gguf_vocab(*file, m->vocab);
  const gguf::TensorInfo* emb = file->tensor("token_embd.weight");
  if (!emb || emb->ne.size() != 2) fail_model(path + ": missing or mis-shaped tensor 'token_embd.weight'");
  c.vocab = file->get_int(a + "vocab_size", emb->ne[1]);
  if (c.vocab <= 0) fail_model(path + ": vocab_size " + std::to_string(c.vocab) + " is not positive");
  check_limit(path + ": the vocabulary (tokens)", uint64_t(c.vocab), "vocab-size");
  if (!m->vocab.pieces.empty() && int64_t(m->vocab.pieces.size()) != c.vocab)
    fail_model(path + ": the tokenizer has " + std::to_string(m->vocab.pieces.size()) + " tokens, the model " + std::to_string(c.vocab));
  Binder b(*file, *m);
  int64_t q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;
  m->token_embd = b.matrix("token_embd.weight", c.vocab, c.dim);
  m->output_norm = f32_vector(b.vector("output_norm.weight", c.dim), c.dim);
  m->output = b.matrix("output.weight", c.vocab, c.dim, true);
  if (!m->output.data) m->output = m->token_embd;  // tied embeddings
  for (int64_t l = 0; l < c.n_layers; ++l) {
    std::string p = "blk." + std::to_string(l) + ".";
    LayerWeights w;
    w.attn_norm = f32_vector(b.vector(p + "attn_norm.weight", c.dim), c.dim);
    w.wq = b.matrix(p + "attn_q.weight", q_dim, c.dim);
    w.wk = b.matrix(p + "attn_k.weight", kv_dim, c.dim);
    w.wv = b.matrix(p + "attn_v.weight", kv_dim, c.dim);
    w.wo = b.matrix(p + "attn_output.weight", c.dim, q_dim);
    w.ffn_norm = f32_vector(b.vector(p + "ffn_norm.weight", c.dim), c.dim);
    w.w_gate = b.matrix(p + "ffn_gate.weight", c.ffn_dim, c.dim);
    w.w_up = b.matrix(p + "ffn_up.weight", c.ffn_dim, c.dim);
    w.w_down = b.matrix(p + "ffn_down.weight", c.dim, c.ffn_dim);
    if (spec->qkv_bias) {
      w.bq = b.vector(p + "attn_q.bias", q_dim);
      w.bk = b.vector(p + "attn_k.bias", kv_dim);
      w.bv = b.vector(p + "attn_v.bias", kv_dim);
    }
    m->layers.push_back(w);
  }
  return m;
}

Vocab load_gguf_vocab_file(const std::string& path) {
  auto file = gguf::File::open(path);
  Vocab v;
  load_gguf_vocab(*file, v);
  return v;
}

std::unique_ptr<Model> Model::load(const std::string& path, const std::string& tokenizer_path) {
  auto f = MappedFile::open(path);
  bool is_gguf = f->size() >= 4 && std::memcmp(f->data(), "GGUF", 4) == 0;
  if (is_gguf) {
    auto m = load_gguf_model(path);
    if (!tokenizer_path.empty()) load_llama2c_tokenizer(tokenizer_path, m->config.vocab, m->vocab);
    return m;
  }
  return load_llama2c_model(path, tokenizer_path);
}

}  // namespace pareto::llm
