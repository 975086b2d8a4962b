// pareto quantize IN.gguf OUT.gguf [--method rtn|awq|gptq|smoothquant] [--type TYPE | --bits B --group G --sym|--asym]
// [--keep NAME-PART]... [--threads N]: weight matrices rewritten in a GGML
// type, a progress line per tensor (k of n, ETA), a summary at the end.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cli.h"
#include "core/thread_pool.h"
#include "kernels/pareto_formats.h"
#include "kernels/quant_formats.h"
#include "llm/export_gguf.h"
#include "llm/model.h"
#include "quant/awq.h"
#include "quant/importance.h"
#include "quant/quantize_gguf.h"

namespace pareto::tools {

// pareto calibrate MODEL --file TEXT -o STATS [--ctx 128] [--tokens 4096]
int cmd_calibrate(const Args& a) {
  if (a.positional.size() != 1 || !a.has("--file") || !a.has("-o")) fail_argument("usage: pareto calibrate MODEL.gguf --file TEXT -o STATS.txt");
  std::ifstream f(a.get("--file"));
  if (!f) fail(StatusCode::io_error, a.get("--file") + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  int64_t used = 0;
  const quant::Importance imp = quant::collect_importance(a.positional[0], ss.str(), a.get_int("--ctx", 128, 2, 1 << 20), a.get_int("--tokens", 4096, 1, 1 << 26), &used);
  quant::save_importance(a.get("-o"), imp);
  std::printf("%s: importance of %zu matmul inputs from %lld tokens\n", a.get("-o").c_str(), imp.size(), static_cast<long long>(used));
  return 0;
}

int cmd_quantize(const Args& a) {
  if (a.positional.size() != 2) fail_argument("usage: pareto quantize IN.gguf OUT.gguf [--method rtn|awq|gptq|smoothquant [--alpha 0.5]] [--type TYPE | --bits 8|4|3|2 [--group 32|64|128|256] [--sym|--asym]] [--calib FILE] [--calib-tokens N] [--act-order]");
  quant::QuantizeOptions o;
  o.method = a.get("--method", "rtn");
  std::string type = a.get("--type", "");
  if (a.has("--sym") && a.has("--asym")) fail_argument("--sym and --asym exclude each other");
  if (type.empty()) {
    // W8A8 (SmoothQuant) keeps one int8 scale per output channel unless a group is asked for.
    if (o.method == "smoothquant" && a.get_int("--bits", 8, 2, 8) == 8 && !a.has("--group")) {
      o.type = kernels::kQ8RowType;
    } else {
      o.type = quant::type_for_bits(int(a.get_int("--bits", 8, 2, 8)), int(a.get_int("--group", 32, 1, 1 << 16)), a.has("--asym"));
    }
  } else {
    o.type = quant::type_by_name(type);
  }
  type = kernels::ggml_type_traits(o.type).name;
  o.keep = a.all("--keep");
  // llama2.c checkpoints (with --tokenizer) are exported to GGUF first.
  std::string input = a.positional[0];
  if (input.size() < 5 || input.compare(input.size() - 5, 5, ".gguf") != 0) {
    auto model = llm::Model::load(input, a.get("--tokenizer"));
    input = a.positional[1] + ".f32.gguf";
    llm::export_gguf(*model, input);
    std::fprintf(stderr, "exported %s to %s\n", a.positional[0].c_str(), input.c_str());
  }
  // The intermediate export goes away however quantization ends.
  struct RemoveLater {
    std::string path;
    ~RemoveLater() {
      if (!path.empty()) std::remove(path.c_str());
    }
  } cleanup{input == a.positional[0] ? "" : input};
  if (a.has("--importance")) o.importance = quant::load_importance(a.get("--importance"));
  set_num_threads(a.get_threads(2));
  if (isatty(2)) o.progress = [](int k, int n, const std::string& name, double secs) {
    const double eta = k > 0 ? secs / k * (n - k) : 0;
    std::fprintf(stderr, "\r[%d/%d] %-40s %6.1f s, ETA %5.1f s", k, n, name.c_str(), secs, eta);
    if (k == n) std::fprintf(stderr, "\n");
  };
  if (o.method == "awq" || o.method == "gptq" || o.method == "smoothquant") {
    quant::AwqOptions ao;
    ao.method = o.method;
    ao.alpha = float(a.get_double("--alpha", 0, 0, 1));  // 0: the architecture's default
    ao.type = o.type;
    // 128 x 512 tokens when a calibration text allows; sampling text from the model costs a decode step per token.
    ao.calib_tokens = a.get_int("--calib-tokens", a.has("--calib") && a.get("--calib") != "random" ? 128 * 512 : 512, 1, 1 << 26);
    ao.act_order = a.has("--act-order");
    ao.quantize = !a.has("--fold-only");  // scales folded, weights written f32: the model must not change
    ao.calib_random = a.get("--calib", "") == "random";
    if (a.has("--calib") && !ao.calib_random) {
      std::ifstream f(a.get("--calib"));
      if (!f) fail(StatusCode::io_error, a.get("--calib") + ": cannot open");
      std::stringstream ss;
      ss << f.rdbuf();
      ao.calib_text = ss.str();
    }
    if (isatty(2)) ao.progress = [](int k, int n, double secs) {
      std::fprintf(stderr, "\rAWQ layer %d of %d, %.1f s, ETA %.1f s", k, n, secs, k ? secs / k * (n - k) : 0.0);
      if (k == n) std::fprintf(stderr, "\n");
    };
    const quant::AwqReport r = quant::awq_quantize_gguf(input, a.positional[1], ao);
    for (const auto& note : r.notes) std::fprintf(stderr, "note: %s\n", note.c_str());
    if (o.method != "awq") {
      std::printf("%s -> %s: %s to %s on %lld calibration tokens (%s) in %.2f s\n", a.positional[0].c_str(), a.positional[1].c_str(), o.method.c_str(),
                  type.c_str(), static_cast<long long>(r.tokens), r.calibration.c_str(), r.seconds);
      return 0;
    }
    std::printf("%s -> %s: AWQ to %s on %lld calibration tokens (%s) in %.2f s (calibration pass %.2f s); chosen r per layer (qkv, o, gate/up, down):\n",
                a.positional[0].c_str(), a.positional[1].c_str(), type.c_str(), static_cast<long long>(r.tokens), r.calibration.c_str(), r.seconds,
                r.calibration_seconds);
    for (size_t l = 0; l < r.ratio.size(); ++l)
      std::printf("  layer %zu: %.2f %.2f %.2f %.2f\n", l, double(r.ratio[l][0]), double(r.ratio[l][1]), double(r.ratio[l][2]), double(r.ratio[l][3]));
    return 0;
  }
  const quant::QuantizeReport r = quant::quantize_gguf(input, a.positional[1], o);
  for (const auto& note : r.notes) std::fprintf(stderr, "note: %s\n", note.c_str());
  std::printf("%s -> %s: %d tensors quantized to %s, %d kept, %d fallbacks; %s -> %s in %.2f s\n", a.positional[0].c_str(),
              a.positional[1].c_str(), r.quantized, type.c_str(), r.kept, r.fallbacks, format_bytes(r.bytes_in).c_str(),
              format_bytes(r.bytes_out).c_str(), r.seconds);
  return 0;
}

}  // namespace pareto::tools
