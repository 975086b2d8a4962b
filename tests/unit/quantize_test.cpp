// pareto quantize (RTN) reproduces llama-quantize byte for byte on the golden
// synthetic model: every tensor of synth-mini-Q8_0.gguf, -Q4_0-pure, -Q4_1-pure,
// -Q5_0-pure, -Q5_1-pure, -Q5_K-pure and -Q6_K, from synth-mini-F32.gguf; rows that do not fill
// whole blocks fall back to f16 and are reported; the result runs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include "frontend/gguf/gguf_reader.h"
#include "frontend/gguf/gguf_writer.h"
#include "kernels/pareto_formats.h"
#include "kernels/quant_formats.h"
#include "pareto/llm.hpp"
#include "llm/export_gguf.h"
#include "llm/model.h"
#include "llm/tokenizer.h"
#include "llm/transformer.h"
#include "quant/awq.h"
#include "quant/evaluate.h"
#include "layer_output_error.h"
#include "quant/gptq.h"
#include "quant/group_quant.h"
#include "quant/importance.h"
#include "quant/smoothquant.h"
#include "quant/quantize_gguf.h"

using namespace pareto;

namespace {
std::string golden() { return std::string(PARETO_SOURCE_DIR) + "/../shared/models/golden/"; }
}  // namespace

TEST(Quantize, RtnMatchesLlamaQuantizeByteForByte) {
  if (!std::ifstream(golden() + "synth-mini-F32.gguf")) GTEST_SKIP() << "../shared/models/golden not found";
  struct Case {
    const char* type;
    const char* reference;
  };
  for (const Case& c : {Case{"q8_0", "synth-mini-Q8_0.gguf"}, Case{"q4_0", "synth-mini-Q4_0-pure.gguf"}, Case{"q4_1", "synth-mini-Q4_1-pure.gguf"},
                        Case{"q5_0", "synth-mini-Q5_0-pure.gguf"}, Case{"q5_1", "synth-mini-Q5_1-pure.gguf"}, Case{"q5_k", "synth-mini-Q5_K-pure.gguf"},
                        Case{"q6_k", "synth-mini-Q6_K.gguf"}}) {
    quant::QuantizeOptions o;
    o.type = quant::type_by_name(c.type);
    const std::string out = ::testing::TempDir() + "/quant_" + c.type + ".gguf";
    const auto report = quant::quantize_gguf(golden() + "synth-mini-F32.gguf", out, o);
    EXPECT_EQ(report.quantized, 16);
    EXPECT_EQ(report.fallbacks, 0);
    auto ours = gguf::File::open(out);
    auto ref = gguf::File::open(golden() + c.reference);
    ASSERT_EQ(ours->tensors.size(), ref->tensors.size());
    for (const auto& t : ref->tensors) {
      const gguf::TensorInfo* mine = ours->tensor(t.name);
      ASSERT_NE(mine, nullptr) << t.name;
      EXPECT_EQ(mine->type, t.type) << c.reference << " " << t.name;
      ASSERT_EQ(mine->nbytes, t.nbytes) << t.name;
      EXPECT_EQ(std::memcmp(mine->data, t.data, t.nbytes), 0) << c.reference << " " << t.name << ": bytes differ";
    }
    LlmOptions lo;
    lo.ctx = 64;
    auto s = LlmSession::open(out, lo);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
  }
}

