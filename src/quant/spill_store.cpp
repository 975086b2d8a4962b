#include "quant/spill_store.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

namespace pareto::quant {

SpillStore::SpillStore(uint64_t budget_bytes, std::string dir_parent) : budget_(budget_bytes), parent_(std::move(dir_parent)) {
  if (parent_.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    parent_ = tmp && *tmp ? tmp : "/tmp";
  }
}

SpillStore::~SpillStore() {
  for (const auto& [key, e] : entries_)
    if (e.on_disk) std::remove(path_of(key).c_str());
  if (!dir_.empty()) ::rmdir(dir_.c_str());
}

std::string SpillStore::path_of(const Key& key) const { return dir_ + "/" + std::to_string(key.first) + "-" + std::to_string(key.second) + ".bin"; }

// A failed write leaves the entry to be made again: the run goes on, only slower.
bool SpillStore::write(const Key& key, const std::string& bytes) {
  if (dir_.empty()) {
    std::string tmpl = parent_ + "/pareto-tune-XXXXXX";
    std::vector<char> name(tmpl.begin(), tmpl.end());
    name.push_back('\0');
    if (!::mkdtemp(name.data())) return false;
    dir_ = name.data();
  }
  const std::string path = path_of(key);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if (std::fclose(f) != 0 || !ok) {
    std::remove(path.c_str());
    return false;
  }
  return true;
}

bool SpillStore::read(const Key& key, uint64_t bytes, std::string& out) {
  std::FILE* f = std::fopen(path_of(key).c_str(), "rb");
  if (!f) return false;
  out.resize(size_t(bytes));
  bool ok = std::fread(out.data(), 1, out.size(), f) == out.size();
  ok = ok && std::fgetc(f) == EOF;  // a longer file is not ours
  std::fclose(f);
  return ok;
}

void SpillStore::evict_except(const Key& keep) {
  while (resident_ > budget_) {
    Entry* oldest = nullptr;
    const Key* oldest_key = nullptr;
    for (auto& [key, e] : entries_)
      if (e.buf && key != keep && (!oldest || e.last_use < oldest->last_use)) oldest = &e, oldest_key = &key;
    if (!oldest) return;
    if (!oldest->on_disk) {
      oldest->on_disk = write(*oldest_key, *oldest->buf);
      spilled_ += oldest->on_disk;
    }
    oldest->buf.reset();  // a model built from it still holds its own reference
    resident_ -= oldest->bytes;
  }
}

std::shared_ptr<const std::string> SpillStore::get(const Key& key, const std::function<std::string()>& make) {
  Entry& e = entries_[key];
  e.last_use = ++clock_;
  if (e.buf) return e.buf;
  auto buf = std::make_shared<std::string>();
  if (e.on_disk && read(key, e.bytes, *buf)) {
    ++read_back_;
  } else {
    if (e.on_disk) {  // unreadable: forget the file, make the bytes again
      std::remove(path_of(key).c_str());
      e.on_disk = false;
      ++rebuilt_;
    }
    *buf = make();
  }
  e.buf = buf;
  e.bytes = buf->size();
  resident_ += e.bytes;
  evict_except(key);
  return buf;
}

void SpillStore::erase_if(const std::function<bool(const Key&)>& pred) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!pred(it->first)) {
      ++it;
      continue;
    }
    if (it->second.buf) resident_ -= it->second.bytes;
    if (it->second.on_disk) std::remove(path_of(it->first).c_str());
    it = entries_.erase(it);
  }
}

}  // namespace pareto::quant
