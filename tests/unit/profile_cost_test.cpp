// pareto profile's counts against hand-derived ones: a conv (plain and
// grouped), a Gemm, one decoder layer of a synthesized llama (per decoded
// token), the weight bytes per token of a GGUF against its tensor table,
// the cache-level assignment and the energy sum on synthetic op lists, and
// the same counts from two runs.
#include <gtest/gtest.h>

#include <cstdio>

#include "frontend/gguf/gguf_reader.h"
#include "frontend/onnx/onnx_loader.h"
#include "kernel_test_util.h"
#include "llm/model.h"
#include "llm/synth.h"
#include "profile/analysis.h"
#include "profile/llm_profile.h"
#include "profile/onnx_cost.h"
#include "proto_builder.h"
#include "core/file.h"
#include "runtime/executor.h"

using namespace pareto;
namespace pb = pareto::test;
using pb::Msg;

namespace {

// Runs a one-node model with profiling and counts its node.
profile::OpCost count_single_node(const Msg& node, const std::vector<Msg>& constants, const std::vector<int64_t>& x_shape,
                                  const std::vector<int64_t>& y_shape, std::string* path = nullptr) {
  Msg g;
  g.m(1, node);
  g.s(2, "g");
  for (const Msg& c : constants) g.m(5, c);
  g.m(11, pb::value_info("x", 1, x_shape));
  g.m(12, pb::value_info("y", 1, y_shape));
  const std::string bytes = pb::model(g, 13).bytes;
  const ir::Model m = onnx::load_model_from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "t.onnx", "");
  runtime::Executor ex(m.opset(), runtime::ExecOptions{true, 1});
  int64_t n = 1;
  for (int64_t d : x_shape) n *= d;
  ex.run_graph(*m.graph, {Tensor::from_vector(pareto::testing::uniform(size_t(n), 3), Shape(x_shape.begin(), x_shape.end()))}, nullptr);
  EXPECT_EQ(ex.profile().size(), 1u);
  const runtime::ProfileRecord& r = ex.profile().front();
  if (path) *path = r.path;
  return profile::count_onnx_node(*r.node, r.inputs, r.outputs, r.path);
}

}  // namespace

TEST(ProfileCost, ConvCountsMultiplyAddsAndBytes) {
  struct Case {
    int64_t cin, cout, group, h, w, k, stride;
  };
  for (const Case& c : {Case{3, 8, 1, 17, 19, 3, 1}, Case{4, 6, 2, 9, 7, 3, 2}, Case{5, 5, 5, 1, 1, 1, 1}}) {
    const int64_t ho = (c.h + 2 * (c.k / 2) - c.k) / c.stride + 1, wo = (c.w + 2 * (c.k / 2) - c.k) / c.stride + 1;
    const int64_t w_elems = c.cout * (c.cin / c.group) * c.k * c.k;
    Msg node = pb::node("Conv", {"x", "w", "b"}, {"y"}, "conv");
    node.m(5, pb::attr_int("group", c.group));
    node.m(5, pb::attr_ints("kernel_shape", {c.k, c.k}));
    node.m(5, pb::attr_ints("strides", {c.stride, c.stride}));
    node.m(5, pb::attr_ints("pads", {c.k / 2, c.k / 2, c.k / 2, c.k / 2}));
    const profile::OpCost cost =
        count_single_node(node, {pb::tensor_f32("w", {c.cout, c.cin / c.group, c.k, c.k}, pareto::testing::uniform(size_t(w_elems), 1)),
                                 pb::tensor_f32("b", {c.cout}, pareto::testing::uniform(size_t(c.cout), 2))},
                          {1, c.cin, c.h, c.w}, {1, c.cout, ho, wo});
    // Each output element: cin/group * k * k products.
    EXPECT_EQ(cost.macs, uint64_t(c.cout * ho * wo * (c.cin / c.group) * c.k * c.k)) << c.cin << "->" << c.cout << " g" << c.group;
    EXPECT_EQ(cost.precision, "fp32");
    EXPECT_EQ(cost.elementwise, 0u);
    EXPECT_EQ(cost.bytes(profile::AccessKind::weight, false), uint64_t(w_elems + c.cout) * 4);
    EXPECT_EQ(cost.bytes(profile::AccessKind::activation, false), uint64_t(c.cin * c.h * c.w) * 4);
    EXPECT_EQ(cost.bytes(profile::AccessKind::activation, true), uint64_t(c.cout * ho * wo) * 4);
    EXPECT_DOUBLE_EQ(cost.ops(), 2.0 * double(cost.macs));
  }
}