TEST(Quantize, RowsThatDoNotFillBlocksFallBackAndAreReported) {
  // A 2-D weight with rows of 48 values (not a multiple of 32) and a 1-D norm.
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  std::vector<float> m(48 * 3, 0.25f), v(48, 1.f);
  w.add_tensor("blk.0.odd.weight", uint32_t(kernels::GgmlType::f32), {48, 3}, m.data(), m.size() * 4);
  w.add_tensor("blk.0.attn_norm.weight", uint32_t(kernels::GgmlType::f32), {48}, v.data(), v.size() * 4);
  const std::string in = ::testing::TempDir() + "/odd.gguf", out = ::testing::TempDir() + "/odd_q4.gguf";
  w.write(in);
  quant::QuantizeOptions o;
  o.type = quant::type_by_name("q4_0");
  const auto r = quant::quantize_gguf(in, out, o);
  EXPECT_EQ(r.fallbacks, 1);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("blk.0.odd.weight"), std::string::npos) << r.notes[0];
  auto f = gguf::File::open(out);
  // Written with a short tail group (32 + 16), not truncated and not widened to f16.
  const gguf::TensorInfo* odd = f->tensor("blk.0.odd.weight");
  EXPECT_EQ(odd->type, kernels::group_type(4, 32, false));
  std::vector<float> back(48);
  kernels::dequantize_row_ref(odd->type, odd->data, back.data(), 48);
  for (float v : back) EXPECT_NEAR(v, 0.25f, 1e-3f);
  EXPECT_EQ(f->tensor("blk.0.attn_norm.weight")->type, uint32_t(kernels::GgmlType::f32));
  EXPECT_THROW(quant::type_by_name("q9_9"), Error);
}

TEST(Quantize, Stories260KQualityReport) {
  const std::string dir = std::string(PARETO_SOURCE_DIR) + "/../shared/models/";
  std::ifstream text_file(dir + "tinystories_style_eval.txt");
  if (!text_file || !std::ifstream(dir + "stories260K.gguf")) GTEST_SKIP() << "../shared/models not found";
  const std::string text((std::istreambuf_iterator<char>(text_file)), {});
  quant::EvalReport r8, r4;
  for (const char* type : {"q8_0", "q4_0"}) {
    quant::QuantizeOptions o;
    o.type = quant::type_by_name(type);
    const std::string out = ::testing::TempDir() + "/stories_" + type + ".gguf";
    quant::quantize_gguf(dir + "stories260K.gguf", out, o);
    quant::EvalOptions eo;
    eo.ctx = 128;
    (std::string(type) == "q8_0" ? r8 : r4) = quant::evaluate(dir + "stories260K.gguf", out, text, eo);
  }
  EXPECT_NEAR(r8.ppl_base, 3.4418, 0.002) << "base perplexity (llama.cpp: 3.4418)";
  EXPECT_GE(r8.top1, 0.97) << "W8 top-1 agreement";
  EXPECT_LT(r8.kl_mean, r4.kl_mean);
  EXPECT_LT(std::abs(r8.ppl_quant - r8.ppl_base), std::abs(r4.ppl_quant - r4.ppl_base));
  EXPECT_LT(r8.bpw_quant, r8.bpw_base);
  EXPECT_LT(r4.bpw_quant, r8.bpw_quant);
  ASSERT_EQ(r8.layers.size(), 5u);
  for (size_t l = 0; l < r8.layers.size(); ++l) {
    EXPECT_LT(r8.layers[l].rel_mse, r4.layers[l].rel_mse) << "layer " << l;
    EXPECT_GT(r8.layers[l].cosine, 0.999) << "layer " << l;
  }
}

