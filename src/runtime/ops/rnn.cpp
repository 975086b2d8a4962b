// LSTM, GRU and RNN on one recurrence skeleton: inputs checked, X in
// [seq, batch, input] order, the input projection of all time steps as one
// GEMM per direction, then per step a cell that runs its recurrence GEMMs and
// updates the state of the batch rows whose sequence is still running
// (sequence_lens). What differs between the three ops is only the cell.
#include <algorithm>
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

enum class Cell { lstm, gru, rnn };

struct CellTraits {
  int gates;                              // rows of W and R per direction, in hidden units
  std::vector<std::string> default_acts;  // per direction
  bool cell_state;                        // LSTM's c (initial_c input 6, Y_c output 2)
};

CellTraits traits_of(Cell cell) {
  switch (cell) {
    case Cell::lstm: return {4, {"Sigmoid", "Tanh", "Tanh"}, true};
    case Cell::gru: return {3, {"Sigmoid", "Tanh"}, false};
    case Cell::rnn: return {1, {"Tanh"}, false};
  }
  return {1, {"Tanh"}, false};
}

// One direction's weights and settings.
struct Direction {
  int64_t batch = 0, hidden = 0;
  const float* r = nullptr;     // R of this direction [gates*hidden, hidden]
  const float* wb = nullptr;    // W bias [gates*hidden] (null: none)
  const float* rb = nullptr;    // R bias [gates*hidden]
  const float* peep = nullptr;  // LSTM peepholes [3*hidden]: i, o, f
  std::vector<Act> acts;
  float clip = 0;               // > 0: pre-activations clipped to [-clip, clip]
  bool linear_before_reset = false;
  int gates = 1;
};

// rec[b, first*hidden ...] = a[b, :] . R[first*hidden ..., :]^T for `count` gates.
void recurrence_gemm(const Direction& d, const float* a, int first, int count, float* rec) {
  // An empty batch or state leaves rec empty (its data() null): nothing to
  // compute, and no offset may be applied to it (found by fuzz_short_onnx).
  if (d.batch == 0 || d.hidden == 0 || count == 0) return;
  kernels::GemmArgs g;
  g.trans_b = true;
  g.m = d.batch;
  g.n = count * d.hidden;
  g.k = d.hidden;
  g.a = a;
  g.lda = d.hidden;
  g.b = d.r + int64_t(first) * d.hidden * d.hidden;
  g.ldb = d.hidden;
  g.c = rec + int64_t(first) * d.hidden;
  g.ldc = d.gates * d.hidden;
  kernels::f32_gemm(g);
}

// State and buffers of one step. time[b]: the time index batch row b reads
// and writes at this step, -1 once its sequence has ended.
struct Step {
  const Direction& d;
  const float* gx;  // input projections [seq*batch, gates*hidden]
  const std::vector<int64_t>& time;
  std::vector<float>& h;
  std::vector<float>& c;
  std::vector<float>& rec;      // [batch, gates*hidden]
  std::vector<float>& scratch;  // [batch, hidden]
  std::vector<float>& scratch2;  // [batch, hidden]

  // Pre-activation of gate k for row b, unit j, from the input and recurrence parts (biases added).
  float pre(int64_t b, int k, int64_t j) const {
    const int64_t gh = d.gates * d.hidden, at = k * d.hidden + j;
    float v = gx[(time[size_t(b)] * d.batch + b) * gh + at] + rec[size_t(b * gh + at)];
    if (d.wb) v += d.wb[at] + d.rb[at];
    return clip(v);
  }
  float clip(float v) const { return d.clip > 0 ? std::max(-d.clip, std::min(d.clip, v)) : v; }
};

