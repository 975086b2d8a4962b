// Splitting a list option ("q4_k,q8_0", "minmax,percentile") at a separator.
#pragma once
#include <string>
#include <vector>

namespace pareto {

// Every piece between separators, empty ones included ("" gives one empty
// piece, "a," gives "a" and ""): callers decide what an empty name means.
inline std::vector<std::string> split_at(const std::string& text, char sep) {
  std::vector<std::string> out;
  size_t at = 0;
  for (;;) {
    const size_t next = text.find(sep, at);
    out.push_back(text.substr(at, next == std::string::npos ? std::string::npos : next - at));
    if (next == std::string::npos) return out;
    at = next + 1;
  }
}

}  // namespace pareto
