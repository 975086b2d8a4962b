// pareto quantize IN.onnx OUT.onnx --calib DIR [--method minmax|percentile|entropy|mse]
// [--percentile P] [--keep NODE]... [--no-keep-first-last] [--sensitivity] [--quantize-outputs] [--quantize-depthwise] [--expose-quantized] [--calib-limit N] [--threads N] [--const NAME=VALUE]:
// static int8 quantization written as a QDQ model, with the calibrated
// range of every quantized conv and (with --sensitivity) each conv's own
// share of the output error.
#include <cstdio>

#include "cli.h"
#include "pareto/quantize_onnx.hpp"

namespace pareto::tools {

int cmd_quantize_onnx(const Args& a) {
  if (a.positional.size() != 2 || !a.has("--calib"))
    fail_argument("usage: pareto quantize IN.onnx OUT.onnx --calib DIR [--method minmax|percentile|entropy|mse] [--percentile P] "
                  "[--keep NODE]... [--no-keep-first-last] [--sensitivity] [--quantize-outputs] [--quantize-depthwise] [--expose-quantized] [--calib-limit N] [--threads N] [--const NAME=VALUE]");
  OnnxQuantizeOptions o;
  o.method = a.get("--method", "minmax");
  o.percentile = a.get_double("--percentile", 99.99, 50, 100);
  o.keep = a.all("--keep");
  o.keep_first_last = !a.has("--no-keep-first-last");
  o.sensitivity = a.has("--sensitivity");
  o.quantize_outputs = a.has("--quantize-outputs");
  o.quantize_depthwise = a.has("--quantize-depthwise");
  o.expose_quantized = a.has("--expose-quantized");
  o.threads = a.get_threads(2);
  o.constant_inputs = parse_constants(a);
  std::vector<std::string> names;  // the inputs left after binding constants
  {
    SessionOptions so;
    auto s = take(Session::open(a.positional[0], so));
    for (const TensorInfo& t : s->inputs())
      if (!o.constant_inputs.count(t.name)) names.push_back(t.name);
  }
  const auto samples = take(load_calibration_npy(a.get("--calib"), names, int(a.get_int("--calib-limit", 0, 0, 1 << 20))));
  const OnnxQuantizeReport r = take(quantize_onnx_model(a.positional[0], a.positional[1], samples, o));
  std::printf("%-28s %-5s %-12s %20s %20s %12s\n", "conv", "int8", "kept", "input range", "output range", "sensitivity");
  for (const OnnxLayerReport& l : r.layers) {
    char in[64] = "", out[64] = "", sens[32] = "";
    if (l.quantized) {
      std::snprintf(in, sizeof in, "[%.4g, %.4g]", double(l.in_lo), double(l.in_hi));
      std::snprintf(out, sizeof out, "[%.4g, %.4g]", double(l.out_lo), double(l.out_hi));
    }
    if (l.sensitivity >= 0) std::snprintf(sens, sizeof sens, "%.3e", l.sensitivity);
    std::printf("%-28s %-5s %-12s %20s %20s %12s\n", l.node.c_str(), l.quantized ? "yes" : "no", l.kept_because.c_str(), in, out, sens);
  }
  std::printf("%s -> %s: %d convs int8, %d kept float; %s ranges from %d samples; output error %.3e (relative L2 vs float); %.1f s\n",
              a.positional[0].c_str(), a.positional[1].c_str(), r.quantized, r.kept, r.method.c_str(), r.samples, r.output_error, r.seconds);
  return 0;
}

}  // namespace pareto::tools