// The acceptance comparison on the real model, calibrated on text of the same
// style that is not the evaluation text (data/calibration).
TEST(Quantize, Stories260KAwqBeatsRoundingAtLowBits) {
  const std::string dir = std::string(PARETO_SOURCE_DIR) + "/../shared/models/";
  std::ifstream text_file(dir + "tinystories_style_eval.txt"), calib_file(std::string(PARETO_SOURCE_DIR) + "/data/calibration/tinystories_style_calib.txt");
  if (!text_file || !std::ifstream(dir + "stories260K.gguf")) GTEST_SKIP() << "../shared/models not found";
  ASSERT_TRUE(calib_file);
  const std::string text((std::istreambuf_iterator<char>(text_file)), {}), calib((std::istreambuf_iterator<char>(calib_file)), {});
  auto run = [&](const std::string& method, uint32_t type) {
    const std::string out = ::testing::TempDir() + "/stories_" + method + kernels::ggml_type_traits(type).name + ".gguf";
    if (method == "rtn") {
      quant::QuantizeOptions o;
      o.type = type;
      quant::quantize_gguf(dir + "stories260K.gguf", out, o);
    } else {
      quant::CalibratedOptions o;
      o.type = type;
      o.calib_text = calib;
      o.calib_tokens = 4096;
      quant::awq_quantize(dir + "stories260K.gguf", out, o);
    }
    const auto r = quant::evaluate(dir + "stories260K.gguf", out, text, quant::EvalOptions{});
    std::printf("[stories260K] %-5s %-9s PPL %.4f (base %.4f) KL %.4f\n", method.c_str(), kernels::ggml_type_traits(type).name, r.ppl_quant,
                r.ppl_base, r.kl_mean);
    return r;
  };
  const uint32_t w4 = kernels::group_type(4, 128, true), w3 = kernels::group_type(3, 32, true), q4_0 = uint32_t(kernels::GgmlType::q4_0);
  const auto rtn4 = run("rtn", w4), awq4 = run("awq", w4), rtn3 = run("rtn", w3), awq3 = run("awq", w3);
  const auto rtn40 = run("rtn", q4_0), awq40 = run("awq", q4_0);
  EXPECT_LT(awq4.ppl_quant - awq4.ppl_base, rtn4.ppl_quant - rtn4.ppl_base) << "W4 g128";
  EXPECT_LT(awq4.kl_mean, rtn4.kl_mean);
  EXPECT_LT(awq40.ppl_quant - awq40.ppl_base, rtn40.ppl_quant - rtn40.ppl_base) << "W4 g32 (q4_0)";
  EXPECT_LT(awq40.kl_mean, rtn40.kl_mean);
  EXPECT_LT(awq3.ppl_quant, 2 * awq3.ppl_base) << "W3 g32 AWQ within 2x of F32";
  EXPECT_LT(awq3.ppl_quant, rtn3.ppl_quant);
}

TEST(Quantize, AwqScalesFoldWithoutChangingTheModel) {
  const std::string dir = std::string(PARETO_SOURCE_DIR) + "/../shared/models/";
  if (!std::ifstream(dir + "stories260K.gguf")) GTEST_SKIP() << "../shared/models not found";
  quant::CalibratedOptions o;
  o.quantize = false;  // fold the chosen scales, keep f32 weights
  const std::string out = ::testing::TempDir() + "/stories_awq_fold.gguf";
  const auto rep = quant::awq_quantize(dir + "stories260K.gguf", out, o);
  bool scaled = false;
  for (const auto& l : rep.ratio)
    for (float r : l) scaled |= r > 0;
  EXPECT_TRUE(scaled) << "the search picked non-trivial scales somewhere";
  auto ma = llm::Model::load(dir + "stories260K.gguf");
  auto mb = llm::Model::load(out);
  llm::Tokenizer tok(ma->vocab);
  const std::vector<int32_t> ids = tok.encode("Once upon a time there was a little dog who liked to run", true);
  // f32 KV cache: the default f16 one would round the tiny differences of folded k/v to f16 steps.
  llm::Transformer ta(*ma, 64, llm::KvType::f32), tb(*mb, 64, llm::KvType::f32);
  const float* la = ta.forward(ids.data(), int64_t(ids.size()), 0, true);
  std::vector<float> saved(la, la + int64_t(ids.size()) * ma->config.vocab);
  const float* lb = tb.forward(ids.data(), int64_t(ids.size()), 0, true);
  double num = 0, den = 0;
  for (size_t i = 0; i < saved.size(); ++i) {
    num += double(saved[i] - lb[i]) * double(saved[i] - lb[i]);
    den += double(saved[i]) * saved[i];
  }
  EXPECT_LT(std::sqrt(num / den), 1e-5) << "relative change of the logits";
}

