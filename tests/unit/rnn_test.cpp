// LSTM, GRU and RNN against a scalar reference written from the ONNX
// equations, one batch row and one step at a time, on the settings the ONNX
// backend tests leave out: reverse and bidirectional, per-row sequence
// lengths, clip, linear_before_reset, initial states, layout = 1.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "frontend/onnx/onnx_loader.h"
#include "proto_builder.h"
#include "runtime/executor.h"

using namespace pareto;
using namespace pareto::test;

namespace {

enum class Op { lstm, gru, rnn };

struct Config {
  Op op;
  const char* direction;
  bool bias, initial, seq_lens, lbr, layout;
  float clip;
};

struct Data {
  int64_t seq = 4, batch = 3, input = 5, hidden = 4, dirs = 1, gates = 1;
  std::vector<float> x, w, r, b, h0, c0;  // layout 0: x [seq, batch, input], h0/c0 [dirs, batch, hidden]
  std::vector<int64_t> lens;
};

float sigmoid(float v) { return 1.f / (1.f + std::exp(-v)); }

// Y [seq, dirs, batch, hidden], Y_h and Y_c [dirs, batch, hidden] (layout 0).
void reference(const Config& c, const Data& d, std::vector<float>& y, std::vector<float>& yh, std::vector<float>& yc) {
  const int64_t H = d.hidden, G = d.gates;
  y.assign(size_t(d.seq * d.dirs * d.batch * H), 0.f);
  yh.assign(size_t(d.dirs * d.batch * H), 0.f);
  yc = yh;
  auto clip = [&](float v) { return c.clip > 0 ? std::max(-c.clip, std::min(c.clip, v)) : v; };
  for (int64_t dir = 0; dir < d.dirs; ++dir) {
    const bool reverse = std::string(c.direction) == "reverse" || dir == 1;
    const float* W = d.w.data() + dir * G * H * d.input;
    const float* R = d.r.data() + dir * G * H * H;
    for (int64_t b = 0; b < d.batch; ++b) {
      std::vector<float> h(size_t(H), 0.f), cs(size_t(H), 0.f);
      if (c.initial)
        for (int64_t j = 0; j < H; ++j) {
          h[size_t(j)] = d.h0[size_t((dir * d.batch + b) * H + j)];
          if (c.op == Op::lstm) cs[size_t(j)] = d.c0[size_t((dir * d.batch + b) * H + j)];
        }
      const int64_t len = c.seq_lens ? d.lens[size_t(b)] : d.seq;
      for (int64_t k = 0; k < len; ++k) {
        const int64_t t = reverse ? len - 1 - k : k;
        const float* xt = d.x.data() + (t * d.batch + b) * d.input;
        // wx[g*H + j] = W_g x + Wb_g;  rh[g*H + j] = R_g h + Rb_g
        std::vector<float> wx(size_t(G * H)), rh(size_t(G * H));
        for (int64_t i = 0; i < G * H; ++i) {
          float a = 0, e = 0;
          for (int64_t q = 0; q < d.input; ++q) a += W[i * d.input + q] * xt[q];
          for (int64_t q = 0; q < H; ++q) e += R[i * H + q] * h[size_t(q)];
          wx[size_t(i)] = a + (c.bias ? d.b[size_t(dir * 2 * G * H + i)] : 0.f);
          rh[size_t(i)] = e + (c.bias ? d.b[size_t(dir * 2 * G * H + G * H + i)] : 0.f);
        }
        std::vector<float> next(static_cast<size_t>(H));
        for (int64_t j = 0; j < H; ++j) {
          auto pre = [&](int g) { return clip(wx[size_t(g * H + j)] + rh[size_t(g * H + j)]); };
          if (c.op == Op::rnn) {
            next[size_t(j)] = std::tanh(pre(0));
          } else if (c.op == Op::lstm) {  // gates i, o, f, c
            const float ig = sigmoid(pre(0)), og = sigmoid(pre(1)), fg = sigmoid(pre(2)), ct = std::tanh(pre(3));
            cs[size_t(j)] = fg * cs[size_t(j)] + ig * ct;
            next[size_t(j)] = og * std::tanh(cs[size_t(j)]);
          } else {  // gates z, r, h
            const float z = sigmoid(pre(0)), rg = sigmoid(pre(1));
            float cand;
            if (c.lbr) {
              cand = std::tanh(clip(wx[size_t(2 * H + j)] + rg * rh[size_t(2 * H + j)]));
            } else {  // R_h (r . h) + Rb_h
              float e = 0;
              for (int64_t q = 0; q < H; ++q) e += R[(2 * H + j) * H + q] * (sigmoid(clip(wx[size_t(H + q)] + rh[size_t(H + q)])) * h[size_t(q)]);
              cand = std::tanh(clip(wx[size_t(2 * H + j)] + e + (c.bias ? d.b[size_t(dir * 2 * G * H + G * H + 2 * H + j)] : 0.f)));
            }
            next[size_t(j)] = (1 - z) * cand + z * h[size_t(j)];
          }
        }
        h = next;
        for (int64_t j = 0; j < H; ++j) y[size_t(((t * d.dirs + dir) * d.batch + b) * H + j)] = h[size_t(j)];
      }
      for (int64_t j = 0; j < H; ++j) {
        yh[size_t((dir * d.batch + b) * H + j)] = h[size_t(j)];
        yc[size_t((dir * d.batch + b) * H + j)] = cs[size_t(j)];
      }
    }
  }
}

// [a, b, n] -> [b, a, n]
std::vector<float> swap01(const std::vector<float>& v, int64_t a, int64_t b) {
  const int64_t n = int64_t(v.size()) / (a * b);
  std::vector<float> out(v.size());
  for (int64_t i = 0; i < a; ++i)
    for (int64_t k = 0; k < b; ++k)
      for (int64_t e = 0; e < n; ++e) out[size_t((k * a + i) * n + e)] = v[size_t((i * b + k) * n + e)];
  return out;
}

void expect_near(const std::vector<float>& want, const Tensor& got, const std::string& what) {
  ASSERT_EQ(int64_t(want.size()), got.numel()) << what;
  for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got.data<float>()[i], want[i], 2e-5) << what << " element " << i;
}

