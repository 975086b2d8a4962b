// A small persistent thread pool. parallel_for splits [0, n) into at most
// num_threads() contiguous chunks; the calling thread takes the first.
#pragma once
#include <cstdint>
#include <functional>

namespace pareto {

void set_num_threads(int n);
int num_threads();
void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn);

}  // namespace pareto