// Qwen2 has q/k/v biases and grouped heads: the v -> o scales must divide
// v's bias with its rows, and the attention score must add the biases.
TEST(Quantize, AwqFoldKeepsQwen2WithBiasesAndGroupedHeads) {
  constexpr int64_t dim = 64, heads = 4, kv = 2, hd = 16, ffn = 96, vocab = 32;
  std::mt19937 rng(21);
  std::normal_distribution<float> d(0.f, 0.3f);
  auto fill = [&](size_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
  };
  gguf::Writer g;
  g.set_string("general.architecture", "qwen2");
  g.set_u32("qwen2.embedding_length", dim);
  g.set_u32("qwen2.block_count", 1);
  g.set_u32("qwen2.attention.head_count", heads);
  g.set_u32("qwen2.attention.head_count_kv", kv);
  g.set_u32("qwen2.feed_forward_length", ffn);
  g.set_u32("qwen2.context_length", 64);
  g.set_string("tokenizer.ggml.model", "llama");
  std::vector<std::string> pieces;
  for (int i = 0; i < vocab; ++i) pieces.push_back(i < 3 ? std::string(i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>") : "t" + std::to_string(i));
  g.set_strings("tokenizer.ggml.tokens", pieces);
  g.set_f32s("tokenizer.ggml.scores", std::vector<float>(vocab, 0.f));
  auto t = [&](const std::string& name, const std::vector<float>& v, int64_t rows, int64_t cols) {
    g.add_tensor(name, 0, rows == 1 ? std::vector<int64_t>{cols} : std::vector<int64_t>{cols, rows}, v.data(), v.size() * 4);
  };
  t("token_embd.weight", fill(vocab * dim), vocab, dim);
  t("output_norm.weight", std::vector<float>(dim, 1.f), 1, dim);
  t("output.weight", fill(vocab * dim), vocab, dim);
  t("blk.0.attn_norm.weight", std::vector<float>(dim, 1.f), 1, dim);
  t("blk.0.attn_q.weight", fill(dim * dim), dim, dim);
  t("blk.0.attn_k.weight", fill(kv * hd * dim), kv * hd, dim);
  t("blk.0.attn_v.weight", fill(kv * hd * dim), kv * hd, dim);
  t("blk.0.attn_q.bias", fill(dim), 1, dim);
  t("blk.0.attn_k.bias", fill(kv * hd), 1, kv * hd);
  t("blk.0.attn_v.bias", fill(kv * hd), 1, kv * hd);
  t("blk.0.attn_output.weight", fill(dim * dim), dim, dim);
  t("blk.0.ffn_norm.weight", std::vector<float>(dim, 1.f), 1, dim);
  t("blk.0.ffn_gate.weight", fill(ffn * dim), ffn, dim);
  t("blk.0.ffn_up.weight", fill(ffn * dim), ffn, dim);
  t("blk.0.ffn_down.weight", fill(dim * ffn), dim, ffn);
  const std::string in = ::testing::TempDir() + "/qwen2_awq_in.gguf", out = ::testing::TempDir() + "/qwen2_awq_fold.gguf";
  g.write(in);
  quant::CalibratedOptions o;
  o.quantize = false;
  o.calib_random = true;
  o.calib_tokens = 256;
  const auto rep = quant::awq_quantize(in, out, o);
  EXPECT_GT(rep.ratio[0][1], 0.f) << "the v -> o group was scaled";
  auto ma = llm::Model::load(in), mb = llm::Model::load(out);
  const std::vector<int32_t> ids = {1, 5, 9, 3, 14, 2, 30, 7};
  llm::Transformer ta(*ma, 16, llm::KvType::f32), tb(*mb, 16, llm::KvType::f32);
  const float* la = ta.forward(ids.data(), int64_t(ids.size()), 0, true);
  std::vector<float> saved(la, la + int64_t(ids.size()) * vocab);
  const float* lb = tb.forward(ids.data(), int64_t(ids.size()), 0, true);
  double num = 0, den = 0;
  for (size_t i = 0; i < saved.size(); ++i) {
    num += double(saved[i] - lb[i]) * double(saved[i] - lb[i]);
    den += double(saved[i]) * saved[i];
  }
  EXPECT_LT(std::sqrt(num / den), 1e-5) << "relative change of the logits";
}

TEST(Quantize, AwqBeatsRoundingOnPlantedOutlierChannels) {
  // Activations with 1-4% of input channels scaled 20-100x, weights ~N(0, 0.02);
  // errors measured on held-out activations from the same distribution.
  std::mt19937 rng(77);
  std::normal_distribution<float> n01(0.f, 1.f);
  const int64_t rows = 96, cols = 512;
  for (const double share : {0.01, 0.04}) {
    for (const float boost : {20.f, 100.f}) {
      std::vector<float> gain(static_cast<size_t>(cols), 1.f);
      for (int64_t j = 0; j < cols; ++j)
        if (std::uniform_real_distribution<double>(0, 1)(rng) < share) gain[size_t(j)] = boost;
      auto acts = [&](int64_t tokens) {
        std::vector<float> x(static_cast<size_t>(tokens * cols));
        for (int64_t t = 0; t < tokens; ++t)
          for (int64_t j = 0; j < cols; ++j) x[size_t(t * cols + j)] = n01(rng) * gain[size_t(j)];
        return x;
      };
      std::vector<float> w(static_cast<size_t>(rows * cols));
      for (float& v : w) v = 0.02f * n01(rng);
      const auto calib = acts(256), test = acts(256);
      for (uint32_t type : {uint32_t(kernels::GgmlType::q4_0), kernels::group_type(4, 128, true), kernels::group_type(3, 128, true)}) {
        const auto c = quant::compare_on_layer(w, rows, cols, calib, test, type);
        std::printf("[awq] %.0f%% outlier channels x%.0f: %s output error RTN %.4g, AWQ %.4g (r = %.2f)\n", 100 * share, double(boost),
                    kernels::ggml_type_traits(type).name, c.rtn_error, c.awq_error, double(c.ratio));
        EXPECT_LT(c.awq_error, c.rtn_error) << share << " " << boost << " " << kernels::ggml_type_traits(type).name;
      }
    }
  }
}

TEST(Quantize, GptqBeatsRoundingOnCorrelatedInputsAndSurvivesDeadChannels) {
  std::mt19937 rng(5);
  std::normal_distribution<float> n01(0.f, 1.f);
  const int64_t rows = 48, cols = 128, tokens = 512;
  int wins = 0, layers = 0;
  struct Case {
    uint32_t type;
    bool act_order;
  };
  for (const Case c : {Case{uint32_t(kernels::GgmlType::q4_0), false}, Case{uint32_t(kernels::GgmlType::q8_0), false},
                       Case{kernels::group_type(3, 64, true), false}, Case{uint32_t(kernels::GgmlType::q4_0), true},
                       Case{kernels::group_type(3, 64, true), true}})
    for (int layer = 0; layer < 10; ++layer, ++layers) {
      const uint32_t type = c.type;
      // Correlated activations: x = z A with a random mixing matrix; one dead channel in some layers.
      std::vector<float> a(static_cast<size_t>(cols * cols)), x(static_cast<size_t>(tokens * cols), 0.f), w(static_cast<size_t>(rows * cols));
      for (float& v : a) v = n01(rng) * 0.2f;
      for (int64_t j = 0; j < cols; ++j) a[size_t(j * cols + j)] += 1.f;
      for (int64_t t = 0; t < tokens; ++t) {
        std::vector<float> z(static_cast<size_t>(cols));
        for (float& v : z) v = n01(rng);
        for (int64_t k = 0; k < cols; ++k)
          for (int64_t j = 0; j < cols; ++j) x[size_t(t * cols + j)] += z[size_t(k)] * a[size_t(k * cols + j)];
      }
      if (layer % 3 == 0)
        for (int64_t t = 0; t < tokens; ++t) x[size_t(t * cols + 7)] = 0.f;  // a dead input channel
      for (float& v : w) v = 0.05f * n01(rng);
      quant::GptqOptions go;
      go.act_order = c.act_order;
      const auto g = quant::gptq_quantize(w, rows, cols, x, type, go);
      EXPECT_FALSE(g.fell_back);
      if (layer % 3 == 0) {
        EXPECT_EQ(g.dead_columns, 1);
      }
      std::string rtn(kernels::ggml_row_size(type, cols) * size_t(rows), '\0');
      for (int64_t r = 0; r < rows; ++r) kernels::quantize_row_ref(type, w.data() + r * cols, rtn.data() + size_t(r) * kernels::ggml_row_size(type, cols), cols);
      const double eg = pareto::testing::layer_output_error(w, g.bytes, type, rows, cols, x);
      const double er = pareto::testing::layer_output_error(w, rtn, type, rows, cols, x);
      ASSERT_TRUE(std::isfinite(eg));
      wins += eg <= er;
      if (layer == 0)
        std::printf("[gptq] %s%s: output error GPTQ %.4g vs RTN %.4g\n", kernels::ggml_type_traits(type).name, c.act_order ? " act-order" : "", eg, er);
    }
  EXPECT_GE(double(wins), 0.95 * layers) << wins << " of " << layers << " layers";
}

TEST(Quantize, SmoothQuantTamesOutlierChannels) {
  // Activations with 2% of channels scaled 50x; weights ~N(0, 0.02).
  std::mt19937 rng(21);
  std::normal_distribution<float> n01(0.f, 1.f);
  const int64_t rows = 64, cols = 256;
  std::vector<float> gain(static_cast<size_t>(cols), 1.f);
  for (int64_t j = 0; j < cols; j += 50) gain[size_t(j)] = 50.f;
  auto acts = [&](int64_t tokens) {
    std::vector<float> x(static_cast<size_t>(tokens * cols));
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t j = 0; j < cols; ++j) x[size_t(t * cols + j)] = n01(rng) * gain[size_t(j)] * (1.f + 0.5f * float(t % 4));
    return x;
  };
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (float& v : w) v = 0.02f * n01(rng);
  const auto calib = acts(128), test = acts(128);
  using quant::ActGranularity;
  const double naive = quant::w8a8_error(w, rows, cols, test, {}, ActGranularity::per_tensor);
  const double per_token = quant::w8a8_error(w, rows, cols, test, {}, ActGranularity::per_token);
  std::vector<double> by_alpha;
  for (float alpha : {0.05f, 0.25f, 0.5f, 0.75f, 0.95f})
    by_alpha.push_back(quant::w8a8_error(w, rows, cols, test, quant::smoothing_scales(w, rows, cols, quant::channel_max_abs(calib, cols), alpha), ActGranularity::per_tensor));
  std::printf("[smoothquant] W8A8 error: naive per-tensor %.4g, per-token %.4g; smoothed per-tensor at alpha 0.05..0.95: %.4g %.4g %.4g %.4g %.4g\n",
              naive, per_token, by_alpha[0], by_alpha[1], by_alpha[2], by_alpha[3], by_alpha[4]);
  EXPECT_LT(by_alpha[2], naive) << "SmoothQuant per-tensor beats naive per-tensor";
  EXPECT_LT(per_token, naive) << "per-token beats per-tensor";
  const double best = *std::min_element(by_alpha.begin(), by_alpha.end());
  EXPECT_GT(by_alpha.front(), best) << "too little smoothing is worse than the best alpha";
  EXPECT_GT(by_alpha.back(), best) << "too much smoothing is worse too (U-shaped)";
}

TEST(Quantize, ImportanceWeightedRoundingNeverLosesOnItsObjective) {
  std::mt19937 rng(8);
  std::normal_distribution<float> n01(0.f, 1.f);
  std::uniform_real_distribution<float> u(0.f, 4.f);
  for (uint32_t type : {uint32_t(kernels::GgmlType::q4_0), uint32_t(kernels::GgmlType::q8_0), kernels::group_type(3, 64, true),
                        kernels::group_type(4, 128, false)}) {
    int better = 0;
    for (int r = 0; r < 50; ++r) {
      std::vector<float> w(256), imp(256), a(256), b(256);
      for (float& v : w) v = 0.03f * n01(rng);
      for (float& v : imp) v = u(rng) * u(rng);
      std::string qa(kernels::ggml_row_size(type, 256), '\0'), qb = qa;
      kernels::quantize_row_ref(type, w.data(), qa.data(), 256);
      quant::quantize_row_weighted(type, w.data(), imp.data(), qb.data(), 256);
      kernels::dequantize_row_ref(type, qa.data(), a.data(), 256);
      kernels::dequantize_row_ref(type, qb.data(), b.data(), 256);
      double ea = 0, eb = 0;
      for (int j = 0; j < 256; ++j) {
        ea += imp[size_t(j)] * (a[size_t(j)] - w[size_t(j)]) * (a[size_t(j)] - w[size_t(j)]);
        eb += imp[size_t(j)] * (b[size_t(j)] - w[size_t(j)]) * (b[size_t(j)] - w[size_t(j)]);
      }
      EXPECT_LE(eb, ea * (1 + 1e-6)) << "row " << r;
      better += eb < ea;
    }
    // 4-bit rows gain in most rows; at 8 bits a shrunk scale helps less often.
    std::printf("[importance] %s: weighted error lower on %d of 50 rows\n", kernels::ggml_type_traits(type).name, better);
    EXPECT_GT(better, type == uint32_t(kernels::GgmlType::q8_0) ? 0 : 25) << kernels::ggml_type_traits(type).name;
  }
  quant::Importance imp{{"blk.0.attn_q.weight", {1.f, 0.5f, 2.25f}}};
  const std::string path = ::testing::TempDir() + "/quantize_importance_roundtrip.txt";
  quant::save_importance(path, imp);
  EXPECT_EQ(quant::load_importance(path), imp);
  std::ofstream(path) << "blk.0.attn_q.weight 3 1 nan 2\n";
  EXPECT_THROW(quant::load_importance(path), Error);
}

TEST(Quantize, SmoothQuantModelKeepsW8Quality) {
  const std::string dir = std::string(PARETO_SOURCE_DIR) + "/../shared/models/";
  std::ifstream text_file(dir + "tinystories_style_eval.txt");
  if (!text_file || !std::ifstream(dir + "stories260K.gguf")) GTEST_SKIP() << "../shared/models not found";
  const std::string text((std::istreambuf_iterator<char>(text_file)), {});
  quant::CalibratedOptions o;
  o.type = kernels::kQ8RowType;  // int8 per output channel, activations per token
  o.alpha = 0.5f;                 // stories260K has no outlier channels: 0.3-0.85 all keep PPL within 0.2%
  std::ifstream calib(std::string(PARETO_SOURCE_DIR) + "/data/calibration/tinystories_style_calib.txt");
  o.calib_text.assign(std::istreambuf_iterator<char>(calib), {});
  EXPECT_FLOAT_EQ(quant::smoothquant_alpha("llama"), 0.85f);
  const std::string out = ::testing::TempDir() + "/stories_sq8.gguf";
  quant::smoothquant_model(dir + "stories260K.gguf", out, o);
  const auto r = quant::evaluate(dir + "stories260K.gguf", out, text, quant::EvalOptions{});
  EXPECT_GE(r.top1, 0.97);
  EXPECT_NEAR(r.ppl_quant, r.ppl_base, 0.01 * r.ppl_base);
}

TEST(Quantize, GroupQuantizationPacksExactlyAndOrdersErrors) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<uint32_t> any;
  for (int bits = 2; bits <= 8; ++bits)
    for (int64_t n : {1, 7, 33, 255, 4097}) {
      std::vector<uint32_t> codes(static_cast<size_t>(n));
      for (auto& c : codes) c = any(rng) & ((1u << bits) - 1);
      ASSERT_EQ(quant::unpack_codes(quant::pack_codes(codes, bits), bits, n), codes) << bits << " bits, n " << n;
    }
  std::normal_distribution<float> n01(0.f, 1.f);
  const int64_t n = 1000;  // not a multiple of any group: a tail group at the end
  std::vector<float> w(static_cast<size_t>(n)), back(static_cast<size_t>(n));
  for (float& v : w) v = n01(rng);
  auto mse = [&](int bits, int64_t group, bool asym) {
    quant::GroupQuantParams p{bits, group, asym};
    const auto q = quant::quantize_group_row(w.data(), n, p);
    quant::dequantize_group_row(q, p, back.data());
    double e = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double d = double(back[size_t(i)]) - w[size_t(i)];
      // Round to nearest: never more than half a step from the original (symmetric: every value is
      // inside the range; asymmetric: the rounded zero point can push the extremes past it).
      if (!asym) {
        EXPECT_LE(std::fabs(d), 0.5 * q.scale[size_t(i / group)] * (1 + 1e-5)) << bits << " bits, group " << group << ", element " << i;
      }
      e += d * d;
    }
    return e / double(n);
  };
  for (bool asym : {false, true}) {
    EXPECT_LT(mse(8, 128, asym), mse(4, 128, asym));
    EXPECT_LT(mse(4, 128, asym), mse(3, 128, asym));
    EXPECT_LT(mse(3, 128, asym), mse(2, 128, asym));
    EXPECT_LE(mse(4, 32, asym), mse(4, 64, asym));
    EXPECT_LE(mse(4, 64, asym), mse(4, 128, asym));
    EXPECT_LE(mse(3, 32, asym), mse(3, 128, asym));
  }
}

