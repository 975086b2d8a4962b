// pareto tune for GGUF LLMs. The search alone on a synthetic space (an
// additive KL, sizes chosen so the right moves are known); then the whole
// tune on stories260K (a real trained model): the written file is checked
// against the point chosen by an independent evaluation (quant::evaluate
// loads both files and recomputes the base logits), its tensor types
// against the point's, the cache against a second run, the budgets and the
// refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "../apps/scratch_dir.h"
#include "tune_llm_test_util.h"
#include "frontend/gguf/gguf_reader.h"
#include "pareto/tune.hpp"
#include "quant/evaluate.h"
#include "quant/llama_mixes.h"
#include "quant/mix_groups.h"
#include "quant/mix_search.h"
#include "quant/quantize_gguf.h"

using namespace pareto;
using namespace pareto::tune_test;

namespace {

// Three tensors, formats 0 (8 bytes per weight unit), 1 (4), 2 (2); tensor
// i holds size[i] units and loses err[f] * weight[i] in KL in format f.
struct Synthetic {
  std::vector<uint64_t> size = {10, 40, 20};
  std::vector<double> weight = {1.0, 0.1, 5.0};
  std::vector<double> err = {0.0, 0.01, 0.1};
  int calls = 0;
  quant::MixSpace space() {
    quant::MixSpace s;
    s.tensors = 3;
    s.formats = {100, 101, 102};
    s.bytes = [this](size_t i, uint32_t t) { return size[i] * (t == 100 ? 8 : t == 101 ? 4 : t == 102 ? 2 : 16); };
    s.weights = 70;
    s.source = {99, 99, 99};
    return s;
  }
  quant::MixMeasure measure() {
    return [this](const quant::Mix& m) {
      ++calls;
      double kl = 0;
      for (size_t i = 0; i < m.size(); ++i) kl += m[i] == 99 ? 0 : weight[i] * err[m[i] - 100];
      return quant::MixQuality{kl, 1 + kl, 1 - kl};
    };
  }
};

}  // namespace

TEST(MixSearch, GreedyPathSavesTheMostBytesPerUnitOfKlFirst) {
  Synthetic syn;
  quant::MixSearchOptions o;
  o.points = 3, o.generations = 0;
  const quant::MixSearchResult r = quant::search_mixes(syn.space(), syn.measure(), {}, o);
  // Sensitivities are the measured KL of one tensor alone.
  EXPECT_DOUBLE_EQ(r.sensitivity[2][2], 0.5);
  EXPECT_DOUBLE_EQ(r.sensitivity[1][1], 0.001);
  ASSERT_GE(r.path.size(), 2u);
  EXPECT_EQ(r.path.front(), (quant::Mix{100, 100, 100}));
  // Tensor 1 is big and insensitive: it goes down first, one step (160 bytes
  // for 0.001 beats 240 bytes for 0.01 straight to the narrowest).
  EXPECT_EQ(r.path[1], (quant::Mix{100, 101, 100}));
  EXPECT_EQ(r.path.back(), (quant::Mix{102, 102, 102}));
  for (size_t k = 1; k < r.path.size(); ++k) EXPECT_LT(quant::mix_bpw(syn.space(), r.path[k]), quant::mix_bpw(syn.space(), r.path[k - 1]));
  // 3 tensors x 3 formats of sensitivity, then the 3 path points, each measured once.
  EXPECT_EQ(syn.calls, 9 + 3);
  ASSERT_EQ(r.points.size(), 3u);
  for (const quant::MeasuredMix& p : r.points) EXPECT_DOUBLE_EQ(p.quality.kl, syn.measure()(p.mix).kl);
}

