// Quality of a quantized model against its base on held-out text:
// perplexity of both (llama.cpp's convention), mean KL divergence of the
// quantized next-token distribution from the base one, top-1 agreement, and
// per-layer relative MSE and cosine similarity of the residual stream.
#pragma once
#include <string>

#include "pareto/eval_types.hpp"

namespace pareto::quant {

// The option and report types are the public ones (include/pareto/eval_types.hpp).
using pareto::EvalOptions;
using pareto::EvalReport;
using pareto::LayerError;

EvalReport evaluate(const std::string& base, const std::string& quant, const std::string& text, const EvalOptions& options);

}  // namespace pareto::quant
