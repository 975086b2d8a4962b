// The thread pools are part of the public API (include/pareto/thread_pool.hpp):
// applications run their own parallel work on them, as the OCR pipeline does.
#pragma once
#include "pareto/thread_pool.hpp"

namespace pareto {

// Until the scope ends, work on this thread runs exactly as in a one-thread
// session: parallel_for calls run inline and num_threads() answers 1
// (kernels size their tasks by it: a 1x1 int8 conv cut into 4 tasks per
// thread re-reads its weights per task, which only pays when the tasks run
// in parallel). The ONNX-path kernels only re-partition work by the thread
// count (no reduction is split by it), so their outputs do not change. The
// executor uses it for nodes too small to gain from the pool (a region's
// wake-up and the cache lines that cross between cores cost more than half
// of their work).
class InlineScope {
 public:
  InlineScope();
  ~InlineScope();
  InlineScope(const InlineScope&) = delete;
  InlineScope& operator=(const InlineScope&) = delete;

 private:
  bool saved_, saved_one_;
};

}  // namespace pareto
