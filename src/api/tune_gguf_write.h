// Writing pareto tune's chosen GGUF point (api/tune_gguf.cpp): the file,
// then its KL measured again against the point's before it is moved into place.
#pragma once
#include <string>

#include "pareto/tune.hpp"
#include "quant/llm_mix.h"

namespace pareto::api {

// Writes r.points[r.chosen] to `out` (a copy of an anchor file, or `in`
// requantized with the point's type per tensor, GPTQ's and AWQ's bytes as
// measured, AWQ's folded norms), fills r.written, and fails when the file's
// KL is not the measured one.
void write_and_check(const std::string& in, const std::string& out, quant::MixLab& lab, LlmTuneResult& r);

}  // namespace pareto::api
