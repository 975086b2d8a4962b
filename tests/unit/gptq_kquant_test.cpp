// GPTQ writing the K-quants (Q2_K .. Q6_K): each super-block's header is
// ggml's rounding of the error-updated weights, and GPTQ picks the codes on
// those grids. With inputs whose Hessian is diagonal no error moves to other
// columns, so GPTQ must give exactly llama.cpp's bytes (the reference
// quantizer's, which match llama-quantize's golden files): the header
// parsing, the code rule and the code layout all agree with ggml's. On
// correlated inputs it must beat rounding to nearest on the layer's output
// error, with and without act-order; rows that are not whole super-blocks
// are refused by name.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/k_quant_codes.h"
#include "kernels/quant_formats.h"
#include "layer_output_error.h"
#include "quant/gptq.h"
#include "quant/llm_mix.h"

using namespace pareto;

namespace {

const kernels::GgmlType kTypes[] = {kernels::GgmlType::q2_k, kernels::GgmlType::q3_k, kernels::GgmlType::q4_k, kernels::GgmlType::q5_k,
                                    kernels::GgmlType::q6_k};

std::string rounded_to_nearest(const std::vector<float>& w, int64_t rows, int64_t cols, uint32_t type) {
  const size_t rb = kernels::ggml_row_size(type, cols);
  std::string out(rb * size_t(rows), '\0');
  for (int64_t r = 0; r < rows; ++r) kernels::quantize_row_ref(type, w.data() + r * cols, out.data() + size_t(r) * rb, cols);
  return out;
}

}  // namespace

TEST(GptqKQuant, DiagonalHessianGivesLlamaCppBytes) {
  const int64_t rows = 6, cols = 512;
  std::mt19937 rng(3);
  std::normal_distribution<float> n01(0.f, 1.f);
  std::vector<float> w(size_t(rows * cols));
  for (float& v : w) v = 0.03f * n01(rng);
  for (int64_t c = 256; c < 288; ++c) w[size_t(c)] += 0.2f;  // a sub-block with an offset (the mins)
  // One token per input, each input on its own: H = X^T X is diagonal, with unequal entries.
  std::vector<float> x(size_t(cols * cols), 0.f);
  for (int64_t t = 0; t < cols; ++t) x[size_t(t * cols + t)] = 1.f + float(t % 7);
  for (bool act_order : {false, true}) {
    quant::GptqOptions o;
    o.act_order = act_order;
    const quant::GptqFactor f = quant::gptq_factor(x, cols, o);
    for (kernels::GgmlType t : kTypes) {
      const uint32_t type = uint32_t(t);
      const quant::GptqResult g = quant::gptq_quantize(w, rows, cols, f, type, o);
      ASSERT_FALSE(g.fell_back);
      EXPECT_EQ(g.bytes, rounded_to_nearest(w, rows, cols, type)) << kernels::ggml_type_traits(type).name << (act_order ? " act-order" : "");
    }
  }
}

TEST(GptqKQuant, BeatsRoundingOnCorrelatedInputs) {
  std::mt19937 rng(11);
  std::normal_distribution<float> n01(0.f, 1.f);
  const int64_t rows = 24, cols = 256, tokens = 384;
  int wins = 0, layers = 0;
  for (int layer = 0; layer < 3; ++layer) {
    // x = z A: correlated inputs; one dead input in the first layer.
    std::vector<float> a(size_t(cols * cols)), x(size_t(tokens * cols), 0.f), w(size_t(rows * cols));
    for (float& v : a) v = 0.15f * n01(rng);
    for (int64_t j = 0; j < cols; ++j) a[size_t(j * cols + j)] += 1.f;
    std::vector<float> z(static_cast<size_t>(cols));
    for (int64_t t = 0; t < tokens; ++t) {
      for (float& v : z) v = n01(rng);
      for (int64_t k = 0; k < cols; ++k)
        for (int64_t j = 0; j < cols; ++j) x[size_t(t * cols + j)] += z[size_t(k)] * a[size_t(k * cols + j)];
    }
    if (layer == 0)
      for (int64_t t = 0; t < tokens; ++t) x[size_t(t * cols + 9)] = 0.f;
    for (float& v : w) v = 0.05f * n01(rng) + (layer == 2 ? 0.02f : 0.f);
    quant::GptqOptions ordered;
    ordered.act_order = true;
    const quant::GptqFactor factors[2] = {quant::gptq_factor(x, cols), quant::gptq_factor(x, cols, ordered)};
    for (kernels::GgmlType t : kTypes)
      for (bool act_order : {false, true}) {
        const uint32_t type = uint32_t(t);
        quant::GptqOptions o;
        o.act_order = act_order;
        const quant::GptqResult g = quant::gptq_quantize(w, rows, cols, factors[act_order], type, o);
        ASSERT_FALSE(g.fell_back);
        EXPECT_EQ(g.dead_columns, layer == 0 ? 1 : 0);
        ASSERT_EQ(g.bytes.size(), kernels::ggml_row_size(type, cols) * size_t(rows));
        const double eg = pareto::testing::layer_output_error(w, g.bytes, type, rows, cols, x);
        const double er = pareto::testing::layer_output_error(w, rounded_to_nearest(w, rows, cols, type), type, rows, cols, x);
        ASSERT_TRUE(std::isfinite(eg));
        wins += eg < er;
        ++layers;
        if (layer == 1)
          std::printf("[gptq] %s%s: output error GPTQ %.4g vs RTN %.4g\n", kernels::ggml_type_traits(type).name, act_order ? " act-order" : "", eg, er);
      }
  }
  EXPECT_EQ(wins, layers);
}

TEST(GptqKQuant, RowsOfPartSuperBlocksAreRefused) {
  const int64_t cols = 288;  // a multiple of 32, not of 256
  std::vector<float> w(size_t(2 * cols), 0.1f), x(size_t(8 * cols), 1.f);
  try {
    quant::gptq_quantize(w, 2, cols, x, uint32_t(kernels::GgmlType::q4_k));
    FAIL() << "rows of 288 accepted for q4_K";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("multiple of 256"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(quant::gptq_writes(uint32_t(kernels::GgmlType::q6_k)));
  EXPECT_FALSE(quant::gptq_writes(uint32_t(kernels::GgmlType::q5_0)));
  // tune's names of a choice: a K-quant by GPTQ is one, q5_0 by GPTQ is not.
  EXPECT_EQ(quant::choice_by_name("q4_k+gptq"), uint32_t(kernels::GgmlType::q4_k) | quant::kGptqMethod);
  EXPECT_EQ(quant::type_name(quant::choice_by_name("q2_k+gptq")), "q2_k+gptq");
  EXPECT_ANY_THROW(quant::choice_by_name("q5_0+gptq"));
}
