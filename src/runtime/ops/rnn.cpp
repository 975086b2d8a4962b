// LSTM (ONNX gate order i, o, f, c) on the shared GEMM: the input
// projection for all time steps is one GEMM, the recurrence one per step.
#include <cmath>
#include <cstring>

#include "kernels/gemm.h"
#include "runtime/ops/op_util.h"

namespace pareto::runtime {

namespace {

enum class Act { sigmoid, tanh, relu };

Act parse_act(const OpContext& ctx, const std::string& name) {
  if (name == "Sigmoid") return Act::sigmoid;
  if (name == "Tanh") return Act::tanh;
  if (name == "Relu") return Act::relu;
  ctx.unsupported("activation '" + name + "'");
}

inline float apply(Act a, float x) {
  switch (a) {
    case Act::sigmoid: return x >= 0 ? 1.f / (1.f + std::exp(-x)) : std::exp(x) / (1.f + std::exp(x));
    case Act::tanh: return std::tanh(x);
    case Act::relu: return x > 0 ? x : 0.f;
  }
  return x;
}

void run_lstm(OpContext& ctx) {
  const Tensor& x_in = ctx.in(0);
  const Tensor& w = ctx.in(1);
  const Tensor& r = ctx.in(2);
  if (x_in.dtype() != DType::f32) ctx.unsupported(std::string("LSTM on ") + dtype_name(x_in.dtype()));
  if (x_in.rank() != 3 || w.rank() != 3 || r.rank() != 3) ctx.invalid("X, W and R must be 3-D");
  if (ctx.node.attr_i("input_forget", 0)) ctx.unsupported("input_forget=1");
  int64_t layout = ctx.node.attr_i("layout", 0);
  std::string direction = ctx.node.attr_s("direction", "forward");
  int64_t dirs = direction == "bidirectional" ? 2 : 1;
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional") ctx.invalid("unknown direction '" + direction + "'");
  int64_t seq = layout ? x_in.dim(1) : x_in.dim(0), batch = layout ? x_in.dim(0) : x_in.dim(1), input = x_in.dim(2);
  int64_t hidden = ctx.node.attr_i("hidden_size", r.dim(2));
  if (w.dim(0) != dirs || w.dim(1) != 4 * hidden || w.dim(2) != input) ctx.invalid("W shape " + shape_to_string(w.shape()) + " does not match");
  if (r.dim(0) != dirs || r.dim(1) != 4 * hidden || r.dim(2) != hidden) ctx.invalid("R shape " + shape_to_string(r.shape()) + " does not match");
  std::vector<std::string> act_names;
  if (const ir::Attribute* a = ctx.node.attr("activations")) act_names = a->strings;
  if (act_names.empty())
    for (int64_t d = 0; d < dirs; ++d) act_names.insert(act_names.end(), {"Sigmoid", "Tanh", "Tanh"});
  if (int64_t(act_names.size()) != 3 * dirs) ctx.invalid("activations must list 3 per direction");
  float clip = ctx.node.attr_f("clip", 0.f);
  // X in [seq, batch, input] order.
  Tensor x = x_in;
  if (layout) {
    x = Tensor::empty(DType::f32, {seq, batch, input});
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t t = 0; t < seq; ++t)
        std::memcpy(x.data<float>() + (t * batch + b) * input, x_in.data<float>() + (b * seq + t) * input, sizeof(float) * size_t(input));
  }
  std::vector<int64_t> lens(size_t(batch), seq);
  if (ctx.has(4)) {
    lens = input_ints(ctx, 4);
    if (int64_t(lens.size()) != batch) ctx.invalid("sequence_lens must have one entry per batch");
    for (int64_t l : lens)
      if (l < 0 || l > seq) ctx.invalid("sequence length out of range");
  }
  auto check_state = [&](size_t i) {
    if (ctx.has(i) && ctx.in(i).numel() != dirs * batch * hidden) ctx.invalid("initial state has the wrong size");
  };
  check_state(5);
  check_state(6);
  if (ctx.has(3) && ctx.in(3).numel() != dirs * 8 * hidden) ctx.invalid("B must be [dirs, 8*hidden]");
  if (ctx.has(7) && ctx.in(7).numel() != dirs * 3 * hidden) ctx.invalid("P must be [dirs, 3*hidden]");
  Tensor y = Tensor::zeros(DType::f32, {seq, dirs, batch, hidden});
  Tensor yh = Tensor::empty(DType::f32, {dirs, batch, hidden});
  Tensor yc = Tensor::empty(DType::f32, {dirs, batch, hidden});
  std::vector<float> gates(size_t(seq * batch * 4 * hidden)), rec(size_t(batch * 4 * hidden));
  for (int64_t d = 0; d < dirs; ++d) {
    Act f = parse_act(ctx, act_names[size_t(3 * d)]), g = parse_act(ctx, act_names[size_t(3 * d + 1)]),
        h = parse_act(ctx, act_names[size_t(3 * d + 2)]);
    bool reverse = direction == "reverse" || d == 1;
    kernels::GemmArgs gx;
    gx.trans_b = true;
    gx.m = seq * batch;
    gx.n = 4 * hidden;
    gx.k = input;
    gx.a = x.data<float>();
    gx.lda = input;
    gx.b = w.data<float>() + d * 4 * hidden * input;
    gx.ldb = input;
    gx.c = gates.data();
    gx.ldc = 4 * hidden;
    kernels::f32_gemm(gx);
    std::vector<float> hs(size_t(batch * hidden), 0.f), cs(size_t(batch * hidden), 0.f);
    if (ctx.has(5)) std::memcpy(hs.data(), ctx.in(5).data<float>() + d * batch * hidden, sizeof(float) * hs.size());
    if (ctx.has(6)) std::memcpy(cs.data(), ctx.in(6).data<float>() + d * batch * hidden, sizeof(float) * cs.size());
    const float* bias = ctx.has(3) ? ctx.in(3).data<float>() + d * 8 * hidden : nullptr;
    const float* peep = ctx.has(7) ? ctx.in(7).data<float>() + d * 3 * hidden : nullptr;
    for (int64_t step = 0; step < seq; ++step) {
      int64_t t = reverse ? seq - 1 - step : step;
      kernels::GemmArgs gr;
      gr.trans_b = true;
      gr.m = batch;
      gr.n = 4 * hidden;
      gr.k = hidden;
      gr.a = hs.data();
      gr.lda = hidden;
      gr.b = r.data<float>() + d * 4 * hidden * hidden;
      gr.ldb = hidden;
      gr.c = rec.data();
      gr.ldc = 4 * hidden;
      kernels::f32_gemm(gr);
      for (int64_t b = 0; b < batch; ++b) {
        // With per-sequence lengths, each batch row runs its own window of steps.
        int64_t tt = reverse ? lens[size_t(b)] - 1 - step : t;
        if (step >= lens[size_t(b)]) continue;
        const float* gxr = gates.data() + (tt * batch + b) * 4 * hidden;
        const float* grr = rec.data() + b * 4 * hidden;
        float* hb = hs.data() + b * hidden;
        float* cb = cs.data() + b * hidden;
        for (int64_t j = 0; j < hidden; ++j) {
          float v[4];
          for (int k = 0; k < 4; ++k) {
            v[k] = gxr[k * hidden + j] + grr[k * hidden + j];
            if (bias) v[k] += bias[k * hidden + j] + bias[(4 + k) * hidden + j];
            if (clip > 0) v[k] = std::max(-clip, std::min(clip, v[k]));
          }
          float c_prev = cb[j];
          float ig = apply(f, v[0] + (peep ? peep[j] * c_prev : 0.f));
          float fg = apply(f, v[2] + (peep ? peep[2 * hidden + j] * c_prev : 0.f));
          float cc = apply(g, v[3]);
          float c_new = fg * c_prev + ig * cc;
          float og = apply(f, v[1] + (peep ? peep[hidden + j] * c_new : 0.f));
          cb[j] = c_new;
          hb[j] = og * apply(h, c_new);
        }
        std::memcpy(y.data<float>() + ((tt * dirs + d) * batch + b) * hidden, hb, sizeof(float) * size_t(hidden));
      }
    }
    std::memcpy(yh.data<float>() + d * batch * hidden, hs.data(), sizeof(float) * hs.size());
    std::memcpy(yc.data<float>() + d * batch * hidden, cs.data(), sizeof(float) * cs.size());
  }
  if (layout) {
    Tensor y2 = Tensor::empty(DType::f32, {batch, seq, dirs, hidden});
    for (int64_t t = 0; t < seq; ++t)
      for (int64_t d = 0; d < dirs; ++d)
        for (int64_t b = 0; b < batch; ++b)
          std::memcpy(y2.data<float>() + ((b * seq + t) * dirs + d) * hidden, y.data<float>() + ((t * dirs + d) * batch + b) * hidden,
                      sizeof(float) * size_t(hidden));
    Tensor yh2 = Tensor::empty(DType::f32, {batch, dirs, hidden}), yc2 = Tensor::empty(DType::f32, {batch, dirs, hidden});
    for (int64_t d = 0; d < dirs; ++d)
      for (int64_t b = 0; b < batch; ++b) {
        std::memcpy(yh2.data<float>() + (b * dirs + d) * hidden, yh.data<float>() + (d * batch + b) * hidden, sizeof(float) * size_t(hidden));
        std::memcpy(yc2.data<float>() + (b * dirs + d) * hidden, yc.data<float>() + (d * batch + b) * hidden, sizeof(float) * size_t(hidden));
      }
    y = y2;
    yh = yh2;
    yc = yc2;
  }
  ctx.set_out(0, y);
  ctx.set_out(1, yh);
  ctx.set_out(2, yc);
}

}  // namespace

