#include "quant/quantize_gguf.h"

#include <algorithm>
#include <memory>

#include "core/error.h"
#include "core/file.h"
#include "core/thread_pool.h"
#include "frontend/gguf/gguf_writer.h"
#include "kernels/pareto_formats.h"
#include "kernels/quant_formats.h"
#include "llm/export_gguf.h"
#include "quant/importance.h"

namespace pareto::quant {

namespace {

bool is_weight_matrix(const gguf::TensorInfo& t) {
  return t.ne.size() >= 2 && t.ne[1] > 1 && t.name.size() >= 6 && t.name.compare(t.name.size() - 6, 6, "weight") == 0;
}

}  // namespace

uint32_t type_by_name(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  for (uint32_t t = kernels::kGroupTypeFirst; t < kernels::kGroupTypeLast; ++t)
    if (kernels::is_group_type(t) && kernels::pareto_type_name(t) == n) return t;
  if (n == kernels::pareto_type_name(kernels::kQ8RowType)) return kernels::kQ8RowType;
  for (uint32_t t = 0; t < 40; ++t) {
    const char* tn = kernels::ggml_type_traits(t).name;
    if (!tn || !*tn) continue;
    std::string lower = tn;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (lower == n) {
      if (!kernels::can_quantize(t)) fail_unsupported("quantizing to " + std::string(tn) + " (pareto writes f32, f16, q8_0, q6_k, q5_k, q5_1, q5_0, q4_k, q4_1, q4_0, q3_k, q2_k, pq<bits>g<group><s|a>, q8_row)");
      return t;
    }
  }
  fail_argument("unknown type '" + name + "' (f16, q8_0, q6_k, q5_k, q5_1, q5_0, q4_k, q4_1, q4_0, q3_k, q2_k, q8_row, pq<bits>g<32|64|128|256><s|a> e.g. pq3g128a)");
}

uint32_t type_for_bits(int bits, int64_t group, bool asym) {
  using kernels::GgmlType;
  if (group == 32 && bits == 8 && !asym) return uint32_t(GgmlType::q8_0);
  if (group == 32 && bits == 4) return uint32_t(asym ? GgmlType::q4_1 : GgmlType::q4_0);
  const uint32_t t = kernels::group_type(bits, group, asym);
  if (!t) fail_argument("--bits " + std::to_string(bits) + " --group " + std::to_string(group) + ": bits 2..8 and groups of 32, 64, 128 or 256");
  return t;
}

uint32_t storage_type(uint32_t type, int64_t cols, bool* fallback) {
  if (fallback) *fallback = false;
  if (kernels::is_group_type(type) || type == kernels::kQ8RowType || cols % kernels::ggml_type_traits(type).block_size == 0) return type;
  if (fallback) *fallback = true;
  using kernels::GgmlType;
  switch (GgmlType(type)) {
    case GgmlType::q8_0: return kernels::group_type(8, 32, false);
    case GgmlType::q4_0: return kernels::group_type(4, 32, false);
    case GgmlType::q6_k: return kernels::group_type(6, 32, false);
    case GgmlType::q5_0: return kernels::group_type(5, 32, false);
    case GgmlType::q5_1: case GgmlType::q5_k: return kernels::group_type(5, 32, true);
    case GgmlType::q4_1: case GgmlType::q4_k: return kernels::group_type(4, 32, true);
    case GgmlType::q3_k: return kernels::group_type(3, 32, false);
    case GgmlType::q2_k: return kernels::group_type(2, 32, true);
    default: return uint32_t(GgmlType::f16);
  }
}

std::map<std::string, uint32_t> llama_mix_tensor_types(const std::string& path, LlamaMix mix, std::vector<std::string>* notes) {
  auto file = gguf::File::open(path);
  const std::string arch = file->get_string("general.architecture", "");
  if (arch != "llama" && arch != "qwen2")
    fail_unsupported(path + ": llama.cpp's mixes are followed for llama and qwen2 models, not '" + arch + "'");
  if (file->get_int(arch + ".expert_count", 0) > 1) fail_unsupported(path + ": llama.cpp's mixes for mixture-of-experts models are not followed");
  const int64_t blocks = file->get_int(arch + ".block_count", 0);
  const int64_t heads = file->get_int(arch + ".attention.head_count", 0), kv_heads = file->get_int(arch + ".attention.head_count_kv", heads);
  std::vector<MixTensor2D> matrices;
  for (const gguf::TensorInfo& t : file->tensors)
    if (is_weight_matrix(t)) matrices.push_back({t.name, t.ne[0]});
  return llama_mix_types(mix, matrices, notes, llama_big_gqa(arch, blocks, heads, kv_heads));
}

std::string round_rows(uint32_t type, const float* w, int64_t rows, int64_t cols) {
  const size_t rb = kernels::ggml_row_size(type, cols);
  std::string bytes(rb * size_t(rows), '\0');
  parallel_for(rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) kernels::quantize_row_ref(type, w + r * cols, bytes.data() + size_t(r) * rb, cols);
  });
  return bytes;
}

