// pareto tune for GGUF LLMs: the rounding method per tensor (round to
// nearest or GPTQ) and the KV cache type. The search's `allowed` rule on a
// synthetic space; then stories260K (a real trained model): GPTQ choices
// exist only for layer matrices, what GPTQ wrote reads back from the file at
// the KL measured for the point (an independent evaluation), and points at a
// q8 KV cache carry the quality measured with that cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "../apps/scratch_dir.h"
#include "api/tune_cache.h"
#include "frontend/gguf/gguf_reader.h"
#include "quant/evaluate.h"
#include "quant/gptq.h"
#include "quant/llm_mix.h"
#include "quant/mix_cost.h"
#include "quant/mix_search.h"
#include "quant/quantize_gguf.h"
#include "fake_powercap.h"
#include "tune_llm_test_util.h"

using namespace pareto;
using namespace pareto::tune_test;

TEST(MixSearch, AFormatATensorMayNotTakeIsNeverGivenIt) {
  // Formats 100 (8 bytes), 101 (4), 102 (4, a second method of 101's type), 103 (2); tensor 0 may not take 102.
  quant::MixSpace s;
  s.tensors = 3;
  s.formats = {100, 101, 102, 103};
  s.bytes = [](size_t, uint32_t t) -> uint64_t { return t == 100 ? 8 : t == 103 ? 2 : t == 99 ? 16 : 4; };
  s.weights = 3;
  s.source = {99, 99, 99};
  s.allowed = [](size_t i, uint32_t t) { return !(i == 0 && t == 102); };
  int calls = 0;
  const quant::MixMeasure measure = [&](const quant::Mix& m) {
    ++calls;
    double kl = 0;
    for (uint32_t t : m) kl += t == 99 ? 0 : t == 100 ? 0.001 : t == 101 ? 0.05 : t == 102 ? 0.01 : 0.2;
    return quant::MixQuality{kl, 1 + kl, 1};
  };
  quant::MixSearchOptions o;
  o.points = 4, o.generations = 6, o.population = 12, o.seed = 3;
  const quant::MixSearchResult r = quant::search_mixes(s, measure, {}, o);
  EXPECT_TRUE(std::isnan(r.sensitivity[0][2]));
  EXPECT_DOUBLE_EQ(r.sensitivity[1][2], 0.01);
  EXPECT_DOUBLE_EQ(r.sensitivity[0][1], 0.05);
  // Sensitivity measures only the allowed pairs: 3 x 4 less one.
  size_t evolved = 0;
  for (const quant::MeasuredMix& p : r.points) {
    EXPECT_NE(p.mix[0], 102u) << p.label;
    evolved += p.label.rfind("evolved", 0) == 0;
  }
  EXPECT_GT(evolved, 4u);
  for (const quant::Mix& m : r.path) EXPECT_NE(m[0], 102u);
  EXPECT_EQ(r.path.back()[0], 103u);  // past the format it may not take, to the narrowest
  // From 100, tensors 1 and 2 go to 102 (same bytes as 101, less KL): the path picks the better method at a size.
  bool took_102 = false;
  for (const quant::Mix& m : r.path) took_102 |= m[1] == 102 || m[2] == 102;
  EXPECT_TRUE(took_102);
  EXPECT_EQ(size_t(calls), 11 + r.points.size());
}

