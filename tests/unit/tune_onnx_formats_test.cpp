// pareto tune (ONNX) beyond int8: the greedy path over fp32 -> bf16 -> int8
// moves, bf16 per conv written in a compiled model, the task's own metric
// and its budget, energy in the front, and timing rounds over all
// candidates in turn.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "api/tune_onnx_search.h"
#include "kernel_test_util.h"
#include "kernels/bf16_conv.h"
#include "tune_onnx_test_util.h"

using namespace pareto;
using namespace pareto::test;

namespace {

OnnxTuneLayer layer(const std::string& node, double fp32, double bf16, double bf16_err, double int8, double int8_err) {
  OnnxTuneLayer l;
  l.node = node;
  l.fp32_ms = fp32, l.bf16_ms = bf16, l.bf16_sensitivity = bf16_err, l.int8_ms = int8, l.sensitivity = int8_err;
  return l;
}

double relative_l2(const std::vector<Tensor>& got, const std::vector<Tensor>& want) {
  double num = 0, den = 0;
  for (size_t k = 0; k < got.size(); ++k)
    for (int64_t e = 0; e < got[k].numel(); ++e) {
      const double a = got[k].as_double(e), b = want[k].as_double(e);
      num += (a - b) * (a - b), den += b * b;
    }
  return std::sqrt(num / den);
}

}  // namespace

// Scores by hand: a: bf16 4 ms / 0.01 = 400, int8 6 / 0.05 = 120; b: int8
// 2 / 0.001 = 2000 (bf16 is slower there: never); c: int8 0.1 / 0.1 = 1, its
// bf16 output equals fp32's (the kernel kept it f32): not a choice. Then a's
// bf16 -> int8: 2 / 0.04 = 50.
TEST(TuneOnnxSearch, GreedyPathTakesTheBestMoveEachStep) {
  std::vector<OnnxTuneLayer> layers = {layer("a", 10, 6, 0.01, 4, 0.05), layer("b", 5, 5.5, 0.001, 3, 0.001), layer("c", 3, 2, 0.0, 2.9, 0.1)};
  const std::vector<api::TuneMix> path = api::tune_greedy_path(layers, {true, true});
  ASSERT_EQ(path.size(), 4u);
  using V = std::vector<std::string>;
  EXPECT_EQ(path[0].int8, V{"b"});
  EXPECT_EQ(path[0].bf16, V{});
  EXPECT_EQ(path[1].int8, V{"b"});
  EXPECT_EQ(path[1].bf16, V{"a"});
  EXPECT_EQ(path[2].int8, (V{"a", "b"}));
  EXPECT_EQ(path[2].bf16, V{});
  EXPECT_EQ(path[3].int8, (V{"a", "b", "c"}));
  EXPECT_EQ(layers[0].order, 1);
  EXPECT_EQ(layers[1].order, 0);
  EXPECT_EQ(layers[2].order, 3);
  // int8 only: the order of time saved per unit of error, as before bf16.
  const std::vector<api::TuneMix> int8_only = api::tune_greedy_path(layers, {true, false});
  ASSERT_EQ(int8_only.size(), 3u);
  EXPECT_EQ(int8_only[0].int8, V{"b"});
  EXPECT_EQ(int8_only[1].int8, (V{"a", "b"}));
  // bf16 only: a (c's bf16 is no choice, b's saves no time).
  const std::vector<api::TuneMix> bf16_only = api::tune_greedy_path(layers, {false, true});
  ASSERT_EQ(bf16_only.size(), 1u);
  EXPECT_EQ(bf16_only[0].bf16, V{"a"});
  EXPECT_EQ(layers[1].order, -1);
}

