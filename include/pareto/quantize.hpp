// Quantization of LLM weights without Python, and the measures that judge it.
//
//   pareto::QuantizeOptions o;
//   o.method = pareto::QuantMethod::awq;
//   o.type = "q4_0";
//   auto r = pareto::quantize_model("model.gguf", "model-q4.gguf", o);
//   if (!r.ok()) std::cerr << r.status().to_string() << "\n";
//
// Output files are ordinary GGUF models (llama.cpp loads those in standard
// GGML types too). Every function returns a Result: nothing here throws.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pareto/eval_types.hpp"
#include "pareto/pareto.hpp"

namespace pareto {

// How weights are rounded. rtn: ggml's reference rounding (optionally
// weighted by importance statistics); awq: activation-aware per-channel
// scales searched on calibration activations, folded into the model; gptq:
// second-order error compensation column by column; smoothquant: outliers
// migrated from activations to weights (W8A8 with q8_0 / q8_row).
enum class QuantMethod { rtn, awq, gptq, smoothquant };

const char* quant_method_name(QuantMethod method);
// "rtn", "awq", "gptq" or "smoothquant"; invalid_argument otherwise.
Result<QuantMethod> quant_method_by_name(const std::string& name);

struct QuantizeProgress {
  const char* stage = "";  // "tensor" (writing) or "layer" (calibrated methods)
  int done = 0, total = 0;
  std::string name;        // tensor name while writing
  double seconds = 0;      // since the start
};

struct QuantizeOptions {
  QuantMethod method = QuantMethod::rtn;
  // Weight type by name as llama.cpp spells it (q8_0, q4_0, q4_1, q4_k, f16 ...)
  // or one of pareto's group formats (pq3g64a ...). Empty: chosen from bits,
  // group and asymmetric (a standard type where one fits); SmoothQuant at 8
  // bits with no group asked for writes one int8 scale per row (q8_row).
  std::string type;
  int bits = 8;               // 2..8
  int64_t group = 0;          // 0: 32
  bool asymmetric = false;
  std::vector<std::string> keep;  // substrings of tensor names left as they are
  std::string importance_file;    // from calibrate_importance: weights the rounding (rtn)
  std::string tokenizer;          // llama2.c checkpoints: their tokenizer.bin (exported to GGUF first)
  int threads = 2;
  // Calibrated methods (awq, gptq, smoothquant):
  std::string calib_text;     // empty: text sampled from the model itself (seeded)
  bool calib_random = false;  // uniformly random token ids instead
  int64_t calib_tokens = 0;   // 0: 128 x 512 with calib_text, 512 otherwise
  float alpha = 0;            // SmoothQuant migration strength; 0: per architecture
  bool act_order = false;     // GPTQ: columns by decreasing input energy
  bool fold_only = false;     // fold the scales and write f32 (the model must not change)
  std::function<void(const QuantizeProgress&)> progress;
};

struct QuantizeReport {
  QuantMethod method = QuantMethod::rtn;
  std::string type;                   // the weight type written
  std::string exported_from;          // a llama2.c checkpoint exported to GGUF first; else empty
  int quantized = 0, kept = 0, fallbacks = 0;  // rtn
  size_t bytes_in = 0, bytes_out = 0;          // rtn
  double seconds = 0;
  std::vector<std::string> notes;     // fallbacks and requantizations, named
  // Calibrated methods:
  std::string calibration;            // where the activations came from
  int64_t calib_tokens = 0;
  double calibration_seconds = 0;     // the forward pass over the calibration tokens
  std::vector<std::vector<float>> ratio;  // [layer][qkv, o, gate/up, down]: AWQ's r or SmoothQuant's alpha (-1: skipped)
};

// Rewrites the weight matrices of a GGUF model (or a llama2.c checkpoint) in
// the chosen type by the chosen method and writes a GGUF file.
Result<QuantizeReport> quantize_model(const std::string& in, const std::string& out, const QuantizeOptions& options);

// Importance statistics (llama.cpp's imatrix): the mean squared activation of
// every input channel of every matmul over `text` in chunks of ctx tokens (at
// most max_tokens), written to `out` for QuantizeOptions::importance_file.
struct ImportanceReport {
  size_t tensors = 0;
  int64_t tokens = 0;
};
Result<ImportanceReport> calibrate_importance(const std::string& model, const std::string& text, const std::string& out, int64_t ctx = 128,
                                              int64_t max_tokens = 4096);

// Quality of a quantized model against its base (the option and report
// types are in pareto/eval_types.hpp).
Result<EvalReport> evaluate_quantized(const std::string& base, const std::string& quant, const std::string& text,
                                      const EvalOptions& options = {});

}  // namespace pareto
