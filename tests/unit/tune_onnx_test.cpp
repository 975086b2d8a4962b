// pareto tune on a small conv net: the measured points (anchors and the
// greedy path, at each thread count), the Pareto front, the choice under
// budgets and objectives, the written model, and the refusal when no point
// fits. The measure callback is replaced by one that reads the candidate
// file (latency = 10 - its int8 convs), so the choice is checked without
// timing noise; one run uses the real in-process measure.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>

#include "api/quantize_onnx_file.h"
#include "api/tune_energy.h"
#include "fake_powercap.h"
#include "tune_onnx_test_util.h"

using namespace pareto;
using namespace pareto::test;

namespace {

// Latency 10 - (int8 convs) ms, memory 5 MiB + 1 per thread: fixed, so the choice is exact.
OnnxTuneOptions counting_options() {
  OnnxTuneOptions o;
  o.threads = {1, 2};
  o.points = 3;
  o.runs = 2;
  o.warmup = 1;
  o.method = "minmax";
  o.generations = 0;  // the anchors and the greedy path only (evolution: tune_onnx_formats_test)
  o.measure = [](const std::string& path, int threads, const CalibrationSample&) {
    return TuneCost{10.0 - quantize_nodes(path), 5.0 + threads};
  };
  return o;
}

}  // namespace

TEST(TuneOnnx, PointsFrontAndChoiceUnderBudgets) {
  const std::string in = model_file("tune_front"), out = ::testing::TempDir() + "/tune_out.onnx";
  const auto calib = samples(1, 4), eval = samples(100, 3);
  OnnxTuneOptions o = counting_options();
  auto r = tune_onnx_model(in, out, calib, eval, o);
  ASSERT_TRUE(r.ok()) << r.status().message;
  const OnnxTuneResult& t = r.value();
  ASSERT_EQ(t.layers.size(), 4u);
  for (const OnnxTuneLayer& l : t.layers) {
    EXPECT_GE(l.sensitivity, 0.0) << l.node;
    // Both profiles found the node (by name) and timed it: the greedy path's input.
    EXPECT_GT(l.fp32_ms, 0.0) << l.node;
    EXPECT_GT(l.int8_ms, 0.0) << l.node;
  }
  // Anchors at both thread counts, and every point's int8 convs as the file says.
  std::map<std::string, int> labels;
  for (const OnnxTunePoint& p : t.points) {
    ++labels[p.label];
    EXPECT_DOUBLE_EQ(p.cost.latency_ms, 10.0 - double(p.int8_layers.size())) << p.label;
    EXPECT_DOUBLE_EQ(p.cost.memory_mib, 5.0 + p.threads);
    EXPECT_GT(p.energy_mj, 0.0) << p.label;
    if (p.int8_layers.empty()) {
      EXPECT_EQ(p.quality_loss, 0.0);
    } else {
      EXPECT_GT(p.quality_loss, 0.0) << p.label << ": int8 cannot be exact";
    }
    EXPECT_LT(p.quality_loss, 0.2) << p.label;
  }
  EXPECT_EQ(labels["fp32"], 2);
  EXPECT_EQ(labels["int8 all"], 2);
  EXPECT_EQ(labels["int8 float ends"], 2);
  // The front: exactly the points no other point dominates (energy estimated for each).
  for (const OnnxTunePoint& p : t.points) {
    bool dominated = false;
    for (const OnnxTunePoint& q : t.points)
      dominated |= q.cost.latency_ms <= p.cost.latency_ms && q.cost.memory_mib <= p.cost.memory_mib && q.quality_loss <= p.quality_loss &&
                   q.energy_mj <= p.energy_mj &&
                   (q.cost.latency_ms < p.cost.latency_ms || q.cost.memory_mib < p.cost.memory_mib || q.quality_loss < p.quality_loss ||
                    q.energy_mj < p.energy_mj);
    EXPECT_EQ(p.frontier, !dominated) << p.label << " threads " << p.threads;
  }
  // No budgets: the fastest point is every conv in int8 (1 thread: less memory at equal latency).
  const OnnxTunePoint& best = t.points[size_t(t.chosen)];
  EXPECT_EQ(best.int8_layers.size(), 4u);
  EXPECT_EQ(best.threads, 1);
  EXPECT_EQ(quantize_nodes(out), 4) << "the written model is the chosen point";
  auto s = Session::open(out, SessionOptions{});
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s.value()->run(eval[0]).ok());

  // A quality budget no int8 point meets: the float model itself is written.
  o.max_quality_loss = 1e-12;
  auto r2 = tune_onnx_model(in, out, calib, eval, o);
  ASSERT_TRUE(r2.ok()) << r2.status().message;
  EXPECT_TRUE(r2.value().points[size_t(r2.value().chosen)].int8_layers.empty());
  EXPECT_EQ(bytes_of(out), bytes_of(in));

  // Objective memory with a latency budget: a 1-thread point (less memory), the
  // least quality loss among those.
  o.max_quality_loss = 0;
  o.max_latency_ms = 9.5;
  o.objective = "memory";
  auto r3 = tune_onnx_model(in, out, calib, eval, o);
  ASSERT_TRUE(r3.ok()) << r3.status().message;
  const OnnxTunePoint& m = r3.value().points[size_t(r3.value().chosen)];
  EXPECT_EQ(m.threads, 1);
  EXPECT_LE(m.cost.latency_ms, 9.5);
  for (const OnnxTunePoint& p : r3.value().points) {
    EXPECT_EQ(p.within_budget, p.cost.latency_ms <= 9.5);
    if (p.within_budget && p.threads == 1) {
      EXPECT_GE(p.quality_loss, m.quality_loss) << p.label;
    }
  }
  // No candidate files left beside the output.
  for (const auto& e : std::filesystem::directory_iterator(::testing::TempDir()))
    EXPECT_EQ(e.path().filename().string().rfind(".tune-" + std::to_string(getpid()), 0), std::string::npos) << e.path();
}