TEST(MixSearch, EvolutionIsReproducibleBySeedAndMeasuresEachMixOnce) {
  auto run = [](uint64_t seed, int* calls) {
    Synthetic syn;
    quant::MixSearchOptions o;
    o.points = 2, o.generations = 4, o.population = 8, o.seed = seed;
    quant::MixSearchResult r = quant::search_mixes(syn.space(), syn.measure(), {}, o);
    *calls = syn.calls;
    return r;
  };
  int c1 = 0, c2 = 0, c3 = 0;
  const auto a = run(7, &c1), b = run(7, &c2), c = run(8, &c3);
  ASSERT_EQ(a.points.size(), b.points.size());
  for (size_t i = 0; i < a.points.size(); ++i) EXPECT_EQ(a.points[i].mix, b.points[i].mix);
  EXPECT_EQ(c1, c2);
  EXPECT_EQ(a.generations_run, 4);
  bool differs = a.points.size() != c.points.size();
  for (size_t i = 0; !differs && i < a.points.size(); ++i) differs = a.points[i].mix != c.points[i].mix;
  EXPECT_TRUE(differs) << "another seed gave the same search";
  // No mix twice (27 exist; sensitivity mixes have the source background and never repeat them).
  std::set<std::string> keys;
  for (const auto& p : a.points) EXPECT_TRUE(keys.insert(quant::mix_key(p.mix)).second) << p.label;
  EXPECT_EQ(size_t(c1), 9 + a.points.size());
}

TEST(MixSearch, FrontKeepsOnlyUndominatedPoints) {
  auto pt = [](double bpw, double kl) { return quant::MeasuredMix{{}, "", bpw, {kl, 0, 0}}; };
  const std::vector<quant::MeasuredMix> p = {pt(4, 0.1), pt(5, 0.05), pt(5, 0.2), pt(6, 0.05), pt(3, 0.5), pt(4, 0.1)};
  // (5, 0.2) is beaten by (4, 0.1); (6, 0.05) by (5, 0.05); equal points both stay.
  EXPECT_EQ(quant::bpw_kl_front(p), (std::vector<size_t>{0, 1, 4, 5}));
}

