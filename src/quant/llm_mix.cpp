#include "quant/llm_mix.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iterator>

#include "core/error.h"
#include "core/split.h"
#include "core/thread_pool.h"
#include "kernels/pareto_formats.h"
#include "kernels/quant_formats.h"
#include "llm/repack.h"
#include "llm/tokenizer.h"
#include "llm/transformer.h"
#include "quant/awq.h"
#include "quant/calibration.h"
#include "quant/gptq.h"
#include "quant/quantize_gguf.h"

namespace pareto::quant {

namespace {

const char* const kLayerKinds[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

kernels::WeightMatrix& layer_matrix(llm::LayerWeights& l, size_t kind) {
  kernels::WeightMatrix* m[] = {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down};
  return *m[kind];
}

bool tied(const llm::Model& m) { return m.output.data == m.token_embd.data; }

// The matrices of `m` that tensor t is: two when the output is tied to the embedding.
std::vector<kernels::WeightMatrix*> slots(llm::Model& m, const MixTensor& t) {
  if (t.kind == "token_embd") return tied(m) ? std::vector{&m.token_embd, &m.output} : std::vector{&m.token_embd};
  if (t.kind == "output") return {&m.output};
  for (size_t k = 0; k < std::size(kLayerKinds); ++k)
    if (t.kind == kLayerKinds[k]) return {&layer_matrix(m.layers[size_t(t.layer)], k)};
  fail(StatusCode::internal, "unknown tensor kind " + t.kind);
}

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// log-softmax of one row into out (float); returns the argmax.
int32_t log_softmax(const float* x, int64_t n, float* out) {
  int64_t arg = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[arg]) arg = i;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(double(x[i]) - x[arg]);
  const double lse = double(x[arg]) + std::log(sum);
  for (int64_t i = 0; i < n; ++i) out[i] = float(double(x[i]) - lse);
  return int32_t(arg);
}

// Runs `tr` over each evaluation chunk (its first token replaced by BOS, as
// llama.cpp's perplexity does) and calls f(row, logits, next token) for the
// scored second half.
template <class F>
void for_each_scored(llm::Transformer& tr, const std::vector<int32_t>& tokens, int64_t ctx, int64_t chunks, int32_t bos, F&& f) {
  const int64_t first = ctx / 2, rows = ctx - 1 - first, vocab = tr.model().config.vocab;
  std::vector<int32_t> chunk(static_cast<size_t>(ctx));
  for (int64_t c = 0; c < chunks; ++c) {
    std::copy(tokens.begin() + c * ctx, tokens.begin() + (c + 1) * ctx, chunk.begin());
    chunk[0] = bos;
    const float* logits = tr.forward(chunk.data(), ctx, 0, true);
    for (int64_t t = first; t < ctx - 1; ++t) f(c * rows + (t - first), logits + t * vocab, chunk[size_t(t + 1)]);
  }
}

// The activation a layer matrix reads.
llm::MatmulInput input_of(const std::string& kind) {
  if (kind == "attn_q" || kind == "attn_k" || kind == "attn_v") return llm::MatmulInput::attn;
  if (kind == "attn_output") return llm::MatmulInput::attn_out;
  if (kind == "ffn_gate" || kind == "ffn_up") return llm::MatmulInput::ffn;
  return llm::MatmulInput::down;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

bool awq_writes(uint32_t type) {
  return type != uint32_t(kernels::GgmlType::f32) && type != uint32_t(kernels::GgmlType::f16) && type != uint32_t(kernels::GgmlType::bf16);
}

bool in_attention_block(const MixTensor& t) { return t.kind.rfind("attn_", 0) == 0; }

std::string type_name(uint32_t choice) {
  const uint32_t type = type_of(choice);
  const std::string method = is_gptq(choice) ? "+gptq" : is_awq(choice) ? "+awq" : "";
  if (kernels::is_group_type(type) || type == kernels::kQ8RowType) return kernels::pareto_type_name(type) + method;
  std::string n = kernels::ggml_type_traits(type).name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return n + method;
}

uint32_t choice_by_name(const std::string& name) {
  const size_t awq = name.rfind("+awq");
  if (awq != std::string::npos && awq + 4 == name.size()) {
    const uint32_t type = type_by_name(name.substr(0, awq));
    if (!awq_writes(type)) fail_argument("AWQ rounds to quantized types, not " + name.substr(0, awq));
    return type | kAwqMethod;
  }
  const size_t plus = name.rfind("+gptq");
  if (plus == std::string::npos || plus + 5 != name.size()) return type_by_name(name);
  const uint32_t type = type_by_name(name.substr(0, plus));
  if (!gptq_writes(type)) fail_argument("GPTQ does not write " + name.substr(0, plus) + " (it writes q4_0, q4_1, q8_0, q2_k .. q6_k and pareto's group types)");
  return type | kGptqMethod;
}

std::vector<uint32_t> parse_type_list(const std::string& list) {
  std::vector<uint32_t> types;
  for (const std::string& name : split_at(list, ',')) {
    if (name.empty()) fail_argument("empty name in the type list '" + list + "'");
    const uint32_t t = type_by_name(name);
    if (std::find(types.begin(), types.end(), t) != types.end()) fail_argument("type '" + name + "' listed twice");
    types.push_back(t);
  }
  return types;
}

MixLab::MixLab(const std::string& path, const std::string& text, int64_t ctx, int64_t max_chunks, uint64_t memory_bytes)
    : store_(memory_bytes), ctx_(ctx) {
  if (path.size() < 5 || path.compare(path.size() - 5, 5, ".gguf") != 0) fail_argument(path + ": tune writes GGUF, so the base model must be a .gguf file");
  if (ctx < 8) fail_argument("the evaluation context must be at least 8 tokens");
  base_ = llm::Model::load(path);
  llm::Model& m = *base_;
  if (m.vocab.pieces.empty()) fail_argument(path + ": no tokenizer in the file");
  auto add = [&](const std::string& name, int64_t layer, const std::string& kind, const kernels::WeightMatrix& w) {
    tensors_.push_back({name, layer, kind, w.rows, w.cols, w.type});
    numel_ += w.rows * w.cols;
  };
  add("token_embd.weight", -1, "token_embd", m.token_embd);
  for (size_t l = 0; l < m.layers.size(); ++l)
    for (size_t k = 0; k < std::size(kLayerKinds); ++k)
      add("blk." + std::to_string(l) + "." + kLayerKinds[k] + ".weight", int64_t(l), kLayerKinds[k], layer_matrix(m.layers[l], k));
  if (!tied(m)) add("output.weight", -1, "output", m.output);
  // The reference runs as candidates do: repacked, once; candidates start
  // from this copy (build() quantizes from base_'s own layout).
  prepared_ = std::make_shared<llm::Model>(m);
  prepare(*prepared_);
  measure_base(text, max_chunks);
}

MixLab::MixLab(const MixLab& other, const std::string& text, int64_t ctx, int64_t max_chunks)
    : base_(other.base_), prepared_(other.prepared_), tensors_(other.tensors_), store_(0), ctx_(ctx), numel_(other.numel_), measures_only_(true) {
  if (ctx < 8) fail_argument("the evaluation context must be at least 8 tokens");
  measure_base(text, max_chunks);
}

void MixLab::measure_base(const std::string& text, int64_t max_chunks) {
  const llm::Model& m = *base_;
  llm::Tokenizer tok(m.vocab);
  bos_ = tok.bos();
  tokens_ = tok.encode(text, true);
  chunks_ = int64_t(tokens_.size()) / ctx_;
  if (max_chunks > 0) chunks_ = std::min(chunks_, max_chunks);
  if (chunks_ < 1) fail_argument("the evaluation text has " + std::to_string(tokens_.size()) + " tokens, fewer than one chunk of " + std::to_string(ctx_));
  const int64_t rows = ctx_ - 1 - ctx_ / 2, vocab = m.config.vocab;
  scored_ = chunks_ * rows;
  // The base log-probabilities stay in memory for every comparison: bound them.
  const double need = double(scored_) * double(vocab) * sizeof(float);
  if (need > double(kMaxBaseLogitBytes))
    fail_argument("keeping the base model's log-probabilities of " + std::to_string(scored_) + " scored tokens x " + std::to_string(vocab) +
                  " vocabulary entries needs " + std::to_string(int64_t(need / (1 << 20))) + " MiB, above " +
                  std::to_string(kMaxBaseLogitBytes >> 20) + " MiB: evaluate fewer chunks (--chunks) or a shorter text");
  base_logp_.resize(size_t(scored_ * vocab));
  base_argmax_.resize(size_t(scored_));
  llm::Transformer tr(*prepared_, ctx_);
  double nll = 0;
  for_each_scored(tr, tokens_, ctx_, chunks_, bos_, [&](int64_t row, const float* logits, int32_t next) {
    float* lp = base_logp_.data() + row * vocab;
    base_argmax_[size_t(row)] = log_softmax(logits, vocab, lp);
    nll -= lp[next];
  });
  ppl_base_ = std::exp(nll / double(scored_));
}

MixLab::~MixLab() = default;

std::string MixLab::calibrate(const std::string& text, int64_t tokens) {
  if (tokens < 16 || tokens > (int64_t(1) << 20)) fail_argument("calibration tokens must be 16 to 1048576");
  llm::Tokenizer tok(base_->vocab);
  // As `pareto quantize --method gptq` calibrates (calibrate_model): 512-token sequences, the same source.
  CalibrationSource src;
  src.text = text;
  src.tokens = tokens;
  src.ctx = 512;
  const CalibrationSequences seq = calibration_sequences(*base_, tok, src);
  const int64_t n = seq.count;
  calib_ctx_ = seq.ctx;
  const llm::ModelConfig& c = base_->config;
  const double per_token = double(c.n_layers) * double(2 * c.dim + c.n_heads * c.head_dim + c.ffn_dim) * sizeof(float);
  if (per_token * double(n) > kMaxCalibrationBytes)
    fail_argument("the calibration activations (GPTQ, AWQ) of " + std::to_string(n) + " tokens need " + std::to_string(int64_t(per_token * double(n)) >> 20) +
                  " MiB, above " + std::to_string(int64_t(kMaxCalibrationBytes) >> 20) + " MiB: calibrate on fewer tokens");
  // New inputs: factors and GPTQ bytes built from the old ones are stale.
  factors_.clear();
  store_.erase_if([](const SpillStore::Key& k) { return (uint32_t(k.second) & kMethods) != 0; });
  awq_folds_.clear();
  fell_back_.clear();
  acts_.assign(base_->layers.size(), std::vector<std::vector<float>>(4));
  for (auto& layer : acts_) {
    layer[size_t(llm::MatmulInput::attn)].reserve(size_t(n * c.dim));
    layer[size_t(llm::MatmulInput::attn_out)].reserve(size_t(n * c.n_heads * c.head_dim));
    layer[size_t(llm::MatmulInput::ffn)].reserve(size_t(n * c.dim));
    layer[size_t(llm::MatmulInput::down)].reserve(size_t(n * c.ffn_dim));
  }
  // The forward pass on the Q8_0 copy calibrate_model runs for F16/BF16 weights (the same activations, ~5x faster).
  const std::unique_ptr<llm::Model> fast = int8_forward_copy(*base_);
  // The model as loaded, as calibrate_model runs it (the repacked copy's kernels round activations otherwise).
  llm::Transformer tr(fast ? *fast : *base_, seq.ctx);
  tr.input_hook = [&](int64_t l, llm::MatmulInput which, const float* x, int64_t rows, int64_t cols) {
    std::vector<float>& a = acts_[size_t(l)][size_t(which)];
    a.insert(a.end(), x, x + rows * cols);
  };
  for (int64_t s = 0; s < n; s += seq.ctx) tr.forward(seq.tokens.data() + s, seq.ctx, 0, false);
  return seq.what + (fast ? ", forward pass on a Q8_0 copy of the weights" : "") + ", " + std::to_string(n) + " tokens";
}

bool MixLab::allows(size_t i, uint32_t choice) const {
  if (is_gptq(choice) && is_awq(choice)) return false;
  if (is_awq(choice)) return calibrated() && tensors_.at(i).layer >= 0 && awq_writes(type_of(choice));
  if (!is_gptq(choice)) return true;
  return calibrated() && tensors_.at(i).layer >= 0 && gptq_writes(stored_type(i, choice));
}

uint32_t MixLab::stored_type(size_t i, uint32_t type) const { return storage_type(type_of(type), tensors_.at(i).cols); }

uint64_t MixLab::bytes(size_t i, uint32_t type) const {
  const MixTensor& t = tensors_.at(i);
  return uint64_t(kernels::ggml_row_size(stored_type(i, type), t.cols)) * uint64_t(t.rows);
}

uint64_t MixLab::bytes(const Mix& mix) const {
  uint64_t b = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) b += bytes(i, mix.at(i));
  return b;
}

double MixLab::bpw(const Mix& mix) const { return 8.0 * double(bytes(mix)) / double(numel_); }

uint64_t MixLab::matrix_bytes(const llm::Model& m) {
  uint64_t b = 0;
  auto add = [&](const kernels::WeightMatrix& w) { b += uint64_t(kernels::ggml_row_size(w.type, w.cols)) * uint64_t(w.rows); };
  add(m.token_embd);
  for (const llm::LayerWeights& l : m.layers)
    for (const kernels::WeightMatrix* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) add(*w);
  if (!tied(m)) add(m.output);
  return b;
}

Mix MixLab::source_mix() const {
  Mix m;
  for (const MixTensor& t : tensors_) m.push_back(t.source_type);
  return m;
}

std::unique_ptr<llm::Model> MixLab::build(const Mix& mix) {
  if (measures_only_) fail(StatusCode::internal, "a lab sharing another's base model measures models; it does not build them");
  if (mix.size() != tensors_.size()) fail(StatusCode::internal, "a mix names " + std::to_string(mix.size()) + " types for " + std::to_string(tensors_.size()) + " tensors");
  auto m = std::make_unique<llm::Model>(*prepared_);
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const MixTensor& t = tensors_[i];
    const uint32_t type = stored_type(i, mix[i]);
    if (type == t.source_type && !(mix[i] & kMethods)) continue;
    const std::shared_ptr<const std::string> buf = buffer(i, mix[i]);
    m->owners.push_back(buf);
    // Only the new matrix is repacked: the others are the prepared copy's.
    std::vector<kernels::WeightMatrix*> views = slots(*m, t);
    *views[0] = kernels::WeightMatrix{type, buf->data(), t.rows, t.cols, nullptr};
    // An untied embedding is only looked up by rows: it stays unpacked, as repack_for_cpu leaves it.
    if (t.kind != "token_embd" || views.size() > 1) llm::repack_matrix_for_cpu(*m, *views[0], false);
    for (kernels::WeightMatrix* w : views) *w = *views[0];  // a tied output follows
  }
  set_awq_folds(*m, mix);
  return m;
}

void MixLab::set_awq_folds(llm::Model& m, const Mix& mix) {
  // The choice of each (layer, block): AWQ only when all its matrices agree.
  std::map<std::pair<int64_t, bool>, std::set<uint32_t>> choices;
  for (size_t i = 0; i < tensors_.size(); ++i)
    if (tensors_[i].layer >= 0) choices[{tensors_[i].layer, in_attention_block(tensors_[i])}].insert(mix[i]);
  for (const auto& [block, set] : choices) {
    if (std::none_of(set.begin(), set.end(), [](uint32_t c) { return is_awq(c); })) continue;
    if (set.size() != 1)
      fail(StatusCode::internal, "AWQ is chosen per layer block: layer " + std::to_string(block.first) + "'s " +
                                     (block.second ? "attention" : "MLP") + " block mixes it with other choices");
    const AwqFold f = awq_fold(block.first, block.second, type_of(*set.begin()));
    llm::LayerWeights& w = m.layers[size_t(block.first)];
    (block.second ? w.attn_norm : w.ffn_norm).data = f.norm->data();
    m.owners.push_back(f.norm);
    if (block.second && f.v_bias) {
      w.bv = f.v_bias->data();
      m.owners.push_back(f.v_bias);
    }
  }
}

MixLab::AwqFold MixLab::awq_fold(int64_t layer, bool attention, uint32_t type) {
  const auto key = std::make_tuple(layer, attention, type);
  if (!awq_folds_.count(key)) (void)awq_block_bytes(layer, attention, type, tensors_.size());
  return awq_folds_.at(key);
}

std::string MixLab::awq_block_bytes(int64_t layer, bool attention, uint32_t type, size_t skip) {
  if (!calibrated()) fail(StatusCode::internal, "AWQ needs the calibration activations");
  const llm::ModelConfig& c = base_->config;
  CalibratedLayer y = copy_layer(base_->layers[size_t(layer)], c.dim);
  // The block's inputs as calibrate_model keeps them: statistics over every
  // token, the rows of the first error tokens.
  const CalibratedOptions defaults;  // as `pareto quantize --method awq` runs it
  const int64_t error_tokens = std::max<int64_t>(calib_ctx_, defaults.error_tokens / calib_ctx_ * calib_ctx_);
  std::vector<Activations> acts(4);
  for (llm::MatmulInput in : {llm::MatmulInput::attn, llm::MatmulInput::attn_out, llm::MatmulInput::ffn, llm::MatmulInput::down}) {
    const bool attention_input = in == llm::MatmulInput::attn || in == llm::MatmulInput::attn_out;
    if (attention_input != attention) continue;
    const std::vector<float>& rows = acts_[size_t(layer)][size_t(in)];
    const int64_t cols = in == llm::MatmulInput::down ? c.ffn_dim : in == llm::MatmulInput::attn_out ? c.n_heads * c.head_dim : c.dim;
    Activations& a = acts[size_t(in)];
    a.keep = error_tokens;
    a.add(rows.data(), int64_t(rows.size()) / cols, cols);
  }
  awq_block(c, y, acts, calib_ctx_, error_tokens, attention, type, defaults.grid, true);
  AwqFold fold;
  fold.norm = std::make_shared<const std::vector<float>>(attention ? y.attn_norm : y.ffn_norm);
  if (attention && !y.bv.empty()) fold.v_bias = std::make_shared<const std::vector<float>>(y.bv);
  awq_folds_[std::make_tuple(layer, attention, type)] = fold;
  std::string skipped;
  bool found = false;
  for (const NamedMatrix& nm : layer_matrices(y)) {
    const std::string name = "blk." + std::to_string(layer) + "." + nm.name;
    const auto it = std::find_if(tensors_.begin(), tensors_.end(), [&](const MixTensor& t) { return t.name == name; });
    if (it == tensors_.end() || in_attention_block(*it) != attention) continue;
    const size_t i = size_t(it - tensors_.begin());
    const Matrix& w = *nm.matrix;
    std::string bytes = round_rows(stored_type(i, type), w.w.data(), w.rows, w.cols);  // as write_calibrated rounds them
    if (i == skip) skipped = std::move(bytes), found = true;
    else (void)store_.get({i, store_key(i, type | kAwqMethod)}, [&] { return std::move(bytes); });
  }
  if (!found && skip < tensors_.size()) fail(StatusCode::internal, tensors_[skip].name + " is not in the block AWQ ran on");
  return skipped;
}

std::shared_ptr<const std::string> MixLab::matrix_bytes(size_t i, uint32_t choice) { return buffer(i, choice); }

// Rounding and GPTQ depend on the type stored; AWQ on the type its scales
// were searched for, two of which may store alike (a tail-group fallback).
uint32_t MixLab::store_key(size_t i, uint32_t choice) const { return (is_awq(choice) ? type_of(choice) : stored_type(i, choice)) | (choice & kMethods); }

std::shared_ptr<const std::string> MixLab::buffer(size_t i, uint32_t choice) {
  if (!allows(i, choice)) fail(StatusCode::internal, tensors_.at(i).name + " cannot be built as " + type_name(choice));
  return store_.get({i, store_key(i, choice)}, [&] { return quantize(i, choice); });
}

std::string MixLab::quantize(size_t i, uint32_t choice) {
  const MixTensor& t = tensors_.at(i);
  const uint32_t type = stored_type(i, choice);
  const kernels::WeightMatrix& src = *slots(*base_, t)[0];
  const size_t in_row = kernels::ggml_row_size(t.source_type, t.cols), out_row = kernels::ggml_row_size(type, t.cols);
  const auto* in = static_cast<const uint8_t*>(src.data);
  const int64_t cols = t.cols;
  const uint32_t from = t.source_type;
  if (is_awq(choice)) return awq_block_bytes(t.layer, in_attention_block(t), type_of(choice), i);
  if (is_gptq(choice)) {
    std::vector<float> w(size_t(t.rows * cols));
    parallel_for(t.rows, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) kernels::dequantize_row_ref(from, in + size_t(r) * in_row, w.data() + r * cols, cols);
    });
    const std::shared_ptr<const GptqFactor> factor = gptq_factor_of(t.layer, int(input_of(t.kind)), cols);
    GptqResult g = gptq_quantize(w, t.rows, cols, *factor, type);
    if (g.fell_back && fell_back_.insert({i, type}).second)
      notes_.push_back(t.name + " (" + type_name(choice) + "): Cholesky failed at every damping, rounded to nearest");
    return std::move(g.bytes);
  }
  std::string buf(out_row * size_t(t.rows), '\0');
  char* out = buf.data();
  parallel_for(t.rows, [&](int64_t r0, int64_t r1) {
    std::vector<float> row(static_cast<size_t>(cols));
    for (int64_t r = r0; r < r1; ++r) {
      kernels::dequantize_row_ref(from, in + size_t(r) * in_row, row.data(), cols);
      kernels::quantize_row_ref(type, row.data(), out + size_t(r) * out_row, cols);
    }
  });
  return buf;
}

