#include "quant/mix_search.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>
#include <random>
#include <set>

#include "core/error.h"

namespace pareto::quant {

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Measures mixes once each: a mix met again (a child equal to a parent) costs nothing.
struct Archive {
  const MixSpace& space;
  const MixMeasure& measure;
  std::vector<MeasuredMix>& points;
  std::set<std::string> seen;

  bool add(const Mix& mix, const std::string& label) {
    if (!seen.insert(mix_key(mix)).second) return false;
    points.push_back({mix, label, mix_bpw(space, mix), measure(mix)});
    return true;
  }
};

// Step 1.
std::vector<std::vector<double>> sensitivities(const MixSpace& s, const MixMeasure& measure, const MixSearchOptions& o) {
  std::vector<std::vector<double>> sens(s.tensors, std::vector<double>(s.formats.size(), 0));
  const int total = int(s.tensors * s.formats.size());
  int done = 0;
  for (size_t i = 0; i < s.tensors; ++i)
    for (size_t f = 0; f < s.formats.size(); ++f) {
      Mix m = s.source;
      m[i] = s.formats[f];
      sens[i][f] = !s.allows(i, s.formats[f]) ? std::numeric_limits<double>::quiet_NaN() : m == s.source ? 0 : measure(m).kl;
      if (o.progress) o.progress("sensitivity", ++done, total);
    }
  return sens;
}

// Step 2: positions are format indices per tensor. cost(i, type): what a
// move saves is cost before minus cost after (bytes, or predicted ms);
// each step takes the move saving the most per unit of added KL.
std::vector<Mix> greedy_path(const MixSpace& s, const std::vector<std::vector<double>>& sens,
                             const std::function<double(size_t, uint32_t)>& cost_of) {
  std::vector<size_t> at(s.tensors, 0);  // each tensor's widest allowed format
  for (size_t i = 0; i < s.tensors; ++i)
    while (!s.allows(i, s.formats[at[i]]))
      if (++at[i] == s.formats.size()) fail_argument("search unit " + std::to_string(i) + " has no allowed format");
  auto mix_of = [&] {
    Mix m(s.tensors);
    for (size_t i = 0; i < s.tensors; ++i) m[i] = s.formats[at[i]];
    return m;
  };
  std::vector<Mix> path{mix_of()};
  for (;;) {
    double best = -1;
    size_t bi = 0, bf = 0;
    for (size_t i = 0; i < s.tensors; ++i) {
      const double now = cost_of(i, s.formats[at[i]]);
      for (size_t f = at[i] + 1; f < s.formats.size(); ++f) {
        const double saved = now - cost_of(i, s.formats[f]);
        if (!(saved > 0) || !s.allows(i, s.formats[f])) continue;  // a tail-group fallback can make two formats the same size
        const double added_kl = std::max(sens[i][f] - sens[i][at[i]], 0.0) + 1e-12;
        const double score = saved / added_kl;
        if (score > best) best = score, bi = i, bf = f;
      }
    }
    if (best < 0) return path;
    at[bi] = bf;
    path.push_back(mix_of());
  }
}

// The path's points nearest to `points` evenly spaced values of x (its ends included).
std::vector<size_t> spread_along(const std::vector<Mix>& path, int points, const std::function<double(const Mix&)>& x) {
  std::vector<size_t> picked;
  const double hi = x(path.front()), lo = x(path.back());
  for (int k = 0; k < points; ++k) {
    const double want = points == 1 ? lo : hi + (lo - hi) * k / double(points - 1);
    size_t best = 0;
    for (size_t p = 1; p < path.size(); ++p)
      if (std::abs(x(path[p]) - want) < std::abs(x(path[best]) - want)) best = p;
    picked.push_back(best);
  }
  return picked;
}

// Step 4.
void evolve(const MixSpace& s, Archive& archive, const MixSearchOptions& o, double t0, MixSearchResult& r) {
  std::mt19937_64 rng(o.seed);
  auto index_of = [&](uint32_t type) { return size_t(std::find(s.formats.begin(), s.formats.end(), type) - s.formats.begin()); };
  for (int g = 0; g < o.generations; ++g) {
    if (o.time_budget_s > 0 && now_s() - t0 > o.time_budget_s) {
      r.stopped_by_budget = true;
      return;
    }
    // Parents: measured points whose every type is a candidate format (not the source).
    std::vector<size_t> pool;
    for (size_t i = 0; i < archive.points.size(); ++i) {
      bool ok = true;
      for (uint32_t t : archive.points[i].mix) ok &= index_of(t) < s.formats.size();
      if (ok) pool.push_back(i);
    }
    if (pool.size() < 2) return;
    // Ranked on bits, KL and, with a cost model, predicted decode time:
    // on bits and KL alone, a mix as small and as good but slower ranks
    // with the faster one, and the search drifted to formats that read no
    // faster per byte (session 40's 1.1B tune: at each llama.cpp mix's KL
    // a point 0.3-7% smaller but no faster).
    std::vector<std::vector<double>> objectives(s.ms ? 3 : 2);
    for (const MeasuredMix& m : archive.points) {
      objectives[0].push_back(m.bpw);
      objectives[1].push_back(m.quality.kl);
      if (s.ms) objectives[2].push_back(mix_ms(s, m.mix));
    }
    const std::vector<int> rank = front_ranks(objectives);
    auto tournament = [&] {
      const size_t a = pool[rng() % pool.size()], b = pool[rng() % pool.size()];
      return rank[a] <= rank[b] ? a : b;
    };
    for (int c = 0; c < o.population; ++c) {
      const std::string label = "evolved g" + std::to_string(g + 1) + "." + std::to_string(c + 1);
      const Mix &pa = archive.points[tournament()].mix, &pb = archive.points[tournament()].mix;
      Mix child(s.tensors);
      for (size_t i = 0; i < s.tensors; ++i) child[i] = (rng() & 1) ? pa[i] : pb[i];
      // One format step on at least one tensor, on average two.
      const size_t forced = rng() % s.tensors;
      for (size_t i = 0; i < s.tensors && s.formats.size() > 1; ++i) {
        if (i != forced && rng() % s.tensors >= 1) continue;
        // The next allowed format down or up (GPTQ choices skip the embedding); none: as it is.
        const size_t f = index_of(child[i]);
        const bool down = (rng() & 1) ? f + 1 < s.formats.size() : f == 0;
        for (size_t g = f; down ? g + 1 < s.formats.size() : g > 0;) {
          g = down ? g + 1 : g - 1;
          if (s.allows(i, s.formats[g])) {
            child[i] = s.formats[g];
            break;
          }
        }
      }
      archive.add(child, label);
      if (o.progress) o.progress("evolution", g * o.population + c + 1, o.generations * o.population);
    }
    r.generations_run = g + 1;
  }
}

}  // namespace