// GRU (gate order z, r, h) and simple RNN share one loop: the input
// projection for all steps is one GEMM, the recurrence GEMMs run per step.
template <bool is_gru>
void run_gru_rnn(OpContext& ctx) {
  const Tensor& x_in = ctx.in(0);
  const Tensor& w = ctx.in(1);
  const Tensor& r = ctx.in(2);
  const int G = is_gru ? 3 : 1;
  if (x_in.dtype() != DType::f32) ctx.unsupported(std::string("RNN on ") + dtype_name(x_in.dtype()));
  if (x_in.rank() != 3 || w.rank() != 3 || r.rank() != 3) ctx.invalid("X, W and R must be 3-D");
  if (ctx.node.attr_i("layout", 0)) ctx.unsupported("layout=1");
  std::string direction = ctx.node.attr_s("direction", "forward");
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional") ctx.invalid("unknown direction '" + direction + "'");
  int64_t dirs = direction == "bidirectional" ? 2 : 1;
  int64_t seq = x_in.dim(0), batch = x_in.dim(1), input = x_in.dim(2);
  int64_t hidden = ctx.node.attr_i("hidden_size", r.dim(2));
  if (w.dim(0) != dirs || w.dim(1) != G * hidden || w.dim(2) != input) ctx.invalid("W shape " + shape_to_string(w.shape()) + " does not match");
  if (r.dim(0) != dirs || r.dim(1) != G * hidden || r.dim(2) != hidden) ctx.invalid("R shape " + shape_to_string(r.shape()) + " does not match");
  if (ctx.has(3) && ctx.in(3).numel() != dirs * 2 * G * hidden) ctx.invalid("B has the wrong size");
  if (ctx.has(4) || ctx.node.has_attr("clip")) ctx.unsupported("sequence_lens / clip");
  if (ctx.has(5) && ctx.in(5).numel() != dirs * batch * hidden) ctx.invalid("initial_h has the wrong size");
  std::vector<std::string> acts;
  if (const ir::Attribute* a = ctx.node.attr("activations")) acts = a->strings;
  if (acts.empty())
    for (int64_t d = 0; d < dirs; ++d) {
      if (is_gru) acts.insert(acts.end(), {"Sigmoid", "Tanh"});
      else acts.push_back("Tanh");
    }
  size_t per_dir = is_gru ? 2 : 1;
  if (acts.size() != per_dir * size_t(dirs)) ctx.invalid("activations must list " + std::to_string(per_dir) + " per direction");
  bool lbr = ctx.node.attr_i("linear_before_reset", 0);
  Tensor y = Tensor::zeros(DType::f32, {seq, dirs, batch, hidden});
  Tensor yh = Tensor::empty(DType::f32, {dirs, batch, hidden});
  std::vector<float> gx(size_t(seq * batch * G * hidden)), gr(size_t(batch * G * hidden)), rh(size_t(batch * hidden));
  for (int64_t d = 0; d < dirs; ++d) {
    Act f = parse_act(ctx, acts[per_dir * size_t(d)]);
    Act g = is_gru ? parse_act(ctx, acts[per_dir * size_t(d) + 1]) : f;
    bool reverse = direction == "reverse" || d == 1;
    kernels::GemmArgs px;
    px.trans_b = true;
    px.m = seq * batch;
    px.n = G * hidden;
    px.k = input;
    px.a = x_in.data<float>();
    px.lda = input;
    px.b = w.data<float>() + d * G * hidden * input;
    px.ldb = input;
    px.c = gx.data();
    px.ldc = G * hidden;
    kernels::f32_gemm(px);
    std::vector<float> h(size_t(batch * hidden), 0.f);
    if (ctx.has(5)) std::memcpy(h.data(), ctx.in(5).data<float>() + d * batch * hidden, sizeof(float) * h.size());
    const float* bias = ctx.has(3) ? ctx.in(3).data<float>() + d * 2 * G * hidden : nullptr;
    const float* rw = r.data<float>() + d * G * hidden * hidden;
    auto recur = [&](const float* a, int64_t gates, const float* b, float* c) {
      kernels::GemmArgs pr;
      pr.trans_b = true;
      pr.m = batch;
      pr.n = gates * hidden;
      pr.k = hidden;
      pr.a = a;
      pr.lda = hidden;
      pr.b = b;
      pr.ldb = hidden;
      pr.c = c;
      pr.ldc = G * hidden;
      kernels::f32_gemm(pr);
    };
    for (int64_t step = 0; step < seq; ++step) {
      int64_t t = reverse ? seq - 1 - step : step;
      // z and r (GRU) or the only gate (RNN); the GRU h gate needs r first.
      recur(h.data(), is_gru ? 2 : 1, rw, gr.data());
      if (is_gru && lbr) recur(h.data(), 1, rw + 2 * hidden * hidden, gr.data() + 2 * hidden);
      std::vector<float> rgate(is_gru ? size_t(batch * hidden) : 0);
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t j = 0; j < hidden; ++j) {
          const float* xg = gx.data() + (t * batch + b) * G * hidden;
          const float* hg = gr.data() + b * G * hidden;
          auto pre = [&](int k) { return xg[k * hidden + j] + hg[k * hidden + j] + (bias ? bias[k * hidden + j] + bias[(G + k) * hidden + j] : 0.f); };
          if (!is_gru) {
            h[size_t(b * hidden + j)] = apply(f, pre(0));
          } else {
            rgate[size_t(b * hidden + j)] = apply(f, pre(1));
            rh[size_t(b * hidden + j)] = rgate[size_t(b * hidden + j)] * h[size_t(b * hidden + j)];
          }
        }
      if (is_gru) {
        if (!lbr) recur(rh.data(), 1, rw + 2 * hidden * hidden, gr.data() + 2 * hidden);
        for (int64_t b = 0; b < batch; ++b)
          for (int64_t j = 0; j < hidden; ++j) {
            const float* xg = gx.data() + (t * batch + b) * G * hidden;
            const float* hg = gr.data() + b * G * hidden;
            float wb = bias ? bias[2 * hidden + j] : 0.f, rb = bias ? bias[5 * hidden + j] : 0.f;
            float z = apply(f, xg[j] + hg[j] + (bias ? bias[j] + bias[3 * hidden + j] : 0.f));
            float hh = lbr ? apply(g, xg[2 * hidden + j] + rgate[size_t(b * hidden + j)] * (hg[2 * hidden + j] + rb) + wb)
                           : apply(g, xg[2 * hidden + j] + hg[2 * hidden + j] + rb + wb);
            float& hv = h[size_t(b * hidden + j)];
            hv = (1 - z) * hh + z * hv;
          }
      }
      for (int64_t b = 0; b < batch; ++b)
        std::memcpy(y.data<float>() + ((t * dirs + d) * batch + b) * hidden, h.data() + b * hidden, sizeof(float) * size_t(hidden));
    }
    std::memcpy(yh.data<float>() + d * batch * hidden, h.data(), sizeof(float) * h.size());
  }
  ctx.set_out(0, y);
  ctx.set_out(1, yh);
}

void register_rnn_ops(OpRegistry& r) {
  r.add("LSTM", run_lstm);
  r.add("GRU", run_gru_rnn<true>);
  r.add("RNN", run_gru_rnn<false>);
}

}  // namespace pareto::runtime
