#include "llm/tokenizer.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "llm/pair_merge.h"

namespace pareto::llm {

Tokenizer::Tokenizer(const Vocab& vocab) : vocab_(vocab) {
  if (vocab.pieces.empty()) fail_argument("the model has no tokenizer (pass --tokenizer for llama2.c checkpoints)");
  for (size_t i = 0; i < vocab.pieces.size(); ++i) ids_.emplace(vocab.pieces[i], int32_t(i));
  if (vocab.kind == Vocab::Kind::bpe) bpe_ = std::make_unique<BpeEncoder>(vocab);
  for (size_t i = 0; i < vocab.types.size(); ++i)
    if ((vocab.types[i] == 3 || vocab.types[i] == 4) && vocab.pieces[i].size() > 1) specials_.push_back(int32_t(i));
  std::sort(specials_.begin(), specials_.end(),
            [&](int32_t a, int32_t b) { return vocab.pieces[size_t(a)].size() > vocab.pieces[size_t(b)].size(); });
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    int32_t id = lookup(name);
    // llama2.c vocabularies keep the 256 byte tokens right after <unk>, <s>, </s>.
    if (id < 0 && int64_t(vocab.pieces.size()) > b + 3) id = b + 3;
    byte_ids_[b] = id;
  }
}

int32_t Tokenizer::lookup(const std::string& s) const {
  auto it = ids_.find(s);
  return it == ids_.end() ? -1 : it->second;
}

bool Tokenizer::is_control(int32_t id) const {
  if (!vocab_.types.empty()) return vocab_.types[size_t(id)] == 3;
  return id == vocab_.bos || id == vocab_.eos;
}

std::vector<int32_t> Tokenizer::encode(const std::string& text, bool add_bos) const {
  std::vector<int32_t> out;
  if (add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);
  // Split out special tokens; the text between them is tokenized normally.
  size_t start = 0;
  bool first = true;
  while (start < text.size()) {
    size_t best_at = std::string::npos;
    int32_t best = -1;
    for (int32_t id : specials_) {
      size_t at = text.find(vocab_.pieces[size_t(id)], start);
      if (at < best_at) {
        best_at = at;
        best = id;
      }
    }
    encode_text(text.substr(start, best_at == std::string::npos ? std::string::npos : best_at - start), first, out);
    if (best < 0) break;
    out.push_back(best);
    start = best_at + vocab_.pieces[size_t(best)].size();
    first = false;
  }
  return out;
}

void Tokenizer::encode_text(const std::string& text, bool first, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  if (bpe_) bpe_->encode(text, out);
  else encode_spm(text, first && vocab_.add_space_prefix, out);
}

void Tokenizer::encode_spm(const std::string& text, bool prefix, std::vector<int32_t>& out) const {
  std::string norm = prefix ? vocab_.space : "";
  for (char ch : text) norm += ch == ' ' ? vocab_.space : std::string(1, ch);
  // One token per UTF-8 character, or its bytes when the vocabulary lacks it.
  std::vector<int32_t> t;
  for (size_t i = 0; i < norm.size();) {
    unsigned char lead = static_cast<unsigned char>(norm[i]);
    size_t len = lead < 0x80 ? 1 : (lead >> 5) == 6 ? 2 : (lead >> 4) == 14 ? 3 : (lead >> 3) == 30 ? 4 : 1;
    if (i + len > norm.size()) len = 1;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(norm[i + k]) & 0xC0) != 0x80) len = 1;
    int32_t id = lookup(norm.substr(i, len));
    if (id >= 0) {
      t.push_back(id);
    } else {
      for (size_t k = 0; k < len; ++k) {
        const int32_t b = byte_ids_[static_cast<unsigned char>(norm[i + k])];
        const int32_t id_or_unk = b >= 0 ? b : vocab_.unk;
        // A vocabulary with neither byte tokens nor an unknown token in range
        // (a hostile or broken file) cannot encode this text.
        if (id_or_unk < 0 || size_t(id_or_unk) >= vocab_.pieces.size())
          fail_argument("text has a byte (value " + std::to_string(unsigned(static_cast<unsigned char>(norm[i + k]))) +
                        ") that the vocabulary has no token for, and no unknown token");
        t.push_back(id_or_unk);
      }
    }
    i += len;
  }
  // Greedy merges: always the adjacent pair whose merged piece scores highest (leftmost on ties).
  merge_best_pairs(t, [&](int32_t a, int32_t b) -> std::optional<std::pair<double, int32_t>> {
    const int32_t id = lookup(vocab_.pieces[size_t(a)] + vocab_.pieces[size_t(b)]);
    if (id < 0) return std::nullopt;
    return std::make_pair(-double(vocab_.scores.empty() ? 0.f : vocab_.scores[size_t(id)]), id);
  });
  out.insert(out.end(), t.begin(), t.end());
}

std::string Tokenizer::piece(int32_t prev, int32_t token) const {
  if (token < 0 || token >= size()) return "";
  const std::string& p = vocab_.pieces[size_t(token)];
  if (is_control(token)) return "";
  if (bpe_) return bpe_->token_bytes(token);
  unsigned byte = 0;
  if (p.size() == 6 && std::sscanf(p.c_str(), "<0x%02X>", &byte) == 1) return std::string(1, char(byte));
  std::string s;
  for (size_t i = 0; i < p.size();) {
    if (p.compare(i, vocab_.space.size(), vocab_.space) == 0) {
      s += ' ';
      i += vocab_.space.size();
    } else {
      s += p[i++];
    }
  }
  if (prev == vocab_.bos && !s.empty() && s[0] == ' ' && vocab_.add_space_prefix) s.erase(0, 1);
  return s;
}

std::string Tokenizer::decode(const std::vector<int32_t>& tokens) const {
  std::string s;
  int32_t prev = vocab_.bos;
  for (size_t i = 0; i < tokens.size(); ++i) {
    s += piece(i == 0 ? vocab_.bos : prev, tokens[i]);
    prev = tokens[i];
  }
  return s;
}

std::string Utf8Stream::push(const std::string& bytes) {
  pending_ += bytes;
  // Find the start of a trailing incomplete sequence, if any.
  size_t n = pending_.size(), cut = n;
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    unsigned char c = static_cast<unsigned char>(pending_[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    size_t need = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (need > back) cut = n - back;
    break;
  }
  std::string out = pending_.substr(0, cut);
  pending_.erase(0, cut);
  return out;
}

std::string Utf8Stream::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace pareto::llm
