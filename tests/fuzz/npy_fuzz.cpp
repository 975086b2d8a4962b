// libFuzzer target for NumPy .npy inputs (pareto run --input NAME=FILE.npy):
// magic, version, header length, the header dictionary and the data size.
#include "fuzz_support.h"
#include "api/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static pareto::fuzz::MemFile file("fuzz.npy");
  const std::string& path = file.write(data, size);
  pareto::fuzz::expect_clean_refusal([&] { pareto::api::read_npy(path); });
  return 0;
}
