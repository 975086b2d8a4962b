// A tiny protobuf encoder for writing ONNX models inside tests (valid ones,
// and deliberately broken ones).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "frontend/onnx/proto_writer.h"

namespace pareto::test {

// The library's encoder, under the short name the fixtures use.
using Msg = pareto::onnx::ProtoWriter;

inline Msg tensor_f32(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& data) {
  Msg t;
  for (int64_t d : dims) t.i(1, d);
  t.i(2, 1).s(8, name);
  std::string raw(data.size() * 4, '\0');
  if (!data.empty()) std::memcpy(raw.data(), data.data(), raw.size());  // an empty vector's data() may be null
  t.s(9, raw);
  return t;
}

inline Msg tensor_i64(const std::string& name, const std::vector<int64_t>& dims, const std::vector<int64_t>& data) {
  Msg t;
  for (int64_t d : dims) t.i(1, d);
  t.i(2, 7).s(8, name);
  std::string raw(data.size() * 8, '\0');
  if (!data.empty()) std::memcpy(raw.data(), data.data(), raw.size());
  return t.s(9, raw);
}

// One-byte tensors as raw data, elem_type 2 (uint8) or 3 (int8): a scalar,
// and a tensor (int8 unless told).
inline Msg byte_scalar(const std::string& name, int elem_type, uint8_t v) {
  Msg t;
  t.i(2, elem_type).s(8, name);
  return t.s(9, std::string(1, char(v)));
}

inline Msg tensor_i8(const std::string& name, const std::vector<int64_t>& dims, const std::vector<int8_t>& data, int elem_type = 3) {
  Msg t;
  for (int64_t d : dims) t.i(1, d);
  t.i(2, elem_type).s(8, name);
  return t.s(9, std::string(reinterpret_cast<const char*>(data.data()), data.size()));
}

inline Msg value_info(const std::string& name, int elem_type, const std::vector<int64_t>& dims) {
  Msg shape;
  for (int64_t d : dims) shape.m(1, Msg().i(1, d));
  Msg tensor_type;
  tensor_type.i(1, elem_type).m(2, shape);
  return Msg().s(1, name).m(2, Msg().m(1, tensor_type));
}

inline Msg node(const std::string& op, const std::vector<std::string>& ins, const std::vector<std::string>& outs,
                const std::string& name = "", const std::vector<Msg>& attrs = {}) {
  Msg n;
  for (const auto& i : ins) n.s(1, i);
  for (const auto& o : outs) n.s(2, o);
  n.s(3, name).s(4, op);
  for (const auto& a : attrs) n.m(5, a);
  return n;
}

inline Msg attr_int(const std::string& name, int64_t v) { return Msg().s(1, name).i(20, 2).i(3, v); }
inline Msg attr_ints(const std::string& name, const std::vector<int64_t>& v) {
  Msg a;
  a.s(1, name).i(20, 7);
  for (int64_t x : v) a.i(8, x);
  return a;
}
inline Msg attr_float(const std::string& name, float v) { return Msg().s(1, name).i(20, 1).f(2, v); }
inline Msg attr_floats(const std::string& name, const std::vector<float>& v) {
  Msg a;
  a.s(1, name).i(20, 6);
  for (float x : v) a.f(7, x);
  return a;
}
inline Msg attr_string(const std::string& name, const std::string& v) { return Msg().s(1, name).i(20, 3).s(4, v); }
inline Msg attr_graph(const std::string& name, const Msg& g) { return Msg().s(1, name).i(20, 5).m(6, g); }

inline Msg model(const Msg& graph, int64_t opset = 13) {
  return Msg().i(1, 8).m(8, Msg().s(1, "").i(2, opset)).m(7, graph);
}

// y = Relu(x + b): a valid two-node model with one initializer.
inline std::string small_model() {
  Msg g;
  g.m(1, node("Add", {"x", "b"}, {"s"}, "add0"));
  g.m(1, node("Relu", {"s"}, {"y"}, "relu0"));
  g.s(2, "small");
  g.m(5, tensor_f32("b", {3}, {1.f, -2.f, 0.5f}));
  g.m(11, value_info("x", 1, {2, 3}));
  g.m(12, value_info("y", 1, {2, 3}));
  return model(g).bytes;
}

}  // namespace pareto::test
