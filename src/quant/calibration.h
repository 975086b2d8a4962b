// Calibration input for the activation-aware methods (AWQ, GPTQ,
// SmoothQuant): where the tokens come from, and the model copy that runs
// over them.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "llm/model.h"
#include "llm/tokenizer.h"

namespace pareto::quant {

struct CalibrationSource {
  std::string text;     // non-empty: tokenize this
  bool random = false;  // uniformly random token ids (seeded), BOS every ctx tokens
  int64_t tokens = 512;
  int64_t ctx = 128;
};

// Returns the tokens and describes their origin in *what. Without text or
// random, the base model samples text itself from BOS (seed 1234).
std::vector<int32_t> calibration_tokens(const llm::Model& m, const llm::Tokenizer& tok, const CalibrationSource& src, std::string* what);

// The calibration tokens cut into whole sequences of `ctx` tokens (at most
// src.ctx and the model's context; a text shorter than that, if at least
// 16 tokens, makes one shorter sequence), `count` in all (at most
// src.tokens). Fails, naming the count, when not even one sequence fits.
struct CalibrationSequences {
  std::vector<int32_t> tokens;
  int64_t ctx = 0, count = 0;
  std::string what;  // where the tokens came from
};
CalibrationSequences calibration_sequences(const llm::Model& m, const llm::Tokenizer& tok, CalibrationSource src);

// A copy of m whose F16/BF16 matmul weights are rounded to Q8_0 (and
// repacked for this CPU), for the calibration forward pass only: pareto's
// int8 prefill is ~5x its F16 prefill, and W8 rounding moves activations far
// less than the W4/W3 rounding being calibrated (stories260K W8: KL 0.0006).
// Returns null when there is nothing to convert (F32 or quantized weights).
std::unique_ptr<llm::Model> int8_forward_copy(const llm::Model& m);

}  // namespace pareto::quant
