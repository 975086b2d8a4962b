// Full-QDQ graphs (every tensor between ops quantized, as ONNX Runtime's
// quantizer and `pareto quantize --quantize-outputs` write them): the
// elementwise ops between a DequantizeLinear and their readers become a
// byte table (passes/fold_qdq_lookup.cpp), a conv whose readers round its
// output writes the bytes itself, and a float depthwise conv reads the
// uint8 grid. The tests hold the rewritten graph to the bits of the graph
// as written (or, where int8 convs are involved, to the bits of the
// compiled graph without the table pass): a table is the chain's own ops
// run on every byte, never an approximation.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "../apps/scratch_dir.h"
#include "core/cpu.h"
#include "kernel_test_util.h"
#include "kernels/dispatch.h"
#include "kernels/lookup.h"
#include "pareto/pareto.hpp"
#include "proto_builder.h"

using namespace pareto;
namespace pb = pareto::test;
using pb::Msg;
using pareto::testing::random_bytes;
using pareto::testing::uniform;
using pb::byte_scalar;

namespace {

int rewrites(const Session& s, const std::string& what) {
  int n = 0;
  for (const PassSummary& p : s.passes())
    for (const auto& [w, count] : p.rewrites) n += w.find(what) != std::string::npos ? count : 0;
  return n;
}

struct Outcome {
  std::vector<Tensor> outputs;
  int tables = 0, byte_tables = 0, conv_bytes = 0, depthwise_bytes = 0;
};

Outcome run(const std::string& path, bool optimize, const std::map<std::string, Tensor>& in, bool lookup = true, int threads = 1) {
  if (!lookup) setenv("PARETO_QDQ_LOOKUP", "0", 1);
  SessionOptions o;
  o.optimize = optimize;
  o.threads = threads;
  auto s = Session::open(path, o);
  unsetenv("PARETO_QDQ_LOOKUP");
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  Outcome r;
  if (!s.ok()) return r;
  r.tables = rewrites(*s.value(), "-> QLookup");
  r.byte_tables = rewrites(*s.value(), "QLookup (bytes for the readers that round to uint8)");
  r.conv_bytes = rewrites(*s.value(), "QuantizeLinear after a conv -> the conv's uint8 output");
  r.depthwise_bytes = rewrites(*s.value(), "float depthwise Conv -> depthwise Conv on uint8");
  auto y = s.value()->run(in);
  EXPECT_TRUE(y.ok()) << y.status().to_string();
  if (y.ok()) r.outputs = y.value();
  return r;
}

void expect_same_bits(const std::vector<Tensor>& a, const std::vector<Tensor>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].dtype(), b[i].dtype()) << what << " output " << i;
    ASSERT_EQ(a[i].shape(), b[i].shape()) << what << " output " << i;
    EXPECT_EQ(std::memcmp(a[i].raw(), b[i].raw(), a[i].nbytes()), 0) << what << " output " << i;
  }
}

std::string save(const Msg& g, const std::string& name) {
  const std::string path = pareto::testing::scratch_dir() + "/" + name + ".onnx";
  std::ofstream(path, std::ios::binary) << pb::model(g, 13).bytes;
  return path;
}

