// llama.cpp's named mixes (quant/llama_mixes.h): `--type q4_k_m` rounded to
// nearest is llama-quantize's file byte for byte (every tensor's type and
// bytes against the golden files llama-quantize wrote from the same F32
// model), and by GPTQ it has the same types and sizes with less KL against
// the base. The type rules are checked on their own for a deeper model
// (which layers get more bits) and for rows that do not fill super-blocks;
// pareto tune starts its search from the mixes, and its point for Q4_K_M
// is llama-quantize's file: the same types, the same KL.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "frontend/gguf/gguf_reader.h"
#include "kernels/quant_formats.h"
#include "pareto/quantize.hpp"
#include "pareto/tune.hpp"
#include "quant/llama_mixes.h"
#include "../apps/scratch_dir.h"

using namespace pareto;

namespace {

std::string golden() { return std::string(PARETO_SOURCE_DIR) + "/../shared/models/golden/"; }
uint32_t t(kernels::GgmlType g) { return uint32_t(g); }

}  // namespace

TEST(LlamaMix, RoundedToNearestIsLlamaQuantizesFile) {
  if (!std::ifstream(golden() + "synth-mini-F32.gguf")) GTEST_SKIP() << "../shared/models/golden not found";
  const std::string dir = pareto::testing::scratch_dir();
  for (const char* mix : {"Q3_K_M", "Q4_K_M", "Q5_K_M"}) {
    QuantizeOptions o;
    o.type = mix;
    const std::string out = dir + "/mix_" + mix + ".gguf";
    auto r = quantize_model(golden() + "synth-mini-F32.gguf", out, o);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->type, mix);
    auto ours = gguf::File::open(out);
    auto ref = gguf::File::open(golden() + "synth-mini-" + mix + ".gguf");
    ASSERT_EQ(ours->tensors.size(), ref->tensors.size());
    int mixed = 0;
    for (const auto& rt : ref->tensors) {
      const gguf::TensorInfo* mine = ours->tensor(rt.name);
      ASSERT_NE(mine, nullptr) << rt.name;
      ASSERT_EQ(mine->type, rt.type) << mix << " " << rt.name;
      ASSERT_EQ(mine->nbytes, rt.nbytes) << rt.name;
      EXPECT_EQ(std::memcmp(mine->data, rt.data, rt.nbytes), 0) << mix << " " << rt.name << ": bytes differ";
      mixed += rt.type != uint32_t(kernels::GgmlType::f32) && rt.type != quant::llama_mix_base_type(quant::llama_mix_by_name(mix));
    }
    EXPECT_GE(mixed, 3) << mix << ": the file mixes types";
  }
}

