// What the roofline and the cache model need to know about this machine:
// cache sizes (sysfs), the multiply-add peak per precision and the memory
// read bandwidth, both measured here.
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace pareto::profile {

struct MachineInfo {
  std::string cpu;
  int threads = 1;
  // Per core (l1d, l2) and shared (llc), bytes; 0 where the system does not say.
  uint64_t l1d = 0, l2 = 0, llc = 0;
  std::string cache_source;  // sysfs, sysconf (CPUID), or the user's override
  // Per thread GMAC/s by precision (fp32, bf16, int8), 0 where unmeasured.
  std::map<std::string, double> peak_gmacs;
  double bandwidth_gbs = 0;  // all threads
  bool measured = false;

  // The operations ceiling (GOP/s, a multiply-add is two) of a precision at
  // `threads`: fp16 weights compute in f32, int4w in int8.
  double peak_gops(const std::string& precision) const;
};

// Reads the cache hierarchy from `sysfs_cpu` (/sys/devices/system/cpu by
// default); with `measure`, runs the peak and bandwidth probes (about a
// second) on the current thread pool.
MachineInfo probe_machine(int threads, bool measure, const std::string& sysfs_cpu = "/sys/devices/system/cpu");

// "32K", "1024K", "32M", "49152" -> bytes; 0 when malformed or above 1 TiB.
uint64_t parse_cache_size(const std::string& text);

}  // namespace pareto::profile
