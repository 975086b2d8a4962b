#include "core/cpu.h"

#include <thread>

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace pareto {

namespace {

#if defined(__x86_64__) || defined(__i386__)
unsigned long long read_xcr0() {
  unsigned eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

bool request_amx_tile_state() {
#if defined(__linux__) && defined(SYS_arch_prctl)
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtileData = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtileData) == 0;
#else
  return false;
#endif
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  bool osxsave = c & bit_OSXSAVE;
  unsigned long long xcr0 = osxsave ? read_xcr0() : 0;
  bool ymm_ok = (xcr0 & 0x6) == 0x6;
  bool zmm_ok = (xcr0 & 0xe6) == 0xe6;
  f.fma = ymm_ok && (c & bit_FMA);
  f.f16c = ymm_ok && (c & bit_F16C);
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.avx2 = ymm_ok && (b & bit_AVX2);
    f.bmi2 = (b & bit_BMI2) != 0;
    f.avx512f = zmm_ok && (b & bit_AVX512F);
    f.avx512bw = zmm_ok && (b & bit_AVX512BW);
    f.avx512vl = zmm_ok && (b & bit_AVX512VL);
    f.avx512vnni = zmm_ok && (c & bit_AVX512VNNI);
    f.avx512vbmi = zmm_ok && (c & bit_AVX512VBMI);
    f.avx512fp16 = zmm_ok && (d & (1u << 23));
    // AMX-TILE (bit 24) with AMX-INT8 (25) / AMX-BF16 (22); XCR0 bits 17-18: tile config and data.
    const bool tiles = (d & (1u << 24)) && (xcr0 & 0x60000) == 0x60000;
    f.amx_int8 = tiles && (d & (1u << 25));
    f.amx_bf16 = tiles && (d & (1u << 22));
  }
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) {
    f.avxvnni = ymm_ok && (a & (1u << 4));
    f.avx512bf16 = zmm_ok && (a & (1u << 5));
  }
  unsigned brand[12] = {};
  if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000004) {
    for (unsigned i = 0; i < 3; ++i)
      __get_cpuid(0x80000002 + i, &brand[4 * i], &brand[4 * i + 1], &brand[4 * i + 2], &brand[4 * i + 3]);
    f.brand.assign(reinterpret_cast<const char*>(brand), 48);
    f.brand = f.brand.c_str();
    while (!f.brand.empty() && f.brand.front() == ' ') f.brand.erase(f.brand.begin());
    while (!f.brand.empty() && f.brand.back() == ' ') f.brand.pop_back();
  }
  return f;
}
#elif defined(__aarch64__) && defined(__linux__)
CpuFeatures detect() {
  CpuFeatures f = arm_features_from_hwcaps(getauxval(AT_HWCAP), getauxval(AT_HWCAP2));
  f.brand = "AArch64";
  return f;
}
bool request_amx_tile_state() { return false; }
#else
CpuFeatures detect() { return {}; }
bool request_amx_tile_state() { return false; }
#endif

}  // namespace

CpuFeatures arm_features_from_hwcaps(unsigned long hwcap, unsigned long hwcap2) {
  // Bit numbers from Linux's arch/arm64/include/uapi/asm/hwcap.h.
  auto bit = [](unsigned long word, int n) { return ((word >> n) & 1) != 0; };
  CpuFeatures f;
  f.neon = bit(hwcap, 1);                  // HWCAP_ASIMD
  f.fp16 = f.neon && bit(hwcap, 10);       // HWCAP_ASIMDHP
  f.dotprod = f.neon && bit(hwcap, 20);    // HWCAP_ASIMDDP
  f.sve = bit(hwcap, 22);                  // HWCAP_SVE
  f.sve2 = f.sve && bit(hwcap2, 1);        // HWCAP2_SVE2
  f.i8mm = f.neon && bit(hwcap2, 13);      // HWCAP2_I8MM
  f.arm_bf16 = f.neon && bit(hwcap2, 14);  // HWCAP2_BF16
  f.sme = bit(hwcap2, 23);                 // HWCAP2_SME
  return f;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

bool amx_tile_state_granted() {
  static const bool granted = (cpu_features().amx_int8 || cpu_features().amx_bf16) && request_amx_tile_state();
  return granted;
}

std::string cpu_features_string() {
  const CpuFeatures& f = cpu_features();
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (on) s += std::string(s.empty() ? "" : " ") + name;
  };
  add(f.avx2, "avx2");
  add(f.fma, "fma");
  add(f.f16c, "f16c");
  add(f.avx512f, "avx512f");
  add(f.avx512bw, "avx512bw");
  add(f.avx512vl, "avx512vl");
  add(f.avx512vnni, "avx512vnni");
  add(f.bmi2, "bmi2");
  add(f.avx512vbmi, "avx512vbmi");
  add(f.avx512bf16, "avx512bf16");
  add(f.avx512fp16, "avx512fp16");
  add(f.avxvnni, "avxvnni");
  add(f.amx_int8, "amx_int8");
  add(f.amx_bf16, "amx_bf16");
  add(f.neon, "neon");
  add(f.fp16, "fp16");
  add(f.dotprod, "dotprod");
  add(f.i8mm, "i8mm");
  add(f.arm_bf16, "bf16");
  add(f.sve, "sve");
  add(f.sve2, "sve2");
  add(f.sme, "sme");
  return s.empty() ? "baseline" : s;
}

int cpu_count() {
  unsigned n = std::thread::hardware_concurrency();
  return n ? int(n) : 1;
}

}  // namespace pareto
