#include "runtime/thread_choice.h"

#include <algorithm>
#include <limits>

namespace pareto::runtime {

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
  // Alternate the two modes of the step, so a slow spell of the machine
  // lands on both.
  const int other = l.checking ? kChosen : kInline;
  run.trial = l.started[kSplit] <= l.started[other] ? kSplit : other;
  ++l.started[run.trial];
  if (run.trial == kChosen) run.trial_choice = l.chosen;  // a copy: a concurrent run may end the learning and rewrite l.chosen
  run.seconds.assign(nodes_, 0.0);
  run.key = std::move(key);
  return run;
}

void ThreadChoice::finish_node_trials(Learned& l) const {
  l.chosen.assign(nodes_, 0);
  bool any = false;
  for (size_t i = 0; i < nodes_; ++i) any |= (l.chosen[i] = l.best[kInline][i] < l.best[kSplit][i]);
  if (!any) {
    l.done = true;
    return;
  }
  l.checking = true;
  std::fill(std::begin(l.started), std::end(l.started), 0);
  std::fill(std::begin(l.finished), std::end(l.finished), 0);
  l.best_run[kChosen] = kNever;  // split's and inline's carry over from step 1
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
    auto& best = l.best[mode];
    if (best.empty()) best.assign(nodes_, std::numeric_limits<double>::infinity());
    for (size_t i = 0; i < nodes_; ++i) best[i] = std::min(best[i], run.seconds[i]);
    l.best_run[mode] = std::min(l.best_run[mode], total(run));
    if (++l.finished[mode] >= kTrials && l.finished[1 - mode] >= kTrials) finish_node_trials(l);
    return;
  }
  if (mode == kInline) return;  // a step-1 run that ended after step 2 began
  l.best_run[mode] = std::min(l.best_run[mode], total(run));
  if (++l.finished[mode] < kTrials || l.finished[mode == kSplit ? kChosen : kSplit] < kTrials) return;
  // The fastest whole runs win: the choice, every node split, or (from
  // step 1) every node inline.
  // Ties go to splitting, as for single nodes.
  if (l.best_run[kInline] < l.best_run[kChosen] && l.best_run[kInline] < l.best_run[kSplit]) std::fill(l.chosen.begin(), l.chosen.end(), 1);
  else if (!(l.best_run[kChosen] < l.best_run[kSplit])) std::fill(l.chosen.begin(), l.chosen.end(), 0);
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
