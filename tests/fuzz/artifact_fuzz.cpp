// libFuzzer target for the compiled-artifact reader. The checksum is fixed
// up first so mutations reach the parser rather than stopping at the
// checksum test. Build and run: scripts/fuzz-artifact.sh [SECONDS].
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "frontend/artifact/artifact.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::shared_ptr<uint8_t> buf(static_cast<uint8_t*>(std::aligned_alloc(64, (size + 64) / 64 * 64)), std::free);
  std::memcpy(buf.get(), data, size);
  if (size >= 64) {
    const uint64_t h = pareto::artifact::checksum(buf.get() + 64, size - 64);
    std::memcpy(buf.get() + 24, &h, 8);
  }
  try {
    pareto::artifact::load_from_memory(buf.get(), size, "fuzz", buf);
  } catch (const pareto::Error&) {
  } catch (const std::bad_alloc&) {
    std::abort();  // a size the reader should have refused before allocating
  }
  return 0;
}
