// pareto quantize IN.gguf OUT.gguf [--method rtn|awq|gptq|smoothquant] [--type TYPE | --bits B --group G --sym|--asym]
// [--keep NAME-PART]... [--threads N]: weight matrices rewritten in a GGML
// type, a progress line per tensor (k of n, ETA), a summary at the end.
// pareto calibrate MODEL --file TEXT -o STATS: importance statistics.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli.h"
#include "pareto/quantize.hpp"

namespace pareto::tools {

namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail(StatusCode::io_error, path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// One line rewritten in place on a terminal: tensors while writing, layers while calibrating.
void show_progress(const QuantizeProgress& p) {
  const double eta = p.done > 0 ? p.seconds / p.done * (p.total - p.done) : 0;
  if (std::string(p.stage) == "layer")
    std::fprintf(stderr, "\rlayer %d of %d, %.1f s, ETA %.1f s", p.done, p.total, p.seconds, eta);
  else
    std::fprintf(stderr, "\r[%d/%d] %-40s %6.1f s, ETA %5.1f s", p.done, p.total, p.name.c_str(), p.seconds, eta);
  if (p.done == p.total) std::fprintf(stderr, "\n");
}

void print_report(const Args& a, const QuantizeReport& r) {
  const char* in = a.positional[0].c_str();
  const char* out = a.positional[1].c_str();
  if (!r.exported_from.empty()) std::fprintf(stderr, "exported %s to GGUF first\n", r.exported_from.c_str());
  for (const auto& note : r.notes) std::fprintf(stderr, "note: %s\n", note.c_str());
  switch (r.method) {
    case QuantMethod::rtn:
      std::printf("%s -> %s: %d tensors quantized to %s, %d kept, %d fallbacks; %s -> %s in %.2f s\n", in, out, r.quantized, r.type.c_str(),
                  r.kept, r.fallbacks, format_bytes(r.bytes_in).c_str(), format_bytes(r.bytes_out).c_str(), r.seconds);
      return;
    case QuantMethod::awq:
      std::printf("%s -> %s: AWQ to %s on %lld calibration tokens (%s) in %.2f s (calibration pass %.2f s); chosen r per layer (qkv, o, gate/up, down):\n",
                  in, out, r.type.c_str(), static_cast<long long>(r.calib_tokens), r.calibration.c_str(), r.seconds, r.calibration_seconds);
      for (size_t l = 0; l < r.ratio.size(); ++l)
        std::printf("  layer %zu: %.2f %.2f %.2f %.2f\n", l, double(r.ratio[l][0]), double(r.ratio[l][1]), double(r.ratio[l][2]), double(r.ratio[l][3]));
      return;
    case QuantMethod::gptq:
    case QuantMethod::smoothquant:
      std::printf("%s -> %s: %s to %s on %lld calibration tokens (%s) in %.2f s\n", in, out, quant_method_name(r.method), r.type.c_str(),
                  static_cast<long long>(r.calib_tokens), r.calibration.c_str(), r.seconds);
      return;
  }
}

}  // namespace

// pareto calibrate MODEL --file TEXT -o STATS [--ctx 128] [--tokens 4096]
int cmd_calibrate(const Args& a) {
  if (a.positional.size() != 1 || !a.has("--file") || !a.has("-o")) fail_argument("usage: pareto calibrate MODEL.gguf --file TEXT -o STATS.txt");
  const ImportanceReport r = take(calibrate_importance(a.positional[0], read_text(a.get("--file")), a.get("-o"), a.get_int("--ctx", 128, 2, 1 << 20),
                                                       a.get_int("--tokens", 4096, 1, 1 << 26)));
  std::printf("%s: importance of %zu matmul inputs from %lld tokens\n", a.get("-o").c_str(), r.tensors, static_cast<long long>(r.tokens));
  return 0;
}

int cmd_quantize(const Args& a) {
  const std::string& in = a.positional.empty() ? std::string() : a.positional[0];
  if (in.size() > 5 && in.compare(in.size() - 5, 5, ".onnx") == 0) return cmd_quantize_onnx(a);
  if (a.positional.size() != 2) fail_argument("usage: pareto quantize IN.gguf OUT.gguf [--method rtn|awq|gptq|smoothquant [--alpha 0.5]] [--type TYPE | --bits 8|4|3|2 [--group 32|64|128|256] [--sym|--asym]] [--calib FILE] [--calib-tokens N] [--act-order]");
  if (a.has("--sym") && a.has("--asym")) fail_argument("--sym and --asym exclude each other");
  QuantizeOptions o;
  o.method = take(quant_method_by_name(a.get("--method", "rtn")));
  o.type = a.get("--type", "");
  if (o.type.empty()) {  // --bits / --group / --asym choose the type only without --type
    o.bits = int(a.get_int("--bits", 8, 2, 8));
    o.group = a.has("--group") ? a.get_int("--group", 32, 1, 1 << 16) : 0;
    o.asymmetric = a.has("--asym");
  }
  o.keep = a.all("--keep");
  o.tokenizer = a.get("--tokenizer");
  o.importance_file = a.get("--importance");
  o.threads = a.get_threads(2);
  o.alpha = float(a.get_double("--alpha", 0, 0, 1));  // 0: the architecture's default
  o.calib_random = a.get("--calib", "") == "random";
  if (a.has("--calib") && !o.calib_random) o.calib_text = read_text(a.get("--calib"));
  o.calib_tokens = a.has("--calib-tokens") ? a.get_int("--calib-tokens", 512, 1, 1 << 26) : 0;
  o.act_order = a.has("--act-order");
  o.fold_only = a.has("--fold-only");  // scales folded, weights written f32: the model must not change
  if (isatty(2)) o.progress = show_progress;
  print_report(a, take(quantize_model(a.positional[0], a.positional[1], o)));
  return 0;
}

}  // namespace pareto::tools
