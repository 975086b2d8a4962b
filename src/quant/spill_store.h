// Buffers built once and reused (pareto tune's quantized matrices, one per
// tensor and format), kept in memory within a byte budget: past it the
// least recently used that nothing else holds move to one temporary file
// and are read back on their next use. Rebuilding a GPTQ matrix of a 1B
// model takes seconds, reading it back milliseconds; keeping every one in
// memory took a 1.1B tune with 13 formats to 24 GB. The file is unlinked as
// soon as it is made, so nothing is left behind however the process ends;
// it is no help where $TMPDIR is a tmpfs (memory itself).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

namespace pareto::quant {

class SpillStore {
 public:
  using Key = std::pair<uint64_t, uint64_t>;
  // budget_bytes: bytes this store keeps in memory besides the buffers its
  // callers still hold (0: none). dir_parent: where the file goes (empty:
  // $TMPDIR, else /tmp).
  explicit SpillStore(uint64_t budget_bytes, std::string dir_parent = "");
  ~SpillStore();  // closes (and so frees) the file
  SpillStore(const SpillStore&) = delete;
  SpillStore& operator=(const SpillStore&) = delete;

  // The buffer under `key`: in memory, read back from its file, or made by
  // make() (on first use, or when its file could not be written or read).
  // The returned buffer stays valid for as long as the caller holds it.
  std::shared_ptr<const std::string> get(const Key& key, const std::function<std::string()>& make);
  // Forgets every entry for which pred(key) holds.
  void erase_if(const std::function<bool(const Key&)>& pred);

  uint64_t resident_bytes() const { return resident_; }
  int spilled() const { return spilled_; }      // buffers written to the file
  int read_back() const { return read_back_; }  // buffers read from it
  int rebuilt() const { return rebuilt_; }      // buffers made again (not written, or not read back)
  bool has_file() const { return fd_ >= 0; }

 private:
  struct Entry {
    std::shared_ptr<std::string> buf;  // null: not in memory
    uint64_t bytes = 0, last_use = 0;
    uint64_t offset = 0;               // in the file, when on_disk
    bool on_disk = false, made = false;
  };
  bool write(Entry& e);
  bool read(const Entry& e, std::string& out);
  void evict_except(const Key& keep);

  uint64_t budget_, resident_ = 0, clock_ = 0, file_end_ = 0;
  std::string parent_;
  int fd_ = -1;
  bool file_failed_ = false;
  std::map<Key, Entry> entries_;
  int spilled_ = 0, read_back_ = 0, rebuilt_ = 0;
};

}  // namespace pareto::quant
