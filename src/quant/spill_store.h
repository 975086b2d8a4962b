// Buffers built once and reused (pareto tune's quantized matrices, one per
// tensor and format), kept in memory within a byte budget: past it the
// least recently used move to a file in a private temporary directory and
// are read back on their next use. Rebuilding a GPTQ matrix of a 1B model
// takes seconds, reading it back milliseconds; keeping every one in memory
// took a 1.1B tune with 13 formats to 24 GB.
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
  // budget_bytes: bytes this store keeps in memory (0: none past the one in use).
  // dir_parent: where the private directory goes (empty: $TMPDIR, else /tmp).
  explicit SpillStore(uint64_t budget_bytes, std::string dir_parent = "");
  ~SpillStore();  // removes its files and directory
  SpillStore(const SpillStore&) = delete;
  SpillStore& operator=(const SpillStore&) = delete;

  // The buffer under `key`: in memory, read back from its file, or made by
  // make() (on first use, or when its file could not be written or read).
  // The returned buffer stays valid for as long as the caller holds it.
  std::shared_ptr<const std::string> get(const Key& key, const std::function<std::string()>& make);
  // Forgets every entry for which pred(key) holds (its file too).
  void erase_if(const std::function<bool(const Key&)>& pred);

  uint64_t resident_bytes() const { return resident_; }
  int spilled() const { return spilled_; }        // buffers written to disk
  int read_back() const { return read_back_; }    // buffers read from disk
  int rebuilt() const { return rebuilt_; }        // buffers made again (a file that failed)
  const std::string& directory() const { return dir_; }  // empty until the first spill

 private:
  struct Entry {
    std::shared_ptr<std::string> buf;  // null: not in memory
    uint64_t bytes = 0, last_use = 0;
    bool on_disk = false;
  };
  std::string path_of(const Key& key) const;
  bool write(const Key& key, const std::string& bytes);
  bool read(const Key& key, uint64_t bytes, std::string& out);
  void evict_except(const Key& keep);

  uint64_t budget_, resident_ = 0, clock_ = 0;
  std::string parent_, dir_;
  std::map<Key, Entry> entries_;
  int spilled_ = 0, read_back_ = 0, rebuilt_ = 0;
};

}  // namespace pareto::quant
