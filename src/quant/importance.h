// Importance statistics (like llama.cpp's imatrix): the mean squared
// activation of every input channel of every matmul, collected once on
// calibration text (`pareto calibrate`) and reused to weight rounding
// decisions (`pareto quantize --importance FILE`).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pareto::quant {

// tensor name ("blk.0.attn_q.weight") -> E[x_j^2] per input column.
using Importance = std::map<std::string, std::vector<float>>;

// Runs the model over `text` in chunks of ctx tokens (at most max_tokens).
Importance collect_importance(const std::string& model_path, const std::string& text, int64_t ctx, int64_t max_tokens, int64_t* tokens_used);
void save_importance(const std::string& path, const Importance& imp);
Importance load_importance(const std::string& path);

// Q4_0 / Q8_0 rounding of one row whose block scales are chosen (among
// ggml's scale shrunk by up to 30%) to minimize sum_j imp_j (q_j - w_j)^2;
// pareto's group formats likewise by shrinking each group's range. Other
// types: plain rounding.
void quantize_row_weighted(uint32_t type, const float* w, const float* imp, void* out, int64_t cols);

}  // namespace pareto::quant