// Two calibration methods: the anchors and the greedy path measured for
// each (fp32 once), the chosen point's method in the written model.
TEST(TuneOnnx, EachCalibrationMethodIsSearched) {
  const std::string in = model_file("tune_methods"), out = ::testing::TempDir() + "/tune_methods_out.onnx";
  const auto calib = samples(1, 4), eval = samples(100, 3);
  OnnxTuneOptions o = counting_options();
  o.threads = {1};
  o.method = "minmax,percentile,minmax";  // a repeat is searched once
  o.objective = "quality";
  o.max_latency_ms = 6.5;  // every conv int8: the least loss among them is chosen
  auto r = tune_onnx_model(in, out, calib, eval, o);
  ASSERT_TRUE(r.ok()) << r.status().message;
  std::map<std::string, int> per_method;
  std::map<std::string, double> all_loss;
  for (const OnnxTunePoint& p : r.value().points) {
    ++per_method[p.method];
    EXPECT_EQ(p.method.empty(), p.int8_layers.empty()) << p.label;
    if (!p.method.empty()) {
      EXPECT_NE(p.label.find(p.method), std::string::npos) << p.label << ": the label names the method";
    }
    if (p.int8_layers.size() == 4) all_loss[p.method] = p.quality_loss;
  }
  EXPECT_EQ(per_method[""], 1);
  EXPECT_EQ(per_method["minmax"], per_method["percentile"]);
  EXPECT_GE(per_method["minmax"], 2);
  ASSERT_EQ(all_loss.size(), 2u);
  EXPECT_NE(all_loss["minmax"], all_loss["percentile"]) << "the methods give other ranges, so other errors";
  const OnnxTunePoint& best = r.value().points[size_t(r.value().chosen)];
  ASSERT_EQ(best.int8_layers.size(), 4u);
  EXPECT_EQ(best.quality_loss, std::min(all_loss["minmax"], all_loss["percentile"]));
  // The written model is that method's: quantized again with it, the same bytes.
  const std::string again = ::testing::TempDir() + "/tune_methods_again.onnx";
  OnnxQuantizeOptions q;
  q.method = best.method;
  q.keep_first_last = false;
  ASSERT_TRUE(quantize_onnx_model(in, again, calib, q).ok());
  EXPECT_EQ(bytes_of(out), bytes_of(again));
  q.method = best.method == "minmax" ? "percentile" : "minmax";  // and the comparison tells the methods apart
  ASSERT_TRUE(quantize_onnx_model(in, again, calib, q).ok());
  EXPECT_NE(bytes_of(out), bytes_of(again));
  o.method = "minmax,kl";
  auto bad = tune_onnx_model(in, out, calib, eval, o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message.find("'kl'"), std::string::npos) << bad.status().message;
}

