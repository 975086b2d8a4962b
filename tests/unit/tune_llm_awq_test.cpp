// AWQ as a choice of pareto tune, per layer block: the lab's AWQ bytes and
// folded norms are those `pareto quantize --method awq` writes from the same
// calibration (a model with grouped heads, so o's scales are tied across the
// query heads of one v head), a built model with every block by AWQ measures
// what that file measures, a block cannot mix AWQ with other choices, and a
// tune over layer blocks offers it, writes it (norms folded) and reads the
// file back at the measured KL.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "../apps/scratch_dir.h"
#include "frontend/gguf/gguf_reader.h"
#include "llm/synth.h"
#include "quant/awq.h"
#include "quant/llm_mix.h"
#include "quant/quantize_gguf.h"
#include "tune_llm_test_util.h"

using namespace pareto;
using namespace pareto::tune_test;

namespace {

std::string calibration_text() { return read_file(std::string(PARETO_SOURCE_DIR) + "/data/calibration/tinystories_style_calib.txt"); }

const LlmTunePoint* find_point(const LlmTuneResult& r, const std::string& label) {
  for (const LlmTunePoint& p : r.points)
    if (p.label == label) return &p;
  return nullptr;
}

}  // namespace

TEST(TuneLlm, TheLabsAwqIsWhatQuantizeAwqWrites) {
  const std::string dir = pareto::testing::scratch_dir(), base = dir + "/tiny-f16.gguf", text = calibration_text();
  ASSERT_FALSE(text.empty());
  llm::SynthOptions so;
  so.preset = "tiny";  // 8 query heads over 4 KV heads: o's scales are tied in pairs
  so.type = "f16";
  llm::synth_model(so, base);
  const uint32_t q4k = quant::type_by_name("q4_k"), choice = q4k | quant::kAwqMethod;
  quant::MixLab lab(base, text, 64, 2);
  lab.calibrate(text, 512);  // as quantize and tune default to
  quant::CalibratedOptions co;
  co.type = q4k;
  co.calib_text = text;
  co.calib_tokens = 512;
  quant::awq_quantize(base, dir + "/awq.gguf", co);
  auto file = gguf::File::open(dir + "/awq.gguf");
  quant::Mix mix;
  for (size_t i = 0; i < lab.tensors().size(); ++i) {
    const quant::MixTensor& t = lab.tensors()[i];
    mix.push_back(t.layer >= 0 ? choice : q4k);
    if (t.layer < 0) {
      EXPECT_FALSE(lab.allows(i, choice)) << t.name;
      continue;
    }
    const gguf::TensorInfo* f = file->tensor(t.name);
    ASSERT_NE(f, nullptr) << t.name;
    const std::string bytes = *lab.matrix_bytes(i, choice);
    ASSERT_EQ(bytes.size(), f->nbytes) << t.name;
    EXPECT_EQ(0, std::memcmp(bytes.data(), f->data, bytes.size())) << t.name;
  }
  for (int64_t l = 0; l < 2; ++l)
    for (bool attention : {true, false}) {
      const std::string name = "blk." + std::to_string(l) + (attention ? ".attn_norm.weight" : ".ffn_norm.weight");
      const gguf::TensorInfo* f = file->tensor(name);
      const quant::MixLab::AwqFold fold = lab.awq_fold(l, attention, q4k);
      ASSERT_EQ(f->nbytes, fold.norm->size() * sizeof(float)) << name;
      EXPECT_EQ(0, std::memcmp(fold.norm->data(), f->data, f->nbytes)) << name;
    }
  // The lab's model of that mix measures what the file measures.
  auto written = llm::Model::load(dir + "/awq.gguf");
  quant::MixLab::prepare(*written);
  const quant::MixQuality from_file = lab.quality(*written), built = lab.quality(mix);
  EXPECT_DOUBLE_EQ(built.kl, from_file.kl);
  const quant::MixQuality rtn = lab.quality(lab.uniform(q4k));
  EXPECT_NE(built.kl, rtn.kl);
  // A block takes AWQ whole: q by AWQ beside k rounded to nearest is refused.
  quant::Mix broken = lab.uniform(q4k);
  for (size_t i = 0; i < broken.size(); ++i)
    if (lab.tensors()[i].name == "blk.0.attn_q.weight") broken[i] = choice;
  EXPECT_THROW(lab.build(broken), std::exception);
  // Only layer 1's MLP block by AWQ: its norm folded, the rest as it was.
  quant::Mix one = lab.uniform(q4k);
  for (size_t i = 0; i < one.size(); ++i)
    if (lab.tensors()[i].layer == 1 && !quant::in_attention_block(lab.tensors()[i])) one[i] = choice;
  auto m = lab.build(one);
  EXPECT_EQ(m->layers[1].ffn_norm.data, lab.awq_fold(1, false, q4k).norm->data());
  EXPECT_NE(m->layers[1].attn_norm.data, lab.awq_fold(1, true, q4k).norm->data());
  EXPECT_NE(m->layers[0].ffn_norm.data, lab.awq_fold(0, false, q4k).norm->data());
  EXPECT_THROW(quant::choice_by_name("f16+awq"), std::exception);
  EXPECT_EQ(quant::type_name(choice), "q4_k+awq");
  EXPECT_EQ(quant::choice_by_name("q4_k+awq"), choice);
}