// LSTM (gates i, o, f, c; peepholes on i, f from c_prev and on o from c_new,
// added after the clip as before).
void lstm_step(Step& s) {
  const Direction& d = s.d;
  recurrence_gemm(d, s.h.data(), 0, 4, s.rec.data());
  const Act f = d.acts[0], g = d.acts[1], h = d.acts[2];
  for (int64_t b = 0; b < d.batch; ++b) {
    if (s.time[size_t(b)] < 0) continue;
    for (int64_t j = 0; j < d.hidden; ++j) {
      float& cb = s.c[size_t(b * d.hidden + j)];
      const float c_prev = cb;
      const float ig = apply(f, s.pre(b, 0, j) + (d.peep ? d.peep[j] * c_prev : 0.f));
      const float fg = apply(f, s.pre(b, 2, j) + (d.peep ? d.peep[2 * d.hidden + j] * c_prev : 0.f));
      const float c_new = fg * c_prev + ig * apply(g, s.pre(b, 3, j));
      const float og = apply(f, s.pre(b, 1, j) + (d.peep ? d.peep[d.hidden + j] * c_new : 0.f));
      cb = c_new;
      s.h[size_t(b * d.hidden + j)] = og * apply(h, c_new);
    }
  }
}

// GRU (gates z, r, h). The candidate's recurrence reads r * h_prev, or with
// linear_before_reset r * (h_prev . Rh + Rbh).
void gru_step(Step& s) {
  const Direction& d = s.d;
  const Act f = d.acts[0], g = d.acts[1];
  const int64_t H = d.hidden, gh = 3 * H;
  recurrence_gemm(d, s.h.data(), 0, d.linear_before_reset ? 3 : 2, s.rec.data());
  std::vector<float>& reset = s.scratch;  // r, then r * h_prev
  for (int64_t b = 0; b < d.batch; ++b) {
    if (s.time[size_t(b)] < 0) continue;
    for (int64_t j = 0; j < H; ++j) reset[size_t(b * H + j)] = apply(f, s.pre(b, 1, j));
  }
  if (!d.linear_before_reset) {
    std::vector<float>& rh = s.scratch2;  // r * h_prev
    for (size_t i = 0; i < rh.size(); ++i) rh[i] = reset[i] * s.h[i];
    recurrence_gemm(d, rh.data(), 2, 1, s.rec.data());
  }
  for (int64_t b = 0; b < d.batch; ++b) {
    const int64_t t = s.time[size_t(b)];
    if (t < 0) continue;
    for (int64_t j = 0; j < H; ++j) {
      const float z = apply(f, s.pre(b, 0, j));
      float cand;
      // The candidate adds its biases in the order the ONNX equations write them.
      const float xh = s.gx[(t * d.batch + b) * gh + 2 * H + j], hh = s.rec[size_t(b * gh + 2 * H + j)];
      const float wb = d.wb ? d.wb[2 * H + j] : 0.f, rb = d.rb ? d.rb[2 * H + j] : 0.f;
      if (d.linear_before_reset)
        cand = apply(g, s.clip(xh + reset[size_t(b * H + j)] * (hh + rb) + wb));
      else
        cand = apply(g, s.clip(xh + hh + rb + wb));
      float& hv = s.h[size_t(b * H + j)];
      hv = (1 - z) * cand + z * hv;
    }
  }
}

void rnn_step(Step& s) {
  const Direction& d = s.d;
  recurrence_gemm(d, s.h.data(), 0, 1, s.rec.data());
  for (int64_t b = 0; b < d.batch; ++b) {
    if (s.time[size_t(b)] < 0) continue;
    for (int64_t j = 0; j < d.hidden; ++j) s.h[size_t(b * d.hidden + j)] = apply(d.acts[0], s.pre(b, 0, j));
  }
}

// memcpy of n floats that is defined for n == 0 (empty tensors have null data).
inline void copy_floats(float* dst, const float* src, int64_t n) {
  if (n > 0) std::memcpy(dst, src, sizeof(float) * size_t(n));
}

void check_f32(const OpContext& ctx, size_t i, const char* what) {
  if (ctx.has(i) && ctx.in(i).dtype() != DType::f32) ctx.unsupported(std::string(what) + " of type " + dtype_name(ctx.in(i).dtype()));
}

// [a, b, n] -> [b, a, n] (layout = 1 <-> the [seq, batch, ...] order the loop uses).
Tensor swap_leading(const Tensor& x) {
  const int64_t a = x.dim(0), b = x.dim(1), n = x.numel() / std::max<int64_t>(a * b, 1);
  Shape shape = x.shape();
  std::swap(shape[0], shape[1]);
  Tensor y = Tensor::empty(DType::f32, shape);
  for (int64_t i = 0; i < a; ++i)
    for (int64_t k = 0; k < b; ++k)
      copy_floats(y.data<float>() + (k * a + i) * n, x.data<float>() + (i * b + k) * n, n);
  return y;
}

