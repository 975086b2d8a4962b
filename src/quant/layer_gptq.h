// GPTQ rounding of the int8 weights of ONNX CNN layers (convs, depthwise
// ones included, and MatMuls by a constant): the per-channel symmetric
// scales stay those of rounding to nearest (max |w| / 127), and GPTQ picks
// each code so that the layer's outputs on the calibration inputs move as
// little as possible (each weight's rounding error is spread over the
// weights of its channel not yet rounded, through the inverse Hessian of the
// layer's inputs: quant/gptq.h). The inputs are the float model's, sampled:
// a conv's im2col rows at up to `max_rows` output positions per sample.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ir/graph.h"

namespace pareto::quant {

// H = Σ x x^T over a layer's sampled input rows, one per group (a grouped
// conv's groups read disjoint channels).
class LayerHessian {
 public:
  // Most inputs per row (cols) taken: H is cols^2 doubles and its factor
  // cols^3 / 3 operations (4608: 170 MB, some seconds). Wider layers keep
  // rounding to nearest.
  static constexpr int64_t kMaxCols = 4608;
  // Strides, dilations and pads above this are refused (as the conv op
  // refuses them): the output-size arithmetic stays far inside int64.
  static constexpr int64_t kMaxGeometry = int64_t(1) << 20;

  // A conv (weights [oc, ic / group, k...], 1-D or 2-D) or a MatMul by B [k, n].
  // Attributes that do not fit the weights leave the layer unsupported.
  static LayerHessian for_conv(const ir::Node& conv, const Shape& weight_shape);
  static LayerHessian for_matmul(int64_t k);
  // Why GPTQ cannot serve this layer ("" when it can).
  const std::string& unsupported() const { return unsupported_; }
  void set_unsupported(const std::string& why) { unsupported_ = why; }
  double bytes() const { return double(groups_) * double(cols_) * double(cols_) * sizeof(double); }  // H, once filled
  int64_t groups() const { return groups_; }
  int64_t cols() const { return cols_; }
  int64_t rows_seen() const { return rows_seen_; }
  // Adds up to max_rows rows of one sample's input x (the conv's [n, c,
  // spatial...] or the MatMul's [..., k]), picked by a generator seeded with
  // `seed` (the same rows every run), gathered 1024 at a time. An input that
  // is not float makes the layer unsupported.
  void add(const Tensor& x, int64_t max_rows, uint64_t seed);
  // Noise the quantized model adds to the layer's input (its own uint8
  // rounding and clipping, and the error the layers before it bring:
  // onnx_gptq.h), taken as uncorrelated with variance `variance` per element: it
  // adds rows * variance to H's diagonal (rows: those of the samples it
  // applies to). Without it GPTQ trades rounding error into directions the
  // clean input avoids but the noisy one does not (PP-OCR rec, outputs on
  // 12 inputs held out of the calibration, 8192 rows, without the shrink
  // below and with the noise then taken as the upstream difference plus
  // step^2 / 12: relative error 3.8e-2 without it, 2.1e-2 with it, 4.9e-2
  // rounded to nearest, in one comparison; README "int8 models" has the
  // current figures, which are mixed).
  void add_input_noise(double variance, int64_t rows);
  // H's diagonal times (1 + cols / rows_seen): GPTQ's trade between the
  // weights of a channel rests on H's off-diagonal entries, estimated from
  // rows_seen rows; with few rows per input (silero's late encoder convs:
  // one row per 32 ms window) they fit the calibration windows and not the
  // next recording. A diagonal H makes GPTQ round to nearest, so this
  // leans toward nearest rounding as the estimate gets thin.
  void shrink_to_diagonal();
  // Group g's H (cols x cols, row-major); null before any row was added.
  const double* hessian(int64_t group) const { return h_.empty() ? nullptr : h_.data() + group * cols_ * cols_; }

 private:
  void add_conv_rows(const Tensor& x, int64_t max_rows, uint64_t seed);
  std::string unsupported_;
  bool matmul_ = false;
  int64_t groups_ = 1, cols_ = 0, in_per_group_ = 0, rows_seen_ = 0;
  ir::Node node_;       // a conv's attributes, read with the input's shape by the conv op's own geometry
  Shape weight_shape_;
  std::vector<double> h_;  // groups x cols x cols, allocated with the first rows
};

// int8 codes [rows, cols] for w [rows, cols] under per-row scales, chosen by
// GPTQ from H (cols x cols; null: no rows were seen); rows whose H is
// unusable (Cholesky failed at every damping) round to nearest. Returns
// whether GPTQ served (false: every row rounded to nearest). Codes lie in
// [-127, 127]; an input that was always zero in the calibration keeps its
// weight's nearest code.
bool gptq_int8_codes(const float* w, int64_t rows, int64_t cols, const float* scales, const double* hessian, int8_t* codes);

// The symmetric int8 code of w under scale: rounded to nearest, within
// +-127; NaN becomes 0.
int8_t symmetric_code(float w, float scale);
// A channel's symmetric int8 scale from its largest |w|: max / 127, or 1
// for a channel of zeros (or an infinite weight, which has no finite scale).
float symmetric_scale(float max_abs);
std::vector<float> symmetric_row_scales(const float* w, int64_t rows, int64_t cols);  // per row of w [rows, cols]

// A conv's int8 weights [oc, ic / group, k...] by GPTQ under their
// symmetric per-channel scales, group by group (a group's output channels
// read only its input channels); false where every group fell back to
// rounding to nearest.
bool conv_gptq_codes(const Tensor& w, const LayerHessian& h, int8_t* codes);
// A MatMul's B [k, n] by GPTQ, per column (its output channels): codes [k, n].
bool matmul_gptq_codes(const Tensor& b, const LayerHessian& h, int8_t* codes);

}  // namespace pareto::quant