TEST(TuneLlm, AwqIsAChoicePerLayerBlockAndWhatItWroteReadsBackAtTheMeasuredKl) {
  NEED_STORIES();
  const std::string dir = pareto::testing::scratch_dir(), base = shared_models() + "/stories260K.gguf",
                    text = read_file(shared_models() + "/tinystories_style_eval.txt");
  LlmTuneOptions o = small_options();
  o.formats = "q4_0";
  o.methods = "rtn,awq";
  o.group = "layer";
  o.calib_text = calibration_text();
  o.kv_types = {"f16"};
  o.objective = "quality";
  o.energy = false;
  const LlmTuneResult r = take(tune_llm_model(base, dir + "/awq.gguf", text, o));
  EXPECT_EQ(r.formats, (std::vector<std::string>{"q4_0", "q4_0+awq"}));
  // Layer blocks may take AWQ; the embedding may not (no sensitivity measured).
  for (size_t g = 0; g < r.groups.size(); ++g) EXPECT_EQ(std::isnan(r.sensitivity[g][1]), r.groups[g].rfind("blk.", 0) != 0) << r.groups[g];
  const LlmTunePoint *rtn = find_point(r, "uniform q4_0"), *awq = find_point(r, "uniform q4_0+awq");
  ASSERT_TRUE(rtn && awq);
  EXPECT_DOUBLE_EQ(awq->bpw, rtn->bpw);
  EXPECT_NE(awq->kl, rtn->kl);
  // The chosen point (least KL) was written and read back at its KL (tune
  // checks that before it reports).
  const LlmTunePoint& c = r.points[size_t(r.chosen)];
  size_t awq_tensors = 0;
  for (const std::string& t : c.types) awq_tensors += t == "q4_0+awq";
  // On this model AWQ's q4_0 reads better than rounding's, so the least-KL point has AWQ blocks: their norms were written.
  EXPECT_GT(awq_tensors, 0u);
  EXPECT_NE(r.written.find(std::to_string(awq_tensors) + " tensors scaled and clipped by AWQ"), std::string::npos) << r.written;
  std::printf("chosen %s: %zu tensors by AWQ, KL %.4g (uniform q4_0 %.4g, q4_0+awq %.4g)\n", c.label.c_str(), awq_tensors, c.kl, rtn->kl, awq->kl);
  // AWQ needs blocks as units.
  o.group = "tensor";
  auto refused = tune_llm_model(base, dir + "/x.gguf", text, o);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message.find("--group layer"), std::string::npos) << refused.status().message;
}