std::shared_ptr<const GptqFactor> MixLab::gptq_factor_of(int64_t layer, int which, int64_t cols) {
  ++factor_clock_;
  for (KeptFactor& k : factors_)
    if (k.layer == layer && k.which == which) {
      k.last_use = factor_clock_;
      return k.factor;
    }
  auto factor = std::make_shared<const GptqFactor>(gptq_factor(acts_[size_t(layer)][size_t(which)], cols));
  ++factors_computed_;
  size_t kept = factor->bytes();
  for (const KeptFactor& k : factors_) kept += k.factor->bytes();
  while (kept > kMaxFactorBytes && !factors_.empty()) {  // drop the least recently used
    auto oldest = std::min_element(factors_.begin(), factors_.end(), [](const KeptFactor& a, const KeptFactor& b) { return a.last_use < b.last_use; });
    kept -= oldest->factor->bytes();
    factors_.erase(oldest);
  }
  if (kept <= kMaxFactorBytes) factors_.push_back({layer, which, factor, factor_clock_});
  return factor;
}

MixQuality MixLab::quality(const Mix& mix) { return quality(*build(mix)); }

double MixLab::matvec_ms(size_t i, uint32_t choice, int reps) {
  const MixTensor& t = tensors_.at(i);
  Mix one = source_mix();
  one[i] = choice;
  auto m = build(one);
  const std::vector<kernels::WeightMatrix*> views = slots(*m, t);
  if (t.kind == "token_embd" && views.size() == 1) return 0;
  const kernels::WeightMatrix& w = *views.back();
  std::vector<float> x(size_t(t.cols)), y(size_t(t.rows));
  for (int64_t c = 0; c < t.cols; ++c) x[size_t(c)] = float((c * 37) % 19) / 19.0f - 0.5f;  // any activation: the time does not depend on it
  std::vector<double> ms;
  for (int r = 0; r < reps + 1; ++r) {  // the first warms the cache as a decode step's previous token would not: dropped
    const double t0 = now_s();
    kernels::matmul_weights(w, x.data(), 1, y.data());
    if (r > 0) ms.push_back((now_s() - t0) * 1e3);
  }
  return median_of(ms);
}

