// pareto quantize IN.onnx OUT.onnx --calib DIR [--method minmax|percentile|entropy|mse]
// [--percentile P] [--keep NODE]... [--no-keep-first-last] [--sensitivity] [--quantize-outputs] [--quantize-depthwise] [--quantize-matmul] [--expose-quantized] [--dynamic] [--weights nearest|gptq [--gptq-rows N]] [--calib-limit N] [--threads N] [--const NAME=VALUE]
// [--calib-shape 1,3,H,W] [--calib-mean R,G,B] [--calib-std R,G,B] [--calib-bgr]:
// static int8 quantization written as a QDQ model, with the calibrated
// range of every quantized conv and (with --sensitivity) each conv's own
// share of the output error.
#include <array>
#include <cstdio>
#include <map>

#include "cli.h"
#include "pareto/calibration_images.hpp"
#include "pareto/quantize_onnx.hpp"

namespace pareto::tools {

namespace {

std::array<float, 3> three_floats(const Args& a, const std::string& flag, float fallback) {
  std::array<float, 3> v{fallback, fallback, fallback};
  if (!a.has(flag)) return v;
  const std::string spec = a.get(flag);
  size_t at = 0;
  for (int i = 0; i < 3; ++i) {
    const size_t comma = spec.find(',', at);
    if ((i < 2) != (comma != std::string::npos)) fail_argument(flag + " expects three numbers A,B,C, got '" + spec + "'");
    v[size_t(i)] = float(parse_double(spec.substr(at, comma - at), flag, -1e6, 1e6));
    at = comma + 1;
  }
  return v;
}

// --calib-shape (else the model's input shape, when fully known),
// --calib-mean, --calib-std (three values on [0, 1] pixels), --calib-bgr.
ImageCalibration image_calibration(const Args& a, const TensorInfo& input) {
  ImageCalibration how;
  if (a.has("--calib-shape")) {
    how.shape = parse_int_list(a.get("--calib-shape"), "--calib-shape", 1, 16384);
  } else {
    how.shape = input.dims;
    if (!input.rank_known) how.shape.clear();
    for (int64_t d : how.shape)
      if (d < 1) fail_argument("input '" + input.name + "' has dynamic dimensions: give --calib-shape 1,3,H,W for image calibration");
  }
  how.mean = three_floats(a, "--calib-mean", 0.f);
  how.std = three_floats(a, "--calib-std", 1.f);
  how.bgr = a.has("--calib-bgr");
  return how;
}

}  // namespace

int cmd_quantize_onnx(const Args& a) {
  if (a.positional.size() != 2 || !a.has("--calib"))
    fail_argument("usage: pareto quantize IN.onnx OUT.onnx --calib DIR [--method minmax|percentile|entropy|mse] [--percentile P] "
                  "[--keep NODE]... [--no-keep-first-last] [--sensitivity] [--quantize-outputs] [--quantize-depthwise] [--quantize-matmul] [--expose-quantized] [--dynamic] [--weights nearest|gptq [--gptq-rows N]] [--calib-limit N] [--threads N] [--const NAME=VALUE] "
                  "[--calib-shape 1,3,H,W --calib-mean R,G,B --calib-std R,G,B --calib-bgr]");
  OnnxQuantizeOptions o;
  o.method = a.get("--method", "minmax");
  o.percentile = a.get_double("--percentile", 99.99, 50, 100);
  o.keep = a.all("--keep");
  o.keep_first_last = !a.has("--no-keep-first-last");
  o.sensitivity = a.has("--sensitivity");
  o.quantize_outputs = a.has("--quantize-outputs");
  o.quantize_depthwise = a.has("--quantize-depthwise");
  o.quantize_matmul = a.has("--quantize-matmul");
  o.expose_quantized = a.has("--expose-quantized");
  o.dynamic = a.has("--dynamic") || o.method == "dynamic";
  const std::string weights = a.get("--weights", "nearest");
  if (weights != "nearest" && weights != "gptq") fail_argument("--weights takes nearest or gptq, not '" + weights + "'");
  o.gptq = weights == "gptq";
  if (a.has("--gptq-rows") && !o.gptq) fail_argument("--gptq-rows is for --weights gptq");
  o.gptq_rows = a.get_int("--gptq-rows", 32768, 64, int64_t(1) << 24);
  o.threads = a.get_threads(2);
  o.constant_inputs = parse_constants(a);
  std::vector<TensorInfo> inputs;  // the inputs left after binding constants
  {
    SessionOptions so;
    auto s = take(Session::open(a.positional[0], so));
    for (const TensorInfo& t : s->inputs())
      if (!o.constant_inputs.count(t.name)) inputs.push_back(t);
  }
  const std::string calib = a.get("--calib");
  const int limit = int(a.get_int("--calib-limit", 0, 0, 1 << 20));
  std::vector<CalibrationSample> samples;
  if (folder_has_images(calib)) {
    if (inputs.size() != 1) fail_argument("image calibration is for models with one input (this one has " + std::to_string(inputs.size()) + ")");
    samples = take(load_calibration_images(calib, inputs[0].name, image_calibration(a, inputs[0]), limit));
  } else {
    std::vector<std::string> names;
    for (const TensorInfo& t : inputs) names.push_back(t.name);
    samples = take(load_calibration_npy(calib, names, limit));
  }
  const OnnxQuantizeReport r = take(quantize_onnx_model(a.positional[0], a.positional[1], samples, o));
  std::printf("%-28s %-5s %-12s %20s %20s %12s  %s\n", "layer", "int8", "kept", "input range", "output range", "sensitivity", "weights");
  for (const OnnxLayerReport& l : r.layers) {
    char in[64] = "", out[64] = "", sens[32] = "";
    if (l.quantized && o.dynamic) {
      std::snprintf(in, sizeof in, "per run");
      std::snprintf(out, sizeof out, "-");
    } else if (l.quantized) {
      std::snprintf(in, sizeof in, "[%.4g, %.4g]", double(l.in_lo), double(l.in_hi));
      std::snprintf(out, sizeof out, "[%.4g, %.4g]", double(l.out_lo), double(l.out_hi));
    }
    if (l.sensitivity >= 0) std::snprintf(sens, sizeof sens, "%.3e", l.sensitivity);
    std::printf("%-28s %-5s %-12s %20s %20s %12s  %s\n", l.node.c_str(), l.quantized ? "yes" : "no", l.kept_because.c_str(), in, out, sens,
                l.quantized ? l.weights.c_str() : "-");
  }
  const std::string ranges = o.dynamic ? "activation ranges per run (dynamic), error over " + std::to_string(r.samples) + " samples"
                                        : r.method + " ranges from " + std::to_string(r.samples) + " samples";
  if (r.gemms_as_matmuls) std::printf("%d Gemm%s by constant weights written as MatMul + Add\n", r.gemms_as_matmuls, r.gemms_as_matmuls > 1 ? "s" : "");
  std::printf("%s -> %s: %d layers int8, %d kept float; %s; output error %.3e (relative L2 vs float); %.1f s\n", a.positional[0].c_str(),
              a.positional[1].c_str(), r.quantized, r.kept, ranges.c_str(), r.output_error, r.seconds);
  return 0;
}

}  // namespace pareto::tools
