// The memory planner (passes/memory_plan.h) on its own: a hostile plan's
// wrapping offsets are refused, the validator agrees with a pairwise
// overlap check, validation stays fast on many buffers, and plans of random
// DAGs never overlap live tensors. (The real models' plans: passes_test.cpp.)
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#include "passes/memory_plan.h"

using namespace pareto;

TEST(MemoryPlan, WrappingBufferPositionIsRefused) {
  // A hostile .pareto plan: offset + bytes wraps past 2^64 to a value inside
  // the arena, which an unchecked sum accepted (the slot is then written
  // 4096 bytes before the arena).
  passes::MemoryPlan plan;
  plan.arena_bytes = 8192;
  passes::Buffer b;
  b.bytes = 4096 + 4096;
  b.offset = ~size_t(0) - 4095;  // 2^64 - 4096, a multiple of the alignment
  plan.buffers = {b};
  std::string why;
  EXPECT_FALSE(passes::plan_is_valid(plan, &why));
  EXPECT_NE(why.find("outside the arena"), std::string::npos) << why;
  plan.buffers[0].offset = 4096;  // the same buffer, honestly placed: too big for the arena
  EXPECT_FALSE(passes::plan_is_valid(plan, &why));
  plan.buffers[0].offset = 0;
  EXPECT_TRUE(passes::plan_is_valid(plan, &why)) << why;
}

// The validator sweeps positions (n log n); on random plans, valid or not, it
// agrees with the pairwise definition, and an arena larger than its buffers
// span is refused (a stored plan must not make the executor allocate more).
TEST(MemoryPlan, ValidatorAgreesWithPairwiseCheck) {
  std::mt19937 rng(11);
  int invalid = 0;
  for (int trial = 0; trial < 500; ++trial) {
    passes::MemoryPlan plan;
    plan.alignment = 64;
    const int n = 1 + int(rng() % 12);
    size_t end = 0;
    for (int i = 0; i < n; ++i) {
      passes::Buffer b;
      b.first = int(rng() % 6);
      b.last = b.first + int(rng() % 4);
      b.bytes = 64 * (1 + rng() % 3);  // zero-byte buffers occupy nothing and never overlap
      b.offset = 64 * (rng() % 8);
      end = std::max(end, b.offset + b.bytes);
      plan.buffers.push_back(b);
    }
    plan.arena_bytes = end;
    bool pairwise_ok = true;
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j) {
        const passes::Buffer &x = plan.buffers[size_t(i)], &y = plan.buffers[size_t(j)];
        if (x.first <= y.last && y.first <= x.last && x.offset < y.offset + y.bytes && y.offset < x.offset + x.bytes) pairwise_ok = false;
      }
    std::string why;
    EXPECT_EQ(passes::plan_is_valid(plan, &why), pairwise_ok) << "trial " << trial << ": " << why;
    invalid += !pairwise_ok;
  }
  EXPECT_GT(invalid, 50);  // both outcomes were exercised
  passes::MemoryPlan plan;
  plan.buffers = {passes::Buffer{{}, 128, 0, 1, 0}};
  plan.arena_bytes = 128;
  EXPECT_TRUE(passes::plan_is_valid(plan));
  plan.arena_bytes = size_t(1) << 39;
  std::string why;
  EXPECT_FALSE(passes::plan_is_valid(plan, &why));
  EXPECT_NE(why.find("larger than its buffers span"), std::string::npos) << why;
}

// A hostile plan of many buffers is checked in n log n, not n^2.
TEST(MemoryPlan, ManyBuffersValidateQuickly) {
  passes::MemoryPlan plan;
  for (int i = 0; i < 200000; ++i) plan.buffers.push_back(passes::Buffer{{}, 64, i, i, 0});  // one slot reused in turn
  plan.arena_bytes = 64;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(passes::plan_is_valid(plan));
  plan.buffers.back().first = 0;  // the last buffer now lives alongside all the others
  EXPECT_FALSE(passes::plan_is_valid(plan));
  // A complexity guard, not a speed target: n log n takes well under a second even under ASan; pairwise, minutes.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 20.0);
}

