// llama.cpp's named K-quant mixes (llama-quantize's Q3_K_S .. Q5_K_M): the
// GGML type each weight matrix of a dense llama or qwen2 model gets, by the
// rules of llama.cpp c392e50 (llama-quant.cpp's llama_tensor_get_type; the
// facts, not its code): the mix's base type, Q6_K for the output matrix
// (Q8_0 when its rows do not fill super-blocks), more bits for attn_v and
// ffn_down in the layers the mix names (counted in layer order, as
// llama.cpp sorts tensors), attn_v at Q5_K in 80-layer GQA models (its
// "70B" rule), and llama.cpp's fallbacks for rows that do not fill a
// K-quant super-block (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, then F16;
// Q2_K/Q3_K -> IQ4_NL there, Q4_0 of the same size here). Mixture-of-experts
// and Falcon models are refused (their rules differ). With rounding to
// nearest the tensors are llama-quantize's byte for byte
// (LlamaMix.RoundedToNearestIsLlamaQuantizesFile); with GPTQ they have the
// same types and sizes, rounded better.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pareto::quant {

enum class LlamaMix { none, q3_k_s, q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m };

// "q4_k_m" (any case) -> LlamaMix::q4_k_m; LlamaMix::none for anything else.
LlamaMix llama_mix_by_name(const std::string& name);
uint32_t llama_mix_base_type(LlamaMix mix);
uint32_t llama_mix_file_type(LlamaMix mix);  // general.file_type as llama-quantize writes it

// One weight matrix of the model as the rules see it (any order).
struct MixTensor2D {
  std::string name;
  int64_t cols = 0;  // ne[0]
};

// The type of each named weight matrix (the layer count from the blk.N
// names); big_gqa: llama.cpp's 70B rule applies (llama_big_gqa). Matrices
// the rules leave alone get the base type.
std::map<std::string, uint32_t> llama_mix_types(LlamaMix mix, const std::vector<MixTensor2D>& matrices,
                                                std::vector<std::string>* notes = nullptr, bool big_gqa = false);

// llama.cpp's "70B" class, whose attn_v gets Q5_K: llama with 80 layers and
// grouped KV heads, qwen2 with 80 layers.
bool llama_big_gqa(const std::string& arch, int64_t n_layer, int64_t heads, int64_t kv_heads);

// "Q4_K_M" for LlamaMix::q4_k_m (llama-quantize's spelling).
std::string llama_mix_name(LlamaMix mix);

// llama.cpp's "more bits here" layers (its use_more_bits) of n: the first
// and last eighth, and every third layer between.
bool use_more_bits(int64_t i, int64_t n);

}  // namespace pareto::quant