double mix_bpw(const MixSpace& space, const Mix& mix) {
  uint64_t b = 0;
  for (size_t i = 0; i < mix.size(); ++i) b += space.bytes(i, mix[i]);
  return space.weights ? 8.0 * double(b) / double(space.weights) : 0;
}

double mix_ms(const MixSpace& space, const Mix& mix) {
  double t = 0;
  if (space.ms)
    for (size_t i = 0; i < mix.size(); ++i) t += space.ms(i, mix[i]);
  return t;
}

std::vector<int> front_ranks(const std::vector<std::vector<double>>& objectives) {
  const size_t n = objectives.empty() ? 0 : objectives[0].size();
  for (const std::vector<double>& o : objectives)
    if (o.size() != n) fail(StatusCode::internal, "front ranks need every objective for every point");
  // j dominates i: no worse on every objective, better on one.
  auto dominates = [&](size_t j, size_t i) {
    bool better = false;
    for (const std::vector<double>& o : objectives) {
      if (!(o[j] <= o[i])) return false;  // a NaN on either side: no domination
      better |= o[j] < o[i];
    }
    return better;
  };
  std::vector<int> rank(n, -1);
  size_t left = n;
  for (int r = 0; left > 0; ++r) {
    std::vector<size_t> now;
    for (size_t i = 0; i < n; ++i) {
      if (rank[i] >= 0) continue;
      bool dominated = false;
      for (size_t j = 0; j < n && !dominated; ++j) dominated = j != i && rank[j] < 0 && dominates(j, i);
      if (!dominated) now.push_back(i);
    }
    // Domination is a strict order (a NaN dominates nothing), so some
    // remaining point is always undominated and the loop ends.
    for (size_t i : now) rank[i] = r;
    left -= now.size();
  }
  return rank;
}

std::string mix_key(const Mix& mix) {
  std::string k;
  for (uint32_t t : mix) k += std::to_string(t) + ",";
  return k;
}

std::vector<size_t> xy_front(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size()) fail(StatusCode::internal, "a front needs an x and a y per point");
  const std::vector<int> rank = front_ranks({x, y});
  std::vector<size_t> front;
  for (size_t i = 0; i < rank.size(); ++i)
    if (rank[i] == 0) front.push_back(i);
  return front;
}

std::vector<size_t> bpw_kl_front(const std::vector<MeasuredMix>& points) {
  std::vector<double> bpw, kl;
  for (const MeasuredMix& m : points) bpw.push_back(m.bpw), kl.push_back(m.quality.kl);
  return xy_front(bpw, kl);
}