QuantizeReport quantize_gguf(const std::string& in, const std::string& out, const QuantizeOptions& o) {
  const double t0 = now_seconds();
  auto file = gguf::File::open(in);
  QuantizeReport r;
  gguf::Writer w;
  for (const auto& [key, value] : file->kv)
    if (key != "general.file_type") w.set_value(key, value);
  w.set_u32("general.file_type", o.file_type ? o.file_type : llm::llama_file_type(o.type));
  // Quantized tensors are produced while the file is written: count them for the progress line.
  auto produced = std::make_shared<int>(0), to_produce = std::make_shared<int>(0);
  for (const auto& [name, type] : o.tensor_types) {
    const gguf::TensorInfo* t = file->tensor(name);
    if (!t || !is_weight_matrix(*t)) fail_argument(in + ": no weight matrix named '" + name + "' to give a type");
    (void)type;
  }
  for (const auto& [name, bytes] : o.packed) {
    if (!o.tensor_types.count(name)) fail_argument(in + ": packed bytes for '" + name + "' without its type");
    for (const std::string& k : o.keep)
      if (name.find(k) != std::string::npos) fail_argument(in + ": '" + name + "' has packed bytes and is to be kept as it is");
  }
  for (const auto& [name, values] : o.f32_tensors) {
    const gguf::TensorInfo* t = file->tensor(name);
    if (!t || is_weight_matrix(*t) || t->numel() != int64_t(values.size()))
      fail_argument(in + ": no tensor named '" + name + "' of " + std::to_string(values.size()) + " values (not a weight matrix) to replace");
  }
  for (const gguf::TensorInfo& t : file->tensors) {
    r.bytes_in += t.nbytes;
    if (auto f = o.f32_tensors.find(t.name); f != o.f32_tensors.end()) {
      // Written as F32 whatever the file had (the loader widens F16/BF16 norms to F32 anyway).
      w.add_tensor(t.name, uint32_t(kernels::GgmlType::f32), t.ne, f->second.data(), f->second.size() * sizeof(float));
      r.kept++;
      r.bytes_out += f->second.size() * sizeof(float);
      continue;
    }
    bool keep = !is_weight_matrix(t);
    for (const std::string& k : o.keep) keep |= t.name.find(k) != std::string::npos;
    const auto chosen = o.tensor_types.find(t.name);
    const uint32_t wanted = chosen != o.tensor_types.end() ? chosen->second : o.type;
    const int64_t cols = t.ne[0], rows = t.numel() / std::max<int64_t>(cols, 1);
    bool fell_back = false;
    const uint32_t type = keep ? wanted : storage_type(wanted, cols, &fell_back);
    if (fell_back) {
      r.fallbacks++;
      r.notes.push_back(t.name + ": rows of " + std::to_string(cols) + " are not a multiple of " +
                        std::to_string(kernels::ggml_type_traits(wanted).block_size) + ", written as " + kernels::ggml_type_traits(type).name +
                        " (tail group)");
    }
    if (auto p = o.packed.find(t.name); p != o.packed.end() && !keep) {
      if (p->second.size() != kernels::ggml_row_size(type, cols) * size_t(rows))
        fail_argument(in + ": packed bytes of '" + t.name + "' are " + std::to_string(p->second.size()) + ", not the size of its type");
      w.add_tensor(t.name, type, t.ne, p->second.data(), p->second.size());
      r.quantized++;
      r.bytes_out += p->second.size();
    } else if (keep || type == t.type) {
      w.add_tensor(t.name, t.type, t.ne, t.data, t.nbytes);
      r.kept++;
      r.bytes_out += t.nbytes;
    } else {
      if (t.type != uint32_t(kernels::GgmlType::f32) && t.type != uint32_t(kernels::GgmlType::f16) &&
          t.type != uint32_t(kernels::GgmlType::bf16))
        r.notes.push_back(t.name + ": requantized from " + kernels::ggml_type_traits(t.type).name + " (quality of the source is lost)");
      const size_t in_row = kernels::ggml_row_size(t.type, cols), out_row = kernels::ggml_row_size(type, cols);
      const uint8_t* src = t.data;
      const auto progress = o.progress;
      const std::string name = t.name;
      const std::vector<float>* imp = nullptr;
      if (auto it = o.importance.find(t.name); it != o.importance.end() && int64_t(it->second.size()) == cols) imp = &it->second;
      w.add_tensor_generated(t.name, type, t.ne, [=]() {
        std::string bytes(out_row * size_t(rows), '\0');
        parallel_for(rows, [&](int64_t r0, int64_t r1) {
          std::vector<float> row(static_cast<size_t>(cols));
          for (int64_t r = r0; r < r1; ++r) {
            kernels::dequantize_row_ref(t.type, src + size_t(r) * in_row, row.data(), cols);
            if (imp) quantize_row_weighted(type, row.data(), imp->data(), bytes.data() + size_t(r) * out_row, cols);
            else kernels::quantize_row_ref(type, row.data(), bytes.data() + size_t(r) * out_row, cols);
          }
        });
        if (progress) progress(++*produced, *to_produce, name, now_seconds() - t0);
        return bytes;
      });
      ++*to_produce;
      r.quantized++;
      r.bytes_out += out_row * size_t(rows);
    }
  }
  w.write(out);
  r.seconds = now_seconds() - t0;
  return r;
}

}  // namespace pareto::quant