// A transposed conv, plain and with its activation fused (the compiler's
// FusedConvTranspose): each input element times c_out * kh * kw weights.
TEST(ProfileCost, TransposedConvCountsMultiplyAdds) {
  const int64_t cin = 3, cout = 4, h = 5, w = 6;
  for (const char* op : {"ConvTranspose", "FusedConvTranspose"}) {
    Msg node = pb::node(op, {"x", "w"}, {"y"}, "up");
    node.m(5, pb::attr_ints("kernel_shape", {2, 2}));
    node.m(5, pb::attr_ints("strides", {2, 2}));
    if (std::string(op) == "FusedConvTranspose") {
      node.s(7, "pareto");
      node.m(5, pb::attr_string("activation", "Relu"));
    }
    const profile::OpCost cost =
        count_single_node(node, {pb::tensor_f32("w", {cin, cout, 2, 2}, pareto::testing::uniform(size_t(cin * cout * 4), 1))}, {1, cin, h, w},
                          {1, cout, 2 * h, 2 * w});
    EXPECT_EQ(cost.macs, uint64_t(cin * h * w * cout * 4)) << op;
  }
}

TEST(ProfileCost, WinogradConvCountsWhatRan) {
  // 3x3 stride 1 with 16+ channels and a wide output: Winograd F(4x4,3x3)
  // where the CPU has AVX-512, the direct conv elsewhere.
  const int64_t cin = 16, cout = 24, h = 10, w = 50;
  Msg node = pb::node("Conv", {"x", "w"}, {"y"}, "conv3x3");
  node.m(5, pb::attr_ints("kernel_shape", {3, 3}));
  node.m(5, pb::attr_ints("pads", {1, 1, 1, 1}));
  std::string path;
  const profile::OpCost cost = count_single_node(
      node, {pb::tensor_f32("w", {cout, cin, 3, 3}, pareto::testing::uniform(size_t(cout * cin * 9), 1))}, {1, cin, h, w}, {1, cout, h, w}, &path);
  EXPECT_EQ(cost.precision, "fp32");
  if (path == "winograd") {
    const uint64_t tiles = uint64_t((h + 3) / 4) * uint64_t((w + 3) / 4);
    EXPECT_EQ(cost.macs, tiles * 36 * cin * cout) << "36 products per 4x4 tile and channel pair";
    EXPECT_EQ(cost.elementwise, tiles * 36 * (cin + cout) * 4);
    EXPECT_EQ(cost.bytes(profile::AccessKind::weight, false), uint64_t(36 * cin * cout) * 4) << "the transformed kernels";
  } else {
    std::printf("[ profile ] conv ran '%s', not Winograd (no AVX-512?): the direct counts\n", path.c_str());
    EXPECT_EQ(cost.macs, uint64_t(cout * h * w * cin * 9));
  }
}

