// Memory read bandwidth probe: the roofline that decode speed is judged against.
#pragma once
#include <cstddef>

namespace pareto::kernels {

// Reads a `bytes`-sized buffer (make it far larger than the last-level cache)
// `repeats` times with the current thread-pool width; returns the best GB/s (as STREAM reports).
double measure_read_bandwidth(size_t bytes, int repeats);

}  // namespace pareto::kernels