// x -> Q -> DQ -> BatchNorm -> HardSwish as Add/Clip/Mul/Div -> Mul by a
// per-channel constant -> Add of a scalar -> "h": the chain PP-OCR's QDQ
// files carry after every conv. `bytes_type` 2 (uint8) or 3 (int8).
void add_chain(Msg& g, int64_t c, const std::vector<int64_t>& channel_shape, int bytes_type) {
  g.m(5, pb::tensor_f32("sx", {}, {0.043f}));
  g.m(5, byte_scalar("zx", bytes_type, bytes_type == 2 ? 131 : uint8_t(int8_t(-5))));
  g.m(5, pb::tensor_f32("gamma", {c}, uniform(size_t(c), 41, 0.5f, 1.5f)));
  g.m(5, pb::tensor_f32("beta", {c}, uniform(size_t(c), 42, -1.f, 1.f)));
  g.m(5, pb::tensor_f32("mean", {c}, uniform(size_t(c), 43, -0.5f, 0.5f)));
  g.m(5, pb::tensor_f32("var", {c}, uniform(size_t(c), 44, 0.5f, 2.f)));
  g.m(5, pb::tensor_f32("three", {}, {3.f}));
  g.m(5, pb::tensor_f32("zero", {}, {0.f}));
  g.m(5, pb::tensor_f32("six", {}, {6.f}));
  g.m(5, pb::tensor_f32("gain", channel_shape, uniform(size_t(c), 45, -2.f, 2.f)));
  g.m(5, pb::tensor_f32("shift", {1}, {0.25f}));
  g.m(1, pb::node("QuantizeLinear", {"x", "sx", "zx"}, {"xq"}, "q"));
  g.m(1, pb::node("DequantizeLinear", {"xq", "sx", "zx"}, {"xd"}, "dq"));
  g.m(1, pb::node("BatchNormalization", {"xd", "gamma", "beta", "mean", "var"}, {"bn"}, "bn"));
  g.m(1, pb::node("Add", {"bn", "three"}, {"a3"}, "add3"));
  g.m(1, pb::node("Clip", {"a3", "zero", "six"}, {"c6"}, "clip"));
  g.m(1, pb::node("Mul", {"bn", "c6"}, {"m"}, "mul"));
  g.m(1, pb::node("Div", {"m", "six"}, {"hs"}, "div"));
  g.m(1, pb::node("Mul", {"hs", "gain"}, {"hg"}, "gain"));
  g.m(1, pb::node("Add", {"hg", "shift"}, {"h"}, "shift"));
}

}  // namespace

TEST(QdqLookup, KernelsMatchTheirTwinsOnAwkwardSizes) {
  const std::vector<uint8_t> table = random_bytes(256, 1);
  // Float entries as raw bits: NaN payloads, -0 and denormals must come
  // through byte for byte.
  std::vector<float> ftable(256);
  const std::vector<uint8_t> fbytes = random_bytes(1024, 2);
  std::memcpy(ftable.data(), fbytes.data(), 1024);
  std::vector<uint8_t> planes(1024);
  kernels::split_float_table(ftable.data(), planes.data());
  const CpuFeatures& f = cpu_features();
  const bool vbmi = kBuildX86 && f.avx512vbmi && f.avx512bw && f.avx512vnni;
  if (!vbmi) std::fprintf(stderr, "[ SKIPPED part ] no AVX-512 VBMI on this CPU: only the dispatched kernels are compared\n");
  for (int64_t n : {0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 200, 1000, 4097}) {
    const std::vector<uint8_t> x = random_bytes(size_t(n) + 1, uint32_t(n) + 2);
    std::vector<uint8_t> want(size_t(n) + 2, 0xAB), got(want), fast(want);
    std::vector<float> fwant(size_t(n) + 2, -1.5f), fgot(fwant), ffast(fwant);
    // Offset by one: the vector loads, stores and the masked tails are
    // unaligned; the element after the last must stay untouched.
    kernels::lookup_bytes_ref(x.data() + 1, n, table.data(), want.data() + 1);
    kernels::lookup_bytes(x.data() + 1, n, table.data(), got.data() + 1);
    kernels::lookup_floats_ref(x.data() + 1, n, planes.data(), fwant.data() + 1);
    kernels::lookup_floats(x.data() + 1, n, planes.data(), fgot.data() + 1);
    EXPECT_EQ(got, want) << "dispatched bytes, n " << n;
    EXPECT_EQ(std::memcmp(fgot.data(), fwant.data(), fwant.size() * 4), 0) << "dispatched floats, n " << n;
    if constexpr (kBuildX86)
      if (vbmi) {
        kernels::avx512vbmi::lookup_bytes(x.data() + 1, n, table.data(), fast.data() + 1);
        kernels::avx512vbmi::lookup_floats(x.data() + 1, n, planes.data(), ffast.data() + 1);
        EXPECT_EQ(fast, want) << "VBMI bytes, n " << n;
        EXPECT_EQ(std::memcmp(ffast.data(), fwant.data(), fwant.size() * 4), 0) << "VBMI floats, n " << n;
      }
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(want[size_t(i) + 1], table[x[size_t(i) + 1]]);
      ASSERT_EQ(std::memcmp(&fwant[size_t(i) + 1], &ftable[x[size_t(i) + 1]], 4), 0);
    }
  }
}