TEST(ProfileCost, NestedBodiesAreNotCountedTwice) {
  // If -> If -> Add over 2M elements: each record's time is exclusive, so
  // their sum cannot exceed the run's wall time (the Add counted in both
  // Ifs would make it exceed it by the Add's time).
  const int64_t n = 1 << 21;
  Msg add_body;
  add_body.m(1, pb::node("Add", {"x", "x"}, {"z"}, "add"));
  add_body.s(2, "inner_then");
  add_body.m(12, pb::value_info("z", 1, {n}));
  Msg inner_else;
  inner_else.m(1, pb::node("Identity", {"x"}, {"z2"}, "id"));
  inner_else.s(2, "inner_else");
  inner_else.m(12, pb::value_info("z2", 1, {n}));
  Msg outer_then;
  outer_then.m(1, pb::node("If", {"c"}, {"w"}, "inner_if", {pb::attr_graph("then_branch", add_body), pb::attr_graph("else_branch", inner_else)}));
  outer_then.s(2, "outer_then");
  outer_then.m(12, pb::value_info("w", 1, {n}));
  Msg outer_else = inner_else;
  Msg g;
  g.m(1, pb::node("If", {"c"}, {"y"}, "outer_if", {pb::attr_graph("then_branch", outer_then), pb::attr_graph("else_branch", outer_else)}));
  g.s(2, "g");
  g.m(11, pb::value_info("c", 9, {}));
  g.m(11, pb::value_info("x", 1, {n}));
  g.m(12, pb::value_info("y", 1, {n}));
  const std::string bytes = pb::model(g, 13).bytes;
  const ir::Model m = onnx::load_model_from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "if.onnx", "");
  runtime::Executor ex(m.opset(), runtime::ExecOptions{true, 1});
  const Tensor x = Tensor::from_vector(std::vector<float>(size_t(n), 1.f), {n});
  for (int warm = 0; warm < 2; ++warm) ex.run_graph(*m.graph, {Tensor::scalar<bool>(true), x}, nullptr);
  ex.clear_profile();
  const double t0 = now_seconds();
  ex.run_graph(*m.graph, {Tensor::scalar<bool>(true), x}, nullptr);
  const double wall = now_seconds() - t0;
  double sum = 0, add = 0;
  for (const auto& r : ex.profile()) {
    sum += r.seconds;
    if (r.op_type == "Add") add = r.seconds;
    EXPECT_GE(r.seconds, 0) << r.node_name;
  }
  ASSERT_EQ(ex.profile().size(), 3u);
  EXPECT_GT(add, 0);
  EXPECT_LE(sum, wall) << "exclusive times add up to more than the run";
}

TEST(ProfileCost, GemmCountsMultiplyAddsAndBytes) {
  const int64_t m = 5, k = 7, n = 3;
  Msg node = pb::node("Gemm", {"x", "b", "c"}, {"y"}, "gemm");
  const profile::OpCost cost = count_single_node(
      node, {pb::tensor_f32("b", {k, n}, pareto::testing::uniform(size_t(k * n), 1)), pb::tensor_f32("c", {n}, pareto::testing::uniform(size_t(n), 2))},
      {m, k}, {m, n});
  EXPECT_EQ(cost.macs, uint64_t(m * n * k));
  EXPECT_EQ(cost.bytes(profile::AccessKind::weight, false), uint64_t(k * n + n) * 4);
  EXPECT_EQ(cost.bytes(profile::AccessKind::activation, false), uint64_t(m * k) * 4);
  EXPECT_EQ(cost.bytes(profile::AccessKind::activation, true), uint64_t(m * n) * 4);
}

TEST(ProfileCost, ElementwiseAndViewOps) {
  Msg relu = pb::node("Relu", {"x"}, {"y"}, "relu");
  const profile::OpCost r = count_single_node(relu, {}, {2, 3, 5}, {2, 3, 5});
  EXPECT_EQ(r.macs, 0u);
  EXPECT_EQ(r.elementwise, 30u);
  EXPECT_EQ(r.bytes(profile::AccessKind::activation, false), 120u);
  EXPECT_EQ(r.bytes(profile::AccessKind::activation, true), 120u);
}

namespace {

std::string synth_path(const std::string& preset, const std::string& type) {
  const std::string path = ::testing::TempDir() + "/profile-" + preset + "-" + type + ".gguf";
  llm::SynthOptions o;
  o.preset = preset, o.type = type;
  llm::synth_model(o, path);
  return path;
}

profile::PassProfile pass_named(const std::vector<profile::PassProfile>& passes, const std::string& name) {
  for (const auto& p : passes)
    if (p.name == name) return p;
  ADD_FAILURE() << "no pass " << name;
  return {};
}

}  // namespace