// The greedy path by time (MixSpace::ms): format 101 is smaller than 100
// but no faster, 102 faster than both but larger than 101. The byte path
// takes 101 and never 102; the time path skips 101 (it saves no time) and
// ends at 102; its points are measured and labelled; without a cost model
// or time points there is no such path.
TEST(MixSearch, TheTimePathTakesTheMovesThatSaveTime) {
  quant::MixSpace s;
  s.tensors = 2;
  s.formats = {100, 101, 102};
  s.bytes = [](size_t, uint32_t t) -> uint64_t { return t == 100 ? 8 : t == 101 ? 4 : t == 102 ? 6 : 16; };
  s.weights = 2;
  s.source = {99, 99};
  const quant::MixMeasure measure = [](const quant::Mix& m) {
    double kl = 0;
    for (uint32_t t : m) kl += t == 100 ? 0.001 : t == 101 ? 0.01 : t == 102 ? 0.02 : 0;
    return quant::MixQuality{kl, 1 + kl, 1};
  };
  quant::MixSearchOptions o;
  o.points = 3, o.time_points = 3, o.generations = 0;
  const quant::MixSearchResult plain = quant::search_mixes(s, measure, {}, o);
  EXPECT_TRUE(plain.time_path.empty()) << "no cost model: no time path";
  s.ms = [](size_t, uint32_t t) { return t == 102 ? 0.5 : 1.0; };
  const quant::MixSearchResult r = quant::search_mixes(s, measure, {}, o);
  for (const quant::Mix& m : r.path) EXPECT_TRUE(m[0] != 102 && m[1] != 102);
  EXPECT_EQ(r.path.back(), (quant::Mix{101, 101}));
  ASSERT_FALSE(r.time_path.empty());
  EXPECT_EQ(r.time_path.front(), (quant::Mix{100, 100}));
  EXPECT_EQ(r.time_path.back(), (quant::Mix{102, 102}));
  for (const quant::Mix& m : r.time_path) EXPECT_TRUE(m[0] != 101 && m[1] != 101);
  bool measured_end = false;
  for (const quant::MeasuredMix& p : r.points) measured_end |= p.label.rfind("greedy-ms", 0) == 0 && p.mix == quant::Mix{102, 102};
  EXPECT_TRUE(measured_end);
  o.time_points = 0;
  EXPECT_TRUE(quant::search_mixes(s, measure, {}, o).time_path.empty());
}

namespace {

// stories260K tuned over q4_0 rounded both ways and f16, KV f16 and q8.
struct GptqRun {
  std::string dir = pareto::testing::scratch_dir(), base = shared_models() + "/stories260K.gguf",
              text = read_file(shared_models() + "/tinystories_style_eval.txt");
  LlmTuneOptions options() const {
    LlmTuneOptions o = small_options();
    o.formats = "f16,q4_0";
    o.methods = "rtn,gptq";
    o.calib_tokens = 512;
    o.kv_types = {"f16", "q8"};
    o.energy = false;
    return o;
  }
};

const LlmTunePoint* find_point(const LlmTuneResult& r, const std::string& label, const std::string& kv) {
  for (const LlmTunePoint& p : r.points)
    if (p.label == label && p.kv == kv) return &p;
  return nullptr;
}

}  // namespace

