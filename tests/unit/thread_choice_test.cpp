// The executor's per-node thread choice (runtime/thread_choice.h): what it
// learns from node times, and that a session's outputs do not change with it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>

#include "pareto/pareto.hpp"
#include "proto_builder.h"
#include "runtime/thread_choice.h"

using namespace pareto;
using runtime::ThreadChoice;
namespace pb = pareto::test;

namespace {

// Runs the learning to its end with node times from `time(mode, node,
// chosen_inline)`; returns how many runs it took.
template <class F>
int learn(ThreadChoice& tc, const std::vector<int64_t>& key, F time) {
  int runs = 0;
  for (; runs < 1000; ++runs) {
    ThreadChoice::Run r = tc.begin(key);
    if (!r.timing()) break;
    for (size_t i = 0; i < r.seconds.size(); ++i) r.seconds[i] = time(r.trial, i, r.run_inline(i));
    tc.finish(r);
  }
  return runs;
}

const double kSplit[3] = {10, 1, 5}, kInline[3] = {2, 3, 5};  // node 0 gains inline, 1 loses, 2 ties

}  // namespace

TEST(ThreadChoice, NodesFasterInlineAreChosenWhenTheWholeRunIsFaster) {
  ThreadChoice tc(3);
  const int runs = learn(tc, {1, 2, -1}, [](int, size_t i, bool in) { return in ? kInline[i] : kSplit[i]; });
  EXPECT_EQ(runs, 5 * ThreadChoice::kTrials);  // step 1: two modes, step 2: three
  EXPECT_FALSE(tc.learning());
  EXPECT_EQ(tc.inline_count({1, 2, -1}), 1);
  ThreadChoice::Run r = tc.begin({1, 2, -1});
  EXPECT_FALSE(r.timing());
  EXPECT_TRUE(r.run_inline(0));
  EXPECT_FALSE(r.run_inline(1));
  EXPECT_FALSE(r.run_inline(2)) << "a tie stays split";
}

TEST(ThreadChoice, AChoiceThatSlowsTheWholeRunIsDropped) {
  ThreadChoice tc(3);
  // Node 0 alone is faster inline, but with it inline node 1 (which reads
  // its output on the other core, say) gets 20 slower.
  learn(tc, {7, -1}, [](int mode, size_t i, bool in) { return (in ? kInline[i] : kSplit[i]) + (mode != ThreadChoice::kSplit && i == 1 ? 20 : 0); });
  EXPECT_EQ(tc.inline_count({7, -1}), 0);
  EXPECT_FALSE(tc.begin({7, -1}).run_inline(0));
}

TEST(ThreadChoice, EveryNodeInlineWinsWhenItsWholeRunIsFastest) {
  ThreadChoice tc(3);
  // The mix is slow (node 1 split after node 0 inline waits for the other
  // core to wake, say); all inline (10) beats all split (16).
  learn(tc, {8, -1}, [](int mode, size_t i, bool in) { return (in ? kInline[i] : kSplit[i]) + (mode == ThreadChoice::kChosen && i == 1 ? 20 : 0); });
  EXPECT_EQ(tc.inline_count({8, -1}), 3);
}

TEST(ThreadChoice, NoNodeFasterInlineEndsAfterTheFirstStep) {
  ThreadChoice tc(2);
  EXPECT_EQ(learn(tc, {3, -1}, [](int, size_t, bool in) { return in ? 4.0 : 2.0; }), 2 * ThreadChoice::kTrials);
  EXPECT_EQ(tc.inline_count({3, -1}), 0);
}

TEST(ThreadChoice, EachInputShapeLearnsItsOwnUpToALimit) {
  ThreadChoice tc(3);
  learn(tc, {1, -1}, [](int, size_t i, bool in) { return in ? kInline[i] : kSplit[i]; });
  learn(tc, {2, -1}, [](int, size_t, bool in) { return in ? 9.0 : 1.0; });  // at this shape splitting wins everywhere
  EXPECT_EQ(tc.inline_count({1, -1}), 1);
  EXPECT_EQ(tc.inline_count({2, -1}), 0);
  EXPECT_EQ(tc.inline_count({3, -1}), -1);
  for (int64_t s = 3; s <= int64_t(ThreadChoice::kMaxShapes); ++s) EXPECT_TRUE(tc.begin({s, -1}).timing());
  EXPECT_TRUE(tc.learning());
  ThreadChoice::Run over = tc.begin({99, -1});  // one shape too many: split, untimed
  EXPECT_FALSE(over.timing());
  EXPECT_FALSE(over.run_inline(0));
}

TEST(ThreadChoice, AbandonedRunsDoNotCount) {
  ThreadChoice tc(1);
  for (int i = 0; i < 10; ++i) tc.begin({5, -1});  // runs that threw: never finished
  EXPECT_TRUE(tc.learning());
  EXPECT_EQ(tc.inline_count({5, -1}), -1);
  learn(tc, {5, -1}, [](int, size_t, bool in) { return in ? 1.0 : 2.0; });
  EXPECT_EQ(tc.inline_count({5, -1}), 1);
}

