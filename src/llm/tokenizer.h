// Tokenizers over a model's Vocab. SentencePiece-style BPE (scores, byte
// fallback) for llama vocabularies and llama2.c tokenizer files; byte-level
// BPE (GPT-2 / qwen2 / llama3) through BpeEncoder. Control and user-defined
// tokens written in the text (e.g. <|im_start|>) become single tokens.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <memory>

#include "llm/bpe.h"
#include "llm/model.h"

namespace pareto::llm {

class Tokenizer {
 public:
  explicit Tokenizer(const Vocab& vocab);
  std::vector<int32_t> encode(const std::string& text, bool add_bos) const;
  // Bytes of one token as it continues after `prev` (leading space dropped
  // right after BOS, byte tokens as raw bytes, control tokens as nothing).
  std::string piece(int32_t prev, int32_t token) const;
  std::string decode(const std::vector<int32_t>& tokens) const;
  // End-of-generation tokens: EOS and control tokens such as <|im_end|> or <|eot_id|>.
  bool ends_turn(int32_t token) const { return token == vocab_.eos || (token != vocab_.bos && token >= 0 && is_control(token)); }
  int32_t bos() const { return vocab_.bos; }
  int32_t eos() const { return vocab_.eos; }
  int64_t size() const { return int64_t(vocab_.pieces.size()); }
  bool is_control(int32_t id) const;

 private:
  void encode_text(const std::string& text, bool first, std::vector<int32_t>& out) const;
  void encode_spm(const std::string& text, bool prefix, std::vector<int32_t>& out) const;
  int32_t lookup(const std::string& s) const;
  std::unique_ptr<BpeEncoder> bpe_;
  std::vector<int32_t> specials_;  // control/user-defined tokens matched in text, longest first
  const Vocab& vocab_;
  std::unordered_map<std::string, int32_t> ids_;
  int32_t byte_ids_[256];
};

// Holds back an incomplete UTF-8 sequence at the end of streamed bytes so a
// terminal never sees half a character.
class Utf8Stream {
 public:
  // Appends bytes; returns what can be printed now.
  std::string push(const std::string& bytes);
  std::string flush();

 private:
  std::string pending_;
};

}  // namespace pareto::llm
