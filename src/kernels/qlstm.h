// TFLite's fully integer LSTM ("8x8_16": int8 input, weights and output,
// int16 cell state and gates), as UNIDIRECTIONAL_SEQUENCE_LSTM runs it when
// a model is quantized to int8: each gate's two matrix products rescaled to
// Q3.12 and added with int16 saturation, gemmlowp's int16 logistic and tanh,
// the cell updated in its power-of-two scale, the hidden state requantized
// to int8. Without peepholes, projection, layer normalization or CIFG (what
// the adapter accepts). Outputs equal TFLite's only with each rounding the
// same, so every step below is TFLite's.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/fixed_point.h"

namespace pareto::kernels {

struct QLstmGate {
  const int8_t* input_weights = nullptr;      // [cells, input]
  const int8_t* recurrent_weights = nullptr;  // [cells, cells]
  std::vector<int32_t> input_bias;            // the gate's bias - input zero point x row sums
  std::vector<int32_t> recurrent_bias;        // - state zero point x row sums
  fxp::Multiplier input_scale, recurrent_scale;  // to Q3.12
};

enum QLstmGateIndex { kLstmInput = 0, kLstmForget = 1, kLstmCell = 2, kLstmOutput = 3 };

struct QLstmParams {
  int64_t batch = 0, time = 0, input = 0, cells = 0;
  bool time_major = false;
  QLstmGate gates[4];
  int cell_shift = -12;  // the cell state's scale is 2^cell_shift
  int16_t cell_clip = 0;  // 0: no clipping
  fxp::Multiplier hidden_scale;  // Q0.15 x Q0.15 to the hidden state's int8 scale
  int32_t hidden_zero = 0;
};

// x: [batch, time, input] (or [time, batch, input] when time_major);
// y: the same layout with `cells` values per step. The states ([batch,
// cells]) hold the initial values and are left holding the last ones.
void qlstm_ref(const QLstmParams& p, const int8_t* x, int8_t* hidden_state, int16_t* cell_state, int8_t* y);

// Row sums of an int8 matrix times a zero point, plus an optional bias: the
// zero-point term TFLite precomputes for each gate.
std::vector<int32_t> qlstm_effective_bias(const int8_t* w, int64_t rows, int64_t cols, int32_t zero_point, const int32_t* bias);

}  // namespace pareto::kernels
