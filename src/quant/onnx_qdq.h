// Static int8 post-training quantization of ONNX CNNs, written as a QDQ
// model (QuantizeLinear / DequantizeLinear pairs that ONNX Runtime and other
// engines read):
//   weights   int8, symmetric, one scale per output channel (DequantizeLinear
//             axis 0); conv biases int32 with scale x_scale * w_scale;
//   activations uint8, asymmetric, one range per tensor from calibration
//             (activation_ranges.h), on the input of every quantized
//             convolution (pareto runs it as int8 in, float out, the
//             epilogue in float), and with quantize_outputs on its output
//             too (the form ONNX Runtime fuses into QLinearConv); or,
//             with `dynamic`, rounded per run by DynamicQuantizeLinear.
// The model is moved to opset 13 (per-axis DequantizeLinear) on the way.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ir/graph.h"
#include "quant/activation_ranges.h"

namespace pareto::quant {

// Activation ranges by tensor name, observed on the float model over one
// set of samples with one method: the same whatever convs are chosen, so
// a tune's candidates share them (each is calibrated once, not per candidate).
struct RangeCache {
  std::map<std::string, std::pair<float, float>> lo_hi;
  // GPTQ's int8 codes by layer output name, and how they were rounded (the
  // report's `weights`): the first quantization that rounds a layer by GPTQ
  // keeps them (its input noise from that model's int8 layers), the later
  // ones reuse them.
  std::map<std::string, std::pair<std::vector<int8_t>, std::string>> gptq_codes;
  std::string key;  // the method and percentile of its ranges (set on first use; another is refused)
};

struct OnnxQuantOptions {
  CalibMethod method = CalibMethod::minmax;
  double percentile = 99.99;
  std::vector<std::string> keep;  // conv node names (or output names) kept in float
  bool keep_first_last = true;    // the first conv, and each conv no weighted layer follows (an output layer), stay float
  bool sensitivity = false;       // measure each conv alone (one run per conv and sample)
  bool quantize_outputs = false;  // Q/DQ on conv outputs as well
  bool quantize_depthwise = false;  // grouped convs too (memory-bound: int8 saves little, costs accuracy)
  bool quantize_matmul = false;     // MatMuls by a constant 2-D B too (per-column int8 weights), and Gemms written as such
  bool expose_quantized = false;    // every QuantizeLinear output also a graph output (engine cross-checks)
  // Activations rounded per run from each tensor's own range
  // (DynamicQuantizeLinear, the arithmetic of ONNX Runtime's
  // quantize_dynamic): no calibrated ranges; biases stay float (their scale
  // is known only at run time); grouped convs and MatMuls stay float.
  bool dynamic = false;
  // Weights rounded by GPTQ on the calibration inputs (quant/layer_gptq.h)
  // instead of to nearest; the same scales. gptq_rows: input rows sampled
  // per layer over all samples.
  bool gptq = false;
  int64_t gptq_rows = 32768;
  int threads = 1;
  // Ranges found here are used as they are; the others are observed and
  // added. Only for the same float model, samples, method and percentile.
  RangeCache* ranges = nullptr;
  bool measure_error = true;  // the report's output error (runs the float and the quantized model over the samples)
};

struct LayerReport {
  std::string node, output;
  bool quantized = false;
  std::string kept_because;  // why it stayed float
  float in_lo = 0, in_hi = 0, out_lo = 0, out_hi = 0;
  double sensitivity = -1;  // relative output error with only this conv in int8 (-1: not measured)
  bool end_layer = false;   // the first conv, or one no weighted layer follows (an output layer)
  std::string weights = "nearest";  // how its int8 weights were rounded: "gptq", "nearest" or "nearest (why)"
};

struct OnnxQuantReport {
  std::vector<LayerReport> layers;
  int samples = 0;
  CalibMethod method = CalibMethod::minmax;
  double output_error = 0;  // relative L2 error of the quantized model's outputs on the samples
  int gemms_as_matmuls = 0;  // Gemms by constant weights written as MatMul (+ Add) to be quantized (quantize_matmul)
};

// One calibration sample: a tensor per graph input, in graph input order.
using InputSample = std::vector<Tensor>;

ir::Model quantize_onnx(const ir::Model& float_model, const std::vector<InputSample>& samples, const OnnxQuantOptions& options,
                        OnnxQuantReport* report);

// One run of m on the pool current on this thread (quantize_onnx sets it).
std::vector<Tensor> run_model(const ir::Model& m, const InputSample& in);

// ||a - b|| / ||b|| over all outputs of a run (the comparison used for the
// report and the sensitivity).
double relative_error(const std::vector<Tensor>& got, const std::vector<Tensor>& want);

}  // namespace pareto::quant
