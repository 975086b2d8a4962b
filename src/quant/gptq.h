// GPTQ (Frantar et al.): quantizes a weight matrix column by column, each
// column's rounding error spread over the columns not yet quantized through
// the inverse Hessian of the layer's calibration inputs (H = X^T X), so the
// layer's outputs on those inputs move as little as possible. Writes GGML
// blocks directly (Q4_0 / Q4_1 / Q8_0, the K-quants or pareto's group
// formats): each block's scale is taken from the error-updated weights when
// the block is reached, or, with act-order, fixed before the columns are
// visited by decreasing importance. A K-quant's super-block (256 weights)
// takes its header (d, dmin, sub-block scales) from ggml's own rounding of
// the updated weights; GPTQ then picks every code on those grids.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "quant/calibrated_model.h"

namespace pareto::quant {

struct GptqResult {
  std::string bytes;      // rows * ggml_row_size(type, cols)
  bool fell_back = false;  // Cholesky failed at every damping: plain rounding was used
  double damping = 0;      // the damping that worked, as a share of mean(diag H)
  int dead_columns = 0;    // inputs that were always zero (their weights are dropped)
};

struct GptqOptions {
  double damping = 0.01;  // first damping tried, as a share of mean(diag H); x10 after each failed Cholesky
  int64_t block = 128;    // columns per lazy batch update
  bool act_order = false;  // columns by decreasing diag(H), block parameters fixed up front
};

// The types gptq_quantize writes: q4_0, q4_1, q8_0, q2_k .. q6_k and pareto's group types.
bool gptq_writes(uint32_t type);

// What GPTQ derives from a layer's calibration inputs alone, whatever the
// weights and the output type: the Hessian's inverse as an upper Cholesky
// factor (O(tokens cols^2 + cols^3), most of GPTQ's time), the column order
// and the inputs that were always zero. The matrices that read one input
// (q, k and v; gate and up) and every format of them share it.
struct GptqFactor {
  int64_t cols = 0;
  bool act_order = false;
  double first_damping = 0;   // GptqOptions::damping it was made with
  std::vector<int64_t> perm;  // processing order of the columns
  std::vector<char> dead;     // per column: the input was always zero
  std::vector<double> u;      // cols x cols, processing order; empty: Cholesky failed at every damping
  double damping = 0;
  size_t bytes() const { return u.size() * sizeof(double) + perm.size() * sizeof(int64_t) + dead.size(); }
};
GptqFactor gptq_factor(const std::vector<float>& x, int64_t cols, const GptqOptions& options = {});
// The same from H itself (inputs summed elsewhere: a conv's sampled im2col rows).
GptqFactor gptq_factor_from_hessian(std::vector<double> h, int64_t cols, const GptqOptions& options = {});
// Its first step, H = X^T X (cols x cols, row-major) from inputs [tokens, cols].
std::vector<double> gptq_hessian(const std::vector<float>& x, int64_t cols);
// H += X^T X for x [tokens, cols] (the same sums, in the same order, onto h's entries).
void gptq_hessian_add(const float* x, int64_t tokens, int64_t cols, double* h);

// w: [rows, cols] row-major; x: calibration inputs [tokens, cols]. type: a
// GGML type (cols a multiple of its block: 32, or 256 for K-quants) or a
// pareto group type (any cols, tail group).
GptqResult gptq_quantize(const std::vector<float>& w, int64_t rows, int64_t cols, const std::vector<float>& x, uint32_t type,
                         const GptqOptions& options = {});
// The same from the inputs' factor (made with the same options; another
// column order or damping is refused): the same bytes.
GptqResult gptq_quantize(const std::vector<float>& w, int64_t rows, int64_t cols, const GptqFactor& factor, uint32_t type,
                         const GptqOptions& options = {});

// Every matmul of the model's layers by GPTQ on calibration activations (all
// calibration tokens form each Hessian); embeddings and output by plain rounding.
CalibratedReport gptq_quantize_model(const std::string& in, const std::string& out, const CalibratedOptions& options);

}  // namespace pareto::quant
