#include "llm/bpe.h"

#include "llm/pair_merge.h"

#include <algorithm>

#include "core/error.h"

namespace pareto::llm {

namespace {

#include "llm/unicode_tables.inc"

template <size_t N>
bool in_ranges(const uint32_t (&r)[N][2], uint32_t cp) {
  size_t lo = 0, hi = N;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (cp < r[mid][0]) hi = mid;
    else if (cp > r[mid][1]) lo = mid + 1;
    else return true;
  }
  return false;
}

constexpr uint32_t kEnd = 0xFFFFFFFF;
bool is_letter(uint32_t c) { return c != kEnd && in_ranges(kLetterRanges, c); }
bool is_number(uint32_t c) { return c != kEnd && in_ranges(kNumberRanges, c); }
bool is_space(uint32_t c) { return c != kEnd && in_ranges(kSpaceRanges, c); }
bool is_other(uint32_t c) { return c != kEnd && !is_letter(c) && !is_number(c) && !is_space(c); }
bool is_newline(uint32_t c) { return c == '\r' || c == '\n'; }

// UTF-8 -> code points with byte offsets; invalid bytes become U+FFFD of length 1.
void decode_utf8(const std::string& s, std::vector<uint32_t>& cps, std::vector<size_t>& offs) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    uint32_t cp = 0xFFFD;
    if (len && i + len <= s.size()) {
      cp = len == 1 ? c : c & (0xFF >> (len + 1));
      for (size_t k = 1; k < len; ++k) {
        unsigned char cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xC0) != 0x80) {
          len = 0;
          break;
        }
        cp = cp << 6 | (cc & 0x3F);
      }
    }
    if (!len) {
      len = 1;
      cp = 0xFFFD;
    }
    cps.push_back(cp);
    offs.push_back(i);
    i += len;
  }
  offs.push_back(s.size());
}

std::string encode_utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) s += char(cp);
  else if (cp < 0x800) s += char(0xC0 | (cp >> 6)), s += char(0x80 | (cp & 0x3F));
  else if (cp < 0x10000) s += char(0xE0 | (cp >> 12)), s += char(0x80 | ((cp >> 6) & 0x3F)), s += char(0x80 | (cp & 0x3F));
  else s += char(0xF0 | (cp >> 18)), s += char(0x80 | ((cp >> 12) & 0x3F)), s += char(0x80 | ((cp >> 6) & 0x3F)), s += char(0x80 | (cp & 0x3F));
  return s;
}

uint32_t lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

// 's 't 're 've 'm 'll 'd at p; returns the match length or 0.
size_t contraction(const std::vector<uint32_t>& cp, size_t p, bool any_case) {
  if (cp[p] != '\'' || p + 1 >= cp.size()) return 0;
  auto at = [&](size_t i) { return i < cp.size() ? (any_case ? lower(cp[i]) : cp[i]) : kEnd; };
  uint32_t a = at(p + 1), b = at(p + 2);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

// \s+(?!\S) then \s+: a whitespace run, leaving its last character for the
// next token when a non-space follows.
size_t whitespace_run(const std::vector<uint32_t>& cp, size_t p) {
  size_t n = 0;
  while (p + n < cp.size() && is_space(cp[p + n])) ++n;
  if (n > 1 && p + n < cp.size()) --n;
  return std::max<size_t>(n, 1);
}

}  // namespace

PreTokenizer pre_tokenizer_for(const std::string& name) {
  if (name.empty() || name == "default" || name == "gpt-2" || name == "gpt2") return PreTokenizer::gpt2;
  if (name == "llama3" || name == "llama-bpe" || name == "llama-v3" || name == "smollm") return PreTokenizer::llama3;
  if (name == "qwen2") return PreTokenizer::qwen2;
  fail_unsupported("BPE pre-tokenizer '" + name + "' (pareto knows gpt-2, llama3/llama-bpe, qwen2)");
}

