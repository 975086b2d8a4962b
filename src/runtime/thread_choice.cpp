#include "runtime/thread_choice.h"

#include <algorithm>

namespace pareto::runtime {

namespace {

double median_of(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(v.size() / 2), v.end());
  return v[v.size() / 2];
}

}  // namespace

ThreadChoice::Run ThreadChoice::begin(std::vector<int64_t> key) {
  std::lock_guard<std::mutex> lock(mutex_);
  Run run;
  auto it = shapes_.find(key);
  if (it == shapes_.end()) {
    if (shapes_.size() >= kMaxShapes) return run;  // too many shapes to learn: all split, as without learning
    it = shapes_.emplace(key, std::make_unique<Learned>()).first;
  }
  Learned& l = *it->second;
  if (l.done) {
    run.chosen = &l.chosen;  // never changes once done; the map keeps the entry
    return run;
  }
  // The modes of the step in turn, so a slow spell of the machine lands on
  // each.
  run.trial = kSplit;
  for (int m : {kInline, kChosen})
    if ((m != kChosen || l.checking) && l.started[m] < l.started[run.trial]) run.trial = m;
  ++l.started[run.trial];
  if (run.trial == kChosen) run.trial_choice = l.chosen;  // a copy: a concurrent run may end the learning and rewrite l.chosen
  run.seconds.assign(nodes_, 0.0);
  run.key = std::move(key);
  return run;
}

void ThreadChoice::finish_node_trials(Learned& l) const {
  l.chosen.assign(nodes_, 0);
  bool any = false;
  std::vector<double> split(kTrials), in(kTrials);
  for (size_t i = 0; i < nodes_; ++i) {
    for (int t = 0; t < kTrials; ++t) split[size_t(t)] = l.node_times[kSplit][size_t(t) * nodes_ + i], in[size_t(t)] = l.node_times[kInline][size_t(t) * nodes_ + i];
    any |= (l.chosen[i] = median_of(in) < median_of(split));
  }
  if (!any) {
    l.done = true;
    return;
  }
  l.checking = true;
  std::fill(std::begin(l.started), std::end(l.started), 0);
}

double ThreadChoice::total(const Run& run) {
  double t = 0;
  for (double s : run.seconds) t += s;
  return t;
}

void ThreadChoice::finish(Run& run) {
  if (!run.timing()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  Learned& l = *shapes_.at(run.key);
  if (l.done) return;
  const int mode = run.trial;
  if (!l.checking) {
    auto& times = l.node_times[mode];
    if (times.size() >= size_t(kTrials) * nodes_) return;  // enough of this mode (a run begun before the others ended)
    times.insert(times.end(), run.seconds.begin(), run.seconds.end());
    if (l.node_times[kSplit].size() == size_t(kTrials) * nodes_ && l.node_times[kInline].size() == size_t(kTrials) * nodes_) finish_node_trials(l);
    return;
  }
  auto& runs = l.run_times[mode];
  if (runs.size() < size_t(kTrials)) runs.push_back(total(run));
  for (const auto& r : l.run_times)
    if (r.size() < size_t(kTrials)) return;
  // The fastest whole runs (median) win: every node split, the choice, or
  // every node inline; ties go to splitting, as for single nodes.
  const double split = median_of(l.run_times[kSplit]), chosen = median_of(l.run_times[kChosen]), in = median_of(l.run_times[kInline]);
  if (in < chosen && in < split) std::fill(l.chosen.begin(), l.chosen.end(), 1);
  else if (!(chosen < split)) std::fill(l.chosen.begin(), l.chosen.end(), 0);
  l.done = true;
}

int ThreadChoice::inline_count(const std::vector<int64_t>& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = shapes_.find(key);
  if (it == shapes_.end() || !it->second->done) return -1;
  return int(std::count(it->second->chosen.begin(), it->second->chosen.end(), 1));
}

bool ThreadChoice::learning() const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [key, l] : shapes_)
    if (!l->done) return true;
  return false;
}

}  // namespace pareto::runtime