TEST(TuneLlm, GptqIsAChoicePerLayerMatrixAndWhatItWroteReadsBackAtTheMeasuredKl) {
  NEED_STORIES();
  GptqRun run;
  LlmTuneOptions o = run.options();
  o.kv_types = {"f16"};
  o.objective = "quality";
  o.max_bpw = 5;  // f16 is out: the choice is among the 4-bit mixes
  const std::string out = run.dir + "/gptq.gguf";
  const LlmTuneResult r = take(tune_llm_model(run.base, out, run.text, o));
  EXPECT_EQ(r.formats, (std::vector<std::string>{"f16", "q4_0", "q4_0+gptq"}));
  EXPECT_NE(r.calibration.find("512 tokens"), std::string::npos) << r.calibration;
  // The embedding and output have no GPTQ choice; every layer matrix has one, measured, and rounds otherwise than RTN.
  size_t differs = 0, layer_matrices = 0;
  for (size_t t = 0; t < r.tensors.size(); ++t) {
    const bool layer = r.tensors[t].rfind("blk.", 0) == 0;
    EXPECT_EQ(std::isnan(r.sensitivity[t][2]), !layer) << r.tensors[t];
    if (!layer) continue;
    ++layer_matrices;
    differs += r.sensitivity[t][2] != r.sensitivity[t][1];
  }
  EXPECT_EQ(differs, layer_matrices);
  const LlmTunePoint* rtn = find_point(r, "uniform q4_0", "f16");
  const LlmTunePoint* gptq = find_point(r, "uniform q4_0+gptq", "f16");
  ASSERT_TRUE(rtn && gptq);
  EXPECT_DOUBLE_EQ(gptq->bpw, rtn->bpw);
  EXPECT_EQ(gptq->types.front(), "q4_0");  // token_embd: rounded to nearest
  // All layer matrices by GPTQ is what `pareto quantize --method gptq` writes
  // from the same calibration (512 tokens the model samples, seeded): an
  // independent file, evaluated on its own, reads at about the point's KL
  // (the activations differ by float rounding: the lab's come from the
  // repacked model). On this small text GPTQ's KL is not lower than RTN's
  // (its top-1 is higher): why the method is a choice per tensor.
  quant::CalibratedOptions co;
  co.type = quant::type_by_name("q4_0");
  quant::gptq_quantize_model(run.base, run.dir + "/gptq-whole.gguf", co);
  EvalOptions eo;
  eo.ctx = o.ctx, eo.max_chunks = o.max_chunks;
  eo.repack = true;
  const EvalReport whole = quant::evaluate(run.base, run.dir + "/gptq-whole.gguf", run.text, eo);
  EXPECT_NEAR(whole.kl_mean, gptq->kl, 0.02 * gptq->kl);
  EXPECT_GT(std::abs(whole.kl_mean - rtn->kl), 0.1 * rtn->kl);
  // The chosen point (least KL within 5 bits) has GPTQ tensors; the file holds
  // them as plain q4_0 that an independent evaluation reads at the point's KL.
  const LlmTunePoint& c = r.points[size_t(r.chosen)];
  size_t gptq_tensors = 0;
  for (const std::string& t : c.types) gptq_tensors += t == "q4_0+gptq";
  EXPECT_GT(gptq_tensors, 0u);
  EXPECT_NE(r.written.find(", " + std::to_string(gptq_tensors) + " tensors rounded by GPTQ"), std::string::npos) << r.written;
  const EvalReport e = quant::evaluate(run.base, out, run.text, eo);
  EXPECT_NEAR(e.kl_mean, c.kl, 1e-6 + 1e-4 * c.kl);
  auto file = gguf::File::open(out);
  for (size_t i = 0; i < r.tensors.size(); ++i) {
    const gguf::TensorInfo* t = file->tensor(r.tensors[i]);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->type, quant::storage_type(quant::type_of(quant::choice_by_name(c.types[i])), t->ne[0])) << r.tensors[i];
  }
}

TEST(TuneLlm, EveryTimedPointRunsAtEachKvTypeWithItsOwnQuality) {
  NEED_STORIES();
  GptqRun run;
  LlmTuneOptions o = run.options();
  o.methods = "rtn";
  o.generations = 0;
  o.kv_types = {"q8", "f16"};  // q8 first: the f16 points must still carry the f16 quality
  o.objective = "memory";      // the least memory: the narrowest weights with the q8 cache
  const std::string out = run.dir + "/kv.gguf";
  const LlmTuneResult r = take(tune_llm_model(run.base, out, run.text, o));
  quant::MixLab lab(run.base, run.text, o.ctx, o.max_chunks);
  for (const char* label : {"uniform f16", "uniform q4_0"}) {
    const LlmTunePoint *a = find_point(r, label, "f16"), *b = find_point(r, label, "q8");
    ASSERT_TRUE(a && b) << label;
    EXPECT_LT(b->memory_mib, a->memory_mib) << label;
    EXPECT_DOUBLE_EQ(a->weight_mib, b->weight_mib);
    // Each cache's KL is its own, measured with it (another lab, same numbers).
    quant::Mix mix;
    for (const std::string& t : b->types) mix.push_back(quant::choice_by_name(t));
    auto model = lab.build(mix);
    EXPECT_NEAR(b->kl, lab.quality(*model, llm::KvType::q8).kl, 1e-9 + 1e-6 * b->kl) << label;
    EXPECT_NEAR(a->kl, lab.quality(*model).kl, 1e-9 + 1e-6 * a->kl) << label;
    EXPECT_NE(a->kl, b->kl) << label;
  }
  // The chosen q8 point was written, measured again with the q8 cache (it
  // must equal the point) and says how to run it.
  const LlmTunePoint& c = r.points[size_t(r.chosen)];
  EXPECT_EQ(c.kv, "q8");
  EXPECT_NE(r.written.find("run it with --kv q8"), std::string::npos) << r.written;
  auto written = llm::Model::load(out);
  quant::MixLab::prepare(*written);
  EXPECT_NEAR(lab.quality(*written, llm::KvType::q8).kl, c.kl, 1e-9 + 1e-6 * c.kl);
}

