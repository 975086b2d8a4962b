#include "quant/llama_mixes.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "kernels/quant_formats.h"

namespace pareto::quant {

namespace {

using kernels::GgmlType;

constexpr uint32_t t(GgmlType g) { return uint32_t(g); }

bool has(const std::string& name, const char* part) { return name.find(part) != std::string::npos; }

uint32_t attn_v_type(LlamaMix mix, uint32_t base, int64_t i, int64_t n) {
  switch (mix) {
    case LlamaMix::q3_k_m: return i < 2 ? t(GgmlType::q5_k) : t(GgmlType::q4_k);
    case LlamaMix::q3_k_l: return t(GgmlType::q5_k);
    case LlamaMix::q4_k_m: case LlamaMix::q5_k_m: return use_more_bits(i, n) ? t(GgmlType::q6_k) : base;
    case LlamaMix::q4_k_s: return i < 4 ? t(GgmlType::q5_k) : base;
    default: return base;
  }
}

uint32_t ffn_down_type(LlamaMix mix, uint32_t base, int64_t i, int64_t n) {
  switch (mix) {
    case LlamaMix::q3_k_m: return i < n / 16 ? t(GgmlType::q5_k) : t(GgmlType::q4_k);
    case LlamaMix::q3_k_l: return t(GgmlType::q5_k);
    case LlamaMix::q4_k_m: case LlamaMix::q5_k_m: return use_more_bits(i, n) ? t(GgmlType::q6_k) : base;
    case LlamaMix::q4_k_s: return i < n / 8 ? t(GgmlType::q5_k) : base;
    default: return base;
  }
}

uint32_t attn_output_type(LlamaMix mix, uint32_t base) {
  if (mix == LlamaMix::q3_k_m) return t(GgmlType::q4_k);
  if (mix == LlamaMix::q3_k_l) return t(GgmlType::q5_k);
  return base;
}

uint32_t attn_qkv_type(LlamaMix mix, uint32_t base) {
  if (mix == LlamaMix::q3_k_m || mix == LlamaMix::q3_k_l) return t(GgmlType::q4_k);
  if (mix == LlamaMix::q4_k_m) return t(GgmlType::q5_k);
  if (mix == LlamaMix::q5_k_m) return t(GgmlType::q6_k);
  return base;
}

bool fills_blocks(uint32_t type, int64_t cols) { return cols % kernels::ggml_type_traits(type).block_size == 0; }

// llama.cpp's replacement for a type whose rows do not fill its blocks.
uint32_t fallback(uint32_t type, int64_t cols, const std::string& name, std::vector<std::string>* notes) {
  if (fills_blocks(type, cols)) return type;
  uint32_t f = t(GgmlType::f16);  // anything else: llama.cpp refuses the size; F16 here, noted
  switch (GgmlType(type)) {
    case GgmlType::q4_k: f = t(GgmlType::q5_0); break;
    case GgmlType::q5_k: f = t(GgmlType::q5_1); break;
    case GgmlType::q6_k: f = t(GgmlType::q8_0); break;
    case GgmlType::q2_k: case GgmlType::q3_k:
      // llama.cpp writes IQ4_NL, which pareto does not write: Q4_0 has its size and every reader loads it.
      f = t(GgmlType::q4_0);
      if (notes) notes->push_back(name + ": IQ4_NL in llama.cpp (rows of " + std::to_string(cols) + "), Q4_0 here");
      break;
    default:
      if (notes) notes->push_back(name + ": rows of " + std::to_string(cols) + " fill no " + kernels::ggml_type_traits(type).name + " block: F16");
      break;
  }
  return fills_blocks(f, cols) ? f : t(GgmlType::f16);
}

// The N of a blk.N. name; -1 for the others.
long layer_of(const std::string& name) {
  long l = -1;
  return std::sscanf(name.c_str(), "blk.%ld.", &l) == 1 && l >= 0 ? l : -1L;
}

// llama.cpp quantizes in (layer, name) order: its attn_v and ffn_down
// counters are the layer numbers whatever order the file stores them in.
std::vector<MixTensor2D> in_layer_order(std::vector<MixTensor2D> m) {
  std::stable_sort(m.begin(), m.end(), [](const MixTensor2D& a, const MixTensor2D& b) {
    const long la = layer_of(a.name), lb = layer_of(b.name);
    return la != lb ? la < lb : a.name < b.name;
  });
  return m;
}

}  // namespace

bool use_more_bits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

LlamaMix llama_mix_by_name(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (n == "q3_k_s") return LlamaMix::q3_k_s;
  if (n == "q3_k_m") return LlamaMix::q3_k_m;
  if (n == "q3_k_l") return LlamaMix::q3_k_l;
  if (n == "q4_k_s") return LlamaMix::q4_k_s;
  if (n == "q4_k_m") return LlamaMix::q4_k_m;
  if (n == "q5_k_s") return LlamaMix::q5_k_s;
  if (n == "q5_k_m") return LlamaMix::q5_k_m;
  return LlamaMix::none;
}

uint32_t llama_mix_base_type(LlamaMix mix) {
  switch (mix) {
    case LlamaMix::q3_k_s: case LlamaMix::q3_k_m: case LlamaMix::q3_k_l: return t(GgmlType::q3_k);
    case LlamaMix::q4_k_s: case LlamaMix::q4_k_m: return t(GgmlType::q4_k);
    case LlamaMix::q5_k_s: case LlamaMix::q5_k_m: return t(GgmlType::q5_k);
    default: return 0;
  }
}

uint32_t llama_mix_file_type(LlamaMix mix) {  // llama.h's LLAMA_FTYPE_MOSTLY_* numbers
  switch (mix) {
    case LlamaMix::q3_k_s: return 11;
    case LlamaMix::q3_k_m: return 12;
    case LlamaMix::q3_k_l: return 13;
    case LlamaMix::q4_k_s: return 14;
    case LlamaMix::q4_k_m: return 15;
    case LlamaMix::q5_k_s: return 16;
    case LlamaMix::q5_k_m: return 17;
    default: return 0;
  }
}

bool llama_big_gqa(const std::string& arch, int64_t n_layer, int64_t heads, int64_t kv_heads) {
  return n_layer == 80 && (arch == "qwen2" || (arch == "llama" && heads != kv_heads));
}

std::string llama_mix_name(LlamaMix mix) {
  switch (mix) {
    case LlamaMix::q3_k_s: return "Q3_K_S";
    case LlamaMix::q3_k_m: return "Q3_K_M";
    case LlamaMix::q3_k_l: return "Q3_K_L";
    case LlamaMix::q4_k_s: return "Q4_K_S";
    case LlamaMix::q4_k_m: return "Q4_K_M";
    case LlamaMix::q5_k_s: return "Q5_K_S";
    case LlamaMix::q5_k_m: return "Q5_K_M";
    default: return "";
  }
}

std::map<std::string, uint32_t> llama_mix_types(LlamaMix mix, const std::vector<MixTensor2D>& unordered, std::vector<std::string>* notes,
                                                bool big_gqa) {
  const uint32_t base = llama_mix_base_type(mix);
  std::map<std::string, uint32_t> types;
  if (base == 0) return types;
  const std::vector<MixTensor2D> matrices = in_layer_order(unordered);
  // llama.cpp's n_layer (its ffn_down rules' n): the block count, here the highest blk.N + 1.
  const int64_t n_layer = matrices.empty() ? 0 : layer_of(matrices.back().name) + 1;
  int64_t n_attn_v = 0, i_attn_v = 0, i_ffn_down = 0;
  bool has_output = false;
  for (const MixTensor2D& m : matrices) {
    n_attn_v += has(m.name, "attn_v.weight") || has(m.name, "attn_qkv.weight") || has(m.name, "attn_kv_b.weight");
    has_output |= m.name == "output.weight";
  }
  for (const MixTensor2D& m : matrices) {
    uint32_t type = base;
    if (m.name == "output.weight" || (!has_output && m.name == "token_embd.weight")) {
      type = m.cols % kernels::ggml_type_traits(base).block_size ? t(GgmlType::q8_0) : t(GgmlType::q6_k);
    } else if (m.name == "token_embd.weight") {
      type = base;
    } else if (has(m.name, "attn_v.weight")) {
      type = attn_v_type(mix, base, i_attn_v++, n_attn_v);
      // 80-layer GQA models share each attn_v among several heads: llama.cpp gives it Q5_K.
      if (big_gqa && (type == t(GgmlType::q3_k) || type == t(GgmlType::q4_k))) type = t(GgmlType::q5_k);
    } else if (has(m.name, "ffn_down")) {
      type = ffn_down_type(mix, base, i_ffn_down++, n_layer);
    } else if (has(m.name, "attn_output.weight")) {
      type = attn_output_type(mix, base);
    } else if (has(m.name, "attn_qkv.weight")) {
      type = attn_qkv_type(mix, base);
    }
    types[m.name] = fallback(type, m.cols, m.name, notes);
  }
  return types;
}

}  // namespace pareto::quant
