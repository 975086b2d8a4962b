// The public quantization API (include/pareto/quantize.hpp): every method
// through quantize_model, judged by evaluate_quantized against the base, and
// errors returned as a Status, never thrown.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <string>

#include "pareto/pareto.h"
#include "pareto/quantize.hpp"

namespace {

std::string models() { return std::string(PARETO_SOURCE_DIR) + "/../shared/models/"; }

}  // namespace

TEST(QuantizeApi, EveryMethodWritesAModelCloseToItsBase) {
  const std::string base = models() + "stories260K.gguf";
  std::ifstream text_file(models() + "tinystories_style_eval.txt");
  if (!text_file || !std::ifstream(base)) GTEST_SKIP() << "../shared/models not found";
  const std::string text((std::istreambuf_iterator<char>(text_file)), {});
  pareto::EvalOptions eo;
  eo.max_chunks = 4;
  for (pareto::QuantMethod m : {pareto::QuantMethod::rtn, pareto::QuantMethod::awq, pareto::QuantMethod::gptq, pareto::QuantMethod::smoothquant}) {
    SCOPED_TRACE(pareto::quant_method_name(m));
    pareto::QuantizeOptions o;
    o.method = m;
    o.calib_random = true;  // no text needed; 512 tokens
    int progress_calls = 0;
    o.progress = [&](const pareto::QuantizeProgress&) { ++progress_calls; };
    const std::string out = ::testing::TempDir() + "/api_" + pareto::quant_method_name(m) + ".gguf";
    auto r = pareto::quantize_model(base, out, o);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->method, m);
    // 8 bits: q8_0, or one int8 scale per row for SmoothQuant's W8A8.
    EXPECT_EQ(r->type, m == pareto::QuantMethod::smoothquant ? "q8_row" : "q8_0");
    EXPECT_GT(progress_calls, 0);
    // Each method leaves its own trace: RTN no calibration, GPTQ no scales
    // (-1: no group scaled), SmoothQuant llama's alpha on every group, AWQ
    // an exponent r from its grid {0, 0.05, ..., 0.95} on every group.
    if (m == pareto::QuantMethod::rtn) {
      EXPECT_EQ(r->calib_tokens, 0);
      EXPECT_TRUE(r->ratio.empty());
      EXPECT_GT(r->quantized, 0);
    } else {
      EXPECT_EQ(r->calib_tokens, 512);
      ASSERT_EQ(r->ratio.size(), 5u) << "one entry per layer of stories260K";
      for (const auto& layer : r->ratio)
        for (float v : layer) {
          if (m == pareto::QuantMethod::gptq) {
            EXPECT_EQ(v, -1.f);
          }
          if (m == pareto::QuantMethod::smoothquant) {
            EXPECT_FLOAT_EQ(v, 0.85f);
          }
          if (m == pareto::QuantMethod::awq) {
            EXPECT_GE(v, 0.f);
            EXPECT_LT(v, 1.f);
            EXPECT_NEAR(v * 20, std::round(v * 20), 1e-3) << v;
          }
        }
    }
    auto e = pareto::evaluate_quantized(base, out, text, eo);
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    EXPECT_GT(e->top1, 0.9) << "8-bit weights keep the base model's choices";
    EXPECT_LT(e->kl_mean, 0.05);
    EXPECT_NEAR(e->bpw_quant, 8.5, 0.6);
  }
}

TEST(QuantizeApi, ErrorsComeBackAsStatus) {
  EXPECT_EQ(pareto::quant_method_by_name("awq").value(), pareto::QuantMethod::awq);
  auto bad = pareto::quant_method_by_name("awk");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code, pareto::StatusCode::invalid_argument);
  EXPECT_NE(bad.status().message.find("awk"), std::string::npos);
  pareto::QuantizeOptions o;
  o.bits = 9;
  auto r = pareto::quantize_model("/nonexistent.gguf", ::testing::TempDir() + "/never.gguf", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code, pareto::StatusCode::invalid_argument);
  EXPECT_NE(r.status().message.find("bits"), std::string::npos) << r.status().message;
  o.bits = 4;
  o.type = "q5_z";
  r = pareto::quantize_model("/nonexistent.gguf", ::testing::TempDir() + "/never.gguf", o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message.find("q5_z"), std::string::npos) << r.status().message;
  o.type = "q4_0";
  r = pareto::quantize_model("/nonexistent.gguf", ::testing::TempDir() + "/never.gguf", o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message.find("/nonexistent.gguf"), std::string::npos) << r.status().message;
  auto e = pareto::evaluate_quantized("/nonexistent-a.gguf", "/nonexistent-b.gguf", "text");
  ASSERT_FALSE(e.ok());
  auto c = pareto::calibrate_importance("/nonexistent.gguf", "text", ::testing::TempDir() + "/quantize_api_never_written_imp.txt", 1);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code, pareto::StatusCode::invalid_argument);
}

TEST(QuantizeApi, FromC) {
  const std::string base = models() + "stories260K.gguf";
  if (!std::ifstream(base)) GTEST_SKIP() << "../shared/models not found";
  const std::string out = ::testing::TempDir() + "/c_api_q4_0.gguf";
  ASSERT_EQ(pareto_quantize(base.c_str(), out.c_str(), "rtn", "q4_0", nullptr, 2), PARETO_OK) << pareto_last_error();
  pareto::EvalOptions eo;
  eo.ctx = 16;
  auto e = pareto::evaluate_quantized(base, out, "Once upon a time there was a little girl named Lily. She liked to play outside in the sun with her dog.", eo);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_NEAR(e->bpw_quant, 4.5, 0.3);
  EXPECT_EQ(pareto_quantize(base.c_str(), out.c_str(), "awk", "q4_0", nullptr, 2), PARETO_INVALID_ARGUMENT);
  EXPECT_NE(std::string(pareto_last_error()).find("awk"), std::string::npos);
  EXPECT_EQ(pareto_quantize(nullptr, out.c_str(), "rtn", "q4_0", nullptr, 2), PARETO_INVALID_ARGUMENT);
}