TEST(TuneOnnxSearch, FrontAndChoiceWeighEnergyAndTheTaskMetric) {
  auto point = [](const std::string& label, double ms, double mj, double loss, double task) {
    OnnxTunePoint p;
    p.label = label, p.cost = {ms, 10}, p.energy_mj = mj, p.quality_loss = loss, p.task_metric = task;
    return p;
  };
  OnnxTuneResult r;
  r.points = {point("fp32", 10, 40, 0, 0.010), point("fast", 5, 20, 0.1, 0.012), point("frugal", 6, 15, 0.1, 0.010),
              point("worse", 6, 21, 0.1, 0.012)};
  api::tune_mark_frontier(r.points);
  EXPECT_TRUE(r.points[0].frontier);
  EXPECT_TRUE(r.points[1].frontier);
  EXPECT_TRUE(r.points[2].frontier) << "slower than 'fast' but less energy and a lower task metric";
  EXPECT_FALSE(r.points[3].frontier) << "'fast' is better on everything";
  OnnxTuneOptions o;
  o.task_metric = [](const std::string&) { return 0.0; };
  EXPECT_EQ(api::tune_choose(r, o, 0.010), 1);  // fastest
  o.max_task_loss_set = true;                   // no rise of the task metric over fp32's
  EXPECT_EQ(api::tune_choose(r, o, 0.010), 2);
  EXPECT_NE(r.reason.find("task metric rise over fp32 <= 0"), std::string::npos) << r.reason;
  EXPECT_FALSE(r.points[1].within_budget);
  o.max_task_loss_set = false;
  o.objective = "energy";
  EXPECT_EQ(api::tune_choose(r, o, 0.010), 2);
  o.objective = "latency";
  o.max_energy_mj = 18;
  EXPECT_EQ(api::tune_choose(r, o, 0.010), 2);
  o.max_energy_mj = 1;
  EXPECT_THROW(api::tune_choose(r, o, 0.010), Error);
}

// The task metric is asked once per candidate, of the file that candidate
// is; its budget is a rise over the fp32 model's; timing goes in rounds
// over every candidate, the order reversed every other round, each point
// the median of its rounds.
TEST(TuneOnnx, TaskMetricBudgetAndTimingRounds) {
  const std::string in = model_file("tune_task"), out = ::testing::TempDir() + "/tune_task_out.onnx";
  const auto calib = samples(1, 4), eval = samples(100, 3);
  OnnxTuneOptions o = quick_tune_options(3, 3);
  std::vector<std::string> timed;
  o.measure = [&](const std::string& path, int, const CalibrationSample&) {
    timed.push_back(path);
    const bool first_round = std::count(timed.begin(), timed.end(), path) == 1;
    return TuneCost{10.0 - quantize_nodes(path) + (first_round ? 100.0 : 0.0), 5.0};  // an outlier in round 1 only
  };
  std::map<std::string, int> asked;
  o.task_metric = [&](const std::string& path) {
    ++asked[path];
    return 1.0 + quantize_nodes(path);  // the "task" gets worse with every int8 conv; fp32 reads 1, not 0
  };
  o.task_metric_name = "int8 convs";
  o.max_task_loss_set = true;
  o.max_task_loss = 2;
  auto r = tune_onnx_model(in, out, calib, eval, o);
  ASSERT_TRUE(r.ok()) << r.status().message;
  const size_t n = r.value().points.size();
  // The anchors at least (fp32, int8 with float ends, all int8): which
  // greedy points are distinct from them follows the measured per-node
  // times, which a loaded machine (ctest -j2 in CI) can leave all alike.
  ASSERT_GE(n, 3u);
  EXPECT_EQ(r.value().task_metric_name, "int8 convs");
  for (const OnnxTunePoint& p : r.value().points) {
    EXPECT_EQ(p.task_metric, 1.0 + double(p.int8_layers.size())) << p.label;
    EXPECT_EQ(p.cost.latency_ms, 10.0 - double(p.int8_layers.size())) << p.label << ": the median leaves the round-1 outlier out";
    EXPECT_EQ(p.within_budget, p.int8_layers.size() <= 2) << p.label;
    EXPECT_EQ(p.energy_mj, 0.0);
  }
  size_t asks = 0;
  for (const auto& [path, k] : asked) asks += size_t(k);
  EXPECT_EQ(asks, r.value().searched.size()) << "once per scored candidate (the evolved ones too; not all are timed)";
  EXPECT_EQ(asked.size(), asks) << "each a file of its own";
  // Rounds: every candidate once, then all again in reverse order, then in
  // the first order; by default an even count of rounds.
  ASSERT_EQ(timed.size(), 3 * n);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(timed[n - 1 - i], timed[n + i]);
    EXPECT_EQ(timed[i], timed[2 * n + i]);
  }
  EXPECT_EQ(OnnxTuneOptions{}.rounds, 4);
  const OnnxTunePoint& best = r.value().points[size_t(r.value().chosen)];
  EXPECT_LE(best.int8_layers.size(), 2u);
  EXPECT_EQ(quantize_nodes(out), int(best.int8_layers.size()));
  // No rise allowed: only fp32 fits.
  o.max_task_loss = 0;
  timed.clear();
  auto none = tune_onnx_model(in, out, calib, eval, o);
  ASSERT_TRUE(none.ok()) << none.status().message;
  EXPECT_TRUE(none.value().points[size_t(none.value().chosen)].int8_layers.empty());
  o.objective = "task";
  o.task_metric = nullptr;
  EXPECT_FALSE(tune_onnx_model(in, out, calib, eval, o).ok());
}

