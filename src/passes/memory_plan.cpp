#include "passes/memory_plan.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace pareto::passes {

namespace {

// Best-fit placement of buffer b against the already placed buffers that
// overlap it in time.
void place_one(std::vector<Buffer>& bufs, const std::vector<int>& placed, int b) {
  std::vector<std::pair<size_t, size_t>> busy;  // [offset, end) of time-overlapping buffers
  for (int p : placed) {
    const Buffer& o = bufs[size_t(p)];
    if (o.first <= bufs[size_t(b)].last && bufs[size_t(b)].first <= o.last) busy.push_back({o.offset, o.offset + o.bytes});
  }
  std::sort(busy.begin(), busy.end());
  size_t best = std::numeric_limits<size_t>::max(), best_gap = best, at = 0;
  for (const auto& [s, e] : busy) {
    if (s > at && s - at >= bufs[size_t(b)].bytes && s - at < best_gap) {
      best = at;
      best_gap = s - at;
    }
    at = std::max(at, e);
  }
  bufs[size_t(b)].offset = best != std::numeric_limits<size_t>::max() ? best : at;
}

size_t place_in_order(std::vector<Buffer>& bufs, const std::vector<int>& order) {
  std::vector<int> placed;
  size_t arena = 0;
  for (int b : order) {
    place_one(bufs, placed, b);
    placed.push_back(b);
    arena = std::max(arena, bufs[size_t(b)].offset + bufs[size_t(b)].bytes);
  }
  return arena;
}

}  // namespace

void place_buffers(MemoryPlan& plan) {
  auto& bufs = plan.buffers;
  const int n = int(bufs.size());
  int positions = 0;
  for (const Buffer& b : bufs) positions = std::max(positions, b.last + 1);
  std::vector<size_t> live(size_t(positions), 0);
  for (const Buffer& b : bufs)
    for (int p = b.first; p <= b.last; ++p) live[size_t(p)] += b.bytes;
  plan.lower_bound = live.empty() ? 0 : *std::max_element(live.begin(), live.end());
  plan.naive_bytes = 0;
  for (const Buffer& b : bufs) plan.naive_bytes += b.bytes;

  std::vector<std::pair<std::string, std::vector<int>>> orders;
  std::vector<int> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  // 1. greedy by size: largest first
  std::vector<int> by_size = idx;
  std::stable_sort(by_size.begin(), by_size.end(), [&](int a, int b) { return bufs[size_t(a)].bytes > bufs[size_t(b)].bytes; });
  orders.push_back({"greedy by size", by_size});
  // 2. greedy by breadth: positions with the most live bytes first, their buffers largest first
  std::vector<int> pos(static_cast<size_t>(positions));
  std::iota(pos.begin(), pos.end(), 0);
  std::stable_sort(pos.begin(), pos.end(), [&](int a, int b) { return live[size_t(a)] > live[size_t(b)]; });
  std::vector<int> by_breadth;
  std::vector<bool> taken(size_t(n), false);
  for (int p : pos) {
    std::vector<int> here;
    for (int b = 0; b < n; ++b)
      if (!taken[size_t(b)] && bufs[size_t(b)].first <= p && p <= bufs[size_t(b)].last) here.push_back(b);
    std::stable_sort(here.begin(), here.end(), [&](int a, int b) { return bufs[size_t(a)].bytes > bufs[size_t(b)].bytes; });
    for (int b : here) {
      taken[size_t(b)] = true;
      by_breadth.push_back(b);
    }
  }
  orders.push_back({"greedy by breadth", by_breadth});
  // 3. in order of first use
  std::vector<int> in_order = idx;
  std::stable_sort(in_order.begin(), in_order.end(), [&](int a, int b) { return bufs[size_t(a)].first < bufs[size_t(b)].first; });
  orders.push_back({"in-order best fit", in_order});
  // 4. and 5.: the largest bytes x lifetime first, the longest-lived first
  auto span = [&](int b) { return size_t(bufs[size_t(b)].last - bufs[size_t(b)].first + 1); };
  std::vector<int> by_area = idx, by_span = idx;
  std::stable_sort(by_area.begin(), by_area.end(), [&](int a, int b) { return bufs[size_t(a)].bytes * span(a) > bufs[size_t(b)].bytes * span(b); });
  std::stable_sort(by_span.begin(), by_span.end(), [&](int a, int b) {
    return span(a) != span(b) ? span(a) > span(b) : bufs[size_t(a)].bytes > bufs[size_t(b)].bytes;
  });
  orders.push_back({"greedy by area", by_area});
  orders.push_back({"greedy by lifetime", by_span});

  // 6. perturbations of the size order (seeded, so plans are reproducible):
  // interval packing is NP-hard and the orders above can leave gaps.
  if (n > 1 && n <= 4000) {
    uint64_t state = 0x9e3779b97f4a7c15ull;
    auto next = [&] { return state = state * 6364136223846793005ull + 1442695040888963407ull; };
    const int tries = std::min(256, int(4'000'000 / (int64_t(n) * n) + 1));
    for (int t = 0; t < tries; ++t) {
      std::vector<int> o = by_size;
      for (int k = 0; k < std::max(1, n / 8); ++k) std::swap(o[size_t(next() >> 33) % size_t(n)], o[size_t(next() >> 33) % size_t(n)]);
      orders.push_back({"perturbed size order", o});
    }
  }
  size_t best = std::numeric_limits<size_t>::max();
  std::vector<size_t> best_offsets;
  for (auto& [name, order] : orders) {
    const size_t arena = place_in_order(bufs, order);
    if (arena < best) {
      best = arena;
      plan.algorithm = name;
      best_offsets.clear();
      for (const Buffer& b : bufs) best_offsets.push_back(b.offset);
    }
  }
  for (int b = 0; b < n; ++b) bufs[size_t(b)].offset = best_offsets.empty() ? 0 : best_offsets[size_t(b)];
  plan.arena_bytes = n ? best : 0;
}

MemoryPlan plan_memory(const ir::Graph& g, const std::vector<int>& order, const std::vector<ir::ValueType>& types, bool in_place,
                       size_t alignment) {
  MemoryPlan plan = ir::collect_buffers(g, order, types, in_place, alignment);
  place_buffers(plan);
  return plan;
}

MemoryPlan plan_memory_default(const ir::Graph& g, const std::vector<int>& order, const std::vector<ir::ValueType>& types) {
  return plan_memory(g, order, types);
}

}  // namespace pareto::passes
