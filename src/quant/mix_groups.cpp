#include "quant/mix_groups.h"

#include <algorithm>
#include <map>

#include "core/error.h"
#include "quant/llama_mixes.h"

namespace pareto::quant {

namespace {

std::string group_name(const MixTensor& t, const std::string& how, int64_t layers) {
  if (how == "kind") return t.kind;
  if (how == "kind-split") return t.layer < 0 ? t.kind : t.kind + (use_more_bits(t.layer, layers) ? ".more" : ".rest");
  if (how == "layer" && t.layer >= 0) return "blk." + std::to_string(t.layer) + (t.kind.rfind("attn", 0) == 0 ? ".attn" : ".ffn");
  return t.name;
}

}  // namespace

MixGroups group_tensors(const std::vector<MixTensor>& tensors, const std::string& how) {
  if (how != "tensor" && how != "layer" && how != "kind" && how != "kind-split")
    fail_argument("group must be tensor, layer, kind or kind-split, got '" + how + "'");
  int64_t layers = 0;
  for (const MixTensor& t : tensors) layers = std::max(layers, t.layer + 1);
  MixGroups g;
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto [it, added] = index.emplace(group_name(tensors[i], how, layers), g.names.size());
    if (added) {
      g.names.push_back(it->first);
      g.members.emplace_back();
    }
    g.members[it->second].push_back(i);
  }
  return g;
}

bool whole_blocks(const std::vector<MixTensor>& tensors, const std::vector<size_t>& members) {
  std::map<std::pair<int64_t, bool>, int> have, total;
  for (const MixTensor& t : tensors)
    if (t.layer >= 0) total[{t.layer, in_attention_block(t)}]++;
  for (size_t i : members) {
    const MixTensor& t = tensors.at(i);
    if (t.layer < 0) return false;
    have[{t.layer, in_attention_block(t)}]++;
  }
  for (const auto& [block, n] : have)
    if (n != total[block]) return false;
  return !have.empty();
}

Mix expand_mix(const MixGroups& groups, const Mix& group_mix, const Mix& source) {
  if (group_mix.size() != groups.members.size()) fail(StatusCode::internal, "a group mix does not name every group");
  Mix m = source;
  for (size_t g = 0; g < groups.members.size(); ++g)
    if (group_mix[g] != kSourceTypes)
      for (size_t i : groups.members[g]) m.at(i) = group_mix[g];
  return m;
}

}  // namespace pareto::quant