void run_recurrence(OpContext& ctx, Cell cell) {
  const CellTraits tr = traits_of(cell);
  const int G = tr.gates;
  const char* names[] = {"X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"};
  for (size_t i : {0, 1, 2, 3, 5, 6, 7}) check_f32(ctx, i, names[i]);
  const Tensor& x_in = ctx.in(0);
  const Tensor& w = ctx.in(1);
  const Tensor& r = ctx.in(2);
  if (x_in.rank() != 3 || w.rank() != 3 || r.rank() != 3) ctx.invalid("X, W and R must be 3-D");
  if (cell == Cell::lstm && ctx.node.attr_i("input_forget", 0)) ctx.unsupported("input_forget=1");
  if (cell != Cell::lstm && (ctx.has(6) || ctx.has(7))) ctx.invalid("takes at most 6 inputs");
  const bool layout = ctx.node.attr_i("layout", 0) != 0;
  const std::string direction = ctx.node.attr_s("direction", "forward");
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional") ctx.invalid("unknown direction '" + direction + "'");
  const int64_t dirs = direction == "bidirectional" ? 2 : 1;
  const Tensor x = layout ? swap_leading(x_in) : x_in;  // [seq, batch, input]
  const int64_t seq = x.dim(0), batch = x.dim(1), input = x.dim(2);
  const int64_t hidden = ctx.node.attr_i("hidden_size", r.dim(2));
  // Checked before any product with it: a hostile attribute (e.g. INT64_MIN) would overflow G * hidden.
  if (hidden != r.dim(2)) ctx.invalid("hidden_size " + std::to_string(hidden) + " does not match R's last dim " + std::to_string(r.dim(2)));
  if (w.dim(0) != dirs || w.dim(1) != G * hidden || w.dim(2) != input) ctx.invalid("W shape " + shape_to_string(w.shape()) + " does not match");
  if (r.dim(0) != dirs || r.dim(1) != G * hidden || r.dim(2) != hidden) ctx.invalid("R shape " + shape_to_string(r.shape()) + " does not match");
  if (ctx.has(3) && ctx.in(3).numel() != dirs * 2 * G * hidden) ctx.invalid("B must be [dirs, " + std::to_string(2 * G) + "*hidden]");
  if (ctx.has(7) && ctx.in(7).numel() != dirs * 3 * hidden) ctx.invalid("P must be [dirs, 3*hidden]");
  // Initial states in the loop's [dirs, batch, hidden] order.
  Tensor init[2];
  for (size_t k = 0; k < 2; ++k)
    if (ctx.has(5 + k)) {
      if (ctx.in(5 + k).numel() != dirs * batch * hidden) ctx.invalid(std::string(names[5 + k]) + " has the wrong size");
      init[k] = layout ? swap_leading(ctx.in(5 + k).reshaped({batch, dirs, hidden})) : ctx.in(5 + k);
    }
  std::vector<int64_t> lens(size_t(batch), seq);
  if (ctx.has(4)) {
    lens = input_ints(ctx, 4);
    if (int64_t(lens.size()) != batch) ctx.invalid("sequence_lens must have one entry per batch");
    for (int64_t l : lens)
      if (l < 0 || l > seq) ctx.invalid("sequence length out of range");
  }
  std::vector<std::string> act_names;
  if (const ir::Attribute* a = ctx.node.attr("activations")) act_names = a->strings;
  if (act_names.empty())
    for (int64_t d = 0; d < dirs; ++d) act_names.insert(act_names.end(), tr.default_acts.begin(), tr.default_acts.end());
  const size_t per_dir = tr.default_acts.size();
  if (act_names.size() != per_dir * size_t(dirs)) ctx.invalid("activations must list " + std::to_string(per_dir) + " per direction");

  Tensor y = Tensor::zeros(DType::f32, {seq, dirs, batch, hidden});
  Tensor yh = Tensor::empty(DType::f32, {dirs, batch, hidden});
  Tensor yc = Tensor::empty(DType::f32, {dirs, batch, hidden});
  std::vector<float> gx(size_t(seq * batch * G * hidden)), rec(size_t(batch * G * hidden)), scratch(size_t(batch * hidden)),
      scratch2(size_t(batch * hidden));
  std::vector<int64_t> time(static_cast<size_t>(batch));
  for (int64_t d = 0; d < dirs; ++d) {
    Direction dir;
    dir.batch = batch, dir.hidden = hidden, dir.gates = G;
    dir.r = r.data<float>() + d * G * hidden * hidden;
    if (ctx.has(3)) dir.wb = ctx.in(3).data<float>() + d * 2 * G * hidden, dir.rb = dir.wb + G * hidden;
    if (ctx.has(7)) dir.peep = ctx.in(7).data<float>() + d * 3 * hidden;
    for (size_t k = 0; k < per_dir; ++k) dir.acts.push_back(parse_act(ctx, act_names[per_dir * size_t(d) + k]));
    dir.clip = ctx.node.attr_f("clip", 0.f);
    dir.linear_before_reset = ctx.node.attr_i("linear_before_reset", 0) != 0;
    const bool reverse = direction == "reverse" || d == 1;
    kernels::GemmArgs px;  // input projection of every time step at once
    px.trans_b = true;
    px.m = seq * batch;
    px.n = G * hidden;
    px.k = input;
    px.a = x.data<float>();
    px.lda = input;
    px.b = w.data<float>() + d * G * hidden * input;
    px.ldb = input;
    px.c = gx.data();
    px.ldc = G * hidden;
    kernels::f32_gemm(px);
    std::vector<float> h(size_t(batch * hidden), 0.f), c(size_t(batch * hidden), 0.f);
    if (init[0].defined()) copy_floats(h.data(), init[0].data<float>() + d * batch * hidden, int64_t(h.size()));
    if (init[1].defined()) copy_floats(c.data(), init[1].data<float>() + d * batch * hidden, int64_t(c.size()));
    Step step{dir, gx.data(), time, h, c, rec, scratch, scratch2};
    for (int64_t k = 0; k < seq; ++k) {
      // With per-sequence lengths each batch row runs its own window of steps.
      for (int64_t b = 0; b < batch; ++b) time[size_t(b)] = k >= lens[size_t(b)] ? -1 : reverse ? lens[size_t(b)] - 1 - k : k;
      switch (cell) {
        case Cell::lstm: lstm_step(step); break;
        case Cell::gru: gru_step(step); break;
        case Cell::rnn: rnn_step(step); break;
      }
      for (int64_t b = 0; b < batch; ++b)
        if (time[size_t(b)] >= 0)
          copy_floats(y.data<float>() + ((time[size_t(b)] * dirs + d) * batch + b) * hidden, h.data() + b * hidden, hidden);
    }
    copy_floats(yh.data<float>() + d * batch * hidden, h.data(), int64_t(h.size()));
    copy_floats(yc.data<float>() + d * batch * hidden, c.data(), int64_t(c.size()));
  }
  if (layout) {  // Y [batch, seq, dirs, hidden], Y_h / Y_c [batch, dirs, hidden]
    Tensor y2 = Tensor::empty(DType::f32, {batch, seq, dirs, hidden});
    for (int64_t t = 0; t < seq; ++t)
      for (int64_t d = 0; d < dirs; ++d)
        for (int64_t b = 0; b < batch; ++b)
          copy_floats(y2.data<float>() + ((b * seq + t) * dirs + d) * hidden, y.data<float>() + ((t * dirs + d) * batch + b) * hidden, hidden);
    y = y2;
    yh = swap_leading(yh);
    yc = swap_leading(yc);
  }
  ctx.set_out(0, y);
  ctx.set_out(1, yh);
  if (tr.cell_state) ctx.set_out(2, yc);
}

void run_lstm(OpContext& ctx) { run_recurrence(ctx, Cell::lstm); }
void run_gru(OpContext& ctx) { run_recurrence(ctx, Cell::gru); }
void run_rnn(OpContext& ctx) { run_recurrence(ctx, Cell::rnn); }

}  // namespace

void register_rnn_ops(OpRegistry& r) {
  r.add("LSTM", run_lstm);
  r.add("GRU", run_gru);
  r.add("RNN", run_rnn);
}

}  // namespace pareto::runtime
