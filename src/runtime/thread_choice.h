// Which nodes of a graph run faster inline on the calling thread than split
// over the session's pool, learned from the session's own runs.
//
// Splitting a node over threads pays a region's start and, where the two
// cores share no cache (two vCPUs on different dies of a server), every
// activation line the other core wrote. On PP-OCR cls (76 nodes of 1-20 us)
// two threads ran the model 2-3x slower than one. Which nodes lose depends
// on the machine and the input shape, so it is measured, not guessed:
//  1. the first runs of each input shape alternate between every node split
//     and every node inline, timing each node; after kTrials runs of each, a
//     node is chosen inline when its median inline time beat its median
//     split one;
//  2. nodes affect each other (an inline node leaves the other core idle
//     long enough to go to sleep, and its output in this core's cache), so
//     the choice is then checked whole: runs with it, with every node split
//     and with every node inline take turns, kTrials of each, and the one
//     with the fastest median run is kept (medians: a single lucky run
//     must not decide).
// An inline node runs as in a one-thread session (core/thread_pool.h
// InlineScope), and kernels give the same result at any thread count, so
// outputs are the same bit for bit whatever is chosen.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace pareto::runtime {

class ThreadChoice {
 public:
  static constexpr int kTrials = 5;         // timed runs per mode in each step (odd: a true median)
  static constexpr size_t kMaxShapes = 16;  // input shapes learned per graph; others run split

  enum Mode : int { kSplit = 0, kInline = 1, kChosen = 2 };

  // One run of the graph: which nodes run inline, and (while learning) the
  // node times to report back.
  struct Run {
    const std::vector<uint8_t>* chosen = nullptr;  // once learned, per node: 1 inline (null: all split)
    std::vector<uint8_t> trial_choice;             // a step-2 learning run's own copy of the choice it tries
    int trial = -1;                                // a learning run's Mode; -1 not learning
    std::vector<double> seconds;                   // learning: each node's time in this run
    std::vector<int64_t> key;
    bool run_inline(size_t pos) const {
      if (trial == kInline || trial == kSplit) return trial == kInline;
      if (trial == kChosen) return trial_choice[pos];
      return chosen && (*chosen)[pos];
    }
    bool timing() const { return trial >= 0; }
  };

  explicit ThreadChoice(size_t nodes) : nodes_(nodes) {}
  // `key` names the input shapes; returns how to run this one.
  Run begin(std::vector<int64_t> key);
  // A run that completed: its node times count towards the choice.
  void finish(Run& run);
  // Nodes chosen inline for `key` (-1: still learning or never seen).
  int inline_count(const std::vector<int64_t>& key) const;
  // True while some input shape seen is still being learned (with input
  // shapes that keep changing it may stay true: each shape learns only from
  // its own runs).
  bool learning() const;

 private:
  struct Learned {
    bool checking = false;  // step 2
    bool done = false;
    int started[3] = {0, 0, 0};
    std::vector<double> node_times[2];  // step 1: run after run, each node's time split / inline
    std::vector<double> run_times[3];   // step 2: whole runs (sums of node times) split / inline / chosen
    std::vector<uint8_t> chosen;  // handed to runs by pointer only once done (then never written again)
  };
  void finish_node_trials(Learned& l) const;
  static double total(const Run& run);
  size_t nodes_;
  mutable std::mutex mutex_;
  std::map<std::vector<int64_t>, std::unique_ptr<Learned>> shapes_;
};

}  // namespace pareto::runtime
