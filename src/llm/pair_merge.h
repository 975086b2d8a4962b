// Greedy pair merging for the tokenizers: repeatedly merge the adjacent pair
// that ranks best (leftmost on ties) until no pair merges. The plain loop
// rescans the whole word after every merge, O(n^2) lookups: 32 KB of one
// repeated character took 15-25 s (found by tokenizer_text_fuzz). Here a
// heap holds the candidate pairs and stale ones are skipped when popped
// (a symbol's version changes when it merges): O(n log n), same result.
#pragma once
#include <cstdint>
#include <optional>
#include <queue>
#include <utility>
#include <vector>

namespace pareto::llm {

// rank(left, right) -> std::optional<std::pair<double, Sym>>: the pair's key
// (smaller merges first) and the merged symbol, or nullopt when it does not merge.
template <class Sym, class Rank>
void merge_best_pairs(std::vector<Sym>& syms, Rank rank) {
  const int n = int(syms.size());
  if (n < 2) return;
  const size_t count = static_cast<size_t>(n);
  std::vector<int> prev(count), next(count);
  std::vector<uint32_t> version(count, 0);
  std::vector<bool> alive(count, true);
  for (int i = 0; i < n; ++i) {
    prev[size_t(i)] = i - 1;
    next[size_t(i)] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    double key;
    int left, right;
    uint32_t left_version, right_version;
    Sym merged;
  };
  auto worse = [](const Candidate& a, const Candidate& b) { return a.key != b.key ? a.key > b.key : a.left > b.left; };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(worse)> heap(worse);
  auto push = [&](int l, int r) {
    if (l < 0 || r < 0) return;
    if (auto m = rank(syms[size_t(l)], syms[size_t(r)]))
      heap.push({m->first, l, r, version[size_t(l)], version[size_t(r)], std::move(m->second)});
  };
  for (int i = 0; i + 1 < n; ++i) push(i, i + 1);
  while (!heap.empty()) {
    Candidate c = heap.top();
    heap.pop();
    const size_t l = size_t(c.left), r = size_t(c.right);
    if (!alive[l] || !alive[r] || next[l] != c.right || version[l] != c.left_version || version[r] != c.right_version) continue;
    syms[l] = std::move(c.merged);
    ++version[l];
    alive[r] = false;
    next[l] = next[r];
    if (next[r] >= 0) prev[size_t(next[r])] = c.left;
    push(prev[l], c.left);
    push(c.left, next[l]);
  }
  std::vector<Sym> out;
  for (int i = 0; i >= 0; i = next[size_t(i)]) out.push_back(std::move(syms[size_t(i)]));  // the first symbol always survives
  syms = std::move(out);
}

}  // namespace pareto::llm
