// Read-only file mappings. Model weights stay in the file's pages.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace pareto {

class MappedFile {
 public:
  // Maps the whole file read-only; throws io_error naming the path.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Anonymous memory for large read-mostly buffers (repacked weights): 64-byte
// aligned, zero-filled, backed by transparent huge pages where the kernel
// allows (fewer TLB misses when a kernel streams it). Throws on failure.
std::shared_ptr<void> allocate_large(size_t bytes);

// Timing and memory probes used by the profiler and `pareto bench`.
double now_seconds();
// Peak resident set size of this process in bytes (VmHWM), 0 if unknown.
size_t peak_rss_bytes();
size_t current_rss_bytes();

}  // namespace pareto