// The chain as floats (its output is a graph output), on uint8 and int8
// bytes, NCHW with [C,1,1] constants and [N, C] with [C] constants (the
// table laid out by channel either way), and the chain ending in a
// QuantizeLinear that is a graph output (the QuantizeLinear's own table):
// the same bits as the graph run as written, with no optimization.
TEST(QdqLookup, ChainBecomesATableWithTheGraphsBits) {
  struct Case {
    std::vector<int64_t> x_shape, channel_shape;
    int bytes_type;
    bool quantized_output;
  };
  const Case cases[] = {{{1, 5, 67, 129}, {5, 1, 1}, 2, false},  // thread chunks end inside a channel's run
                        {{2, 5, 7, 9}, {5, 1, 1}, 2, false},
                        {{2, 5, 7, 9}, {5, 1, 1}, 3, false},
                        {{6, 5}, {5}, 2, false},
                        {{1, 5, 11}, {5, 1}, 2, true}};
  for (const Case& c : cases) {
    Msg g;
    add_chain(g, 5, c.channel_shape, c.bytes_type);
    if (c.quantized_output) {
      g.m(5, pb::tensor_f32("sy", {}, {0.07f}));
      g.m(5, byte_scalar("zy", 2, 100));
      g.m(1, pb::node("QuantizeLinear", {"h", "sy", "zy"}, {"y"}, "qy"));
    }
    g.s(2, "qdq_chain");
    g.m(11, pb::value_info("x", 1, c.x_shape));
    g.m(12, pb::value_info(c.quantized_output ? "y" : "h", c.quantized_output ? 2 : 1, {}));
    const std::string path = save(g, "qdq_chain");
    int64_t n = 1;
    for (int64_t d : c.x_shape) n *= d;
    // Wide enough to reach both ends of the byte range (saturation).
    const std::map<std::string, Tensor> in = {{"x", Tensor::from_vector<float>(uniform(size_t(n), 51, -8.f, 8.f), c.x_shape)}};
    const Outcome plain = run(path, false, in);
    for (int threads : {1, 2}) {
      const Outcome folded = run(path, true, in, true, threads);
      const std::string what = "rank " + std::to_string(c.x_shape.size()) + " type " + std::to_string(c.bytes_type) + ", " +
                               std::to_string(threads) + " threads";
      EXPECT_EQ(folded.tables, 1) << what;
      expect_same_bits(plain.outputs, folded.outputs, what);
    }
  }
}