TEST(TuneLlm, RefusesMethodsAndKvTypesItHasNot) {
  NEED_STORIES();
  GptqRun run;
  auto fails = [&](LlmTuneOptions o, const std::string& says) {
    o.generations = 0;
    auto r = tune_llm_model(run.base, run.dir + "/x.gguf", run.text, o);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message.find(says), std::string::npos) << r.status().message;
  };
  LlmTuneOptions o = run.options();
  o.methods = "gptq";
  fails(o, "methods must include rtn");
  o = run.options();
  o.methods = "rtn,awq";  // per tensor (the default group): AWQ needs layer blocks
  fails(o, "use --group layer");
  o.methods = "rtn,sq";
  fails(o, "list of rtn, gptq and awq");
  o.methods = "rtn,gptq,rtn";
  fails(o, "each once");
  o = run.options();
  o.kv_types = {"f16", "q4"};
  fails(o, "q4");
  o = run.options();
  o.kv_types = {};
  fails(o, "at least one KV cache type");
  o.kv_types = {"q8", "int8"};
  fails(o, "listed twice");
  o = run.options();
  o.methods = "rtn";
  o.calib_text = "once upon a time";
  fails(o, "add gptq or awq to the methods");
  EXPECT_THROW(quant::choice_by_name("q5_0+gptq"), std::exception);  // no GPTQ writer for q5_0 (the K-quants have one)
  EXPECT_EQ(quant::choice_by_name("q8_0+gptq"), quant::type_by_name("q8_0") | quant::kGptqMethod);
  EXPECT_EQ(quant::type_name(quant::choice_by_name("q4_0+gptq")), "q4_0+gptq");
}

TEST(MixCost, FitRecoversALineAndFallsBackWhenItCannot) {
  const quant::LinearFit f = quant::fit_decode_model({{1, 2.5}, {2, 4.5}, {4, 8.5}});
  EXPECT_NEAR(f.scale, 2.0, 1e-12);
  EXPECT_NEAR(f.constant, 0.5, 1e-12);
  const quant::LinearFit one = quant::fit_decode_model({{3, 5}});
  EXPECT_DOUBLE_EQ(one.scale, 1);
  EXPECT_DOUBLE_EQ(one.constant, 2);
  // Time falling as the matmuls grow is noise, not a model: scale 1, the mean residual.
  const quant::LinearFit falling = quant::fit_decode_model({{1, 5}, {2, 4}});
  EXPECT_DOUBLE_EQ(falling.scale, 1);
  EXPECT_DOUBLE_EQ(falling.constant, 3);
}

TEST(TuneLlm, TheCostModelPredictsEverySearchedPointAndIsCheckedOnTheTimedOnes) {
  NEED_STORIES();
  GptqRun run;
  LlmTuneOptions o = run.options();
  o.methods = "rtn", o.kv_types = {"f16"};
  o.formats = "f16,q8_0,q4_0";
  o.max_timed = 6;
  const LlmTuneResult r = take(tune_llm_model(run.base, run.dir + "/cost.gguf", run.text, o));
  EXPECT_EQ(r.time_path_mixes, 0) << "no time points asked for";
  for (const LlmTunePoint& p : r.searched) EXPECT_GT(p.predicted_ms, 0) << p.label;
  double residual = 0;
  size_t uniform = 0, search = 0;
  for (const LlmTunePoint& p : r.points) {
    EXPECT_GT(p.predicted_ms, 0) << p.label;
    for (const LlmTunePoint& q : r.searched)
      if (q.label == p.label) {
        EXPECT_DOUBLE_EQ(q.predicted_ms, p.predicted_ms) << p.label;
      }
    if (p.origin == "uniform") residual += p.decode_ms - p.predicted_ms, ++uniform;
    search += p.origin == "search";
  }
  EXPECT_EQ(uniform, 3u);
  // Least squares through the uniform points: their residuals sum to zero,
  // and a fit of their (matmul sum, decode) pairs gives the same line.
  EXPECT_NEAR(residual, 0, 1e-6);
  std::vector<std::pair<double, double>> pairs;
  for (const LlmTunePoint& p : r.points)
    if (p.origin == "uniform") pairs.push_back({(p.predicted_ms - r.cost_constant_ms) / r.cost_scale, p.decode_ms});
  const quant::LinearFit refit = quant::fit_decode_model(pairs);
  EXPECT_NEAR(refit.scale, r.cost_scale, 1e-6 * r.cost_scale);
  EXPECT_NEAR(refit.constant, r.cost_constant_ms, 1e-6 + 1e-6 * std::abs(r.cost_constant_ms));
  ASSERT_GT(search, 0u);
  EXPECT_GE(r.cost_model_error, 0);
  std::vector<double> err;
  for (const LlmTunePoint& p : r.points)
    if (p.origin == "search") err.push_back(std::abs(p.predicted_ms - p.decode_ms) / p.decode_ms);
  std::sort(err.begin(), err.end());
  EXPECT_DOUBLE_EQ(r.cost_model_error, err[err.size() / 2]);
}

