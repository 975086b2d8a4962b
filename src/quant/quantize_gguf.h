// Post-training quantization of GGUF models without Python: reads every
// tensor, rewrites the weight matrices in a GGML type (so llama.cpp loads
// the result too) and copies everything else. RTN rounding follows ggml's
// reference quantizers byte for byte.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "quant/llama_mixes.h"

namespace pareto::quant {

struct QuantizeOptions {
  uint32_t type = 8;                 // GGML type id of the weight matrices (q8_0)
  std::vector<std::string> keep;     // substrings of tensor names left as they are
  // Per weight matrix (by tensor name): its type instead of `type` (pareto
  // tune's mixes). A name that is no weight matrix of the file is an error.
  std::map<std::string, uint32_t> tensor_types;
  // Per weight matrix: its bytes already in its type's storage (GPTQ's, from
  // tune), written as they are; the tensor must be in tensor_types too.
  std::map<std::string, std::string> packed;
  // Per tensor that is no weight matrix (a norm, a bias): these values,
  // written as F32, instead of the file's (AWQ's folded scales, from tune).
  std::map<std::string, std::vector<float>> f32_tensors;
  // Per-tensor input importance (quant/importance.h): q4_0/q8_0 block scales
  // then minimize the importance-weighted error instead of ggml's rule.
  std::map<std::string, std::vector<float>> importance;
  // general.file_type written; 0: the one of `type` (a llama.cpp mix names its own).
  uint32_t file_type = 0;
  // Called after each tensor: (done, total, name, seconds so far).
  std::function<void(int, int, const std::string&, double)> progress;
};

struct QuantizeReport {
  int quantized = 0, kept = 0, fallbacks = 0;
  size_t bytes_in = 0, bytes_out = 0;
  double seconds = 0;
  std::vector<std::string> notes;  // fallbacks and requantizations, named
};

// Type names as llama.cpp spells them (q8_0, q4_0, q4_1, q4_k, f16), or
// pareto's own (pq3g64a, q8_row: kernels/pareto_formats.h).
uint32_t type_by_name(const std::string& name);
// The type for --bits/--group/--sym|--asym: a standard GGML type where one
// fits (8/32/sym q8_0, 4/32/sym q4_0, 4/32/asym q4_1), else pareto's group type.
uint32_t type_for_bits(int bits, int64_t group, bool asym);
// What a matrix with rows of `cols` is written as: `type` when its rows fill
// whole blocks, else the group type with the same bits (groups of 32, a
// short tail group) - never truncated. Sets *fallback when it differs.
uint32_t storage_type(uint32_t type, int64_t cols, bool* fallback = nullptr);
// Rows [rows, cols] of f32 rounded to nearest in `type` (a storage type:
// whole blocks, or a group type), row by row in parallel: the bytes of the
// tensor. Every writer of float rows uses it (calibrated methods, GPTQ's
// fallback, tune's AWQ matrices), so they write the same bytes.
std::string round_rows(uint32_t type, const float* w, int64_t rows, int64_t cols);

QuantizeReport quantize_gguf(const std::string& in, const std::string& out, const QuantizeOptions& options);

// The type llama.cpp's named mix (quant/llama_mixes.h) gives each weight
// matrix of the GGUF file at `path`, for QuantizeOptions::tensor_types.
std::map<std::string, uint32_t> llama_mix_tensor_types(const std::string& path, LlamaMix mix, std::vector<std::string>* notes = nullptr);

}  // namespace pareto::quant
