// GGUF reader and GGML dequantization against what llama.cpp itself read and
// computed (../shared/models/golden), plus malformed-file cases.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "frontend/gguf/gguf_reader.h"
#include "kernels/quant_formats.h"
#include "sha256.h"

using namespace pareto;
using json = nlohmann::json;

namespace {

std::string shared_models() { return std::string(PARETO_SOURCE_DIR) + "/../shared/models"; }

std::string model_path(const std::string& file) {
  std::string golden = shared_models() + "/golden/" + file;
  return std::ifstream(golden) ? golden : shared_models() + "/" + file;
}

std::vector<json> read_jsonl(const std::string& path) {
  std::vector<json> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(json::parse(line));
  return rows;
}

}  // namespace

TEST(Gguf, MetadataMatchesLlamaCpp) {
  auto rows = read_jsonl(shared_models() + "/golden/gguf-meta-golden.jsonl");
  if (rows.empty()) GTEST_SKIP() << "../shared/models/golden not found next to the repository";
  for (const json& row : rows) {
    std::string file = row["file"];
    auto f = gguf::File::open(model_path(file));
    EXPECT_EQ(f->version, row["version"].get<uint32_t>()) << file;
    EXPECT_EQ(f->alignment, row["alignment"].get<uint64_t>()) << file;
    EXPECT_EQ(f->data_offset, row["data_offset"].get<uint64_t>()) << file;
    ASSERT_EQ(f->kv.size(), row["kv"].size()) << file;
    ASSERT_EQ(f->tensors.size(), row["tensors"].size()) << file;
    for (size_t k = 0; k < f->kv.size(); ++k) {
      const json& want = row["kv"][k];
      const auto& [key, v] = f->kv[k];
      EXPECT_EQ(key, want["key"].get<std::string>()) << file;
      EXPECT_EQ(gguf::value_type_name(v.type), want["type"].get<std::string>()) << file << " " << key;
      if (v.type == gguf::ValueType::string) {
        EXPECT_EQ(v.s, want["value"].get<std::string>()) << key;
      } else if (v.type == gguf::ValueType::array) {
        EXPECT_EQ(v.count, want["n"].get<uint64_t>()) << key;
        EXPECT_EQ(gguf::value_type_name(v.elem_type), want["arr_type"].get<std::string>()) << key;
        const json& first = want["first8"];
        for (size_t i = 0; i < first.size(); ++i) {
          if (v.elem_type == gguf::ValueType::string) EXPECT_EQ(v.strs[i], first[i].get<std::string>()) << key;
          else EXPECT_DOUBLE_EQ(v.number(i), first[i].get<double>()) << key << "[" << i << "]";
        }
      } else if (v.type == gguf::ValueType::f32 || v.type == gguf::ValueType::f64) {
        EXPECT_FLOAT_EQ(float(v.f), want["value"].get<float>()) << key;
      } else if (v.type == gguf::ValueType::boolean) {
        EXPECT_EQ(v.i != 0, want["value"].get<bool>()) << key;
      } else {
        EXPECT_EQ(v.i, want["value"].get<int64_t>()) << key;
      }
    }
    for (size_t t = 0; t < f->tensors.size(); ++t) {
      const json& want = row["tensors"][t];
      const gguf::TensorInfo& ti = f->tensors[t];
      EXPECT_EQ(ti.name, want["name"].get<std::string>());
      EXPECT_EQ(ti.type, want["type_id"].get<uint32_t>()) << ti.name;
      EXPECT_EQ(ti.ne, want["ne"].get<std::vector<int64_t>>()) << ti.name;
      EXPECT_EQ(ti.offset, want["offset"].get<uint64_t>()) << ti.name;
      EXPECT_EQ(ti.nbytes, want["nbytes"].get<size_t>()) << ti.name;
    }
  }
}

TEST(Gguf, DequantizationIsBitIdenticalToGgml) {
  auto rows = read_jsonl(shared_models() + "/golden/dequant-golden.jsonl");
  if (rows.empty()) GTEST_SKIP() << "../shared/models/golden not found next to the repository";
  std::map<std::string, std::shared_ptr<gguf::File>> files;
  std::map<std::string, int> checked;
  for (const json& row : rows) {
    std::string file = row["file"], name = row["tensor"];
    auto& f = files[file];
    if (!f) f = gguf::File::open(model_path(file));
    const gguf::TensorInfo* t = f->tensor(name);
    ASSERT_NE(t, nullptr) << file << " " << name;
    EXPECT_EQ(t->data - (f->tensors[0].data - f->tensors[0].offset - f->data_offset), row["file_offset"].get<int64_t>());
    EXPECT_EQ(test::sha256_hex(t->data, t->nbytes), row["raw_sha256"].get<std::string>()) << file << " " << name;
    std::vector<float> y(size_t(t->numel()));
    kernels::dequantize_row_ref(t->type, t->data, y.data(), t->numel());
    EXPECT_EQ(test::sha256_hex(y.data(), y.size() * 4), row["sha256"].get<std::string>())
        << file << " " << name << " (" << row["type"].get<std::string>() << ")";
    const json& first = row["first16"];
    for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(y[i], first[i].get<float>()) << name << "[" << i << "]";
    ++checked[row["type"].get<std::string>()];
  }
  for (const char* type : {"f32", "f16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq4_nl", "iq4_xs"})
    EXPECT_GT(checked[type], 0) << "no golden tensor of type " << type;
}

TEST(Gguf, ReferenceQuantizersReproduceLlamaQuantize) {
  std::string base = shared_models() + "/golden/";
  if (!std::ifstream(base + "synth-mini-F32.gguf")) GTEST_SKIP() << "../shared/models/golden not found";
  auto f32 = gguf::File::open(base + "synth-mini-F32.gguf");
  // --pure files: every 2-D tensor in one type, quantized from synth-mini-F32 by llama-quantize.
  for (const char* file : {"synth-mini-Q8_0.gguf", "synth-mini-Q4_0-pure.gguf", "synth-mini-Q4_1-pure.gguf", "synth-mini-Q4_K-pure.gguf",
                           "synth-mini-Q3_K-pure.gguf", "synth-mini-Q2_K-pure.gguf", "synth-mini-Q5_0-pure.gguf", "synth-mini-Q5_1-pure.gguf",
                           "synth-mini-Q5_K-pure.gguf", "synth-mini-Q6_K.gguf"}) {
    auto q = gguf::File::open(base + file);
    int compared = 0;
    for (const auto& t : q->tensors) {
      if (t.type == uint32_t(kernels::GgmlType::f32)) continue;
      const gguf::TensorInfo* src = f32->tensor(t.name);
      ASSERT_TRUE(src && src->type == 0) << t.name;
      std::vector<uint8_t> out(t.nbytes);
      kernels::quantize_row_ref(t.type, reinterpret_cast<const float*>(src->data), out.data(), src->numel());
      EXPECT_EQ(std::memcmp(out.data(), t.data, t.nbytes), 0) << file << " " << t.name << " differs from llama-quantize";
      ++compared;
    }
    EXPECT_GE(compared, 14) << file;
  }
}
