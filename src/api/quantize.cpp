// The public quantization API (include/pareto/quantize.hpp) over the quant
// layer: picks the weight type, exports llama2.c checkpoints to GGUF first,
// and sends each method to its own implementation.
#include "pareto/quantize.hpp"

#include <cstdio>
#include <memory>

#include "api/guarded.h"
#include "core/thread_pool.h"
#include "kernels/pareto_formats.h"
#include "kernels/quant_formats.h"
#include "llm/export_gguf.h"
#include "llm/model.h"
#include "quant/awq.h"
#include "quant/evaluate.h"
#include "quant/gptq.h"
#include "quant/importance.h"
#include "quant/llama_mixes.h"
#include "quant/quantize_gguf.h"
#include "quant/smoothquant.h"

namespace pareto {

namespace {

constexpr std::pair<QuantMethod, const char*> kMethodNames[] = {
    {QuantMethod::rtn, "rtn"}, {QuantMethod::awq, "awq"}, {QuantMethod::gptq, "gptq"}, {QuantMethod::smoothquant, "smoothquant"}};

uint32_t weight_type(const QuantizeOptions& o) {
  if (const quant::LlamaMix mix = quant::llama_mix_by_name(o.type); mix != quant::LlamaMix::none) return quant::llama_mix_base_type(mix);
  if (!o.type.empty()) return quant::type_by_name(o.type);
  if (o.bits < 2 || o.bits > 8) fail_argument("bits must be 2..8, got " + std::to_string(o.bits));
  if (o.group < 0) fail_argument("group must be positive, got " + std::to_string(o.group));
  // W8A8 (SmoothQuant) keeps one int8 scale per output channel unless a group is asked for.
  if (o.method == QuantMethod::smoothquant && o.bits == 8 && o.group == 0) return kernels::kQ8RowType;
  return quant::type_for_bits(o.bits, o.group == 0 ? 32 : o.group, o.asymmetric);
}

bool is_gguf(const std::string& path) { return path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0; }

// Removes a temporary file however quantization ends.
struct RemoveLater {
  std::string path;
  ~RemoveLater() {
    if (!path.empty()) std::remove(path.c_str());
  }
};

void run_rtn(const std::string& in, const std::string& out, uint32_t type, const QuantizeOptions& o, QuantizeReport& rep) {
  quant::QuantizeOptions q;
  q.type = type;
  q.keep = o.keep;
  std::vector<std::string> mix_notes;
  if (const quant::LlamaMix mix = quant::llama_mix_by_name(o.type); mix != quant::LlamaMix::none) {
    q.tensor_types = quant::llama_mix_tensor_types(in, mix, &mix_notes);
    q.file_type = quant::llama_mix_file_type(mix);
  }
  if (!o.importance_file.empty()) q.importance = quant::load_importance(o.importance_file);
  if (o.progress)
    q.progress = [&](int k, int n, const std::string& name, double secs) { o.progress({"tensor", k, n, name, secs}); };
  const quant::QuantizeReport r = quant::quantize_gguf(in, out, q);
  rep.quantized = r.quantized, rep.kept = r.kept, rep.fallbacks = r.fallbacks;
  rep.bytes_in = r.bytes_in, rep.bytes_out = r.bytes_out;
  rep.seconds = r.seconds;
  rep.notes = r.notes;
  rep.notes.insert(rep.notes.end(), mix_notes.begin(), mix_notes.end());
}

void run_calibrated(const std::string& in, const std::string& out, uint32_t type, const QuantizeOptions& o, QuantizeReport& rep) {
  quant::CalibratedOptions a;
  a.type = type;
  a.alpha = o.alpha;
  // 128 x 512 tokens when a calibration text allows; sampling text from the model costs a decode step per token.
  a.calib_tokens = o.calib_tokens > 0 ? o.calib_tokens : !o.calib_text.empty() && !o.calib_random ? 128 * 512 : 512;
  a.calib_text = o.calib_random ? std::string() : o.calib_text;
  a.calib_random = o.calib_random;
  a.act_order = o.act_order;
  a.quantize = !o.fold_only;
  std::vector<std::string> mix_notes;
  if (const quant::LlamaMix mix = quant::llama_mix_by_name(o.type); mix != quant::LlamaMix::none) {
    // AWQ and SmoothQuant search their scales for one type: a mix of types is GPTQ's or rounding's.
    if (o.method != QuantMethod::gptq) fail_argument("llama.cpp's mix " + o.type + " is for --method rtn or gptq");
    a.tensor_types = quant::llama_mix_tensor_types(in, mix, &mix_notes);
    a.file_type = quant::llama_mix_file_type(mix);
  }
  if (o.progress) a.progress = [&](int k, int n, double secs) { o.progress({"layer", k, n, "", secs}); };
  quant::CalibratedReport r;
  switch (o.method) {
    case QuantMethod::awq: r = quant::awq_quantize(in, out, a); break;
    case QuantMethod::gptq: r = quant::gptq_quantize_model(in, out, a); break;
    case QuantMethod::smoothquant: r = quant::smoothquant_model(in, out, a); break;
    case QuantMethod::rtn: fail_argument("rtn is not a calibrated method");
  }
  rep.calibration = r.calibration;
  rep.calib_tokens = r.tokens;
  rep.calibration_seconds = r.calibration_seconds;
  rep.ratio = r.ratio;
  rep.notes = r.notes;
  rep.notes.insert(rep.notes.end(), mix_notes.begin(), mix_notes.end());
  rep.seconds = r.seconds;
}

}  // namespace

const char* quant_method_name(QuantMethod method) {
  for (const auto& [m, name] : kMethodNames)
    if (m == method) return name;
  return "?";
}

Result<QuantMethod> quant_method_by_name(const std::string& name) {
  for (const auto& [m, n] : kMethodNames)
    if (name == n) return m;
  return Status{StatusCode::invalid_argument, "unknown quantization method '" + name + "' (rtn, awq, gptq or smoothquant)"};
}

Result<QuantizeReport> quantize_model(const std::string& in, const std::string& out, const QuantizeOptions& o) {
  return guarded([&] {
    QuantizeReport rep;
    rep.method = o.method;
    const uint32_t type = weight_type(o);
    const bool mix = quant::llama_mix_by_name(o.type) != quant::LlamaMix::none;
    rep.type = mix ? o.type : std::string(kernels::ggml_type_traits(type).name);
    // llama2.c checkpoints are exported to GGUF first; the export goes away afterwards.
    std::string input = in;
    if (!is_gguf(in)) {
      auto model = llm::Model::load(in, o.tokenizer);
      input = out + ".f32.gguf";
      llm::export_gguf(*model, input);
      rep.exported_from = in;
    }
    RemoveLater cleanup{input == in ? "" : input};
    ThreadPool pool(std::max(1, o.threads));
    PoolScope scope(in_parallel_region() ? nullptr : &pool);
    if (o.method == QuantMethod::rtn)
      run_rtn(input, out, type, o, rep);
    else
      run_calibrated(input, out, type, o, rep);
    return rep;
  });
}

Result<ImportanceReport> calibrate_importance(const std::string& model, const std::string& text, const std::string& out, int64_t ctx,
                                              int64_t max_tokens) {
  return guarded([&] {
    if (ctx < 2) fail_argument("ctx must be at least 2, got " + std::to_string(ctx));
    if (max_tokens < 1) fail_argument("max_tokens must be positive, got " + std::to_string(max_tokens));
    ImportanceReport rep;
    const quant::Importance imp = quant::collect_importance(model, text, ctx, max_tokens, &rep.tokens);
    quant::save_importance(out, imp);
    rep.tensors = imp.size();
    return rep;
  });
}

Result<EvalReport> evaluate_quantized(const std::string& base, const std::string& quantized, const std::string& text, const EvalOptions& options) {
  return guarded([&] { return quant::evaluate(base, quantized, text, options); });
}

}  // namespace pareto
