// pareto profile: what one inference (or one token) costs this device:
// time, operations by precision, bytes read and written (weights, state,
// activations) and where they come from in the cache hierarchy, a roofline
// position against ceilings measured here, and energy: estimated from a
// device profile of published coefficients (docs/ENERGY.md), and measured
// where Linux powercap (RAPL) counters are readable.
#pragma once
#include <map>
#include <string>

#include "pareto/error.h"
#include "pareto/pareto.hpp"
#include "pareto/tensor.h"

namespace pareto {

struct ProfileOptions {
  int runs = 5;    // timed runs (ONNX: per-op medians) or decoded tokens (LLM)
  int warmup = 10;  // untimed runs first (ONNX): some ops settle only after a few runs
  // A built-in device profile ("x86-avx512", "arm-phone") or a JSON file.
  std::string device = "x86-avx512";
  bool measure_ceilings = true;  // peak GMAC/s per precision and read bandwidth (about a second)
  std::string powercap_root = "/sys/class/powercap";
  std::string sysfs_cpu = "/sys/devices/system/cpu";
  // Cache sizes in bytes to use instead of what the system reports (0: keep),
  // for a VM that reports an aggregate, or to model another device.
  uint64_t l1d_bytes = 0, l2_bytes = 0, llc_bytes = 0;
  // LLM: the prompt prefilled before decoding, and the KV cache type.
  int prompt_tokens = 64;
  std::string kv = "f16";
  std::string tokenizer;  // llama2.c models
  bool repack = true;     // LLM weights repacked for this CPU, as generate does
  int threads = 1;        // LLM (an ONNX session has its own, Session::threads())
};

// Profiles `session` (opened with SessionOptions::profile set) on `inputs`.
// Returns the report as JSON text (schema: docs/PROFILE.md).
Result<std::string> profile_session(Session& session, const std::string& model_name, const std::map<std::string, Tensor>& inputs,
                                    const ProfileOptions& options);
// Profiles a GGUF or llama2.c model: prefill of options.prompt_tokens, then
// options.runs decoded tokens.
Result<std::string> profile_llm_model(const std::string& path, const ProfileOptions& options);

// The report as a text table, and as one self-contained HTML page (inline
// SVG and script, nothing fetched) with a roofline, a time and energy
// waterfall, the memory over time and a summary card.
Result<std::string> profile_report_text(const std::string& json, size_t top_ops = 25);
Result<std::string> profile_report_html(const std::string& json);

// "48K", "1M", "32M", "1048576" -> bytes (K, M, G are powers of 1024); 0
// when malformed or above 1 TiB (for --caches).
uint64_t parse_byte_size(const std::string& text);

}  // namespace pareto