void MixLab::prepare(llm::Model& model) { llm::repack_for_cpu(model, false); }

MixQuality MixLab::quality(const llm::Model& model, llm::KvType kv) {
  const llm::ModelConfig &cb = base_->config, &cm = model.config;
  if (cb.vocab != cm.vocab || cb.n_layers != cm.n_layers || cb.dim != cm.dim)
    fail_argument(model.path + ": differs from the base model in shape (vocab, layers or width)");
  const int64_t vocab = cb.vocab;
  llm::Transformer tr(model, ctx_, kv);
  std::vector<float> lq(static_cast<size_t>(vocab));
  double kl = 0, nll = 0;
  int64_t agree = 0;
  for_each_scored(tr, tokens_, ctx_, chunks_, bos_, [&](int64_t row, const float* logits, int32_t next) {
    const float* lb = base_logp_.data() + row * vocab;
    agree += log_softmax(logits, vocab, lq.data()) == base_argmax_[size_t(row)];
    nll -= lq[size_t(next)];
    double k = 0;
    for (int64_t i = 0; i < vocab; ++i) k += std::exp(double(lb[i])) * (double(lb[i]) - double(lq[size_t(i)]));
    kl += k;
  });
  const double n = double(scored_);
  // A candidate whose logits overflow is as bad as it gets, not lossless (std::max(0, NaN) is 0).
  if (!std::isfinite(kl) || !std::isfinite(nll)) return {HUGE_VAL, HUGE_VAL, double(agree) / n};
  // KL is never negative; a sum of rounded terms can be, by a hair.
  return {std::max(0.0, kl / n), std::exp(nll / n), double(agree) / n};
}

