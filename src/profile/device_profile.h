// Device energy profiles: the coefficients of the profiler's energy estimate
//   energy = sum(multiply-adds x pJ per MAC of their precision)
//          + sum(other ops x pJ per elementwise op)
//          + sum(bytes x pJ per byte of the level they come from)
//          + static watts x active cores x time.
// The numbers live in data/devices/*.json, each with its source; the build
// embeds those files (cmake/embed_devices.cmake), so the built-in profiles
// and the files cannot drift apart. docs/ENERGY.md explains the model.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace pareto::profile {

struct DeviceProfile {
  std::string name, description;
  // One multiply-add (multiply + accumulate), pJ, by precision:
  // fp32, fp16, bf16, int8, int4w. Maps, so a precision string indexes them.
  std::map<std::string, double> pj_per_mac;
  double pj_per_elementwise_op = 0;  // one f32 add/compare-class op, pJ
  // One byte read or written, pJ, by the level it comes from: l1, l2, llc, dram.
  std::map<std::string, double> pj_per_byte;
  double static_watts = 0;  // per active core, leakage and uncore share while running
  // Where each number comes from, keyed "pj_per_mac.fp32", ..., "static_watts".
  std::map<std::string, std::string> sources;
};

// Parses and validates a profile: every field present, no unknown field,
// every number finite, >= 0 and plausible (< 1e6 pJ, < 1000 W), and a
// source for every number. Throws pareto::Error (invalid_argument) whose
// message names `origin` and the field.
DeviceProfile parse_device_profile(const std::string& json_text, const std::string& origin);

// The profiles built in from data/devices/*.json, by file stem
// ("arm-phone", "x86-avx512"), sorted.
std::vector<std::string> builtin_device_profile_names();
// The embedded JSON text of a built-in profile, as in its file.
std::string builtin_device_profile_text(const std::string& name);
// A built-in profile; an unknown name throws, listing the known names.
DeviceProfile builtin_device_profile(const std::string& name);

// A path when `name_or_path` ends in ".json" or contains '/' (read from
// disk; io_error when unreadable), a built-in name otherwise.
DeviceProfile load_device_profile(const std::string& name_or_path);

}  // namespace pareto::profile
