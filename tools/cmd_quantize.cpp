// pareto quantize IN.gguf OUT.gguf [--method rtn] [--type q8_0|q4_0|q4_k|f16 | --bits 8|4]
// [--keep NAME-PART]... [--threads N]: weight matrices rewritten in a GGML
// type, a progress line per tensor (k of n, ETA), a summary at the end.
#include <unistd.h>

#include <cstdio>

#include "cli.h"
#include "core/thread_pool.h"
#include "quant/quantize_gguf.h"

namespace pareto::tools {

int cmd_quantize(const Args& a) {
  if (a.positional.size() != 2) fail_argument("usage: pareto quantize IN.gguf OUT.gguf [--method rtn] [--type q8_0|q4_0|q4_k|f16 | --bits 8|4]");
  quant::QuantizeOptions o;
  o.method = a.get("--method", "rtn");
  std::string type = a.get("--type", "");
  if (type.empty()) {
    const int bits = a.get_int("--bits", 8);
    if (bits != 8 && bits != 4) fail_argument("--bits " + std::to_string(bits) + ": this build writes 8 (q8_0) or 4 (q4_0 / --type q4_k)");
    if (a.get_int("--group", 32) != 32) fail_argument("--group: GGML's q8_0/q4_0 use groups of 32 (q4_k: 32 inside 256)");
    type = bits == 8 ? "q8_0" : "q4_0";
  }
  o.type = quant::type_by_name(type);
  o.keep = a.all("--keep");
  set_num_threads(a.get_int("--threads", 2));
  if (isatty(2)) o.progress = [](int k, int n, const std::string& name, double secs) {
    const double eta = k > 0 ? secs / k * (n - k) : 0;
    std::fprintf(stderr, "\r[%d/%d] %-40s %6.1f s, ETA %5.1f s", k, n, name.c_str(), secs, eta);
    if (k == n) std::fprintf(stderr, "\n");
  };
  const quant::QuantizeReport r = quant::quantize_gguf(a.positional[0], a.positional[1], o);
  for (const auto& note : r.notes) std::fprintf(stderr, "note: %s\n", note.c_str());
  std::printf("%s -> %s: %d tensors quantized to %s, %d kept, %d fallbacks; %s -> %s in %.2f s\n", a.positional[0].c_str(),
              a.positional[1].c_str(), r.quantized, type.c_str(), r.kept, r.fallbacks, format_bytes(r.bytes_in).c_str(),
              format_bytes(r.bytes_out).c_str(), r.seconds);
  return 0;
}

}  // namespace pareto::tools