TEST(ProfileCost, DecoderLayerPerTokenMatchesTheShapes) {
  const std::string path = synth_path("micro", "q8_0");
  auto model = llm::Model::load(path);
  const llm::ModelConfig& c = model->config;
  profile::LlmProfileOptions o;
  o.prompt_tokens = 5, o.decode_tokens = 1, o.kv = llm::KvType::f16;
  const profile::PassProfile decode = pass_named(profile::profile_llm(*model, o), "decode");
  const int64_t q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim, positions = o.prompt_tokens + 1;
  // One token through layer 0: seven matmuls, and attention over every position so far.
  const uint64_t matmul_macs = uint64_t(c.dim * q_dim + 2 * c.dim * kv_dim + q_dim * c.dim + 3 * c.dim * c.ffn_dim);
  const uint64_t attention_macs = uint64_t(positions * c.n_heads * c.head_dim * 2);
  uint64_t macs = 0, elementwise = 0, kv_read = 0;
  for (const profile::OpRecord& op : decode.ops) {
    if (op.name.rfind("L0.", 0) != 0) continue;
    macs += op.cost.macs;
    elementwise += op.cost.elementwise;
    if (op.op == "attention") kv_read = op.cost.bytes(profile::AccessKind::state, false);
  }
  EXPECT_EQ(macs, matmul_macs + attention_macs);
  // norms 2 x 3*dim, rope 3*(q+kv), softmax 3 per score, silu_mul 4*ffn, residuals 2*dim
  EXPECT_EQ(elementwise, uint64_t(6 * c.dim + 3 * (q_dim + kv_dim) + 3 * positions * c.n_heads + 4 * c.ffn_dim + 2 * c.dim));
  EXPECT_EQ(kv_read, uint64_t(positions * 2 * kv_dim * 2)) << "f16 K and V of every position";
  for (const profile::OpRecord& op : decode.ops) {
    if (op.op == "wq") {
      EXPECT_EQ(op.cost.precision, "int8");
    }
  }
}

TEST(ProfileCost, WeightBytesPerTokenMatchTheTensorTable) {
  // Synthesized models in three types, and the real stories260K in Q4_K_M
  // (Q4_K and Q6_K tensors, tied output) where ../shared is beside the repository.
  std::vector<std::string> paths = {synth_path("micro", "f16"), synth_path("micro", "q4_0"), synth_path("micro", "q8_0")};
  const std::string stories = std::string(PARETO_SOURCE_DIR) + "/../shared/models/stories260K-Q4_K_M.gguf";
  if (std::FILE* f = std::fopen(stories.c_str(), "rb")) {
    std::fclose(f);
    paths.push_back(stories);
  } else {
    std::printf("[ profile ] %s not found: the synthesized models only\n", stories.c_str());
  }
  for (const std::string& path : paths) {
    const std::string& type = path;
    auto file = gguf::File::open(path);
    uint64_t want = 0;
    for (const auto& t : file->tensors) want += t.name == "token_embd.weight" ? t.nbytes / uint64_t(t.ne[1]) : t.nbytes;  // one embedding row
    if (!file->tensor("output.weight")) want += file->tensor("token_embd.weight")->nbytes;  // tied: the whole matrix for the logits
    auto model = llm::Model::load(path);
    profile::LlmProfileOptions o;
    o.prompt_tokens = 4, o.decode_tokens = 2;
    const profile::PassProfile decode = pass_named(profile::profile_llm(*model, o), "decode");
    uint64_t got = 0;
    for (const auto& op : decode.ops) got += op.cost.bytes(profile::AccessKind::weight, false);
    EXPECT_NEAR(double(got), double(want), 0.01 * double(want)) << type;
    EXPECT_EQ(got, want) << type << ": every tensor once, one embedding row";
  }
}

