// Byte-level BPE (GPT-2, Llama 3, Qwen2): a pre-tokenizer that splits text
// the way each family's regex does (hand-written over Unicode categories),
// bytes mapped to printable code points, then merges by rank.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "llm/model.h"

namespace pareto::llm {

enum class PreTokenizer { gpt2, llama3, qwen2 };

// Picks the pre-tokenizer for a GGUF `tokenizer.ggml.pre` name; throws for names it does not know.
PreTokenizer pre_tokenizer_for(const std::string& name);
std::vector<std::string> pre_tokenize(const std::string& text, PreTokenizer kind);

class BpeEncoder {
 public:
  explicit BpeEncoder(const Vocab& vocab);
  // Token ids of text that holds no special tokens.
  void encode(const std::string& text, std::vector<int32_t>& out) const;
  // Raw bytes of a token's piece.
  std::string token_bytes(int32_t id) const;

 private:
  void encode_word(const std::string& word, std::vector<int32_t>& out) const;
  const Vocab& vocab_;
  PreTokenizer pre_;
  std::unordered_map<std::string, int32_t> ids_;
  std::unordered_map<std::string, int32_t> ranks_;  // "left right" -> merge rank
  std::string byte_to_cp_[256];
  std::unordered_map<uint32_t, uint8_t> cp_to_byte_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace pareto::llm