TEST(TuneLlm, WritesTheChosenMixAndItMeasuresTheSameFromTheFile) {
  NEED_STORIES();
  const std::string dir = pareto::testing::scratch_dir(), out = dir + "/tuned.gguf";
  const std::string base = shared_models() + "/stories260K.gguf", text = read_file(shared_models() + "/tinystories_style_eval.txt");
  LlmTuneOptions o = small_options();
  o.max_bpw = 7;
  o.objective = "quality";
  o.anchors = {shared_models() + "/stories260K-Q4_K_M.gguf"};
  o.max_timed = 0;  // only the points held up against the anchor and the budgets
  std::vector<std::string> lines;
  o.progress = [&](const std::string& l) { lines.push_back(l); };
  const LlmTuneResult r = take(tune_llm_model(base, out, text, o));
  ASSERT_GE(r.chosen, 0);
  // Every timed model (one point per thread count) is described once and
  // timed once per round; its decode time is the median of its rounds.
  const std::string steps = std::to_string(3 * r.points.size());
  const std::string timed = "measuring and timing in 2 rounds " + steps + "/" + steps + " ";
  EXPECT_TRUE(std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.rfind(timed, 0) == 0; })) << timed;
  for (const LlmTunePoint& p : r.points) {
    ASSERT_EQ(p.decode_rounds.size(), 2u) << p.label;
    EXPECT_DOUBLE_EQ(p.decode_ms, 0.5 * (p.decode_rounds[0] + p.decode_rounds[1])) << p.label;
  }
  const LlmTunePoint& c = r.points[size_t(r.chosen)];
  EXPECT_LE(c.bpw, 7.0);
  EXPECT_TRUE(c.within_budget);
  EXPECT_TRUE(c.frontier);
  // Uniform formats (3), the searched front and the anchor, all timed.
  EXPECT_EQ(r.formats, (std::vector<std::string>{"f16", "q8_0", "q4_0"}));
  bool anchor = false;
  for (const LlmTunePoint& p : r.points) {
    EXPECT_GT(p.decode_ms, 0) << p.label;
    EXPECT_GT(p.energy_mj, 0) << p.label;
    EXPECT_GT(p.memory_mib, p.weight_mib) << p.label;
    anchor |= p.origin == "anchor";
    if (p.bpw <= 7) {
      EXPECT_GE(p.kl, c.kl) << p.label << " (timed) is within the budget with less KL";
    }
  }
  EXPECT_TRUE(anchor);
  // The smallest searched mix with no more KL than the anchor is timed (the
  // comparison "smaller at equal KL" is made among timed points).
  const auto an = std::find_if(r.points.begin(), r.points.end(), [](const LlmTunePoint& p) { return p.origin == "anchor"; });
  ASSERT_NE(an, r.points.end());
  const LlmTunePoint* smallest = nullptr;
  for (const LlmTunePoint& p : r.searched)
    if (p.origin == "search" && p.kl <= an->kl && (!smallest || p.bpw < smallest->bpw)) smallest = &p;
  ASSERT_NE(smallest, nullptr);
  {
    EXPECT_TRUE(std::any_of(r.points.begin(), r.points.end(), [&](const LlmTunePoint& p) { return p.types == smallest->types; })) << smallest->label;
  }
  // Not only among the timed points: no measured mix within the budget has less KL.
  size_t within = 0;
  for (const LlmTunePoint& p : r.searched)
    if (p.bpw <= 7) {
      ++within;
      EXPECT_GE(p.kl, c.kl) << p.label << " (searched) is within the budget with less KL";
    }
  EXPECT_GT(within, 1u);
  ASSERT_EQ(c.types.size(), r.tensors.size());
  // An independent evaluation of the written file against the base (both
  // repacked, as tune measures what generate runs).
  EvalOptions eo;
  eo.ctx = o.ctx, eo.max_chunks = o.max_chunks;
  eo.repack = true;
  const EvalReport e = quant::evaluate(base, out, text, eo);
  EXPECT_NEAR(e.kl_mean, c.kl, 1e-6 + 1e-4 * c.kl);
  EXPECT_NEAR(e.ppl_quant, c.ppl, 1e-4 * c.ppl);
  // Each matrix in the file has the point's type (or its tail-group storage
  // type), and together they hold the bytes the point counts.
  auto file = gguf::File::open(out);
  size_t bytes = 0;
  for (size_t i = 0; i < r.tensors.size(); ++i) {
    const gguf::TensorInfo* t = file->tensor(r.tensors[i]);
    ASSERT_NE(t, nullptr) << r.tensors[i];
    EXPECT_EQ(t->type, quant::storage_type(quant::type_by_name(c.types[i]), t->ne[0])) << r.tensors[i];
    bytes += t->nbytes;
  }
  EXPECT_NEAR(double(bytes) / (1 << 20), c.weight_mib, 1e-9);
}