// stories260K's rows (64 and 172 wide) fill no super-block: every K-quant
// takes llama.cpp's fallback (Q5_0, Q8_0, F16 where 32 does not divide).
TEST(LlamaMix, FallbacksAreLlamaQuantizes) {
  const std::string models = golden() + "../";
  if (!std::ifstream(models + "stories260K-Q4_K_M.gguf")) GTEST_SKIP() << "../shared/models not found";
  const std::string out = pareto::testing::scratch_dir() + "/stories-q4_k_m.gguf";
  QuantizeOptions o;
  o.type = "q4_k_m";
  auto r = quantize_model(models + "stories260K.gguf", out, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  auto ours = gguf::File::open(out);
  auto ref = gguf::File::open(models + "stories260K-Q4_K_M.gguf");
  ASSERT_EQ(ours->tensors.size(), ref->tensors.size());
  for (const auto& rt : ref->tensors) {
    const gguf::TensorInfo* mine = ours->tensor(rt.name);
    ASSERT_NE(mine, nullptr) << rt.name;
    ASSERT_EQ(mine->type, rt.type) << rt.name;
    ASSERT_EQ(mine->nbytes, rt.nbytes) << rt.name;
    EXPECT_EQ(std::memcmp(mine->data, rt.data, rt.nbytes), 0) << rt.name << ": bytes differ";
  }
}

TEST(LlamaMix, GptqKeepsTheTypesAndLowersTheKl) {
  const std::string base = golden() + "synth-mini-F32.gguf";
  std::ifstream calib(std::string(PARETO_SOURCE_DIR) + "/data/calibration/tinystories_style_calib.txt");
  std::ifstream eval(golden() + "../tinystories_style_eval.txt");
  if (!std::ifstream(base) || !calib || !eval) GTEST_SKIP() << "../shared/models/golden not found";
  const std::string text((std::istreambuf_iterator<char>(eval)), {});
  const std::string dir = pareto::testing::scratch_dir();
  QuantizeOptions o;
  o.type = "q4_k_m";
  auto rtn = quantize_model(base, dir + "/rtn.gguf", o);
  o.method = QuantMethod::gptq;
  o.calib_text.assign((std::istreambuf_iterator<char>(calib)), {});
  o.calib_tokens = 1024;
  auto gptq = quantize_model(base, dir + "/gptq.gguf", o);
  ASSERT_TRUE(rtn.ok() && gptq.ok()) << rtn.status().to_string() << gptq.status().to_string();
  auto a = gguf::File::open(dir + "/rtn.gguf");
  auto b = gguf::File::open(dir + "/gptq.gguf");
  ASSERT_EQ(a->tensors.size(), b->tensors.size());
  int differ = 0;
  for (const auto& ta : a->tensors) {
    const gguf::TensorInfo* tb = b->tensor(ta.name);
    ASSERT_NE(tb, nullptr) << ta.name;
    EXPECT_EQ(tb->type, ta.type) << ta.name;
    ASSERT_EQ(tb->nbytes, ta.nbytes) << ta.name;
    differ += std::memcmp(ta.data, tb->data, ta.nbytes) != 0;
  }
  EXPECT_EQ(differ, 14) << "every layer matrix rounded by GPTQ (the embedding and output by rounding)";
  EvalOptions eo;
  eo.max_chunks = 6;
  auto er = evaluate_quantized(base, dir + "/rtn.gguf", text, eo);
  auto eg = evaluate_quantized(base, dir + "/gptq.gguf", text, eo);
  ASSERT_TRUE(er.ok() && eg.ok());
  std::printf("[mix] q4_k_m KL: rounded %.4g, GPTQ %.4g\n", er->kl_mean, eg->kl_mean);
  EXPECT_LT(eg->kl_mean, 0.8 * er->kl_mean);
}

TEST(LlamaMix, TypeRulesOfADeeperModel) {
  using quant::LlamaMix;
  // 16 layers of 2048-wide rows (ffn_down 5632), then one model with 64-wide rows.
  std::vector<quant::MixTensor2D> m = {{"token_embd.weight", 2048}};
  for (int l = 0; l < 16; ++l)
    for (const char* p : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"})
      m.push_back({"blk." + std::to_string(l) + "." + p + ".weight", std::string(p) == "ffn_down" ? 5632 : 2048});
  m.push_back({"output.weight", 2048});
  // Stored in name order (blk.0, blk.1, blk.10 ... blk.9): the rules count layers, not file positions.
  std::vector<quant::MixTensor2D> by_name = m;
  std::sort(by_name.begin(), by_name.end(), [](const quant::MixTensor2D& a, const quant::MixTensor2D& b) { return a.name < b.name; });
  const auto q4m = quant::llama_mix_types(LlamaMix::q4_k_m, by_name);
  // llama.cpp's "more bits" layers of 16: the first and last eighth and every third between: 0 1 4 7 10 13 14 15.
  const std::set<int> more_bits = {0, 1, 4, 7, 10, 13, 14, 15};
  for (int l = 0; l < 16; ++l) {
    const bool more = more_bits.count(l) > 0;
    const std::string b = "blk." + std::to_string(l) + ".";
    EXPECT_EQ(q4m.at(b + "attn_v.weight"), more ? t(kernels::GgmlType::q6_k) : t(kernels::GgmlType::q4_k)) << l;
    EXPECT_EQ(q4m.at(b + "ffn_down.weight"), more ? t(kernels::GgmlType::q6_k) : t(kernels::GgmlType::q4_k)) << l;
    EXPECT_EQ(q4m.at(b + "attn_q.weight"), t(kernels::GgmlType::q4_k));
  }
  EXPECT_EQ(q4m.at("output.weight"), t(kernels::GgmlType::q6_k));
  EXPECT_EQ(q4m.at("token_embd.weight"), t(kernels::GgmlType::q4_k));
  const auto q3m = quant::llama_mix_types(LlamaMix::q3_k_m, m);
  EXPECT_EQ(q3m.at("blk.1.attn_v.weight"), t(kernels::GgmlType::q5_k));
  EXPECT_EQ(q3m.at("blk.2.attn_v.weight"), t(kernels::GgmlType::q4_k));
  EXPECT_EQ(q3m.at("blk.0.ffn_down.weight"), t(kernels::GgmlType::q5_k));  // i < 16 / 16
  EXPECT_EQ(q3m.at("blk.1.ffn_down.weight"), t(kernels::GgmlType::q4_k));
  EXPECT_EQ(q3m.at("blk.5.attn_output.weight"), t(kernels::GgmlType::q4_k));
  EXPECT_EQ(q3m.at("blk.5.ffn_up.weight"), t(kernels::GgmlType::q3_k));
  EXPECT_EQ(quant::llama_mix_types(LlamaMix::q4_k_s, m).at("blk.3.attn_v.weight"), t(kernels::GgmlType::q5_k));
  EXPECT_EQ(quant::llama_mix_types(LlamaMix::q4_k_s, m).at("blk.4.attn_v.weight"), t(kernels::GgmlType::q4_k));
  EXPECT_EQ(quant::llama_mix_types(LlamaMix::q4_k_s, m).at("blk.1.ffn_down.weight"), t(kernels::GgmlType::q5_k));  // i < 16 / 8
  EXPECT_EQ(quant::llama_mix_types(LlamaMix::q4_k_s, m).at("blk.2.ffn_down.weight"), t(kernels::GgmlType::q4_k));
  const auto q3l = quant::llama_mix_types(LlamaMix::q3_k_l, m);
  for (const char* p : {"attn_v", "ffn_down", "attn_output"}) EXPECT_EQ(q3l.at(std::string("blk.9.") + p + ".weight"), t(kernels::GgmlType::q5_k)) << p;
  const auto q5s = quant::llama_mix_types(LlamaMix::q5_k_s, m);
  EXPECT_EQ(q5s.at("blk.0.attn_v.weight"), t(kernels::GgmlType::q5_k));
  EXPECT_EQ(q5s.at("output.weight"), t(kernels::GgmlType::q6_k));
  // An 80-layer model with grouped KV heads (llama.cpp's 70B class): attn_v at Q5_K where the mix gives Q4_K or Q3_K.
  EXPECT_EQ(quant::llama_mix_types(LlamaMix::q4_k_m, m, nullptr, true).at("blk.2.attn_v.weight"), t(kernels::GgmlType::q5_k));
  EXPECT_EQ(quant::llama_mix_types(LlamaMix::q4_k_m, m, nullptr, true).at("blk.1.attn_v.weight"), t(kernels::GgmlType::q6_k));
  // Rows of 64 fill no super-block: llama.cpp's fallbacks (Q4_K -> Q5_0, Q6_K -> Q8_0; Q3_K: IQ4_NL there, Q4_0 here, noted).
  const std::vector<quant::MixTensor2D> narrow = {{"blk.0.attn_q.weight", 64}, {"blk.0.attn_v.weight", 64}, {"output.weight", 64}};
  const auto n4 = quant::llama_mix_types(LlamaMix::q4_k_m, narrow);
  EXPECT_EQ(n4.at("blk.0.attn_q.weight"), t(kernels::GgmlType::q5_0));
  EXPECT_EQ(n4.at("blk.0.attn_v.weight"), t(kernels::GgmlType::q8_0));  // q6_k (last layer) -> q8_0
  EXPECT_EQ(n4.at("output.weight"), t(kernels::GgmlType::q8_0));
  std::vector<std::string> notes;
  const auto n3 = quant::llama_mix_types(LlamaMix::q3_k_s, narrow, &notes);
  EXPECT_EQ(notes.size(), 2u);  // attn_q and attn_v: q3_k -> q4_0 (IQ4_NL in llama.cpp); output q8_0
  EXPECT_EQ(n3.at("blk.0.attn_q.weight"), t(kernels::GgmlType::q4_0));
  EXPECT_EQ(quant::llama_mix_types(LlamaMix::q3_k_s, {{"blk.0.attn_q.weight", 48}}).at("blk.0.attn_q.weight"), t(kernels::GgmlType::f16));
  EXPECT_TRUE(quant::llama_big_gqa("llama", 80, 64, 8));
  EXPECT_FALSE(quant::llama_big_gqa("llama", 80, 64, 64));  // llama.cpp's 65B class
  EXPECT_TRUE(quant::llama_big_gqa("qwen2", 80, 64, 64));
  EXPECT_FALSE(quant::llama_big_gqa("llama", 32, 32, 8));
  EXPECT_EQ(quant::llama_mix_name(LlamaMix::q4_k_s), "Q4_K_S");
  EXPECT_EQ(quant::llama_mix_by_name("Q5_K_M"), LlamaMix::q5_k_m);
  EXPECT_EQ(quant::llama_mix_by_name("q4_k"), LlamaMix::none);
}

TEST(LlamaMix, TuneSeedsTheMixAsLlamaQuantizeWritesIt) {
  const std::string base = golden() + "synth-mini-F32.gguf", anchor = golden() + "synth-mini-Q4_K_M.gguf";
  std::ifstream eval(golden() + "../tinystories_style_eval.txt");
  if (!std::ifstream(base) || !eval) GTEST_SKIP() << "../shared/models/golden not found";
  const std::string text((std::istreambuf_iterator<char>(eval)), {});
  LlmTuneOptions o;
  o.formats = "f16,q6_k,q5_k,q4_k,q3_k";
  o.ctx = 64, o.max_chunks = 3, o.points = 2, o.generations = 1, o.population = 4, o.runs = 1, o.prompt_tokens = 4, o.decode_tokens = 4;
  o.max_timed = 2, o.energy = false;
  o.methods = "rtn,gptq", o.calib_tokens = 256;
  o.anchors = {anchor};
  auto r = tune_llm_model(base, pareto::testing::scratch_dir() + "/tuned.gguf", text, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const LlmTunePoint* seed = nullptr;
  for (const LlmTunePoint& p : r->points)
    if (p.label == "llama.cpp rules Q4_K_M") seed = &p;
  ASSERT_NE(seed, nullptr) << "the mix is a timed seed";
  EXPECT_EQ(seed->origin, "mix");
  auto file = gguf::File::open(anchor);
  ASSERT_EQ(seed->types.size(), r->tensors.size());
  for (size_t i = 0; i < r->tensors.size(); ++i) {
    std::string want = kernels::ggml_type_traits(file->tensor(r->tensors[i])->type).name;
    for (char& c : want) c = char(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(seed->types[i], want) << r->tensors[i];
  }
  const LlmTunePoint* by_gptq = nullptr;
  for (const LlmTunePoint& p : r->points)
    if (p.label == "llama.cpp rules Q4_K_M+gptq") by_gptq = &p;
  ASSERT_NE(by_gptq, nullptr) << "the mix by GPTQ is a seed too";
  EXPECT_DOUBLE_EQ(by_gptq->bpw, seed->bpw);
  for (size_t i = 0; i < r->tensors.size(); ++i) {
    const bool layer = r->tensors[i].rfind("blk.", 0) == 0;  // the embedding and output have no GPTQ
    EXPECT_EQ(by_gptq->types[i], seed->types[i] + (layer ? "+gptq" : "")) << r->tensors[i];
  }
  int anchors = 0;
  for (const LlmTunePoint& p : r->points) {
    if (p.origin != "anchor") continue;
    ++anchors;
    EXPECT_DOUBLE_EQ(p.kl, seed->kl) << "the same bytes give the same KL";
  }
  EXPECT_GT(anchors, 0);
}
