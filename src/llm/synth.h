// Random-weight models with real shapes (`pareto synth`): for benchmarks and
// tests of the loading, quantization and kernel paths without downloading
// weights. Loadable by pareto and by llama.cpp (llama architecture, SPM vocab).
#pragma once
#include <cstdint>
#include <string>

namespace pareto::llm {

struct SynthOptions {
  std::string arch = "llama";
  std::string preset = "tiny";  // micro | tiny | 0.5b | 1.1b
  std::string type = "f16";     // f32 | f16 | q8_0 | q4_0 | q4_k
  uint64_t seed = 1;
};

struct SynthReport {
  int64_t parameters = 0;
  uint64_t file_bytes = 0;
};

SynthReport synth_model(const SynthOptions& options, const std::string& path);

}  // namespace pareto::llm