TEST(TuneLlm, ACacheMakesASecondRunMeasureNothingNew) {
  NEED_STORIES();
  const std::string dir = pareto::testing::scratch_dir();
  const std::string base = shared_models() + "/stories260K.gguf", text = read_file(shared_models() + "/tinystories_style_eval.txt");
  LlmTuneOptions o = small_options();
  o.cache = dir + "/cache.jsonl";
  o.energy = false;
  o.threads = {1, 2};
  o.rounds = 3;
  // The greedy path by time and the evolution's time objective rank by
  // measured matmul times: the cache keeps them, so the rerun searches the
  // same mixes and measures none.
  o.time_points = 2;
  const LlmTuneResult a = take(tune_llm_model(base, dir + "/a.gguf", text, o));
  EXPECT_GT(a.measured, 0);
  EXPECT_EQ(a.from_cache, 0);
  auto lines_with = [&](const std::string& part) {
    std::ifstream f(o.cache);
    int n = 0;
    for (std::string line; std::getline(f, line);) n += line.find(part) != std::string::npos;
    return n;
  };
  const int times = lines_with("tune-matvec-v1");
  EXPECT_GT(times, 0) << "the matmul times went to the cache";
  {  // Lines a crash or a hand cut short, or of other types, are skipped.
    std::ofstream f(o.cache, std::ios::app);
    f << "{\"model\":1,\"mix\":2}\nnot json\n{\"model\":\"x\",\"mix\":\"1,\",\"kl\":\"a\"}\n{\"model\":";
  }
  const LlmTuneResult b = take(tune_llm_model(base, dir + "/b.gguf", text, o));
  EXPECT_EQ(b.measured, 0);
  EXPECT_EQ(lines_with("tune-matvec-v1"), times) << "the rerun timed no matmul again";
  EXPECT_EQ(b.from_cache, a.measured);
  ASSERT_EQ(a.searched.size(), b.searched.size());
  for (size_t i = 0; i < a.searched.size(); ++i) {
    EXPECT_EQ(a.searched[i].types, b.searched[i].types);
    EXPECT_DOUBLE_EQ(a.searched[i].kl, b.searched[i].kl);
  }
  // Every timed point at both thread counts, each timed once per round; its
  // time is the middle one of its three rounds.
  size_t ones = 0, twos = 0;
  for (const LlmTunePoint& p : a.points) {
    (p.threads == 1 ? ones : twos)++;
    ASSERT_EQ(p.decode_rounds.size(), 3u) << p.label;
    std::vector<double> sorted = p.decode_rounds;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_DOUBLE_EQ(p.decode_ms, sorted[1]) << p.label;
  }
  EXPECT_EQ(ones, twos);
  // A cache of another evaluation is not used.
  o.max_chunks = 2;
  const LlmTuneResult c = take(tune_llm_model(base, dir + "/c.gguf", text, o));
  EXPECT_EQ(c.from_cache, 0);
}

TEST(TuneLlm, RefusesWhatItCannotDo) {
  NEED_STORIES();
  const std::string dir = pareto::testing::scratch_dir();
  const std::string base = shared_models() + "/stories260K.gguf", text = read_file(shared_models() + "/tinystories_style_eval.txt");
  LlmTuneOptions o = small_options();
  o.generations = 0;
  auto fails = [&](const LlmTuneOptions& opt, const std::string& in, const std::string& t, const std::string& says) {
    auto r = tune_llm_model(in, dir + "/x.gguf", t, opt);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message.find(says), std::string::npos) << r.status().message;
  };
  LlmTuneOptions bad = o;
  bad.formats = "q8_0,q9_9";
  fails(bad, base, text, "unknown type 'q9_9'");
  bad = o;
  bad.max_kl = 1e-12;
  bad.max_bpw = 5;
  fails(bad, base, text, "no measured point meets the budgets");
  EXPECT_EQ(LlmTuneOptions{}.rounds, 4);  // even: a linear drift adds the same to every point
  bad = o;
  bad.rounds = 0;
  fails(bad, base, text, "timing rounds must be 1 to 100");
  bad = o;
  bad.objective = "speed";
  fails(bad, base, text, "objective must be");
  fails(o, shared_models() + "/stories260K.bin", text, "must be a .gguf file");
  {
    auto r = tune_llm_model(base, base, text, o);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message.find("is also a file tune reads or keeps"), std::string::npos) << r.status().message;
  }
  bad = o;
  bad.energy = false;
  bad.objective = "energy";
  fails(bad, base, text, "needs the energy estimate");
  fails(o, base, "too short", "fewer than one chunk");
  bad = o;
  bad.anchors = {shared_models() + "/golden/synth-mini-F32.gguf"};
  if (std::filesystem::exists(bad.anchors[0])) {
    fails(bad, base, text, "differs from the base model in shape");
  }
}

TEST(TuneLlm, PlotEscapesLabelsAndDrawsEveryPoint) {
  const std::vector<TunePlotPoint> pts = {{"a<script>alert(1)</script>", 4, 0.1, "front", false},
                                          {"b", 5, 0.01, "front", true},
                                          {"c \"q\"", 6, 0.05, "other", false},
                                          {"llama.cpp Q4_K_M", 5.5, 0.02, "anchor", false}};
  const std::string html = render_tune_plot("t & <b>", "bits", "KL", true, pts, {{"point", "kl"}, {"<img src=x>", "1"}});
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_NE(html.find("a&lt;script&gt;"), std::string::npos);
  size_t circles = 0;
  for (size_t at = 0; (at = html.find("class=\"point", at)) != std::string::npos; ++at) ++circles;
  EXPECT_EQ(circles, 4u);
  EXPECT_NE(html.find("class=\"chosen\""), std::string::npos);
  EXPECT_NE(html.find("<polyline class=\"front\""), std::string::npos);
}