// bf16 per conv: the anchors and the path's bf16 convs, the candidates and
// the output compiled; each point's quality is that of a session given the
// same bf16 convs (SessionOptions::precision_only) on the same int8 file.
TEST(TuneOnnx, Bf16PerConvWrittenCompiled) {
  const std::string in = model_file("tune_bf16"), out = ::testing::TempDir() + "/tune_bf16_out.pareto";
  const auto calib = samples(1, 4), eval = samples(100, 3);
  OnnxTuneOptions o;
  o.formats = "int8,bf16";
  o.threads = {1};
  o.points = 4;
  o.runs = 2;
  o.warmup = 1;
  o.rounds = 1;
  o.method = "minmax";
  auto refused = tune_onnx_model(in, ::testing::TempDir() + "/tune_bf16_out.onnx", calib, eval, o);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message.find(".pareto"), std::string::npos) << refused.status().message;
  o.formats = "int8,fp8";
  EXPECT_FALSE(tune_onnx_model(in, out, calib, eval, o).ok());
  o.formats = "int8,bf16";
  o.max_quality_loss = 1e-12;  // only fp32 fits: the compiled output then reads as the float model
  auto r = tune_onnx_model(in, out, calib, eval, o);
  ASSERT_TRUE(r.ok()) << r.status().message;
  std::set<std::string> labels;
  for (const OnnxTunePoint& p : r.value().points) {
    labels.insert(p.label);
    EXPECT_GT(p.energy_mj, 0.0) << p.label;
  }
  // The bf16 anchors name only convs the kernel serves in bf16: none without bf16 kernels.
  EXPECT_EQ(labels.count("bf16 all"), kernels::bf16_conv_available() ? 1u : 0u);
  auto fp32 = Session::open(in, SessionOptions{});
  auto compiled = Session::open(out, SessionOptions{});
  ASSERT_TRUE(fp32.ok() && compiled.ok());
  for (const CalibrationSample& x : eval) EXPECT_EQ(relative_l2(compiled.value()->run(x).value(), fp32.value()->run(x).value()), 0.0);
  // Each bf16-only point's quality loss is the float file's with those convs bf16
  // (the points with int8 too are checked through the same quality function).
  for (const OnnxTunePoint& p : r.value().points) {
    if (!p.int8_layers.empty() || p.bf16_layers.empty()) continue;
    SessionOptions so;
    so.optimize = true;
    so.conv_precision = "bf16";
    so.precision_only = p.bf16_layers;
    auto s = Session::open(in, so);
    ASSERT_TRUE(s.ok());
    double num = 0, den = 0;
    for (const CalibrationSample& x : eval) {
      const std::vector<Tensor> got = s.value()->run(x).value(), want = fp32.value()->run(x).value();
      const double e = relative_l2(got, want);
      double d = 0;
      for (int64_t k = 0; k < want[0].numel(); ++k) d += want[0].as_double(k) * want[0].as_double(k);
      num += e * e * d, den += d;
    }
    EXPECT_NEAR(p.quality_loss, std::sqrt(num / den), 1e-12) << p.label;
    if (kernels::bf16_conv_available()) {
      EXPECT_GT(p.quality_loss, 0.0) << p.label << ": the 1x1 convs run in bf16";
    }
  }
  if (!kernels::bf16_conv_available()) GTEST_SKIP() << "no AVX512-BF16/AMX-BF16 here: bf16-marked convs run in f32 (checked above: the same outputs)";
  // With bf16 kernels: the convs the kernel serves in bf16 have a bf16 error,
  // the others (too small a GEMM, Winograd's) none, and no bf16 move.
  const std::map<std::string, pareto::testing::ConvCase> geometry = {{"a_conv", {1, 8, 16, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
                                                                     {"b_conv", {1, 16, 16, 16, 16, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}},
                                                                     {"c_conv", {1, 16, 16, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
                                                                     {"y_conv", {1, 16, 16, 16, 4, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}}};
  int served = 0;
  for (const OnnxTuneLayer& l : r.value().layers) {
    const bool bf16 = kernels::bf16_conv_preferred(pareto::testing::params_of(geometry.at(l.node)));
    served += bf16;
    EXPECT_EQ(l.bf16_sensitivity > 0, bf16) << l.node;
  }
  EXPECT_GE(served, 1);
  for (const OnnxTunePoint& p : r.value().points)
    for (const std::string& node : p.bf16_layers) {
      EXPECT_TRUE(kernels::bf16_conv_preferred(pareto::testing::params_of(geometry.at(node)))) << p.label << " marks " << node;
    }
}

// SessionOptions::precision_only: only the named convs are marked, the
// others stay f32; a named conv the kernel keeps in f32 changes nothing.
TEST(TuneOnnx, PrecisionOnlyMarksTheNamedConvs) {
  const std::string in = model_file("precision_only");
  const CalibrationSample x = samples(3, 1).front();
  SessionOptions f32;
  f32.optimize = true;
  auto base = Session::open(in, f32);
  ASSERT_TRUE(base.ok());
  const std::vector<Tensor> want = base.value()->run(x).value();
  for (const std::string& node : {std::string("c_conv"), std::string("b_conv")}) {  // b: a 16-deep 1x1, too small a GEMM for bf16
    SessionOptions so = f32;
    so.conv_precision = "bf16";
    so.precision_only = {node};
    auto s = Session::open(in, so);
    ASSERT_TRUE(s.ok());
    int marked = 0;
    for (const PassSummary& p : s.value()->passes())
      if (p.pass == "assign_precision") marked += p.rewrites.count("conv -> bf16 compute") ? p.rewrites.at("conv -> bf16 compute") : 0;
    EXPECT_EQ(marked, 1) << node;
    const double err = relative_l2(s.value()->run(x).value(), want);
    if (kernels::bf16_conv_available() && node == "c_conv") {
      EXPECT_GT(err, 0.0) << "c_conv runs in bf16";
    } else {
      EXPECT_EQ(err, 0.0) << node << " runs in f32";
    }
  }
  SessionOptions all = f32;
  all.conv_precision = "bf16";
  auto s = Session::open(in, all);
  ASSERT_TRUE(s.ok());
  for (const PassSummary& p : s.value()->passes())
    if (p.pass == "assign_precision") {
      EXPECT_EQ(p.rewrites.at("conv -> bf16 compute"), 4) << "without precision_only every conv is marked";
    }
}

TEST(TuneOnnxSearch, EvolveMakesNewChildrenWithinEachConvsFormats) {
  // b cannot take bf16 (its bf16 output equals fp32's).
  std::vector<OnnxTuneLayer> layers = {layer("a", 10, 6, 0.01, 4, 0.05), layer("b", 5, 4, 0.0, 3, 0.001), layer("c", 3, 2, 0.02, 2.9, 0.1)};
  const api::TuneFormats both{true, true};
  std::vector<api::TuneCandidate> population = {{{0, 0, 0}, 18, {0.0}}, {{2, 2, 2}, 9.9, {0.2}}, {{1, 0, 1}, 14, {0.03}}};
  auto run = [&](uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::set<std::string> seen = {"fff", "888", "bfb"};
    const auto children = api::tune_evolve(population, layers, both, 6, rng, seen);
    EXPECT_EQ(seen.size(), 3 + children.size()) << "each child's key joins the seen set";
    return children;
  };
  const auto children = run(7);
  ASSERT_FALSE(children.empty());
  EXPECT_LE(children.size(), 6u);
  std::set<std::string> keys;
  for (const std::vector<int>& c : children) {
    ASSERT_EQ(c.size(), 3u);
    EXPECT_NE(c[1], 1) << "b has no bf16";
    const std::string k = api::tune_mix_key(c);
    EXPECT_TRUE(keys.insert(k).second) << k << " twice";
    EXPECT_TRUE(k != "fff" && k != "888" && k != "bfb") << k << " was measured already";
  }
  EXPECT_EQ(run(7), children) << "seeded: the same children";
  // int8 only, one layer: two mixes at most (fp32, int8), both seen: none new.
  std::vector<OnnxTuneLayer> one = {layers[0]};
  std::mt19937_64 rng(1);
  std::set<std::string> seen = {"f", "8"};
  EXPECT_TRUE(api::tune_evolve({{{0}, 10, {0}}, {{2}, 4, {0.05}}}, one, {true, false}, 4, rng, seen).empty());
  // The cost model: fp32 total with each conv's time swapped for its format's.
  EXPECT_DOUBLE_EQ(api::tune_predicted_ms(layers, {2, 0, 1}, 30), 30 - 10 + 4 - 3 + 2);
  // Ranks: the two ends and the middle point are each best somewhere; a point worse than (1,0,1) on both is rank 1.
  population.push_back({{1, 0, 0}, 15, {0.04}});
  EXPECT_EQ(api::tune_pareto_ranks(population), (std::vector<int>{0, 0, 0, 1}));
}

// A rerun with the same cache measures nothing again (no evolution, so the
// same mixes); a line of junk in the cache is skipped. With evolution the
// children are scored, and the timed ones are on the (predicted time,
// quality) front.
TEST(TuneOnnx, CacheResumesAndEvolvedChildrenAreScored) {
  const std::string in = model_file("tune_cache"), out = ::testing::TempDir() + "/tune_cache_out.onnx";
  const std::string cache = ::testing::TempDir() + "/tune_cache_" + std::to_string(getpid()) + ".jsonl";
  std::remove(cache.c_str());
  const auto calib = samples(1, 4), eval = samples(100, 3);
  OnnxTuneOptions o = quick_tune_options(0, 1);  // the anchors only: the greedy path follows measured node times, which vary from run to run
  o.generations = 0;
  o.cache = cache;
  o.measure = [](const std::string& path, int, const CalibrationSample&) { return TuneCost{10.0 - quantize_nodes(path), 5.0}; };
  auto first = tune_onnx_model(in, out, calib, eval, o);
  ASSERT_TRUE(first.ok()) << first.status().message;
  EXPECT_EQ(first.value().measured, 3) << "fp32, int8 float ends, int8 all";
  EXPECT_EQ(first.value().from_cache, 0);
  std::ofstream(cache, std::ios::app) << "{\"model\": 3, \"mix\"\nnot json\n{\"model\": 3, \"mix\": \"x\", \"quality_loss\": 1, \"task_metric\": 1}\n";
  auto second = tune_onnx_model(in, out, calib, eval, o);
  ASSERT_TRUE(second.ok()) << second.status().message;
  EXPECT_EQ(second.value().measured, 0);
  EXPECT_EQ(second.value().from_cache, first.value().measured);
  ASSERT_EQ(second.value().searched.size(), first.value().searched.size());
  for (size_t i = 0; i < first.value().searched.size(); ++i)
    EXPECT_EQ(second.value().searched[i].quality_loss, first.value().searched[i].quality_loss) << first.value().searched[i].label;
  // Other samples, another percentile: another fingerprint, measured again.
  auto other = tune_onnx_model(in, out, samples(2, 4), eval, o);
  ASSERT_TRUE(other.ok());
  EXPECT_GT(other.value().measured, 0);
  EXPECT_EQ(other.value().from_cache, 0);
  o.percentile = 99.9;
  auto other_percentile = tune_onnx_model(in, out, calib, eval, o);
  ASSERT_TRUE(other_percentile.ok());
  EXPECT_EQ(other_percentile.value().from_cache, 0);
  o.percentile = 99.99;
  // Entries of this model whose values are not numbers are skipped: measured again.
  {
    std::ifstream f(cache);
    std::string text((std::istreambuf_iterator<char>(f)), {}), rewritten;
    for (size_t at = 0; (at = text.find("\"quality_loss\":", at)) != std::string::npos; at += 16) text.insert(at + 15, "\"bad\",\"was\":");
    std::ofstream(cache, std::ios::trunc) << text;
  }
  auto junk = tune_onnx_model(in, out, calib, eval, o);
  ASSERT_TRUE(junk.ok()) << junk.status().message;
  EXPECT_EQ(junk.value().from_cache, 0);
  EXPECT_EQ(junk.value().measured, first.value().measured);
  // Evolution: children scored (labelled by generation), each mix once.
  o.cache.clear();
  o.points = 3;
  o.generations = 3;
  o.population = 4;
  o.max_timed = 2;
  auto evolved = tune_onnx_model(in, out, calib, eval, o);
  ASSERT_TRUE(evolved.ok()) << evolved.status().message;
  const OnnxTuneResult& e = evolved.value();
  EXPECT_GE(e.generations_run, 1);
  std::set<std::string> keys;
  int children = 0, timed_children = 0;
  for (const OnnxTunePoint& p : e.searched) {
    EXPECT_TRUE(keys.insert(p.method + ":" + api::tune_mix_key(api::tune_formats_of(e.layers, {p.int8_layers, p.bf16_layers}))).second) << p.label;
    children += p.label.rfind("evolved g", 0) == 0;
    EXPECT_GT(p.predicted_ms, 0.0) << p.label;
  }
  EXPECT_GT(children, 0);
  // The timed children are on the front of (predicted time, quality) among everything scored.
  std::vector<api::TuneCandidate> all;
  for (const OnnxTunePoint& p : e.searched) all.push_back({{}, p.predicted_ms, {p.quality_loss}});
  const std::vector<int> rank = api::tune_pareto_ranks(all);
  for (const OnnxTunePoint& p : e.points) {
    if (p.label.rfind("evolved g", 0) != 0) continue;
    ++timed_children;
    size_t i = 0;
    while (i < e.searched.size() && e.searched[i].label != p.label) ++i;
    ASSERT_LT(i, e.searched.size());
    EXPECT_EQ(rank[i], 0) << p.label;
  }
  EXPECT_LE(timed_children, 2);
  std::remove(cache.c_str());
}

// A spent time budget stops the evolutionary search too, and says so; an
// even number of rounds gives the mean of the middle two.
TEST(TuneOnnx, TimeBudgetStopsEvolutionAndEvenRoundsTakeTheMiddleMean) {
  const std::string in = model_file("tune_evo_budget"), out = ::testing::TempDir() + "/tune_evo_budget_out.onnx";
  const auto calib = samples(1, 4), eval = samples(100, 3);
  OnnxTuneOptions o = quick_tune_options(2, 2);
  o.generations = 2;
  o.population = 3;
  std::map<std::string, int> calls;
  o.measure = [&](const std::string& path, int, const CalibrationSample&) {
    const bool first = ++calls[path] == 1;
    return TuneCost{10.0 - quantize_nodes(path) + (first ? 100.0 : 0.0), 5.0};
  };
  o.time_budget_s = 1e-9;
  auto r = tune_onnx_model(in, out, calib, eval, o);
  ASSERT_TRUE(r.ok()) << r.status().message;
  for (const OnnxTunePoint& p : r.value().searched) EXPECT_EQ(p.label.rfind("evolved", 0), std::string::npos) << p.label;
  EXPECT_EQ(r.value().generations_run, 0);
  EXPECT_EQ(r.value().evolved_skipped_by_budget, 3);
  for (const OnnxTunePoint& p : r.value().points)
    EXPECT_DOUBLE_EQ(p.cost.latency_ms, 10.0 - double(p.int8_layers.size()) + 50.0) << p.label << ": (110 - x + 10 - x) / 2";
  // A cache with a task metric but nothing naming what it reads is refused.
  o.time_budget_s = 0;
  o.cache = ::testing::TempDir() + "/tune_evo_budget_cache.jsonl";
  o.task_metric = [](const std::string&) { return 0.0; };
  auto refused = tune_onnx_model(in, out, calib, eval, o);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message.find("task_metric_key"), std::string::npos) << refused.status().message;
}

// Every point keeps its rounds' latencies in round order; round_latency
// "fastest" takes the fastest of them, the default their median; another
// word is refused.
TEST(TuneOnnx, RoundLatenciesKeptAndTheFastestOnRequest) {
  const std::string in = model_file("tune_round_latency"), out = ::testing::TempDir() + "/tune_round_latency_out.onnx";
  const auto calib = samples(1, 4), eval = samples(100, 3);
  EXPECT_EQ(OnnxTuneOptions{}.round_latency, "median");
  OnnxTuneOptions o = quick_tune_options(0, 5);  // the anchors, five rounds
  o.generations = 0;
  std::map<std::string, int> calls;
  // Rounds 1-5 of every point: the median (+7) is round 3, the fastest (+1)
  // round 2, neither at an end, so neither the first nor the last round passes for them.
  const double extra[] = {100.0, 1.0, 7.0, 5.0, 200.0};
  o.measure = [&](const std::string& path, int, const CalibrationSample&) {
    return TuneCost{10.0 - quantize_nodes(path) + extra[calls[path]++ % 5], 5.0};
  };
  for (const char* stat : {"median", "fastest"}) {
    calls.clear();
    o.round_latency = stat;
    auto r = tune_onnx_model(in, out, calib, eval, o);
    ASSERT_TRUE(r.ok()) << r.status().message;
    ASSERT_FALSE(r.value().points.empty());
    for (const OnnxTunePoint& p : r.value().points) {
      const double base = 10.0 - double(p.int8_layers.size());
      EXPECT_EQ(p.latency_rounds_ms, (std::vector<double>{base + 100, base + 1, base + 7, base + 5, base + 200})) << stat << " " << p.label;
      EXPECT_DOUBLE_EQ(p.cost.latency_ms, base + (std::string(stat) == "fastest" ? 1.0 : 7.0)) << stat << " " << p.label;
    }
  }
  o.round_latency = "mean";
  auto refused = tune_onnx_model(in, out, calib, eval, o);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message.find("median or the fastest"), std::string::npos) << refused.status().message;
}

// A method name is a range method with "+gptq" or not: the quantizer options it sets.
TEST(TuneOnnxFormats, MethodNamesCarryTheWeightRounding) {
  EXPECT_EQ(api::tune_method_list("percentile, dynamic+gptq,percentile"), (std::vector<std::string>{"percentile", "dynamic+gptq"}));
  EXPECT_THROW(api::tune_method_list("median+gptq"), Error);
  EXPECT_THROW(api::tune_method_list("gptq"), Error);
  OnnxQuantizeOptions q;
  api::tune_apply_method(q, "dynamic+gptq");
  EXPECT_EQ(q.method, "dynamic");
  EXPECT_TRUE(q.gptq);
  EXPECT_TRUE(api::tune_method_is_dynamic("dynamic+gptq"));
  api::tune_apply_method(q, "mse");
  EXPECT_EQ(q.method, "mse");
  EXPECT_FALSE(q.gptq);
  EXPECT_FALSE(api::tune_method_is_dynamic("minmax+gptq"));
}
