// The public ONNX quantization API (include/pareto/quantize_onnx.hpp) over
// quant/onnx_qdq: calibration samples read from .npy folders, the QDQ model
// written with the ONNX writer.
#include "pareto/quantize_onnx.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>

#include "api/guarded.h"
#include "api/npy.h"
#include "api/quantize_onnx_file.h"
#include "api/specialize.h"
#include "frontend/onnx/onnx_loader.h"
#include "frontend/onnx/onnx_writer.h"
#include "passes/passes.h"
#include "quant/onnx_qdq.h"

namespace pareto {

namespace {

std::vector<std::string> entries(const std::string& dir, bool want_dirs) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) fail(StatusCode::io_error, dir + ": cannot open the calibration folder");
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.empty() || name[0] == '.') continue;
    struct stat st {};
    if (stat((dir + "/" + name).c_str(), &st) != 0) continue;
    const bool is_dir = S_ISDIR(st.st_mode);
    if (is_dir != want_dirs) continue;
    if (!want_dirs && (name.size() < 5 || name.compare(name.size() - 4, 4, ".npy") != 0)) continue;
    out.push_back(name);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Result<std::vector<CalibrationSample>> load_calibration_npy(const std::string& dir, const std::vector<std::string>& input_names, int limit) {
  return guarded([&] {
    if (input_names.empty()) fail_argument("the model has no inputs to calibrate");
    std::vector<CalibrationSample> samples;
    auto full = [&] { return limit > 0 && int(samples.size()) >= limit; };
    if (input_names.size() == 1) {
      for (const std::string& f : entries(dir, false)) {
        if (full()) break;
        samples.push_back({{input_names[0], api::read_npy(dir + "/" + f)}});
      }
    } else {
      for (const std::string& sub : entries(dir, true)) {
        if (full()) break;
        CalibrationSample s;
        for (const std::string& name : input_names) s[name] = api::read_npy(dir + "/" + sub + "/" + name + ".npy");
        samples.push_back(std::move(s));
      }
    }
    if (samples.empty()) fail_argument(dir + ": no calibration samples (.npy files" + std::string(input_names.size() > 1 ? " in subfolders" : "") + ")");
    return samples;
  });
}

namespace api {

OnnxQuantizeReport quantize_onnx_file(const std::string& in, const std::string& out, const std::vector<CalibrationSample>& samples,
                                      const OnnxQuantizeOptions& options, quant::RangeCache* ranges, bool measure_error) {
  const double t0 = now_seconds();
  ir::Model model = load_specialized(in, options.constant_inputs);
  const ir::Graph& g = *model.graph;
  std::vector<quant::InputSample> inputs;
  for (const CalibrationSample& s : samples) {
    quant::InputSample row;
    for (int id : g.inputs) {
      const std::string& name = g.values[size_t(id)].name;
      auto it = s.find(name);
      if (it == s.end()) fail_argument("calibration sample lacks input '" + name + "'");
      row.push_back(it->second);
    }
    inputs.push_back(std::move(row));
  }
  quant::OnnxQuantOptions q;
  // "dynamic" as the method is the same as the dynamic flag (tune names its candidates' methods so).
  const bool dynamic = options.dynamic || options.method == "dynamic";
  q.method = dynamic ? quant::CalibMethod::minmax : quant::calib_method_by_name(options.method);
  q.percentile = options.percentile;
  q.keep = options.keep;
  q.keep_first_last = options.keep_first_last;
  q.sensitivity = options.sensitivity;
  q.quantize_outputs = options.quantize_outputs;
  q.quantize_depthwise = options.quantize_depthwise;
  q.quantize_matmul = options.quantize_matmul;
  q.expose_quantized = options.expose_quantized;
  q.dynamic = dynamic;
  q.gptq = options.gptq;
  q.gptq_rows = options.gptq_rows;
  q.threads = std::max(1, options.threads);
  q.ranges = ranges;
  q.measure_error = measure_error;
  quant::OnnxQuantReport r;
  const ir::Model quantized = quant::quantize_onnx(model, inputs, q, &r);
  onnx::save_model(quantized, out);
  OnnxQuantizeReport rep;
  rep.method = dynamic ? "dynamic" : quant::calib_method_name(r.method);
  rep.samples = r.samples;
  rep.output_error = r.output_error;
  rep.gemms_as_matmuls = r.gemms_as_matmuls;
  for (const quant::LayerReport& l : r.layers) {
    rep.layers.push_back({l.node, l.output, l.quantized, l.kept_because, l.in_lo, l.in_hi, l.out_lo, l.out_hi, l.sensitivity, l.end_layer, l.weights});
    (l.quantized ? rep.quantized : rep.kept)++;
  }
  rep.seconds = now_seconds() - t0;
  return rep;
}

}  // namespace api

Result<OnnxQuantizeReport> quantize_onnx_model(const std::string& in, const std::string& out, const std::vector<CalibrationSample>& samples,
                                               const OnnxQuantizeOptions& options) {
  return guarded([&] { return api::quantize_onnx_file(in, out, samples, options, nullptr, true); });
}

}  // namespace pareto