TEST(TuneLlm, GroupedSearchGivesEveryTensorOfAGroupOneType) {
  NEED_STORIES();
  const std::string dir = pareto::testing::scratch_dir();
  const std::string base = shared_models() + "/stories260K.gguf", text = read_file(shared_models() + "/tinystories_style_eval.txt");
  LlmTuneOptions o = small_options();
  o.energy = false;
  for (const std::string how : {"layer", "kind", "kind-split"}) {
    o.group = how;
    const LlmTuneResult r = take(tune_llm_model(base, dir + "/" + how + ".gguf", text, o));
    // stories260K: token_embd, 5 layers, output (untied in this file); kind-split: 7 kinds x 2 + 2.
    EXPECT_EQ(r.groups.size(), how == "layer" ? 12u : how == "kind" ? 9u : 16u) << how;
    ASSERT_EQ(r.sensitivity.size(), r.groups.size());
    ASSERT_GT(r.searched.size(), 3u);
    for (const LlmTunePoint& p : r.searched) {
      std::map<std::string, std::string> type_of_unit;
      for (size_t i = 0; i < r.tensors.size(); ++i) {
        const std::string& t = r.tensors[i];
        std::string unit = t;
        if (t.rfind("blk.", 0) == 0) {
          const size_t dot = t.find('.', 4);
          const std::string kind = t.substr(dot + 1, t.size() - dot - 1 - 7);  // drop ".weight"
          const int layer = std::stoi(t.substr(4, dot - 4));
          unit = how == "kind"         ? kind
                 : how == "kind-split" ? kind + (layer == 2 || layer == 4 ? ".more" : ".rest")
                                       : t.substr(0, dot) + (kind.rfind("attn", 0) == 0 ? ".attn" : ".ffn");
        }
        auto [it, added] = type_of_unit.emplace(unit, p.types[i]);
        if (!added) {
          EXPECT_EQ(it->second, p.types[i]) << how << " " << p.label << " " << t;
        }
      }
    }
  }
  auto bad = tune_llm_model(base, dir + "/x.gguf", text, [&] {
    LlmTuneOptions b = o;
    b.group = "row";
    return b;
  }());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message.find("group must be tensor, layer, kind or kind-split"), std::string::npos);
}

TEST(MixGroups, KindSplitSplitsEachKindAtLlamaCppsMoreBitsLayers) {
  // llama.cpp's use_more_bits (i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2):
  // 22 layers (TinyLlama) 0, 1, 4, 7, 10, 13, 16, 19-21; 5 layers
  // (stories260K) 2 and 4.
  for (const int64_t layers : {22, 5}) {
    std::vector<quant::MixTensor> t = {{"token_embd.weight", -1, "token_embd", 8, 32, 0}};
    for (int64_t l = 0; l < layers; ++l)
      for (const char* kind : {"attn_q", "ffn_down"})
        t.push_back({"blk." + std::to_string(l) + "." + kind + ".weight", l, kind, 8, 32, 0});
    t.push_back({"output.weight", -1, "output", 8, 32, 0});
    const quant::MixGroups g = quant::group_tensors(t, "kind-split");
    std::map<std::string, std::set<int64_t>> layers_of;
    for (size_t u = 0; u < g.names.size(); ++u)
      for (size_t i : g.members[u]) layers_of[g.names[u]].insert(t[i].layer);
    const std::set<int64_t> more = layers == 22 ? std::set<int64_t>{0, 1, 4, 7, 10, 13, 16, 19, 20, 21} : std::set<int64_t>{2, 4};
    std::set<int64_t> rest;
    for (int64_t l = 0; l < layers; ++l)
      if (!more.count(l)) rest.insert(l);
    EXPECT_EQ(g.names.size(), 6u) << layers;
    EXPECT_EQ(layers_of["attn_q.more"], more) << layers;
    EXPECT_EQ(layers_of["ffn_down.more"], more) << layers;
    EXPECT_EQ(layers_of["attn_q.rest"], rest) << layers;
    EXPECT_EQ(layers_of["ffn_down.rest"], rest) << layers;
    EXPECT_EQ(layers_of["token_embd"], std::set<int64_t>{-1});
    EXPECT_EQ(layers_of["output"], std::set<int64_t>{-1});
  }
}

