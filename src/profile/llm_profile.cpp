#include "profile/llm_profile.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <random>

#include "core/error.h"
#include "core/file.h"
#include "kernels/llm_ops.h"
#include "kernels/quant_formats.h"

namespace pareto::profile {

std::string weight_precision(uint32_t type, int64_t cols) {
  using kernels::GgmlType;
  if (type == uint32_t(GgmlType::f32)) return "fp32";
  if (type == uint32_t(GgmlType::f16)) return "fp16";
  if (type == uint32_t(GgmlType::bf16)) return "bf16";
  const size_t row = kernels::ggml_row_size(type, cols);
  // q8_0 stores 8.5 bits per weight, q6_K 6.56: the line sits between.
  return cols > 0 && double(row) * 8 / double(cols) >= 7.5 ? "int8" : "int4w";
}

namespace {

// Names for the forward pass's activation buffers: the cache model needs
// them to be the same memory from stage to stage (their addresses are the
// transformer's own); these small ids cannot collide with real addresses.
// The KV cache: rows written (per layer) and the layer's rows read by
// attention have ids of their own, so the reads count as state first
// touched in the pass (their reuse distance is the whole pass: every other
// layer's weights stream between two reads of one layer's cache).
enum Buffer : uintptr_t { x_buf = 1, xb_buf, q_buf, k_buf, v_buf, att_buf, gate_buf, up_buf, logits_buf, kv_write = 4096, kv_read = 8192 };

double kv_bytes_per_value(llm::KvType kv, int64_t head_dim) {
  if (kv == llm::KvType::f32) return 4;
  if (kv == llm::KvType::f16) return 2;
  return double(kernels::q8kv_row_bytes(head_dim)) / double(head_dim);
}

uint64_t matrix_bytes(const kernels::WeightMatrix& w) { return uint64_t(w.rows) * kernels::ggml_row_size(w.type, w.cols); }

void read(OpRecord& r, uintptr_t id, double bytes, AccessKind kind = AccessKind::activation) {
  r.cost.accesses.push_back({id, uint64_t(bytes), kind, false});
}
void write(OpRecord& r, uintptr_t id, double bytes, AccessKind kind = AccessKind::activation) {
  r.cost.accesses.push_back({id, uint64_t(bytes), kind, true});
}

void count_matmul(OpRecord& r, const kernels::WeightMatrix& w, uintptr_t in, uintptr_t out, int64_t n) {
  r.cost.precision = weight_precision(w.type, w.cols);
  r.cost.macs = uint64_t(n) * uint64_t(w.rows) * uint64_t(w.cols);
  read(r, in, double(n) * double(w.cols) * 4);
  read(r, reinterpret_cast<uintptr_t>(w.data), double(matrix_bytes(w)), AccessKind::weight);
  write(r, out, double(n) * double(w.rows) * 4);
}

}  // namespace

OpRecord count_llm_stage(const llm::ModelConfig& c, llm::KvType kv, const llm::Transformer::StageEvent& e) {
  OpRecord r;
  const std::string stage = e.stage;
  r.op = stage;
  r.name = (e.layer >= 0 ? "L" + std::to_string(e.layer) + "." : std::string()) + stage;
  r.seconds = e.seconds;
  const int64_t n = e.tokens, dim = c.dim, q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;
  const double f = 4;  // activations are f32
  static const std::map<std::string, std::pair<uintptr_t, uintptr_t>> matmul_io = {
      {"wq", {xb_buf, q_buf}}, {"wk", {xb_buf, k_buf}}, {"wv", {xb_buf, v_buf}}, {"wo", {att_buf, xb_buf}},
      {"w_gate", {xb_buf, gate_buf}}, {"w_up", {xb_buf, up_buf}}, {"w_down", {gate_buf, xb_buf}}, {"output", {xb_buf, logits_buf}}};
  if (auto io = matmul_io.find(stage); io != matmul_io.end() && e.weight) {
    count_matmul(r, *e.weight, io->second.first, io->second.second, n);
  } else if (stage == "embed" && e.weight) {
    r.cost.elementwise = uint64_t(n * dim);  // dequantizing the rows
    read(r, reinterpret_cast<uintptr_t>(e.weight->data), double(n) * double(kernels::ggml_row_size(e.weight->type, e.weight->cols)),
         AccessKind::weight);
    write(r, x_buf, double(n * dim) * f);
  } else if (stage == "attn_norm" || stage == "ffn_norm" || stage == "output_norm") {
    r.cost.elementwise = uint64_t(3 * n * dim);  // square-sum, scale, weight
    read(r, x_buf, double(n * dim) * f);
    if (e.weight) read(r, reinterpret_cast<uintptr_t>(e.weight->data), double(dim) * f, AccessKind::weight);
    write(r, xb_buf, double(n * dim) * f);
  } else if (stage == "rope_kv") {
    // Rotating a pair is 4 multiplies and 2 adds: 3 per element of q and k.
    r.cost.elementwise = uint64_t(3 * n * (q_dim + kv_dim));
    read(r, q_buf, double(n * q_dim) * f), read(r, k_buf, double(n * kv_dim) * f), read(r, v_buf, double(n * kv_dim) * f);
    write(r, q_buf, double(n * q_dim) * f);
    write(r, kv_write + uintptr_t(e.layer), double(n) * double(2 * kv_dim) * kv_bytes_per_value(kv, c.head_dim), AccessKind::state);
  } else if (stage == "attention") {
    // Token t of the batch attends to pos + t + 1 positions: q.k and p.v
    // products per head, a softmax over the scores; each KV head is read
    // once per token, or, in the tiled prompt attention, once per block of
    // tokens (up to the block's last position; an estimate: the kernel takes
    // the tiled form only when it has a task per thread).
    uint64_t positions = 0, rows_read = 0;
    for (int64_t t = 0; t < n; ++t) positions += uint64_t(e.pos + t + 1);
    if (n >= llm::kTiledAttentionTokens) {
      for (int64_t b = 0; b < n; b += llm::kQueryBlock) rows_read += uint64_t(e.pos + std::min(n, b + llm::kQueryBlock));
    } else {
      rows_read = positions;
    }
    r.cost.macs = positions * uint64_t(c.n_heads) * uint64_t(c.head_dim) * 2;
    r.cost.elementwise = positions * uint64_t(c.n_heads) * 3;
    read(r, q_buf, double(n * q_dim) * f);
    read(r, kv_read + uintptr_t(e.layer), double(rows_read) * double(2 * kv_dim) * kv_bytes_per_value(kv, c.head_dim), AccessKind::state);
    write(r, att_buf, double(n * q_dim) * f);
  } else if (stage == "silu_mul") {
    r.cost.elementwise = uint64_t(4 * n * c.ffn_dim);  // exp, add, divide, multiply
    read(r, gate_buf, double(n * c.ffn_dim) * f), read(r, up_buf, double(n * c.ffn_dim) * f);
    write(r, gate_buf, double(n * c.ffn_dim) * f);
  } else if (stage == "residual" || stage == "residual_ffn") {
    r.cost.elementwise = uint64_t(n * dim);
    read(r, x_buf, double(n * dim) * f), read(r, xb_buf, double(n * dim) * f);
    write(r, x_buf, double(n * dim) * f);
  }
  return r;
}

namespace {

int32_t argmax(const float* v, int64_t n) { return int32_t(std::max_element(v, v + n) - v); }

// Per-token means of the decode steps, stage by stage (each step has the
// same stages in the same order).
std::vector<OpRecord> mean_of_steps(const std::vector<std::vector<OpRecord>>& steps) {
  std::vector<OpRecord> mean = steps.front();
  const double k = double(steps.size());
  for (size_t i = 0; i < mean.size(); ++i) {
    double seconds = 0, macs = 0, elementwise = 0;
    std::vector<double> bytes(mean[i].cost.accesses.size(), 0);
    for (const auto& s : steps) {
      seconds += s[i].seconds, macs += double(s[i].cost.macs), elementwise += double(s[i].cost.elementwise);
      for (size_t a = 0; a < bytes.size(); ++a) bytes[a] += double(s[i].cost.accesses[a].bytes);
    }
    mean[i].seconds = seconds / k;
    mean[i].cost.macs = uint64_t(macs / k + 0.5);
    mean[i].cost.elementwise = uint64_t(elementwise / k + 0.5);
    for (size_t a = 0; a < bytes.size(); ++a) mean[i].cost.accesses[a].bytes = uint64_t(bytes[a] / k + 0.5);
  }
  return mean;
}

}  // namespace

std::vector<PassProfile> profile_llm(const llm::Model& model, const LlmProfileOptions& o) {
  const llm::ModelConfig& c = model.config;
  const int64_t prompt = std::max<int64_t>(1, o.prompt_tokens), decode = std::max<int64_t>(1, o.decode_tokens);
  if (prompt + decode > c.ctx_len && c.ctx_len > 0)
    fail_argument("profile: " + std::to_string(prompt) + " prompt + " + std::to_string(decode) + " decoded tokens exceed the model's context of " +
                  std::to_string(c.ctx_len));
  std::mt19937 rng(o.seed);
  std::vector<int32_t> tokens(static_cast<size_t>(prompt));
  for (auto& t : tokens) t = int32_t(rng() % uint32_t(c.vocab));
  // Prefill, then greedy decode; `each` runs after every forward pass.
  auto generate = [&](llm::Transformer& tf, double& prefill_s, double& decode_s, const std::function<void()>& each,
                      const std::function<void(const std::function<void()>&)>& around_decode) {
    double t0 = now_seconds();
    int32_t next = argmax(tf.forward(tokens.data(), prompt, 0), c.vocab);
    prefill_s = now_seconds() - t0;
    each();
    around_decode([&] {
      t0 = now_seconds();
      for (int64_t i = 0; i < decode; ++i) {
        next = argmax(tf.forward(&next, 1, prompt + i), c.vocab);
        each();
      }
      decode_s = now_seconds() - t0;
    });
  };
  auto plain = [](const std::function<void()>& f) { f(); };
  // Once untimed: the first pass pays for page faults on the weights and
  // the buffers, and for the thread pool waking.
  double prefill_s = 0, decode_s = 0;
  {
    llm::Transformer tf(model, prompt + decode, o.kv);
    generate(tf, prefill_s, decode_s, [] {}, plain);
  }
  // Timed (and metered) with no stage recording: the latency and energy.
  {
    llm::Transformer tf(model, prompt + decode, o.kv);
    generate(tf, prefill_s, decode_s, [] {}, o.around_decode ? o.around_decode : plain);
  }
  // The same again, every stage timed: the per-stage split. The hook only
  // keeps the events; they are counted after each forward pass.
  std::vector<llm::Transformer::StageEvent> events;
  events.reserve(size_t(32 * c.n_layers + 16));
  std::vector<std::vector<OpRecord>> passes;
  llm::Transformer tf(model, prompt + decode, o.kv);
  tf.stage_hook = [&](const llm::Transformer::StageEvent& e) { events.push_back(e); };
  double unused_prefill = 0, unused_decode = 0;
  generate(tf, unused_prefill, unused_decode, [&] {
    std::vector<OpRecord> ops;
    for (const auto& e : events) ops.push_back(count_llm_stage(c, o.kv, e));
    passes.push_back(std::move(ops));
    events.clear();
  }, plain);
  PassProfile prefill{"prefill", "token", double(prompt), prefill_s, std::move(passes.front())};
  passes.erase(passes.begin());
  PassProfile dec{"decode", "token", 1, decode_s / double(decode), mean_of_steps(passes)};
  return {std::move(dec), std::move(prefill)};
}

}  // namespace pareto::profile
