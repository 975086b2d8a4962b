#include <algorithm>

#include "kernels/fixed_point16.h"
#include "kernels/qlstm.h"

namespace pareto::kernels {

namespace {

// One gate's pre-activation for one batch row: the input product rescaled
// and saturated to int16, then the recurrent product rescaled and added
// with saturation (TFLite accumulates the two into the same int16 buffer).
void gate_sums(const QLstmGate& g, const int8_t* x, const int8_t* h, int64_t input, int64_t cells, int16_t* out) {
  for (int64_t r = 0; r < cells; ++r) {
    // In 64 bits, then wrapped to int32 as TFLite's accumulator would (real models never wrap).
    int64_t acc = g.input_bias[size_t(r)];
    const int8_t* w = g.input_weights + r * input;
    for (int64_t k = 0; k < input; ++k) acc += int32_t(w[k]) * int32_t(x[k]);
    const int16_t partial = fxp16::saturate(fxp::multiply_by_multiplier(int32_t(uint32_t(uint64_t(acc))), g.input_scale));
    int64_t rec = g.recurrent_bias[size_t(r)];
    const int8_t* u = g.recurrent_weights + r * cells;
    for (int64_t k = 0; k < cells; ++k) rec += int32_t(u[k]) * int32_t(h[k]);
    const int32_t rescaled = fxp::multiply_by_multiplier(int32_t(uint32_t(uint64_t(rec))), g.recurrent_scale);
    out[r] = fxp16::saturate(int32_t(std::clamp<int64_t>(int64_t(rescaled) + partial, INT32_MIN, INT32_MAX)));
  }
}

// One time step of one batch row; h and c are updated in place.
void step(const QLstmParams& p, const int8_t* x, int8_t* h, int16_t* c, std::vector<int16_t> (&gate)[4]) {
  const int64_t n = p.cells;
  for (int k = 0; k < 4; ++k) gate_sums(p.gates[k], x, h, p.input, n, gate[k].data());
  for (int64_t i = 0; i < n; ++i) {
    const size_t s = size_t(i);
    const int16_t forget = fxp16::logistic(gate[kLstmForget][s], 3);
    const int16_t modulation = fxp16::tanh(gate[kLstmCell][s], 3);
    const int16_t input = fxp16::logistic(gate[kLstmInput][s], 3);
    const int16_t output = fxp16::logistic(gate[kLstmOutput][s], 3);
    // Q0.15 x cell >> 15 keeps the cell's scale; Q0.15 x Q0.15 >> (30 + shift) is in it.
    const int16_t kept = int16_t(fxp::rounding_divide_by_pot(int32_t(forget) * int32_t(c[i]), 15));
    const int16_t added = int16_t(fxp::rounding_divide_by_pot(int32_t(input) * int32_t(modulation), 30 + p.cell_shift));
    int16_t cell = fxp16::saturate(int32_t(kept) + int32_t(added));
    if (p.cell_clip > 0) cell = std::clamp<int16_t>(cell, int16_t(-p.cell_clip), p.cell_clip);
    c[i] = cell;
    const int16_t squashed = fxp16::tanh(cell, 15 + p.cell_shift);
    // TFLite subtracts the hidden intermediate's zero point here (its
    // CwiseMul takes an output offset and subtracts it; without projection
    // the zero point itself is passed). Adding it would be the textbook
    // requantization, and off by 2 x zero point from every TFLite output.
    const int64_t hidden = int64_t(fxp::multiply_by_multiplier(int32_t(output) * int32_t(squashed), p.hidden_scale)) - p.hidden_zero;
    h[i] = int8_t(std::clamp<int64_t>(hidden, -128, 127));
  }
}

}  // namespace

std::vector<int32_t> qlstm_effective_bias(const int8_t* w, int64_t rows, int64_t cols, int32_t zero_point, const int32_t* bias) {
  std::vector<int32_t> out(size_t(rows), 0);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t sum = 0;
    for (int64_t k = 0; k < cols; ++k) sum += w[r * cols + k];
    out[size_t(r)] = int32_t(uint32_t(uint64_t((bias ? bias[r] : 0) + sum * zero_point)));  // wraps as TFLite's int32 would
  }
  return out;
}

void qlstm_ref(const QLstmParams& p, const int8_t* x, int8_t* hidden_state, int16_t* cell_state, int8_t* y) {
  std::vector<int16_t> gate[4];
  for (auto& g : gate) g.assign(size_t(p.cells), 0);
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t t = 0; t < p.time; ++t) {
      const int64_t row = p.time_major ? t * p.batch + b : b * p.time + t;
      int8_t* h = hidden_state + b * p.cells;
      step(p, x + row * p.input, h, cell_state + b * p.cells, gate);
      std::copy(h, h + p.cells, y + row * p.cells);
    }
}

}  // namespace pareto::kernels
