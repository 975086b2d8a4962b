// Which cores this machine has and which of them to run on. Phones and Arm
// laptops mix core kinds (big.LITTLE, DynamIQ: 1 prime + 3 big + 4 little
// and the like); a parallel step waits for its slowest thread, so a thread
// on a little core drags the whole step to its pace. The topology is read
// from Linux's sysfs (cpu_capacity where the kernel exports it, else each
// core's maximum frequency) and cores of equal capacity and frequency form a
// cluster.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pareto {

struct CpuCore {
  int id = 0;
  int64_t capacity = 0;  // sysfs cpu_capacity (1024 = the fastest core), 0 when absent
  int64_t max_khz = 0;   // cpufreq/cpuinfo_max_freq, 0 when absent
  int first_sibling = 0;  // lowest id of its SMT siblings (topology/thread_siblings_list): one per physical core
};

struct CpuCluster {
  std::vector<int> cpus;
  int64_t capacity = 0, max_khz = 0;
};

struct CpuTopology {
  std::vector<CpuCore> cores;        // online cores, by id
  std::vector<CpuCluster> clusters;  // fastest first
  // The cores a default run uses: every cluster within half of the fastest
  // one's capacity (prime and big cores together, as on a 1+3+4 phone), or
  // without capacities above 3/4 of the top clock, or all cores when they are
  // alike or nothing tells them apart; one logical cpu per physical core
  // (SMT siblings share its units).
  std::vector<int> performance_cpus() const;
  std::string describe() const;  // "4x cap 1024 2.84 GHz + 4x cap 410 1.8 GHz"
};

// Reads the topology under `sysfs_cpu` (a fake tree in tests). A missing or
// unreadable tree gives one cluster of hardware_concurrency() cores.
CpuTopology read_cpu_topology(const std::string& sysfs_cpu = "/sys/devices/system/cpu");
// The machine's topology, read once.
const CpuTopology& cpu_topology();
// Linux cpu list syntax ("0-3,6,8-11") -> ids; throws std::invalid_argument
// on malformed text or ids past `max_id`.
std::vector<int> parse_cpu_list(const std::string& text, int max_id = 4095);
// A hexadecimal CPU mask ("0xF0", "f0": bit i = cpu i) -> ids; throws std::invalid_argument.
std::vector<int> parse_cpu_mask(const std::string& hex);

// Where the threads of parallel regions run. Empty: wherever the OS puts
// them. Otherwise each thread is limited to `cpus`; strict pins thread i of
// a pool to cpus[i % size] (the calling thread is thread 0). Applies to the
// calling thread now and to pool threads started afterwards.
void set_cpu_placement(const std::vector<int>& cpus, bool strict);
// The cpus set by set_cpu_placement (empty: none).
std::vector<int> cpu_placement();
// The cpus this process may run on (sched_getaffinity: taskset, cgroup
// cpusets); empty where unknown.
std::vector<int> allowed_cpus();
// Applies the placement to the calling thread as pool thread `index`;
// false when the OS refused (the error is not fatal: threads run unpinned).
bool apply_cpu_placement(int index);

}  // namespace pareto