// A time budget already spent: the anchors are measured, no greedy point.
TEST(TuneOnnx, ATimeBudgetCutsTheGreedyPointsOnly) {
  const std::string in = model_file("tune_budget"), out = ::testing::TempDir() + "/tune_budget_out.onnx";
  const auto calib = samples(1, 4), eval = samples(100, 3);
  OnnxTuneOptions o = counting_options();
  o.threads = {1};
  o.method = "minmax, percentile";  // spaces allowed
  o.time_budget_s = 1e9;  // not spent: nothing left out
  auto full = tune_onnx_model(in, out, calib, eval, o);
  ASSERT_TRUE(full.ok()) << full.status().message;
  EXPECT_EQ(full.value().skipped_by_budget, 0);
  o.time_budget_s = 1e-9;
  auto cut = tune_onnx_model(in, out, calib, eval, o);
  ASSERT_TRUE(cut.ok()) << cut.status().message;
  std::set<std::string> labels;
  for (const OnnxTunePoint& p : cut.value().points) {
    labels.insert(p.label);
    EXPECT_EQ(p.label.rfind("greedy", 0), std::string::npos) << p.label;
  }
  EXPECT_EQ(labels, (std::set<std::string>{"fp32", "int8 float ends minmax", "int8 all minmax", "int8 float ends percentile", "int8 all percentile"}));
  // Exactly the greedy candidates this run's path gives (the per-node times
  // that order it are measured, so the path is read back from the result):
  // with 3 points, prefixes of sizes max(1, K*k/3), less those equal to an
  // anchor's set (the float-ends anchor is the two middle convs), per method.
  std::vector<std::string> order(cut.value().layers.size());
  size_t k_on_path = 0;
  for (const OnnxTuneLayer& l : cut.value().layers)
    if (l.order >= 0) order[size_t(l.order)] = l.node, ++k_on_path;
  std::set<size_t> sizes;
  for (size_t k = 1; k <= 3 && k_on_path > 0; ++k) sizes.insert(std::max<size_t>(1, k_on_path * k / 3));
  int expected = 0;
  for (size_t n : sizes) {
    const std::set<std::string> prefix(order.begin(), order.begin() + long(n));
    if (prefix != std::set<std::string>{"b_conv", "c_conv"} && prefix.size() != 4) expected += 2;
  }
  EXPECT_EQ(cut.value().skipped_by_budget, expected);
  o.time_budget_s = -1;
  EXPECT_FALSE(tune_onnx_model(in, out, calib, eval, o).ok());
}

// The thread list in the other order: at equal latency and quality the
// point with less memory is chosen (a dominated point never is).
TEST(TuneOnnx, ChoiceIsOnTheFrontWhateverTheOrder) {
  const std::string in = model_file("tune_order"), out = ::testing::TempDir() + "/tune_order_out.onnx";
  OnnxTuneOptions o = counting_options();
  o.threads = {2, 1};
  auto r = tune_onnx_model(in, out, samples(1, 2), samples(50, 2), o);
  ASSERT_TRUE(r.ok()) << r.status().message;
  const OnnxTunePoint& best = r.value().points[size_t(r.value().chosen)];
  EXPECT_TRUE(best.frontier);
  EXPECT_EQ(best.threads, 1);
}