// The greedy path by time reads the cost model's per-tensor times during
// the search (which moves save time depends on this CPU: the path may be
// its start alone), and its points are measured as the others.
TEST(TuneLlm, TheTimePathRunsOnTheCostModel) {
  NEED_STORIES();
  GptqRun run;
  LlmTuneOptions o = run.options();
  o.methods = "rtn", o.kv_types = {"f16"};
  o.formats = "q8_0,q4_0";
  o.time_points = 4, o.generations = 0, o.max_timed = 2;
  const LlmTuneResult r = take(tune_llm_model(run.base, run.dir + "/time.gguf", run.text, o));
  EXPECT_GE(r.time_path_mixes, 1);
  for (const LlmTunePoint& p : r.searched) {
    if (p.label.rfind("greedy-ms", 0) == 0) {
      EXPECT_GT(p.kl, 0) << p.label;
    }
  }
}

TEST(TuneLlm, EnergyOfShortDecodesIsTheEstimate) {
  NEED_STORIES();
  GptqRun run;
  LlmTuneOptions o = run.options();
  o.methods = "rtn", o.kv_types = {"f16"}, o.generations = 0, o.formats = "q8_0,q4_0";
  o.energy = true;
  o.powercap_root = pareto::test::fake_powercap(run.dir + "/powercap");
  // The fake counter stands still (and stories260K decodes 4 tokens in well under 50 ms): read, not taken.
  const LlmTuneResult r = take(tune_llm_model(run.base, run.dir + "/e.gguf", run.text, o));
  EXPECT_EQ(r.energy_source.rfind("estimated", 0), 0u) << r.energy_source;
  EXPECT_NE(r.energy_source.find("powercap read"), std::string::npos) << r.energy_source;
  for (const LlmTunePoint& p : r.points) {
    EXPECT_GT(p.energy_estimated_mj, 0) << p.label;
    EXPECT_EQ(p.energy_measured_mj, -1) << p.label;
    EXPECT_EQ(p.energy_mj, p.energy_estimated_mj) << p.label;
  }
}

TEST(TuneCache, TheBuildIsPartOfTheKey) {
  NEED_STORIES();
  GptqRun run;
  LlmTuneOptions o = run.options();
  o.methods = "rtn", o.kv_types = {"f16"}, o.generations = 0, o.formats = "q8_0,q4_0", o.energy = false;
  o.cache = run.dir + "/build.jsonl";
  const LlmTuneResult a = take(tune_llm_model(run.base, run.dir + "/b.gguf", run.text, o));
  ASSERT_GT(a.measured, 0);
  // The same entries as another build wrote them: none is used.
  const std::string id = api::build_identity();
  ASSERT_NE(id.find("pareto_tests"), std::string::npos) << id;  // this test binary is the build here
  std::string text = read_file(o.cache);
  for (size_t at = 0; (at = text.find(id, at)) != std::string::npos;) text.replace(at, id.size(), "another build");
  std::ofstream(o.cache, std::ios::trunc) << text;
  const LlmTuneResult b = take(tune_llm_model(run.base, run.dir + "/b.gguf", run.text, o));
  EXPECT_EQ(b.from_cache, 0);
  EXPECT_EQ(b.measured, a.measured);
}