TEST(MemoryPlan, RandomDagsNeverOverlapLiveTensors) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    passes::MemoryPlan plan;
    const int n = 1 + int(rng() % 60), positions = 1 + int(rng() % 40);
    for (int i = 0; i < n; ++i) {
      passes::Buffer b;
      b.first = int(rng() % unsigned(positions));
      b.last = b.first + int(rng() % 8);
      b.bytes = (1 + rng() % 5000) / 64 * 64 + 64;
      plan.buffers.push_back(b);
    }
    passes::place_buffers(plan);
    std::string why;
    ASSERT_TRUE(passes::plan_is_valid(plan, &why)) << "trial " << trial << ": " << why;
    EXPECT_GE(plan.arena_bytes, plan.lower_bound);
    EXPECT_LE(plan.arena_bytes, plan.naive_bytes);
  }
}

namespace {

// x -> Floor -> a; FusedAdd(a, b) -> y (domain pareto, float out unless
// rounded); y -> Floor -> z. a dies at the FusedAdd. (Floor, not written
// in place: a Relu would share the graph input's or output's buffer, and
// its group would stay outside the arena.)
struct FusedAddGraph {
  ir::Graph g;
  std::vector<ir::ValueType> types;
  int a = 0, y = 0;
  explicit FusedAddGraph(bool rounded) {
    auto value = [&](const std::string& name, Shape dims, DType dtype) {
      const int v = g.add_value(name);
      if (types.size() <= size_t(v)) types.resize(size_t(v) + 1);
      types[size_t(v)].dtype = dtype;
      types[size_t(v)].rank_known = true;
      types[size_t(v)].dims = std::move(dims);
      return v;
    };
    const int x = value("x", {1, 4, 6, 6}, DType::f32), b = value("b", {1, 4, 3, 3}, DType::f32);
    a = value("a", {1, 4, 6, 6}, DType::f32);
    y = value("y", {1, 4, 6, 6}, rounded ? DType::u8 : DType::f32);
    const int z = value("z", {1, 4, 6, 6}, rounded ? DType::u8 : DType::f32);
    g.inputs = {x, b};
    g.outputs = {z};
    ir::Node floor;
    floor.op_type = "Floor";
    floor.inputs = {x};
    floor.outputs = {a};
    ir::Node add;
    add.op_type = "FusedAdd";
    add.domain = "pareto";
    add.inputs = {a, b};
    add.outputs = {y};
    add.set_attr(ir::attr_ints("upsample", {2, 2}));
    if (rounded) add.set_attr(ir::attr_float("out_scale", 0.1f));
    ir::Node last;
    last.op_type = "Floor";
    last.inputs = {y};
    last.outputs = {z};
    g.nodes = {floor, add, last};
  }
};

}  // namespace

// FusedAdd writes over its dying first input (PP-OCR det's largest wrote
// 10 MB into fresh lines), but not when it rounds its output to uint8.
TEST(MemoryPlan, FusedAddWritesOverItsFirstInput) {
  FusedAddGraph f(false);
  const ir::MemoryPlan plan = ir::collect_buffers(f.g, {0, 1, 2}, f.types, true, 64);
  ASSERT_GE(plan.buffer_of[size_t(f.a)], 0);
  EXPECT_EQ(plan.buffer_of[size_t(f.a)], plan.buffer_of[size_t(f.y)]);
  EXPECT_TRUE(ir::writes_in_place(f.g.nodes[1]));
  FusedAddGraph r(true);
  const ir::MemoryPlan rounded = ir::collect_buffers(r.g, {0, 1, 2}, r.types, true, 64);
  EXPECT_NE(rounded.buffer_of[size_t(r.a)], rounded.buffer_of[size_t(r.y)]);
  EXPECT_FALSE(ir::writes_in_place(r.g.nodes[1]));
}