TEST(MixSearch, PointsToTimeIncludeTheSmallestAndFastestWithinEachAnchorsKl) {
  // Two seeds, then six searched points (bits, KL, predicted ms).
  std::vector<quant::MeasuredMix> pts;
  std::vector<double> ms;
  auto add = [&](double bpw, double kl, double t) {
    quant::MeasuredMix m;
    m.bpw = bpw, m.quality.kl = kl;
    pts.push_back(m), ms.push_back(t);
  };
  add(16, 0, 80), add(4.5, 0.10, 30);                                  // seeds: not picked by this function
  add(4.9, 0.04, 33), add(4.6, 0.07, 34), add(4.7, 0.075, 29), add(4.4, 0.12, 28), add(6, 0.01, 36), add(5, 0.05, 40);
  // No spread (cap 0), no size targets: only the KL targets pick.
  // Within 0.08: the smallest (4.6 bits) and the three of least predicted time (29, 33 and 34 ms; not 36 or 40).
  EXPECT_EQ(quant::points_to_time(pts, 2, 0, ms, {}, {0.08}, 0), (std::vector<size_t>{2, 3, 4}));
  EXPECT_EQ(quant::points_to_time(pts, 2, 0, ms, {}, {0.045}, 0), (std::vector<size_t>{2, 6}));  // only two within: both
  EXPECT_EQ(quant::points_to_time(pts, 2, 0, ms, {}, {0.001}, 0), (std::vector<size_t>{}));      // none within
  EXPECT_EQ(quant::points_to_time(pts, 2, 0, ms, {}, {}, 0.08), (std::vector<size_t>{2, 3, 4}));  // the KL budget alike
  // The smallest is picked apart from the fastest: a 4.3-bit point at 50 ms within 0.2 joins the three fastest.
  add(4.3, 0.2, 50);
  EXPECT_EQ(quant::points_to_time(pts, 2, 0, ms, {}, {0.2}, 0), (std::vector<size_t>{2, 4, 5, 8}));
  // A size target: the bits front's widest point within it.
  EXPECT_EQ(quant::points_to_time(pts, 2, 0, ms, {4.95}, {}, 0), (std::vector<size_t>{2}));
}

TEST(MixGroups, LlamaCppsKMMixesGiveEachKindSplitUnitOneType) {
  // What kind-split is for: llama.cpp's Q4_K_M and Q5_K_M rules are mixes
  // of its units, so they can seed the search (TinyLlama's 22 layers).
  std::vector<quant::MixTensor> t = {{"token_embd.weight", -1, "token_embd", 32000, 2048, 0}};
  std::vector<quant::MixTensor2D> m = {{"token_embd.weight", 2048}};
  for (int64_t l = 0; l < 22; ++l)
    for (const char* kind : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}) {
      const std::string name = "blk." + std::to_string(l) + "." + kind + ".weight";
      const int64_t cols = std::string(kind) == "ffn_down" ? 5632 : 2048;
      t.push_back({name, l, kind, 256, cols, 0});
      m.push_back({name, cols});
    }
  t.push_back({"output.weight", -1, "output", 32000, 2048, 0});
  m.push_back({"output.weight", 2048});
  for (const quant::LlamaMix mix : {quant::LlamaMix::q4_k_m, quant::LlamaMix::q5_k_m}) {
    const std::map<std::string, uint32_t> types = quant::llama_mix_types(mix, m);
    for (const std::string how : {"kind-split", "kind"}) {
      const quant::MixGroups g = quant::group_tensors(t, how);
      bool one_type_each = true;
      for (const std::vector<size_t>& unit : g.members)
        for (size_t i : unit) one_type_each &= types.at(t[i].name) == types.at(t[unit[0]].name);
      // Per kind they are not: attn_v and ffn_down differ between layers.
      EXPECT_EQ(one_type_each, how == "kind-split") << quant::llama_mix_name(mix) << " " << how;
    }
  }
}