TEST(TuneOnnx, RefusesBudgetsNoPointMeetsAndBadOptions) {
  const std::string in = model_file("tune_refuse"), out = ::testing::TempDir() + "/tune_none.onnx";
  const auto calib = samples(1, 2);
  OnnxTuneOptions o = counting_options();
  o.max_latency_ms = 1;  // every point takes 6-10 ms
  auto r = tune_onnx_model(in, out, calib, {}, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message.find("no measured point meets the budgets: latency <= 1 ms"), std::string::npos) << r.status().message;
  o.max_latency_ms = 0;
  o.objective = "speed";
  EXPECT_NE(tune_onnx_model(in, out, calib, {}, o).status().message.find("objective"), std::string::npos);
  o.objective = "latency";
  o.threads = {};
  EXPECT_FALSE(tune_onnx_model(in, out, calib, {}, o).ok());
  EXPECT_FALSE(tune_onnx_model(in, out, {}, {}, counting_options()).ok());
  // Writing over the model it reads would destroy it: refused, and the file is as it was.
  const std::string before = bytes_of(in);
  EXPECT_NE(tune_onnx_model(in, in, calib, {}, counting_options()).status().message.find("is also a file tune reads or keeps"), std::string::npos);
  EXPECT_EQ(bytes_of(in), before);
  // And over its cache, written or not yet.
  OnnxTuneOptions c = counting_options();
  c.cache = ::testing::TempDir() + "/tune_refuse_cache.jsonl";
  std::remove(c.cache.c_str());
  EXPECT_NE(tune_onnx_model(in, c.cache, calib, {}, c).status().message.find("is also a file tune reads or keeps"), std::string::npos);
}

// The real measure: timed in this process, memory the activation arena.
TEST(TuneOnnx, InProcessMeasureTimesEveryPoint) {
  const std::string in = model_file("tune_real_in"), out = ::testing::TempDir() + "/tune_real.onnx";
  OnnxTuneOptions o;
  o.points = 1;
  o.runs = 2;
  o.warmup = 1;
  o.method = "minmax";
  std::vector<std::string> lines;
  o.progress = [&](const std::string& l) { lines.push_back(l); };
  auto r = tune_onnx_model(in, out, samples(1, 2), samples(7, 2), o);
  ASSERT_TRUE(r.ok()) << r.status().message;
  for (const OnnxTunePoint& p : r.value().points) {
    EXPECT_GT(p.cost.latency_ms, 0.0) << p.label;
    EXPECT_GT(p.cost.memory_mib, 0.0) << p.label;
  }
  EXPECT_GE(lines.size(), r.value().points.size()) << "a progress line per point";
  EXPECT_GE(r.value().chosen, 0);
}

// A counter that stands still (over a window under 50 ms, or longer under
// emulation: either way no measurement) and counters missing both leave the
// estimate, and the result says why; which figure each point gets when
// readings exist is TuneEnergy.* below.
TEST(TuneOnnx, EnergyFallsBackToTheEstimateWithoutAUsableReading) {
  const std::string in = model_file("tune_energy"), out = ::testing::TempDir() + "/tune_energy_out.onnx";
  OnnxTuneOptions o = counting_options();
  o.threads = {1};
  for (const std::string& root : {fake_powercap(::testing::TempDir() + "/tune-onnx-powercap"), ::testing::TempDir() + "/no-such-powercap"}) {
    o.powercap_root = root;
    auto r = tune_onnx_model(in, out, samples(1, 2), samples(5, 2), o);
    ASSERT_TRUE(r.ok()) << r.status().message;
    EXPECT_EQ(r.value().energy_source.rfind("estimated", 0), 0u) << r.value().energy_source;
    const bool fake = root.find("no-such") == std::string::npos;
    EXPECT_NE(r.value().energy_source.find(fake ? "powercap read" : "no powercap"), std::string::npos) << r.value().energy_source;
    for (const OnnxTunePoint& p : r.value().points) {
      EXPECT_EQ(p.energy_measured_mj, -1) << p.label;
      EXPECT_EQ(p.energy_mj, p.energy_estimated_mj) << p.label;
      EXPECT_GT(p.energy_mj, 0) << p.label;
    }
  }
}