void check(const Config& c) {
  Data d;
  d.dirs = std::string(c.direction) == "bidirectional" ? 2 : 1;
  d.gates = c.op == Op::lstm ? 4 : c.op == Op::gru ? 3 : 1;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-0.6f, 0.6f);
  auto fill = [&](int64_t n) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& e : v) e = u(rng);
    return v;
  };
  const int64_t G = d.gates, H = d.hidden;
  d.x = fill(d.seq * d.batch * d.input);
  d.w = fill(d.dirs * G * H * d.input);
  d.r = fill(d.dirs * G * H * H);
  d.b = fill(d.dirs * 2 * G * H);
  d.h0 = fill(d.dirs * d.batch * H);
  d.c0 = fill(d.dirs * d.batch * H);
  d.lens = {4, 1, 3};
  std::vector<float> y, yh, yc;
  reference(c, d, y, yh, yc);
  const char* op = c.op == Op::lstm ? "LSTM" : c.op == Op::gru ? "GRU" : "RNN";
  std::vector<Msg> attrs = {attr_int("hidden_size", H), attr_string("direction", c.direction)};
  if (c.clip > 0) attrs.push_back(attr_float("clip", c.clip));
  if (c.lbr) attrs.push_back(attr_int("linear_before_reset", 1));
  if (c.layout) attrs.push_back(attr_int("layout", 1));
  std::vector<std::string> ins = {"x", "w", "r", c.bias ? "b" : "", c.seq_lens ? "sl" : "", c.initial ? "h0" : ""};
  std::vector<std::string> outs = {"y", "yh"};
  if (c.op == Op::lstm) {
    ins.push_back(c.initial ? "c0" : "");
    outs.push_back("yc");
  }
  Msg g;
  g.m(1, node(op, ins, outs, "cell", attrs));
  g.s(2, "rnn");
  g.m(5, tensor_f32("w", {d.dirs, G * H, d.input}, d.w));
  g.m(5, tensor_f32("r", {d.dirs, G * H, H}, d.r));
  if (c.bias) g.m(5, tensor_f32("b", {d.dirs, 2 * G * H}, d.b));
  if (c.seq_lens) g.m(5, tensor_i64("sl", {d.batch}, d.lens));
  // layout = 1 takes batch-major x and initial states and gives batch-major outputs.
  const std::vector<float> h0 = c.layout ? swap01(d.h0, d.dirs, d.batch) : d.h0, c0 = c.layout ? swap01(d.c0, d.dirs, d.batch) : d.c0;
  const Shape state = c.layout ? Shape{d.batch, d.dirs, H} : Shape{d.dirs, d.batch, H};
  if (c.initial) g.m(5, tensor_f32("h0", state, h0));
  if (c.initial && c.op == Op::lstm) g.m(5, tensor_f32("c0", state, c0));
  const Shape xs = c.layout ? Shape{d.batch, d.seq, d.input} : Shape{d.seq, d.batch, d.input};
  g.m(11, value_info("x", 1, xs));
  for (const auto& o : outs) g.m(12, value_info(o, 1, {}));
  const std::string bytes = model(g, 14).bytes;
  ir::Model m = onnx::load_model_from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "rnn.onnx", "");
  runtime::Executor ex(m.opset(), {});
  Tensor x = Tensor::empty(DType::f32, xs);
  const std::vector<float> xv = c.layout ? swap01(d.x, d.seq, d.batch) : d.x;
  std::copy(xv.begin(), xv.end(), x.data<float>());
  const std::vector<Tensor> got = ex.run_graph(*m.graph, {x}, nullptr);
  if (c.layout) {  // Y [seq, dirs, batch, H] -> [batch, seq, dirs, H]
    std::vector<float> y1(y.size());
    for (int64_t t = 0; t < d.seq; ++t)
      for (int64_t dir = 0; dir < d.dirs; ++dir)
        for (int64_t b = 0; b < d.batch; ++b)
          for (int64_t j = 0; j < H; ++j) y1[size_t(((b * d.seq + t) * d.dirs + dir) * H + j)] = y[size_t(((t * d.dirs + dir) * d.batch + b) * H + j)];
    y = y1;
    yh = swap01(yh, d.dirs, d.batch);
    yc = swap01(yc, d.dirs, d.batch);
  }
  expect_near(y, got[0], "Y");
  expect_near(yh, got[1], "Y_h");
  if (c.op == Op::lstm) expect_near(yc, got[2], "Y_c");
}

}  // namespace

TEST(Recurrence, MatchesTheOnnxEquations) {
  for (Op op : {Op::lstm, Op::gru, Op::rnn})
    for (const char* dir : {"forward", "reverse", "bidirectional"})
      for (int variant = 0; variant < 4; ++variant) {
        // 0: plain; 1: biases, initial states, per-row lengths; 2: 1 + clip (+ linear_before_reset for GRU); 3: 2 with layout = 1
        Config c{op, dir, variant >= 1, variant >= 1, variant >= 1, variant >= 2 && op == Op::gru, variant == 3, variant >= 2 ? 0.4f : 0.f};
        SCOPED_TRACE(std::string(op == Op::lstm ? "LSTM " : op == Op::gru ? "GRU " : "RNN ") + dir + " variant " + std::to_string(variant));
        check(c);
      }
}

TEST(Recurrence, GruWithoutLinearBeforeResetUnderClipAndLayout) {
  for (const char* dir : {"forward", "bidirectional"}) {
    SCOPED_TRACE(dir);
    check(Config{Op::gru, dir, true, true, true, false, true, 0.4f});
  }
}
