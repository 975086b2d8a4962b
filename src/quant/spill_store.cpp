#include "quant/spill_store.h"

#include <fcntl.h>
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
  if (fd_ >= 0) ::close(fd_);
}

// Appends e's buffer to the file (made and unlinked on first use). A failed
// write leaves the entry to be made again: the run goes on, only slower.
bool SpillStore::write(Entry& e) {
  if (fd_ < 0) {
    if (file_failed_) return false;
    std::string tmpl = parent_ + "/pareto-tune-XXXXXX";
    std::vector<char> name(tmpl.begin(), tmpl.end());
    name.push_back('\0');
    fd_ = ::mkstemp(name.data());
    if (fd_ < 0) {
      file_failed_ = true;
      return false;
    }
    ::unlink(name.data());
  }
  const char* p = e.buf->data();
  uint64_t at = file_end_, left = e.bytes;
  while (left > 0) {
    const ssize_t n = ::pwrite(fd_, p, size_t(left), off_t(at));
    if (n <= 0) return false;
    p += n, at += uint64_t(n), left -= uint64_t(n);
  }
  e.offset = file_end_;
  file_end_ += e.bytes;
  return true;
}

bool SpillStore::read(const Entry& e, std::string& out) {
  out.resize(size_t(e.bytes));
  char* p = out.data();
  uint64_t at = e.offset, left = e.bytes;
  while (left > 0) {
    const ssize_t n = ::pread(fd_, p, size_t(left), off_t(at));
    if (n <= 0) return false;
    p += n, at += uint64_t(n), left -= uint64_t(n);
  }
  return true;
}

// Buffers a caller still holds (a model being built or measured) stay: dropping
// the store's reference would free nothing.
void SpillStore::evict_except(const Key& keep) {
  while (resident_ > budget_) {
    Entry* oldest = nullptr;
    for (auto& [key, e] : entries_)
      if (e.buf && e.buf.use_count() == 1 && key != keep && (!oldest || e.last_use < oldest->last_use)) oldest = &e;
    if (!oldest) return;
    if (!oldest->on_disk) {
      oldest->on_disk = write(*oldest);
      spilled_ += oldest->on_disk;
    }
    oldest->buf.reset();
    resident_ -= oldest->bytes;
  }
}

std::shared_ptr<const std::string> SpillStore::get(const Key& key, const std::function<std::string()>& make) {
  Entry& e = entries_[key];
  e.last_use = ++clock_;
  if (e.buf) return e.buf;
  auto buf = std::make_shared<std::string>();
  if (e.on_disk && read(e, *buf)) {
    ++read_back_;
  } else {
    rebuilt_ += e.made;  // evicted unwritten, or unreadable: made again
    e.on_disk = false;
    *buf = make();
  }
  e.made = true;
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
    it = entries_.erase(it);  // its bytes in the file stay unused until the file closes
  }
}

}  // namespace pareto::quant