// int8 conv a -> Q -> DQ -> the chain -> Q -> DQ -> { int8 conv b, float
// depthwise conv d } -> y = b + d: the table writes the bytes b and d round
// to; a writes its output as bytes for the table (the QuantizeLinear after
// it folded in); d reads the uint8 grid. Bit for bit the compiled graph
// without the table pass, which rounds the same floats in the readers.
TEST(QdqLookup, ConvsAroundTheTablePassBytes) {
  Msg g;
  const int64_t c = 8;
  g.m(5, pb::tensor_f32("s0", {}, {0.05f}));
  g.m(5, byte_scalar("z0", 2, 128));
  std::vector<int8_t> wa(size_t(c * c)), wb(size_t(c * c));
  std::mt19937 rng(61);
  for (int8_t& v : wa) v = int8_t(int(rng() % 255) - 127);
  for (int8_t& v : wb) v = int8_t(int(rng() % 255) - 127);
  g.m(5, pb::tensor_i8("wa_q", {c, c, 1, 1}, wa));
  g.m(5, pb::tensor_i8("wb_q", {c, c, 1, 1}, wb));
  g.m(5, pb::tensor_f32("wa_s", {c}, uniform(size_t(c), 62, 0.002f, 0.01f)));
  g.m(5, pb::tensor_f32("wb_s", {c}, uniform(size_t(c), 63, 0.002f, 0.01f)));
  g.m(5, pb::tensor_i8("w_z", {c}, std::vector<int8_t>(size_t(c), 0)));
  g.m(5, pb::tensor_f32("wd", {c, 1, 3, 3}, uniform(size_t(c * 9), 64)));
  g.m(5, pb::tensor_f32("sh", {}, {0.031f}));
  g.m(5, byte_scalar("zh", 2, 40));
  g.m(1, pb::node("QuantizeLinear", {"x0", "s0", "z0"}, {"x0q"}, "q0"));
  g.m(1, pb::node("DequantizeLinear", {"x0q", "s0", "z0"}, {"x0d"}, "dq0"));
  g.m(1, pb::node("DequantizeLinear", {"wa_q", "wa_s", "w_z"}, {"wa"}, "dqwa", {pb::attr_int("axis", 0)}));
  g.m(1, pb::node("DequantizeLinear", {"wb_q", "wb_s", "w_z"}, {"wb"}, "dqwb", {pb::attr_int("axis", 0)}));
  g.m(1, pb::node("Conv", {"x0d", "wa"}, {"x"}, "conv_a"));
  add_chain(g, c, {c, 1, 1}, 2);  // x -> Q -> DQ -> ... -> h
  g.m(1, pb::node("QuantizeLinear", {"h", "sh", "zh"}, {"hq"}, "qh"));
  g.m(1, pb::node("DequantizeLinear", {"hq", "sh", "zh"}, {"hd"}, "dqh"));
  g.m(1, pb::node("Conv", {"hd", "wb"}, {"b"}, "conv_b"));
  g.m(1, pb::node("Conv", {"hd", "wd"}, {"d"}, "depthwise",
                  {pb::attr_int("group", c), pb::attr_ints("kernel_shape", {3, 3}), pb::attr_ints("pads", {1, 1, 1, 1})}));
  g.m(1, pb::node("Add", {"b", "d"}, {"y"}, "sum"));
  g.s(2, "qdq_convs");
  g.m(11, pb::value_info("x0", 1, {1, c, 9, 13}));
  g.m(12, pb::value_info("y", 1, {}));
  const std::string path = save(g, "qdq_convs");
  const std::map<std::string, Tensor> in = {{"x0", Tensor::from_vector<float>(uniform(size_t(c * 9 * 13), 65, -6.f, 6.f), {1, c, 9, 13})}};
  const Outcome without = run(path, true, in, false), with = run(path, true, in);
  EXPECT_EQ(without.tables, 0);
  EXPECT_EQ(with.tables, 1);
  EXPECT_EQ(with.byte_tables, 1) << "the table holds the bytes conv b and the depthwise conv read";
  EXPECT_EQ(with.conv_bytes, 1) << "conv a writes bytes for the table";
  EXPECT_EQ(with.depthwise_bytes, 1) << "the float depthwise conv reads the uint8 grid";
  expect_same_bits(without.outputs, with.outputs, "int8 convs around the chain");
  // And the graph as written agrees to float rounding (its convs sum floats).
  const Outcome plain = run(path, false, in);
  ASSERT_EQ(plain.outputs.size(), 1u);
  ASSERT_EQ(with.outputs.size(), 1u);
  float worst = 0, scale = 0;
  for (int64_t i = 0; i < plain.outputs[0].numel(); ++i) {
    worst = std::max(worst, std::abs(plain.outputs[0].data<float>()[i] - with.outputs[0].data<float>()[i]));
    scale = std::max(scale, std::abs(plain.outputs[0].data<float>()[i]));
  }
  EXPECT_LE(worst, 1e-4f * scale);
}