MixSpeed MixLab::time(llm::Model& model, int threads, int prompt, int decode, int runs, llm::KvType kv) {
  if (prompt < 1 || decode < 1 || runs < 1) fail_argument("timing needs a prompt, decoded tokens and runs of at least 1");
  ThreadPool pool(threads);
  PoolScope scope(&pool);
  llm::Transformer tr(model, prompt + decode + 1, kv);
  const int64_t vocab = model.config.vocab;
  std::vector<int32_t> tokens(static_cast<size_t>(prompt));
  for (int i = 0; i < prompt; ++i) tokens[size_t(i)] = int32_t((i * 7 + 3) % vocab);  // any valid ids: time does not depend on them
  std::vector<double> prefill, step;
  for (int r = 0; r < runs + 1; ++r) {  // the first run warms caches and pages
    const double t0 = now_s();
    const float* logits = tr.forward(tokens.data(), prompt, 0);
    const double t1 = now_s();
    if (r > 0) prefill.push_back((t1 - t0) * 1e3);
    int32_t next = int32_t(std::max_element(logits, logits + vocab) - logits);
    for (int d = 0; d < decode; ++d) {
      const double s0 = now_s();
      logits = tr.forward(&next, 1, prompt + d);
      next = int32_t(std::max_element(logits, logits + vocab) - logits);
      if (r > 0) step.push_back((now_s() - s0) * 1e3);
    }
  }
  return {median_of(step), median_of(prefill)};
}

}  // namespace pareto::quant