struct EnergyPoint {
  double energy_mj = 0, energy_estimated_mj = 0, energy_measured_mj = -1;
};

TEST(TuneEnergy, AReadingCountsOverALongEnoughWindowAndOnlyWhenEveryPointHasOne) {
  auto report = [](double mj, double seconds) {
    return nlohmann::json{{"summary", {{"measured_energy_mj", mj}, {"measured_seconds", seconds}, {"measured_energy_note", "powercap: package-0"}}}};
  };
  EXPECT_EQ(api::energy_of_profile(report(2.5, 0.2), 1.0).measured_mj, 2.5);
  const api::PointEnergy frozen = api::energy_of_profile(report(0, 0.2), 1.0);  // a counter that did not move
  EXPECT_EQ(frozen.measured_mj, -1);
  EXPECT_NE(frozen.note.find("did not advance"), std::string::npos);
  const api::PointEnergy short_window = api::energy_of_profile(report(2.5, 0.01), 1.0);
  EXPECT_EQ(short_window.measured_mj, -1);
  EXPECT_NE(short_window.note.find("ms only"), std::string::npos);
  EXPECT_EQ(api::energy_of_profile(nlohmann::json{{"summary", {{"measured_energy_mj", nullptr}}}}, 1.0).measured_mj, -1);
  // Every point measured: each gets its own reading.
  std::vector<EnergyPoint> pts(3);
  std::string source;
  api::settle_energy(pts, {{1, 10, "a"}, {2, 20, "a"}, {3, 30, "a"}}, source);
  for (size_t i = 0; i < pts.size(); ++i) {
    EXPECT_EQ(pts[i].energy_mj, 10.0 * double(i + 1));
    EXPECT_EQ(pts[i].energy_estimated_mj, double(i + 1));
  }
  EXPECT_EQ(source, "measured (a)");
  // One without: all take their estimates, and the source says why.
  api::settle_energy(pts, {{1, 10, "a"}, {2, -1, "why not"}, {3, 30, "a"}}, source);
  for (size_t i = 0; i < pts.size(); ++i) EXPECT_EQ(pts[i].energy_mj, double(i + 1));
  EXPECT_EQ(pts[1].energy_measured_mj, -1);
  EXPECT_EQ(pts[2].energy_measured_mj, 30);
  EXPECT_NE(source.find("why not"), std::string::npos);
  EXPECT_THROW(api::settle_energy(pts, {{1, 10, "a"}}, source), std::exception);
}

// A tune's candidates share the activation ranges of the float model: a
// candidate quantized with ranges another candidate observed is the same
// file, byte for byte, as one calibrated afresh.
TEST(TuneOnnx, SharedRangesGiveTheSameCandidate) {
  const std::string in = model_file("tune_ranges");
  const auto calib = samples(3, 3);
  OnnxQuantizeOptions all;
  all.method = "percentile", all.keep_first_last = false;
  quant::RangeCache cache;
  api::quantize_onnx_file(in, ::testing::TempDir() + "/ranges_all.onnx", calib, all, &cache, false);
  EXPECT_GE(cache.lo_hi.size(), 4u);  // every conv's input
  OnnxQuantizeOptions two = all;
  two.keep = {"a_conv", "c_conv"};
  const std::string fresh = ::testing::TempDir() + "/ranges_fresh.onnx", shared = ::testing::TempDir() + "/ranges_shared.onnx";
  ASSERT_TRUE(quantize_onnx_model(in, fresh, calib, two).ok());
  const size_t known = cache.lo_hi.size();
  api::quantize_onnx_file(in, shared, calib, two, &cache, false);
  EXPECT_EQ(cache.lo_hi.size(), known);  // nothing observed again
  EXPECT_EQ(bytes_of(fresh), bytes_of(shared));
  EXPECT_EQ(quantize_nodes(shared), 2);
  // And the cache is what is used: another range for b_conv's input makes another file.
  ASSERT_TRUE(cache.lo_hi.count("a1"));
  cache.lo_hi["a1"] = {0.f, 50.f};
  api::quantize_onnx_file(in, shared, calib, two, &cache, false);
  EXPECT_NE(bytes_of(fresh), bytes_of(shared));
  // Ranges of one method are not used for another.
  OnnxQuantizeOptions other = two;
  other.method = "minmax";
  EXPECT_THROW(api::quantize_onnx_file(in, shared, calib, other, &cache, false), std::exception);
}