TEST(Quantize, Llama2cCheckpointExportsToTheSameGguf) {
  const std::string dir = std::string(PARETO_SOURCE_DIR) + "/../shared/models/";
  if (!std::ifstream(dir + "stories260K.bin")) GTEST_SKIP() << "../shared/models not found";
  auto m = llm::Model::load(dir + "stories260K.bin", dir + "tok512.bin");
  const std::string out = ::testing::TempDir() + "/stories_export.gguf";
  llm::export_gguf(*m, out);
  // llama.cpp's own conversion of the same checkpoint: every tensor byte for byte.
  auto ours = gguf::File::open(out);
  auto ref = gguf::File::open(dir + "stories260K.gguf");
  int compared = 0;
  for (const auto& t : ref->tensors) {
    const gguf::TensorInfo* mine = ours->tensor(t.name);
    ASSERT_NE(mine, nullptr) << t.name;
    ASSERT_EQ(mine->ne, t.ne) << t.name;
    ASSERT_EQ(mine->nbytes, t.nbytes) << t.name;
    EXPECT_EQ(std::memcmp(mine->data, t.data, t.nbytes), 0) << t.name;
    ++compared;
  }
  EXPECT_EQ(compared, int(ours->tensors.size()));
  // And it tokenizes like the checkpoint's tokenizer.
  auto g = llm::Model::load(out);
  llm::Tokenizer a(m->vocab), b(g->vocab);
  EXPECT_EQ(a.encode("Once upon a time, Lily saw a big dog.", true), b.encode("Once upon a time, Lily saw a big dog.", true));
}

// Blocks the golden files never hold: all zeros (Q6_K and the K-quants take
// a branch of their own) and one repeated value; dequantized, zeros stay
// zeros and a constant comes back within a step.
TEST(Quantize, ZeroAndConstantBlocksRoundTrip) {
  for (const char* name : {"q8_0", "q6_k", "q5_k", "q5_1", "q5_0", "q4_k", "q4_1", "q4_0", "q3_k", "q2_k"}) {
    const uint32_t type = quant::type_by_name(name);
    const int64_t n = 512;
    std::vector<uint8_t> q(kernels::ggml_row_size(type, n));
    std::vector<float> back(static_cast<size_t>(n));
    for (float v : {0.f, 0.5f, -3.f}) {
      const std::vector<float> x(static_cast<size_t>(n), v);
      kernels::quantize_row_ref(type, x.data(), q.data(), n);
      kernels::dequantize_row_ref(type, q.data(), back.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        if (v == 0.f) {
          ASSERT_EQ(back[size_t(i)], 0.f) << name << " at " << i;
        } else {
          ASSERT_NEAR(back[size_t(i)], v, std::fabs(v) * 0.15f) << name << " value " << v << " at " << i;
        }
      }
    }
  }
}
