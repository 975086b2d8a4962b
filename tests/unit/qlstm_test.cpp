// The integer LSTM's pieces: gemmlowp's int16 logistic and tanh over every
// Q3.12 input (close to the real functions, monotonic, with their
// symmetries), and the whole cell (kernels/qlstm.h) against a float LSTM on
// the same dequantized weights, on awkward sizes and both layouts. Bit
// exactness against TensorFlow Lite itself is checked end to end by
// tests/models/check_tflite.sh (the keras LSTM's 560 outputs per input).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/fixed_point16.h"
#include "kernels/qlstm.h"

namespace pareto::kernels {
namespace {

double real_of(int16_t raw, int integer_bits) { return double(raw) / double(1 << (15 - integer_bits)); }

TEST(FixedPoint16, LogisticAndTanhOverEveryQ3_12Input) {
  // gemmlowp's int16 arithmetic is not exactly monotonic (its barrel shifter
  // rounds each power-of-two factor): it may step back a few units, no more.
  double worst_logistic = 0, worst_tanh = 0;
  int16_t previous_l = INT16_MIN, previous_t = INT16_MIN;
  int back_l = 0, back_t = 0;
  for (int32_t v = INT16_MIN; v <= INT16_MAX; ++v) {
    const int16_t x = int16_t(v);
    const int16_t l = fxp16::logistic(x, 3), t = fxp16::tanh(x, 3);
    worst_logistic = std::max(worst_logistic, std::abs(real_of(l, 0) - 1 / (1 + std::exp(-real_of(x, 3)))));
    worst_tanh = std::max(worst_tanh, std::abs(real_of(t, 0) - std::tanh(real_of(x, 3))));
    back_l = std::max(back_l, previous_l - l), back_t = std::max(back_t, previous_t - t);
    previous_l = l, previous_t = t;
    if (v > INT16_MIN) {
      ASSERT_EQ(int(fxp16::logistic(int16_t(-v), 3)), v == 0 ? 16384 : 32767 - l) << v;
      ASSERT_EQ(int(fxp16::tanh(int16_t(-v), 3)), -int(t)) << v;
    }
  }
  std::printf("[fxp16] largest error over Q3.12: logistic %.2e, tanh %.2e (one step is %.2e); largest step back: %d, %d\n", worst_logistic,
              worst_tanh, 1.0 / 32768, back_l, back_t);
  EXPECT_LE(back_l, 16);
  EXPECT_LE(back_t, 16);
  EXPECT_LT(worst_logistic, 2.5e-4);
  EXPECT_LT(worst_tanh, 4e-4);
  EXPECT_EQ(fxp16::logistic(0, 3), 16384);
  EXPECT_EQ(fxp16::tanh(0, 3), 0);
}

TEST(FixedPoint16, TanhOfOtherIntegerBits) {
  for (int bits : {0, 1, 2, 4, 5, 6}) {  // 6: a cell scale of 2^-9, past exp's clamp at -32
    double worst = 0;
    for (int32_t v = INT16_MIN + 1; v <= INT16_MAX; v += 7) worst = std::max(worst, std::abs(real_of(fxp16::tanh(int16_t(v), bits), 0) - std::tanh(real_of(int16_t(v), bits))));
    EXPECT_LT(worst, 5e-4) << bits << " integer bits";
  }
}

struct Case {
  int64_t batch, time, input, cells;
  bool time_major;
};

// Quantized weights and states, the kernel's run, and a float LSTM on the
// dequantized values; the hidden outputs must agree within one step (the
// kernel is within rounding, about half a step, of the float cell).
void check_against_float(const Case& k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(-127, 127);
  const float x_scale = 1 / 64.f, w_scale = 1 / 128.f, h_scale = 1 / 128.f;
  const int32_t x_zero = 5, h_zero = 0;
  std::vector<int8_t> x(size_t(k.batch * k.time * k.input));
  for (auto& v : x) v = int8_t(byte(rng));
  std::vector<int8_t> wi[4], wr[4];
  std::vector<int32_t> bias[4];
  QLstmParams p;
  p.batch = k.batch, p.time = k.time, p.input = k.input, p.cells = k.cells, p.time_major = k.time_major;
  p.cell_shift = -12, p.cell_clip = 0;
  for (int g = 0; g < 4; ++g) {
    wi[g].resize(size_t(k.cells * k.input)), wr[g].resize(size_t(k.cells * k.cells)), bias[g].resize(size_t(k.cells));
    for (auto& v : wi[g]) v = int8_t(byte(rng) / 4);
    for (auto& v : wr[g]) v = int8_t(byte(rng) / 4);
    for (auto& v : bias[g]) v = byte(rng) * 16;
    QLstmGate& gate = p.gates[g];
    gate.input_weights = wi[g].data(), gate.recurrent_weights = wr[g].data();
    gate.input_scale = fxp::quantize_multiplier(double(w_scale) * x_scale * 4096);
    gate.recurrent_scale = fxp::quantize_multiplier(double(w_scale) * h_scale * 4096);
    gate.input_bias = qlstm_effective_bias(wi[g].data(), k.cells, k.input, -x_zero, bias[g].data());
    gate.recurrent_bias = qlstm_effective_bias(wr[g].data(), k.cells, k.cells, -h_zero, nullptr);
  }
  p.hidden_scale = fxp::quantize_multiplier(std::pow(2.0, -30) / h_scale);
  p.hidden_zero = h_zero;
  std::vector<int8_t> h(size_t(k.batch * k.cells), int8_t(h_zero)), y(size_t(k.batch * k.time * k.cells));
  std::vector<int16_t> c(size_t(k.batch * k.cells), 0);
  qlstm_ref(p, x.data(), h.data(), c.data(), y.data());

  auto sigmoid = [](double v) { return 1 / (1 + std::exp(-v)); };
  double worst = 0;
  for (int64_t b = 0; b < k.batch; ++b) {
    std::vector<double> hf(size_t(k.cells), 0.0), cf(size_t(k.cells), 0.0);
    for (int64_t t = 0; t < k.time; ++t) {
      const int64_t row = k.time_major ? t * k.batch + b : b * k.time + t;
      std::vector<double> pre[4];
      for (int g = 0; g < 4; ++g) {
        pre[g].assign(size_t(k.cells), 0.0);
        for (int64_t r = 0; r < k.cells; ++r) {
          double s = double(bias[g][size_t(r)]) * w_scale * x_scale;
          for (int64_t i = 0; i < k.input; ++i) s += w_scale * wi[g][size_t(r * k.input + i)] * x_scale * (x[size_t(row * k.input + i)] - x_zero);
          for (int64_t i = 0; i < k.cells; ++i) s += w_scale * wr[g][size_t(r * k.cells + i)] * hf[size_t(i)];
          pre[g][size_t(r)] = s;
        }
      }
      for (int64_t r = 0; r < k.cells; ++r) {
        const size_t s = size_t(r);
        cf[s] = sigmoid(pre[kLstmForget][s]) * cf[s] + sigmoid(pre[kLstmInput][s]) * std::tanh(pre[kLstmCell][s]);
        hf[s] = sigmoid(pre[kLstmOutput][s]) * std::tanh(cf[s]);
        const double got = h_scale * (y[size_t(row * k.cells + r)] - h_zero);
        worst = std::max(worst, std::abs(got - hf[s]));
        // The float state continues from what the kernel holds, so errors do not compound.
        hf[s] = got;
      }
    }
  }
  std::printf("[qlstm] %lldx%lldx%lld -> %lld: largest difference from float %.2f steps\n", (long long)k.batch, (long long)k.time, (long long)k.input,
              (long long)k.cells, worst / h_scale);
  EXPECT_LT(worst, 1.0 * h_scale) << k.batch << "x" << k.time << "x" << k.input << " -> " << k.cells << (k.time_major ? " time-major" : "");
}

TEST(QLstm, MatchesAFloatLstmOnAwkwardSizes) {
  uint32_t seed = 1;
  for (const Case& k : {Case{1, 1, 1, 1, false}, Case{1, 5, 3, 1, false}, Case{2, 3, 7, 5, false}, Case{3, 4, 7, 5, true}, Case{1, 28, 28, 20, false},
                        Case{2, 2, 33, 17, true}})
    check_against_float(k, seed++);
}

// TFLite subtracts the hidden intermediate's zero point where a textbook
// requantization adds it (the keras LSTM's outputs equal TFLite's only so):
// with zero point z every unclamped output is the z = 0 output minus z.
TEST(QLstm, HiddenZeroPointIsSubtractedAsTfliteDoes) {
  std::vector<int8_t> wi(4, 40), wr(4, -20), x(6, 30);
  std::vector<int32_t> bias(2, 100);
  QLstmParams p;
  p.batch = 1, p.time = 3, p.input = 2, p.cells = 2;
  for (QLstmGate& g : p.gates) {
    g.input_weights = wi.data(), g.recurrent_weights = wr.data();
    g.input_scale = g.recurrent_scale = fxp::quantize_multiplier(0.3);
    g.input_bias = qlstm_effective_bias(wi.data(), 2, 2, 0, bias.data());
    g.recurrent_bias = qlstm_effective_bias(wr.data(), 2, 2, 0, nullptr);
  }
  p.hidden_scale = fxp::quantize_multiplier(std::pow(2.0, -30) * 128);
  std::vector<int8_t> outs[2];
  for (int z : {0, 3}) {
    p.hidden_zero = z;
    std::vector<int8_t> h(2, 0), y(6);
    std::vector<int16_t> c(2, 0);
    // The recurrent input is the previous output, so only the first step is comparable.
    qlstm_ref(p, x.data(), h.data(), c.data(), y.data());
    outs[z ? 1 : 0] = y;
  }
  EXPECT_EQ(int(outs[1][0]), int(outs[0][0]) - 3);
  EXPECT_EQ(int(outs[1][1]), int(outs[0][1]) - 3);
}

}  // namespace
}  // namespace pareto::kernels
