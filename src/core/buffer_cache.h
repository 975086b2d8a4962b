// Large tensor buffers kept when freed, for the next run that asks for the
// same size.
//
// Why: glibc gives buffers above its mmap threshold back to the kernel on
// free, and the next run's buffer of the same size is new pages again, each
// faulted in and zeroed on first touch. In a VM that returns freed guest
// pages to the host the fault is a host fault too: PP-OCR det's 1.6 MB
// output (written by one Sigmoid) cost ~5 ms of page faults per run, more
// than the op, on the Firecracker VM this was measured on. ONNX Runtime's
// arena allocator keeps such buffers for the same reason.
//
// Buffers of at least kMinBytes are cached by their page-rounded size, the
// most recently freed reused first, up to a byte cap (PARETO_TENSOR_CACHE_MB,
// default 64; 0 turns the cache off); past the cap the oldest go back to the
// system. Sanitizer builds do not cache (a reused buffer would hide a
// use-after-free from ASan).
#pragma once
#include <cstddef>

namespace pareto {

// A 64-byte-aligned buffer of at least `bytes` (a multiple of 64); null when
// the system has no memory. Release it with release_buffer(p, bytes).
void* acquire_buffer(size_t bytes);
void release_buffer(void* p, size_t bytes);
// Gives every cached buffer back to the system.
void trim_buffer_cache();
// Bytes cached now (for tests and reports).
size_t buffer_cache_bytes();

}  // namespace pareto
