// pareto quantize (ONNX) as the API runs it, with what pareto tune adds: a
// cache of activation ranges shared by its candidates (all quantized from
// one float model over one set of samples with one method) and the
// report's output error left out (tune measures quality itself).
#pragma once
#include <string>
#include <vector>

#include "pareto/quantize_onnx.hpp"
#include "quant/onnx_qdq.h"

namespace pareto::api {

// Throws on error (quantize_onnx_model wraps it in a Result).
OnnxQuantizeReport quantize_onnx_file(const std::string& in, const std::string& out, const std::vector<CalibrationSample>& samples,
                                      const OnnxQuantizeOptions& options, quant::RangeCache* ranges, bool measure_error);

}  // namespace pareto::api