// What must stay as it is: a chain whose op reads a second non-constant
// tensor (a squeeze-excite gate) stops there, and constants that broadcast
// along another axis than the channels keep the chain as ops.
TEST(QdqLookup, OnlyByteFunctionsBecomeTables) {
  Msg g;
  g.m(5, pb::tensor_f32("sx", {}, {0.05f}));
  g.m(5, byte_scalar("zx", 2, 128));
  g.m(5, pb::tensor_f32("row_gain", {3, 1}, uniform(3, 71)));  // per row (H == C == 3), not per channel
  g.m(1, pb::node("QuantizeLinear", {"x", "sx", "zx"}, {"xq"}, "q"));
  g.m(1, pb::node("DequantizeLinear", {"xq", "sx", "zx"}, {"xd"}, "dq"));
  g.m(1, pb::node("Mul", {"xd", "row_gain"}, {"r"}, "rows"));
  g.m(1, pb::node("Relu", {"xd"}, {"relu"}, "relu"));
  g.m(1, pb::node("Mul", {"relu", "gate"}, {"y"}, "gated"));
  g.s(2, "qdq_not_tables");
  g.m(11, pb::value_info("x", 1, {1, 3, 3, 5}));
  g.m(11, pb::value_info("gate", 1, {1, 3, 1, 1}));
  g.m(12, pb::value_info("r", 1, {}));
  g.m(12, pb::value_info("y", 1, {}));
  const std::string path = save(g, "qdq_not_tables");
  const std::map<std::string, Tensor> in = {{"x", Tensor::from_vector<float>(uniform(45, 72, -5.f, 5.f), {1, 3, 3, 5})},
                                            {"gate", Tensor::from_vector<float>(uniform(3, 73), {1, 3, 1, 1})}};
  const Outcome plain = run(path, false, in), folded = run(path, true, in);
  EXPECT_EQ(folded.tables, 1) << "only the Relu: the gated Mul and the per-row Mul stay ops";
  expect_same_bits(plain.outputs, folded.outputs, "partial chains");
}

// Consecutive chains, as files with Q/DQ after every op have them: the
// first table's readers are a QuantizeLinear -> DequantizeLinear pair, so it
// holds the bytes the QuantizeLinear would write (that node goes), and the
// second chain starts from those bytes.
TEST(QdqLookup, ConsecutiveChainsEachBecomeATable) {
  Msg g;
  add_chain(g, 5, {5, 1, 1}, 2);  // x -> ... -> h
  g.m(5, pb::tensor_f32("sh", {}, {0.029f}));
  g.m(5, byte_scalar("zh", 2, 77));
  g.m(5, pb::tensor_f32("half", {}, {0.5f}));
  g.m(1, pb::node("QuantizeLinear", {"h", "sh", "zh"}, {"hq"}, "qh"));
  g.m(1, pb::node("DequantizeLinear", {"hq", "sh", "zh"}, {"hd"}, "dqh"));
  g.m(1, pb::node("Relu", {"hd"}, {"r"}, "relu"));
  g.m(1, pb::node("Mul", {"r", "half"}, {"y"}, "half"));
  g.s(2, "qdq_two_chains");
  g.m(11, pb::value_info("x", 1, {1, 5, 9, 11}));
  g.m(12, pb::value_info("y", 1, {}));
  const std::string path = save(g, "qdq_two_chains");
  const std::map<std::string, Tensor> in = {{"x", Tensor::from_vector<float>(uniform(495, 81, -8.f, 8.f), {1, 5, 9, 11})}};
  const Outcome plain = run(path, false, in), folded = run(path, true, in);
  EXPECT_EQ(folded.tables, 2);
  EXPECT_EQ(folded.byte_tables, 1) << "the first chain's table holds the QuantizeLinear's bytes";
  expect_same_bits(plain.outputs, folded.outputs, "two chains");
}