// A real model at 2 threads gives the same bytes while learning and after,
// as at 1 thread and with learning off.
TEST(ThreadChoice, SessionOutputsDoNotChangeWithTheChoice) {
  const std::string dir = std::string(PARETO_SOURCE_DIR) + "/models/ocr/";
  if (!std::ifstream(dir + "ch_ppocr_mobile_v2.0_cls_infer.onnx")) GTEST_SKIP() << "models/ocr not fetched (scripts/fetch-models.sh)";
  for (const auto& [file, shape] : {std::pair<std::string, Shape>{"ch_ppocr_mobile_v2.0_cls_infer.onnx", {1, 3, 48, 192}},
                                    std::pair<std::string, Shape>{"ch_PP-OCRv4_det_infer.onnx", {1, 3, 96, 128}}}) {
    Tensor x = Tensor::empty(DType::f32, shape);
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> d(-1, 1);
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = d(rng);
    auto open = [&](int threads) {
      SessionOptions o;
      o.optimize = true;
      o.threads = threads;
      o.shapes["x"] = shape;
      auto s = Session::open(dir + file, o);
      EXPECT_TRUE(s.ok()) << s.status().to_string();
      return std::move(s.value());
    };
    auto one = open(1);
    auto ref = one->run({{"x", x}});
    ASSERT_TRUE(ref.ok());
    const Tensor& want = ref.value()[0];
    setenv("PARETO_ADAPTIVE_THREADS", "0", 1);
    auto off = open(2);
    unsetenv("PARETO_ADAPTIVE_THREADS");
    auto two = open(2);
    EXPECT_FALSE(two->learning_threads());  // nothing run yet
    int runs = 0;
    for (; runs < 100; ++runs) {
      auto y = two->run({{"x", x}});
      ASSERT_TRUE(y.ok());
      ASSERT_EQ(std::memcmp(y.value()[0].raw(), want.raw(), want.nbytes()), 0) << file << ", run " << runs;
      if (!two->learning_threads()) break;
    }
    EXPECT_LE(runs + 1, 5 * ThreadChoice::kTrials) << file;
    EXPECT_GE(runs + 1, 2 * ThreadChoice::kTrials) << file;
    auto after = two->run({{"x", x}});
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(std::memcmp(after.value()[0].raw(), want.raw(), want.nbytes()), 0) << file << " after learning";
    auto y_off = off->run({{"x", x}});
    ASSERT_TRUE(y_off.ok());
    EXPECT_EQ(std::memcmp(y_off.value()[0].raw(), want.raw(), want.nbytes()), 0) << file << " with learning off";
    EXPECT_FALSE(off->learning_threads());
    EXPECT_FALSE(one->learning_threads()) << "one thread: nothing to choose";
  }
}

// Without downloaded models: a small conv net at 2 threads, optimized or
// not, with per-node recording on or off, learns and keeps its outputs.
TEST(ThreadChoice, SmallNetLearnsWithProfilingAndKeepsItsOutputs) {
  pb::Msg g;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> d(-0.3f, 0.3f);
  auto weights = [&](size_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
  };
  std::string x = "x";
  for (int k = 0; k < 4; ++k) {
    const int64_t cin = k ? 16 : 8, ks = k % 2 ? 1 : 3;
    const std::string w = "w" + std::to_string(k), y = "y" + std::to_string(k), r = "r" + std::to_string(k);
    g.m(5, pb::tensor_f32(w, {16, cin, ks, ks}, weights(size_t(16 * cin * ks * ks))));
    g.m(1, pb::node("Conv", {x, w}, {y}, y + "_conv", {pb::attr_ints("kernel_shape", {ks, ks}), pb::attr_ints("pads", {ks / 2, ks / 2, ks / 2, ks / 2})}));
    g.m(1, pb::node("Relu", {y}, {r}, r + "_relu"));
    x = r;
  }
  g.s(2, "small");
  g.m(11, pb::value_info("x", 1, {1, 8, 24, 24}));
  g.m(12, pb::value_info(x, 1, {1, 16, 24, 24}));
  const std::string path = ::testing::TempDir() + "/thread_choice_small.onnx";
  std::ofstream(path, std::ios::binary) << pb::model(g, 13).bytes;
  Tensor in = Tensor::empty(DType::f32, {1, 8, 24, 24});
  for (int64_t i = 0; i < in.numel(); ++i) in.data<float>()[i] = d(rng);
  for (bool optimize : {false, true})
    for (bool profile : {false, true}) {
      auto open = [&](int threads) {
        SessionOptions o;
        o.optimize = optimize, o.profile = profile, o.threads = threads;
        auto s = Session::open(path, o);
        EXPECT_TRUE(s.ok()) << s.status().to_string();
        return std::move(s.value());
      };
      auto one = open(1), two = open(2);
      auto want = one->run({{"x", in}});
      ASSERT_TRUE(want.ok());
      const Tensor& w = want.value()[0];
      int runs = 0;
      do {
        auto y = two->run({{"x", in}});
        ASSERT_TRUE(y.ok()) << y.status().to_string();
        ASSERT_EQ(std::memcmp(y.value()[0].raw(), w.raw(), w.nbytes()), 0) << "optimize " << optimize << " profile " << profile << " run " << runs;
        if (profile) {
          EXPECT_FALSE(two->take_profile().empty());
        }
      } while (two->learning_threads() && ++runs < 100);
      EXPECT_FALSE(two->learning_threads()) << "optimize " << optimize << " profile " << profile;
    }
}
