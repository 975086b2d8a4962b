// GPTQ's factor of a layer input (the inverse Hessian's Cholesky factor,
// the column order, the dead inputs) is computed once and shared by every
// matrix reading that input and every format: one factor reused for several
// matrices and types gives the bytes of a factor made afresh for each call
// (it is read only), a factor made with other options is refused, and
// tune's lab computes one factor per (layer, input), not one per (tensor,
// format). (That the split computes what GPTQ computed before it was
// checked once against the previous gptq.cpp: the session note says how.)
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "quant/gptq.h"
#include "quant/llm_mix.h"
#include "quant/quantize_gguf.h"
#include "tune_llm_test_util.h"

using namespace pareto;
using namespace pareto::tune_test;

namespace {

std::vector<float> gaussian(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

}  // namespace

TEST(GptqFactor, SharedFactorGivesTheSameBytesForEveryMatrixAndFormat) {
  const int64_t tokens = 96, cols = 64;
  std::vector<float> x = gaussian(size_t(tokens * cols), 1);
  for (int64_t t = 0; t < tokens; ++t) x[size_t(t * cols + 5)] = x[size_t(t * cols + 40)] = 0;  // two dead inputs
  const std::vector<float> w1 = gaussian(size_t(16 * cols), 2), w2 = gaussian(size_t(7 * cols), 3);
  for (bool act_order : {false, true}) {
    quant::GptqOptions o;
    o.act_order = act_order;
    const quant::GptqFactor f = quant::gptq_factor(x, cols, o);
    EXPECT_FALSE(f.u.empty());
    for (const char* type : {"q4_0", "q8_0", "q4_1", "pq3g32a"})
      for (const auto& [w, rows] : {std::pair{&w1, int64_t(16)}, std::pair{&w2, int64_t(7)}}) {
        const uint32_t t = quant::type_by_name(type);
        const quant::GptqResult direct = quant::gptq_quantize(*w, rows, cols, x, t, o);
        const quant::GptqResult shared = quant::gptq_quantize(*w, rows, cols, f, t, o);
        EXPECT_EQ(shared.bytes, direct.bytes) << type << " rows " << rows << " act_order " << act_order;
        EXPECT_EQ(shared.dead_columns, 2);
        EXPECT_EQ(shared.damping, direct.damping);
      }
  }
  // A factor of other inputs, or made for another column order or damping, is refused.
  const quant::GptqFactor plain = quant::gptq_factor(x, cols);
  quant::GptqOptions ordered;
  ordered.act_order = true;
  EXPECT_ANY_THROW(quant::gptq_quantize(w1, 16, cols, plain, quant::type_by_name("q4_0"), ordered));
  EXPECT_ANY_THROW(quant::gptq_quantize(std::vector<float>(16 * 32), 16, 32, plain, quant::type_by_name("q4_0")));
  quant::GptqOptions damped;
  damped.damping = 0.1;
  EXPECT_ANY_THROW(quant::gptq_quantize(w1, 16, cols, plain, quant::type_by_name("q4_0"), damped));
}

TEST(GptqFactor, TheLabComputesOneFactorPerLayerInput) {
  NEED_STORIES();
  const std::string base = shared_models() + "/stories260K.gguf", text = read_file(shared_models() + "/tinystories_style_eval.txt");
  quant::MixLab lab(base, text, 64, 2);
  lab.calibrate("", 128);
  int64_t layers = 0;
  for (const quant::MixTensor& t : lab.tensors()) layers = std::max(layers, t.layer + 1);
  ASSERT_GT(layers, 0);
  // Every layer matrix in two GPTQ formats, one after the other: q, k and v
  // read one input, gate and up another; o and down one each.
  for (const char* f : {"q4_0+gptq", "q8_0+gptq"}) {
    const uint32_t choice = quant::choice_by_name(f);
    for (size_t i = 0; i < lab.tensors().size(); ++i)
      if (lab.allows(i, choice)) (void)lab.matrix_bytes(i, choice);
  }
  EXPECT_EQ(lab.gptq_factors_computed(), 4 * layers);
}

// GPTQ rounds each row on its own: the rows of one call, made 8 at a time
// with the batch updates on the update kernel, are the bytes of each row
// quantized alone, at 1 and 2 threads, in natural and act order, for a
// 32-block type, a K-quant and a group format (13 rows: a group of 8 and a
// tail of 5).
TEST(GptqFactor, RowsInGroupsAreEachRowAlone) {
  const int64_t rows = 13, cols = 512;
  const std::vector<float> x = gaussian(size_t(300 * cols), 41), w = gaussian(size_t(rows * cols), 42);
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (bool act : {false, true}) {
      quant::GptqOptions o;
      o.act_order = act;
      const quant::GptqFactor f = quant::gptq_factor(x, cols, o);
      for (const char* name : {"q4_0", "q4_k", "pq3g64a"}) {
        const uint32_t t = quant::type_by_name(name);
        const std::string all = quant::gptq_quantize(w, rows, cols, f, t, o).bytes;
        const size_t row_bytes = all.size() / size_t(rows);
        for (int64_t r = 0; r < rows; ++r) {
          const std::vector<float> one(w.begin() + r * cols, w.begin() + (r + 1) * cols);
          EXPECT_EQ(quant::gptq_quantize(one, 1, cols, f, t, o).bytes, all.substr(size_t(r) * row_bytes, row_bytes))
              << name << " row " << r << " act-order " << act << " threads " << threads;
        }
      }
    }
  }
  set_num_threads(1);
}
