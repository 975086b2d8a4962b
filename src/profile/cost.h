// What one op costs a device, counted analytically: multiply-adds by
// precision, other arithmetic, and the bytes it reads and writes. The
// profiler turns these into cache levels, a roofline position and energy
// (profile/analysis.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pareto::profile {

// weight: constant model data; state: data kept across passes (a KV cache);
// activation: produced and consumed within the pass.
enum class AccessKind { weight, state, activation };

// A read or write of one tensor. `id` names the memory (its address), so the
// cache model can tell when the same bytes come back.
struct Access {
  uintptr_t id = 0;
  uint64_t bytes = 0;
  AccessKind kind = AccessKind::activation;
  bool write = false;
};

struct OpCost {
  // The precision of the multiply-adds: fp32, bf16, fp16 (f16 weights, f32
  // sums), int8, int4w (weights of at most 6 bits unpacked for int8 dots).
  std::string precision = "fp32";
  uint64_t macs = 0;
  uint64_t elementwise = 0;  // other arithmetic, counted per element
  std::vector<Access> accesses;

  // Operations for the roofline: a multiply-add is two.
  double ops() const { return 2.0 * double(macs) + double(elementwise); }
  uint64_t bytes(AccessKind kind, bool write) const;
};

// One timed op of a run, in execution order.
struct OpRecord {
  std::string name, op;
  double seconds = 0;
  int depth = 0;  // nesting in control-flow bodies
  OpCost cost;
  uint64_t live_bytes = 0;  // activations held after it ran
  std::string kernel;  // the kernel path it took, where the op names one
};

}  // namespace pareto::profile
