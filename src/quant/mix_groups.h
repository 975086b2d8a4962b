// Units of pareto tune's search: a type is chosen per group of tensors.
// Per tensor is the finest; a 1B model has ~150 matrices and each measure
// runs the model over the evaluation text, so coarser units make its
// search affordable: per layer block (attention, feed-forward) or per kind
// (every layer's attn_q together, as llama.cpp's mixes decide by kind).
#pragma once
#include <string>
#include <vector>

#include "quant/llm_mix.h"

namespace pareto::quant {

struct MixGroups {
  std::vector<std::string> names;
  std::vector<std::vector<size_t>> members;  // tensor indices per group
};

// how: "tensor", "layer" (blk.N.attn, blk.N.ffn, and the embedding and
// output alone), "kind" (attn_q ... ffn_down over all layers, token_embd,
// output) or "kind-split" (each kind twice, split as llama.cpp's mixes split
// it: the layers its use_more_bits names (first and last eighth, every third
// between) and the rest; its Q4_K_M and Q5_K_M rules are then mixes of
// these units).
MixGroups group_tensors(const std::vector<MixTensor>& tensors, const std::string& how);

// At group level: every tensor of the group as in the source file.
constexpr uint32_t kSourceTypes = 0xFFFFFFFFu;

// Whether the members are whole layer blocks (every matrix of each attention
// or MLP block they touch, nothing else): the units an AWQ choice may take.
bool whole_blocks(const std::vector<MixTensor>& tensors, const std::vector<size_t>& members);

// The per-tensor mix a per-group mix stands for.
Mix expand_mix(const MixGroups& groups, const Mix& group_mix, const Mix& source);

}  // namespace pareto::quant