MixSearchResult search_mixes(const MixSpace& s, const MixMeasure& measure, const std::vector<MeasuredMix>& seeds, const MixSearchOptions& o) {
  if (s.tensors == 0 || s.formats.empty()) fail_argument("tune needs at least one tensor and one format");
  if (s.source.size() != s.tensors) fail(StatusCode::internal, "the source mix does not name every tensor");
  if (o.points < 0 || o.time_points < 0 || o.generations < 0 || o.population < 0)
    fail_argument("points, time points, generations and population cannot be negative");
  const double t0 = now_s();
  MixSearchResult r;
  Archive archive{s, measure, r.points, {}};
  for (const MeasuredMix& m : seeds)
    if (archive.seen.insert(mix_key(m.mix)).second) r.points.push_back(m);
  r.sensitivity = sensitivities(s, measure, o);
  r.path = greedy_path(s, r.sensitivity, [&](size_t i, uint32_t t) { return double(s.bytes(i, t)); });
  // Step 3: the path's points nearest to evenly spaced bits per weight (its ends included).
  int done = 0;
  for (size_t p : spread_along(r.path, o.points, [&](const Mix& m) { return mix_bpw(s, m); })) {
    archive.add(r.path[p], "greedy " + std::to_string(p));
    if (o.progress) o.progress("greedy path", ++done, o.points);
  }
  if (s.ms && o.time_points > 0) {  // the same by predicted decode time
    r.time_path = greedy_path(s, r.sensitivity, s.ms);
    done = 0;
    for (size_t p : spread_along(r.time_path, o.time_points, [&](const Mix& m) { return mix_ms(s, m); })) {
      archive.add(r.time_path[p], "greedy-ms " + std::to_string(p));
      if (o.progress) o.progress("greedy path by time", ++done, o.time_points);
    }
  }
  for (double bits : o.target_bpw) {
    // The path loses bits at every step: the first point within is the widest.
    for (size_t p = 0; p < r.path.size(); ++p)
      if (mix_bpw(s, r.path[p]) <= bits) {
        archive.add(r.path[p], "greedy " + std::to_string(p));
        break;
      }
  }
  evolve(s, archive, o, t0, r);
  return r;
}

namespace {

// `k` of the (x, KL) front's points spread evenly over its x (x: bits or predicted ms).
void spread_over(const std::vector<MeasuredMix>& searched, const std::vector<double>& x, size_t k, std::set<size_t>& pick) {
  std::vector<double> kl;
  for (const MeasuredMix& m : searched) kl.push_back(m.quality.kl);
  std::vector<size_t> front = xy_front(x, kl);
  std::sort(front.begin(), front.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  const size_t n = front.size();
  k = std::min(n, k);
  for (size_t i = 0; i < k; ++i) pick.insert(front[k == 1 ? 0 : i * (n - 1) / (k - 1)]);
}

}  // namespace

std::vector<size_t> points_to_time(const std::vector<MeasuredMix>& pts, size_t first_searched, int cap, const std::vector<double>& predicted_ms,
                                   const std::vector<double>& anchor_bpw, const std::vector<double>& anchor_kl, double max_kl) {
  std::vector<MeasuredMix> searched(pts.begin() + long(first_searched), pts.end());
  std::vector<double> bits, ms(predicted_ms.begin() + long(first_searched), predicted_ms.end());
  for (const MeasuredMix& m : searched) bits.push_back(m.bpw);
  std::set<size_t> pick;
  spread_over(searched, bits, size_t(cap - cap / 2), pick);
  spread_over(searched, ms, size_t(cap / 2), pick);
  std::vector<size_t> front = bpw_kl_front(searched);
  for (double b : anchor_bpw) {
    const size_t* best = nullptr;  // on the front, KL falls as bits grow: the least KL within is the widest within
    for (const size_t& f : front)
      if (searched[f].bpw <= b && (!best || searched[f].bpw > searched[*best].bpw)) best = &f;
    if (best) pick.insert(*best);
  }
  std::vector<double> kls = anchor_kl;
  if (max_kl > 0) kls.push_back(max_kl);
  for (double k : kls) {
    std::optional<size_t> smallest;
    std::vector<size_t> within;
    for (size_t i = 0; i < searched.size(); ++i) {
      if (!(searched[i].quality.kl <= k)) continue;
      if (!smallest || searched[i].bpw < searched[*smallest].bpw) smallest = i;
      within.push_back(i);
    }
    if (smallest) pick.insert(*smallest);
    // The kFastestWithinKl of least predicted time: the cost model's error
    // (a median 6-10% on the 1.1B) exceeds the gaps between the best few.
    // (Session 40 timed only greedy 54, predicted 0.4 ms ahead of evolved
    // g3.2; session 41, where the order flipped, read g3.2 at 0.93x and,
    // in a second run, 0.99x llama.cpp's Q4_K_M.) Ties by index: reproducible.
    std::stable_sort(within.begin(), within.end(), [&](size_t a, size_t b) { return ms[a] < ms[b]; });
    for (size_t j = 0; j < within.size() && j < size_t(kFastestWithinKl); ++j) pick.insert(within[j]);
  }
  std::vector<size_t> out;
  for (size_t i : pick) out.push_back(i + first_searched);
  return out;
}

}  // namespace pareto::quant
