// Shared pieces of the fuzz harnesses (tests/fuzz/*_fuzz.cpp). Each harness
// defines LLVMFuzzerTestOneInput; built with clang's -fsanitize=fuzzer it is a
// libFuzzer target (scripts/fuzz.sh), built with replay_main.cpp it replays
// the kept corpus and crash reproducers as a ctest in every build.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <stdexcept>
#include <string>
#include <typeinfo>

#include "core/error.h"
#include "pareto/limits.hpp"

namespace pareto::fuzz {

// The input as a file, for loaders that take a path: an anonymous in-memory
// file (memfd) reached through /proc/self/fd, so nothing touches the disk.
class MemFile {
 public:
  explicit MemFile(const char* name) : fd_(memfd_create(name, 0)) {
    if (fd_ < 0) std::abort();
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  const std::string& write(const uint8_t* data, size_t size) {
    if (ftruncate(fd_, 0) != 0 || (size && pwrite(fd_, data, size, 0) != ssize_t(size))) std::abort();
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

// Limits for fuzzing: small enough that one input costs milliseconds, not
// minutes (a hostile model may ask for a legitimately huge computation; the
// limits are how a user bounds it, and their checks are what gets fuzzed).
inline const pareto::Limits& fuzz_limits() {
  static const pareto::Limits l = [] {
    pareto::Limits x;
    x.tensor_bytes = uint64_t(16) << 20;
    x.tensor_elements = uint64_t(4) << 20;
    x.context = 4096;
    x.audio_seconds = 600;
    return x;
  }();
  return l;
}

// A refusal with pareto's own error (naming file, field, offset) is the
// expected outcome for a bad input. Any other exception escaping a loader
// is a finding: std::bad_alloc means a size from the file reached an
// allocation unchecked; out_of_range, invalid_argument or length_error mean
// a standard-library call saw a value nobody validated.
template <class F>
void expect_clean_refusal(F&& run) {
  pareto::LimitsScope limits(fuzz_limits());
  try {
    run();
  } catch (const pareto::Error& e) {
    // "internal" marks what should not happen whatever the input: a finding.
    if (e.code() == pareto::StatusCode::internal) {
      std::fprintf(stderr, "fuzz: internal error: %s\n", e.what());
      std::abort();
    }
    // PARETO_FUZZ_VERBOSE=1 shows how far inputs get (a harness whose seeds
    // are all refused at the first check fuzzes nothing).
    static const bool verbose = std::getenv("PARETO_FUZZ_VERBOSE") != nullptr;
    if (verbose) std::fprintf(stderr, "fuzz: refused: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: escaped %s: %s\n", typeid(e).name(), e.what());
    std::abort();
  }
}

// Values that break size arithmetic: zero, one, signed/unsigned edges.
inline uint64_t interesting_u64(std::mt19937_64& rng, uint64_t old) {
  static constexpr uint64_t kValues[] = {0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 255, 256, 0x7fff, 0x8000, 0xffff, 0x10000,
                                         0x7fffffff, 0x80000000u, 0xffffffffu, 0x100000000ull, 0x7fffffffffffffffull,
                                         0x8000000000000000ull, 0xffffffffffffffffull, 0x4000000000000000ull,
                                         0x2000000000000001ull, 0x0000000100000001ull};
  switch (rng() % 5) {
    case 0: return kValues[rng() % (sizeof kValues / sizeof kValues[0])];
    case 1: return old + 1 + rng() % 4;
    case 2: return old - 1 - rng() % 4;
    case 3: return old << (1 + rng() % 32);
    default: return rng() % 64;
  }
}

}  // namespace pareto::fuzz