// Per-run ranges ("dynamic") as a method beside a calibrated one, on a net
// with a depthwise conv: the depthwise conv is a layer (the calibrated
// method lists the layers), but no dynamic point names it (per-run ranges
// leave it float: no int8 kernel takes them there), and the dynamic int8-all
// point is exactly the two group-1 convs, whose file rounds their inputs
// per run.
TEST(TuneOnnx, DynamicPointsNameOnlyTheConvsTheyQuantize) {
  pareto::test::Msg g;
  g.m(5, tensor_f32("w0", {16, 8, 3, 3}, random_floats(16 * 8 * 9, 1, -0.3f, 0.3f)));
  g.m(5, tensor_f32("wd", {16, 1, 3, 3}, random_floats(16 * 9, 2, -0.5f, 0.5f)));
  g.m(5, tensor_f32("w1", {4, 16, 1, 1}, random_floats(4 * 16, 3, -0.3f, 0.3f)));
  g.m(1, node("Conv", {"x", "w0"}, {"a"}, "conv0", {attr_ints("kernel_shape", {3, 3}), attr_ints("pads", {1, 1, 1, 1})}));
  g.m(1, node("Relu", {"a"}, {"a1"}, "r0"));
  g.m(1, node("Conv", {"a1", "wd"}, {"d"}, "depthwise", {attr_ints("kernel_shape", {3, 3}), attr_ints("pads", {1, 1, 1, 1}), attr_int("group", 16)}));
  g.m(1, node("Relu", {"d"}, {"d1"}, "r1"));
  g.m(1, node("Conv", {"d1", "w1"}, {"y"}, "conv1", {attr_ints("kernel_shape", {1, 1})}));
  g.s(2, "tune_dynamic");
  g.m(11, value_info("x", 1, {1, 8, 16, 16}));
  g.m(12, value_info("y", 1, {1, 4, 16, 16}));
  const std::string in = ::testing::TempDir() + "/tune_dynamic.onnx", out = ::testing::TempDir() + "/tune_dynamic_out.onnx";
  std::ofstream(in, std::ios::binary) << model(g, 13).bytes;
  OnnxTuneOptions o = counting_options();
  o.threads = {1};
  o.method = "minmax,dynamic";
  auto r = tune_onnx_model(in, out, samples(1, 4), samples(100, 3), o);
  ASSERT_TRUE(r.ok()) << r.status().message;
  std::set<std::string> layers;
  for (const OnnxTuneLayer& l : r.value().layers) layers.insert(l.node);
  EXPECT_EQ(layers, (std::set<std::string>{"conv0", "depthwise", "conv1"}));
  int dynamic_points = 0, minmax_with_depthwise = 0;
  for (const OnnxTunePoint& p : r.value().points) {
    const bool names_depthwise = std::count(p.int8_layers.begin(), p.int8_layers.end(), "depthwise") > 0;
    if (p.method == "dynamic") {
      ++dynamic_points;
      EXPECT_FALSE(names_depthwise) << p.label;
      if (p.label.rfind("int8 all", 0) == 0) {
        EXPECT_EQ(std::set<std::string>(p.int8_layers.begin(), p.int8_layers.end()), (std::set<std::string>{"conv0", "conv1"}));
      }
    }
    minmax_with_depthwise += p.method == "minmax" && names_depthwise;
  }
  EXPECT_GT(dynamic_points, 0);
  EXPECT_GT(minmax_with_depthwise, 0) << "the calibrated method still takes the depthwise conv";
}