// The evolution's ranks: two objectives as before, a third (predicted
// decode time) splitting points equal on the first two, and a NaN never
// dominating or dominated.
TEST(MixSearch, FrontRanksTakeEveryObjective) {
  const std::vector<double> bpw = {4, 4, 5, 3}, kl = {0.1, 0.1, 0.05, 0.5}, ms = {30, 25, 40, 20};
  EXPECT_EQ(quant::front_ranks({bpw, kl}), (std::vector<int>{0, 0, 0, 0}));
  EXPECT_EQ(quant::front_ranks({bpw, kl, ms}), (std::vector<int>{1, 0, 0, 0}));  // the 4-bit point at 30 ms is beaten by the one at 25
  EXPECT_EQ(quant::front_ranks({{4, 5, 6}, {0.3, 0.2, 0.1}, {30, 30, 35}}), (std::vector<int>{0, 0, 0}));
  EXPECT_EQ(quant::front_ranks({{1, 2, 3}, {1, 2, 3}}), (std::vector<int>{0, 1, 2}));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(quant::front_ranks({{1, 2, 3}, {1, nan, 3}}), (std::vector<int>{0, 0, 1}));
  EXPECT_TRUE(quant::front_ranks({}).empty());
}

// With a cost model the evolution ranks by predicted time too: format 103
// is as big and as lossy as 101, so on bits and KL alone a 101 point and
// its 103 twin tie. Predicted faster, 103 should spread through the
// search; predicted slower, it should not. Every point is measured once.
TEST(MixSearch, EvolutionWithACostModelRanksByPredictedTime) {
  enum class Time { none, fast_103, slow_103 };
  auto run = [](Time time) {
    Synthetic syn;
    quant::MixSpace s = syn.space();
    s.formats = {100, 101, 103, 102};
    s.bytes = [&syn](size_t i, uint32_t t) { return syn.size[i] * (t == 100 ? 8 : t == 101 || t == 103 ? 4 : t == 102 ? 2 : 16); };
    const double t103 = time == Time::fast_103 ? 0.5 : 1.5;
    if (time != Time::none)
      s.ms = [&syn, t103](size_t i, uint32_t t) { return double(syn.size[i]) * (t == 103 ? t103 : t == 102 ? 0.6 : t == 101 ? 1.0 : 2.0); };
    quant::MixMeasure plain = syn.measure();
    quant::MixMeasure measure = [plain](const quant::Mix& m) {
      quant::Mix as_101 = m;
      for (uint32_t& t : as_101) t = t == 103 ? 101 : t;
      return plain(as_101);
    };
    quant::MixSearchOptions o;
    o.points = 3, o.generations = 6, o.population = 8, o.seed = 3;
    const quant::MixSearchResult r = quant::search_mixes(s, measure, {}, o);
    int with_103 = 0;
    for (const quant::MeasuredMix& p : r.points) with_103 += int(std::count(p.mix.begin(), p.mix.end(), 103u));
    EXPECT_EQ(syn.calls, int(3 * s.formats.size() + r.points.size()));  // the sensitivities, then each point once
    EXPECT_DOUBLE_EQ(quant::mix_ms(s, quant::Mix{103, 103, 103}), time == Time::none ? 0.0 : 70 * t103);
    return with_103;
  };
  const int fast = run(Time::fast_103);
  EXPECT_GT(fast, run(Time::none));
  EXPECT_GT(fast, run(Time::slow_103));
}