std::vector<std::string> pre_tokenize(const std::string& text, PreTokenizer kind) {
  std::vector<uint32_t> cp;
  std::vector<size_t> off;
  decode_utf8(text, cp, off);
  std::vector<std::string> words;
  const size_t n = cp.size();
  auto get = [&](size_t i) { return i < n ? cp[i] : kEnd; };
  for (size_t p = 0; p < n;) {
    size_t len = 0;
    uint32_t c = cp[p];
    if (kind == PreTokenizer::gpt2) {
      // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
      len = contraction(cp, p, false);
      if (!len) {
        size_t q = c == ' ' ? p + 1 : p;
        uint32_t c0 = get(q);
        if (is_letter(c0)) {
          while (q < n && is_letter(cp[q])) ++q;
        } else if (is_number(c0)) {
          while (q < n && is_number(cp[q])) ++q;
        } else if (is_other(c0)) {
          while (q < n && is_other(cp[q])) ++q;
        } else {
          q = p + whitespace_run(cp, p);
        }
        len = q - p;
      }
    } else {
      // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
      // (qwen2: \p{N} one digit at a time)
      len = contraction(cp, p, true);
      if (!len) {
        size_t q = p;
        if (!is_newline(c) && !is_letter(c) && !is_number(c) && is_letter(get(p + 1))) q = p + 1;
        if (is_letter(get(q))) {
          while (q < n && is_letter(cp[q])) ++q;
          len = q - p;
        } else if (is_number(c)) {
          size_t max_digits = kind == PreTokenizer::qwen2 ? 1 : 3;
          q = p;
          while (q < n && q - p < max_digits && is_number(cp[q])) ++q;
          len = q - p;
        } else {
          q = c == ' ' ? p + 1 : p;
          if (is_other(get(q))) {
            while (q < n && is_other(cp[q])) ++q;
            while (q < n && is_newline(cp[q])) ++q;
            len = q - p;
          } else {
            // \s*[\r\n]+: the longest whitespace prefix ending in a newline.
            size_t run = 0, last_nl = 0;
            while (p + run < n && is_space(cp[p + run])) {
              if (is_newline(cp[p + run])) last_nl = run + 1;
              ++run;
            }
            len = last_nl ? last_nl : whitespace_run(cp, p);
          }
        }
      }
    }
    words.push_back(text.substr(off[p], off[p + len] - off[p]));
    p += len;
  }
  return words;
}

BpeEncoder::BpeEncoder(const Vocab& vocab) : vocab_(vocab), pre_(pre_tokenizer_for(vocab.pre)) {
  for (size_t i = 0; i < vocab.pieces.size(); ++i) ids_.emplace(vocab.pieces[i], int32_t(i));
  for (size_t i = 0; i < vocab.merges.size(); ++i) ranks_.emplace(vocab.merges[i], int32_t(i));
  // GPT-2's byte <-> printable code point table.
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    uint32_t cp = printable ? b : next++;
    byte_to_cp_[b] = encode_utf8(cp);
    cp_to_byte_[cp] = uint8_t(b);
  }
}

void BpeEncoder::encode_word(const std::string& word, std::vector<int32_t>& out) const {
  auto hit = cache_.find(word);
  if (hit != cache_.end()) {
    out.insert(out.end(), hit->second.begin(), hit->second.end());
    return;
  }
  std::vector<std::string> sym;
  for (unsigned char b : word) sym.push_back(byte_to_cp_[b]);
  // Lowest merge rank first, leftmost on ties.
  merge_best_pairs(sym, [&](const std::string& a, const std::string& b) -> std::optional<std::pair<double, std::string>> {
    auto r = ranks_.find(a + " " + b);
    if (r == ranks_.end()) return std::nullopt;
    return std::make_pair(double(r->second), a + b);
  });
  std::vector<int32_t> ids;
  for (const std::string& s : sym) {
    auto it = ids_.find(s);
    if (it != ids_.end()) {
      ids.push_back(it->second);
      continue;
    }
    // A symbol the vocabulary lacks: fall back to its single bytes.
    std::vector<uint32_t> cps;
    std::vector<size_t> offs;
    decode_utf8(s, cps, offs);
    for (size_t k = 0; k < cps.size(); ++k) {
      auto b = ids_.find(s.substr(offs[k], offs[k + 1] - offs[k]));
      ids.push_back(b != ids_.end() ? b->second : vocab_.unk);
    }
  }
  if (cache_.size() < 65536) cache_.emplace(word, ids);
  out.insert(out.end(), ids.begin(), ids.end());
}

void BpeEncoder::encode(const std::string& text, std::vector<int32_t>& out) const {
  for (const std::string& w : pre_tokenize(text, pre_)) encode_word(w, out);
}

std::string BpeEncoder::token_bytes(int32_t id) const {
  std::vector<uint32_t> cps;
  std::vector<size_t> offs;
  decode_utf8(vocab_.pieces[size_t(id)], cps, offs);
  std::string out;
  for (uint32_t c : cps) {
    auto it = cp_to_byte_.find(c);
    if (it != cp_to_byte_.end()) out += char(it->second);
    else out += encode_utf8(c);
  }
  return out;
}

}  // namespace pareto::llm
