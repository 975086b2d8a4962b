// Static int8 post-training quantization of ONNX CNNs without Python: the
// model is calibrated on sample inputs and written as a QDQ ONNX file
// (QuantizeLinear / DequantizeLinear pairs, int8 per-channel weights,
// uint8 activations) that pareto and ONNX Runtime both run.
//
//   pareto::OnnxQuantizeOptions o;
//   o.method = "entropy";
//   auto samples = pareto::load_calibration_npy("calib/", {"x"});
//   auto r = pareto::quantize_onnx_model("det.onnx", "det.int8.onnx", samples.value(), o);
#pragma once
#include <map>
#include <string>
#include <vector>

#include "pareto/pareto.hpp"

namespace pareto {

struct OnnxQuantizeOptions {
  std::string method = "minmax";  // activation ranges: minmax, percentile, entropy (KL) or mse; "dynamic" sets `dynamic`
  double percentile = 99.99;      // for "percentile": of |x|
  std::vector<std::string> keep;  // conv node names (or output names) kept in float
  bool keep_first_last = true;    // the first conv, and each conv no weighted layer follows (an output layer), stay float
  bool sensitivity = false;       // also the output error with each conv alone in int8 (one run per conv and sample)
  // Q/DQ on conv outputs too: ONNX Runtime's full QDQ form (it fuses
  // DQ -> Conv -> Q into QLinearConv). Without it only conv inputs are
  // quantized: pareto runs those convs int8 in, float out, and the float
  // outputs lose nothing to a second rounding.
  bool quantize_outputs = false;
  // Grouped (depthwise) convs too. Off by default: they move little data
  // per multiply, so int8 saves little time there, and their per-channel
  // ranges are the least accurate.
  bool quantize_depthwise = false;
  // MatMuls by a constant 2-D weight too (transformer blocks, classifier
  // heads): int8 per column, the input per tensor; pareto runs them on
  // its int8 MatMul kernel. Their report rows name the MatMul nodes.
  bool quantize_matmul = false;
  // Every QuantizeLinear output is also a model output: for comparing two
  // engines' int8 activations tensor by tensor (bench/check_qdq_ort.sh).
  bool expose_quantized = false;
  // Activations rounded per run from each tensor's own range
  // (DynamicQuantizeLinear -> DequantizeLinear: the arithmetic of ONNX
  // Runtime's quantize_dynamic) instead of calibrated ranges: inputs whose
  // loudness varies a lot (audio) keep their precision in quiet stretches.
  // Biases stay float; grouped convs and MatMuls stay float (no int8 kernel
  // takes per-run ranges for them); `method` unused (the samples give the
  // report's output error).
  bool dynamic = false;
  // Inputs bound to constants before quantizing (silero VAD: sr=16000): the
  // graph is folded and its constant Ifs inlined, so convs inside branches
  // become visible; the written model lacks these inputs.
  std::map<std::string, Tensor> constant_inputs;
  // Weights rounded by GPTQ instead of to nearest: the same per-channel
  // scales, each code chosen so the layer's outputs on the calibration
  // inputs move least (rounding errors spread over the channel's later
  // weights through the inverse Hessian of the layer's inputs). Costs a
  // factorization per layer; layers with over 4608 inputs per output (or
  // past 2 GiB of Hessians in all) keep nearest rounding, and say so.
  bool gptq = false;
  // Input rows (a conv's im2col rows: output positions) drawn per layer
  // over all samples, at least 64 from each sample.
  int64_t gptq_rows = 32768;
  int threads = 2;
};

struct OnnxLayerReport {
  std::string node, output;
  bool quantized = false;
  std::string kept_because;  // why it stayed float ("first conv", "last layer", "--keep" ...)
  float in_lo = 0, in_hi = 0, out_lo = 0, out_hi = 0;  // the calibrated uint8 ranges
  double sensitivity = -1;   // relative L2 output error with only this conv in int8; -1: not measured
  bool end_layer = false;    // the first conv, or one no weighted layer follows: what keep_first_last keeps float
  std::string weights = "nearest";  // how its int8 weights were rounded: "gptq (R rows of C inputs)", "nearest", "nearest (why GPTQ could not)"
};

struct OnnxQuantizeReport {
  std::string method;
  int samples = 0, quantized = 0, kept = 0;
  double output_error = 0;  // relative L2 error of the int8 model's outputs against the float model, over the samples
  double seconds = 0;
  std::vector<OnnxLayerReport> layers;
  // With quantize_matmul: Gemms by a constant 2-D weight written as MatMul
  // (+ Add of the bias), alpha, beta and transB folded into the constants,
  // so they are layers like MatMuls (a classifier's fully connected ones).
  int gemms_as_matmuls = 0;
};

// One calibration sample: a tensor per model input, by input name.
using CalibrationSample = std::map<std::string, Tensor>;

// Samples from a folder: for a model with one input, every DIR/*.npy is a
// sample; otherwise every subfolder of DIR is one, with NAME.npy per input.
// Files in name order; at most `limit` samples (0: all).
Result<std::vector<CalibrationSample>> load_calibration_npy(const std::string& dir, const std::vector<std::string>& input_names,
                                                            int limit = 0);

Result<OnnxQuantizeReport> quantize_onnx_model(const std::string& in, const std::string& out, const std::vector<CalibrationSample>& samples,
                                               const OnnxQuantizeOptions& options = {});

}  // namespace pareto
