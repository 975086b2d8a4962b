#include "quant/quantize_gguf.h"

#include <algorithm>
#include <memory>

#include "core/error.h"
#include "core/file.h"
#include "core/thread_pool.h"
#include "frontend/gguf/gguf_writer.h"
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
  for (uint32_t t = 0; t < 40; ++t) {
    const char* tn = kernels::ggml_type_traits(t).name;
    if (!tn || !*tn) continue;
    std::string lower = tn;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (lower == n) {
      if (!kernels::can_quantize(t)) fail_unsupported("quantizing to " + std::string(tn) + " (pareto writes f32, f16, q8_0, q4_0, q4_k)");
      return t;
    }
  }
  fail_argument("unknown type '" + name + "' (f16, q8_0, q4_0, q4_k)");
}

QuantizeReport quantize_gguf(const std::string& in, const std::string& out, const QuantizeOptions& o) {
  if (o.method != "rtn") fail_unsupported("quantization method '" + o.method + "' here (rtn; awq goes through awq_quantize_gguf)");
  const double t0 = now_seconds();
  auto file = gguf::File::open(in);
  QuantizeReport r;
  gguf::Writer w;
  for (const auto& [key, value] : file->kv)
    if (key != "general.file_type") w.set_value(key, value);
  w.set_u32("general.file_type", llm::llama_file_type(o.type));
  // Quantized tensors are produced while the file is written: count them for the progress line.
  auto produced = std::make_shared<int>(0), to_produce = std::make_shared<int>(0);
  for (const gguf::TensorInfo& t : file->tensors) {
    r.bytes_in += t.nbytes;
    bool keep = !is_weight_matrix(t);
    for (const std::string& k : o.keep) keep |= t.name.find(k) != std::string::npos;
    uint32_t type = o.type;
    const int64_t cols = t.ne[0], rows = t.numel() / std::max<int64_t>(cols, 1);
    if (!keep && cols % kernels::ggml_type_traits(type).block_size) {
      // A row that does not fill whole blocks is never truncated: q8_0 when
      // it holds whole 32-blocks (k-quants need 256), else f16; reported.
      type = uint32_t(cols % 32 == 0 && o.type != uint32_t(kernels::GgmlType::q4_0) ? kernels::GgmlType::q8_0 : kernels::GgmlType::f16);
      r.fallbacks++;
      r.notes.push_back(t.name + ": rows of " + std::to_string(cols) + " are not a multiple of " +
                        std::to_string(kernels::ggml_type_traits(o.type).block_size) + ", written as " + kernels::ggml_type_traits(type).name);
    }
    if (keep || type == t.type) {
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