TEST(ProfileCost, CacheLevelsFollowReuseDistance) {
  profile::MachineInfo m;
  m.threads = 1, m.l1d = 1000, m.l2 = 10000, m.llc = 100000;
  auto op = [](std::vector<profile::Access> a) {
    profile::OpRecord r;
    r.cost.accesses = std::move(a);
    return r;
  };
  using K = profile::AccessKind;
  std::vector<profile::OpRecord> ops = {
      op({{1, 400, K::activation, true}}),                                // fresh 400 B: L1
      op({{1, 400, K::activation, false}, {2, 5000, K::activation, true}}),  // 1 again after 400 B: L1; 2 fresh, 5000 B: L2
      op({{3, 200000, K::weight, false}}),                                 // weight: distance = the pass, 205800 B: DRAM
      op({{1, 400, K::activation, false}}),                                // 205400 B since: DRAM
      op({{2, 5000, K::activation, false}})};                              // 200400 + 5000 since: DRAM
  const auto lv = profile::assign_levels(ops, m);
  EXPECT_EQ(lv[0].l1, 400);
  EXPECT_EQ(lv[1].l1, 400);
  EXPECT_EQ(lv[1].l2, 5000);
  EXPECT_EQ(lv[2].dram, 200000);
  EXPECT_EQ(lv[3].dram, 400);
  EXPECT_EQ(lv[4].dram, 5000);
  m.llc = 1000000;  // now the weight and the rest fit the LLC
  const auto big = profile::assign_levels(ops, m);
  EXPECT_EQ(big[2].llc, 200000);
  EXPECT_EQ(big[3].llc, 400);
}

TEST(ProfileCost, EnergyIsTheSumOfItsTerms) {
  profile::DeviceProfile d;
  d.pj_per_mac = {{"fp32", 4.6}, {"int8", 0.3}};
  d.pj_per_elementwise_op = 0.9;
  d.pj_per_byte = {{"l1", 2.5}, {"l2", 12.5}, {"llc", 50}, {"dram", 200}};
  d.static_watts = 2;
  profile::OpRecord r;
  r.cost.precision = "int8", r.cost.macs = 1000000, r.cost.elementwise = 1000, r.seconds = 0.001;
  profile::LevelBytes lv{100, 200, 300, 400};
  const profile::Energy e = profile::estimate_energy(r, lv, d, 2);
  EXPECT_NEAR(e.compute, (1e6 * 0.3 + 1000 * 0.9) * 1e-6, 1e-12);
  EXPECT_NEAR(e.memory, (100 * 2.5 + 200 * 12.5 + 300 * 50 + 400 * 200) * 1e-6, 1e-12);
  EXPECT_NEAR(e.static_, 2 * 2 * 0.001 * 1e6, 1e-9);
}

TEST(ProfileCost, CountsAreStableAcrossRuns) {
  const std::string path = synth_path("micro", "q4_0");
  auto model = llm::Model::load(path);
  profile::LlmProfileOptions o;
  o.prompt_tokens = 3, o.decode_tokens = 2;
  const auto a = profile::profile_llm(*model, o), b = profile::profile_llm(*model, o);
  ASSERT_EQ(a.size(), b.size());
  for (size_t p = 0; p < a.size(); ++p) {
    ASSERT_EQ(a[p].ops.size(), b[p].ops.size());
    for (size_t i = 0; i < a[p].ops.size(); ++i) {
      EXPECT_EQ(a[p].ops[i].cost.macs, b[p].ops[i].cost.macs);
      EXPECT_EQ(a[p].ops[i].cost.elementwise, b[p].ops[i].cost.elementwise);
      ASSERT_EQ(a[p].ops[i].cost.accesses.size(), b[p].ops[i].cost.accesses.size());
      for (size_t k = 0; k < a[p].ops[i].cost.accesses.size(); ++k) EXPECT_EQ(a[p].ops[i].cost.accesses[k].bytes, b[p].ops[i].cost.accesses[k].bytes);
    }
  }
}
