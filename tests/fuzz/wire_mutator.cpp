#include "wire_mutator.h"

#include "fuzz_support.h"

namespace pareto::fuzz {

namespace {

bool read_varint(const uint8_t*& p, const uint8_t* end, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p == end) return false;
    const uint8_t b = *p++;
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(uint8_t(v) | 0x80));
    v >>= 7;
  }
  out.push_back(char(v));
}

void collect(std::vector<WireField>& msg, std::vector<WireField*>& fields, std::vector<std::vector<WireField>*>& messages) {
  messages.push_back(&msg);
  for (auto& f : msg) {
    fields.push_back(&f);
    if (f.is_message) collect(f.children, fields, messages);
  }
}

}  // namespace

bool parse_wire(const uint8_t* p, size_t n, std::vector<WireField>& out, int depth) {
  const uint8_t* end = p + n;
  while (p < end) {
    uint64_t key = 0;
    if (!read_varint(p, end, key) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff) return false;
    WireField f;
    f.number = uint32_t(key >> 3);
    f.wire = uint8_t(key & 7);
    switch (f.wire) {
      case 0:
        if (!read_varint(p, end, f.value)) return false;
        break;
      case 1:
      case 5: {
        const size_t w = f.wire == 1 ? 8 : 4;
        if (size_t(end - p) < w) return false;
        for (size_t i = 0; i < w; ++i) f.value |= uint64_t(p[i]) << (8 * i);
        p += w;
        break;
      }
      case 2: {
        uint64_t len = 0;
        if (!read_varint(p, end, len) || len > uint64_t(end - p)) return false;
        // Short strings ("Relu", "x") would parse as messages by accident: only
        // longer payloads are taken as sub-messages.
        if (depth < 24 && len >= 2 && parse_wire(p, size_t(len), f.children, depth + 1)) {
          f.is_message = true;
        } else {
          f.children.clear();
          f.bytes.assign(reinterpret_cast<const char*>(p), size_t(len));
        }
        p += len;
        break;
      }
      default: return false;
    }
    out.push_back(std::move(f));
  }
  return true;
}

std::string encode_wire(const std::vector<WireField>& fields) {
  std::string out;
  for (const auto& f : fields) {
    put_varint(out, (uint64_t(f.number) << 3) | f.wire);
    switch (f.wire) {
      case 0: put_varint(out, f.value); break;
      case 1:
      case 5:
        for (int i = 0; i < (f.wire == 1 ? 8 : 4); ++i) out.push_back(char(uint8_t(f.value >> (8 * i))));
        break;
      default: {
        const std::string payload = f.is_message ? encode_wire(f.children) : f.bytes;
        put_varint(out, payload.size());
        out += payload;
      }
    }
  }
  return out;
}

bool mutate_wire(std::vector<WireField>& msg, std::mt19937_64& rng) {
  std::vector<WireField*> fields;
  std::vector<std::vector<WireField>*> messages;
  collect(msg, fields, messages);
  if (fields.empty()) return false;
  WireField& f = *fields[rng() % fields.size()];
  switch (rng() % 8) {
    case 0:
    case 1:  // a number: dims, data_type, counts, offsets
      if (f.wire == 2) {
        if (f.is_message) return false;
        if (f.bytes.empty()) f.bytes.push_back(char(rng()));
        else if (rng() % 2) f.bytes.resize(rng() % (f.bytes.size() + 1));  // truncated payload
        else f.bytes[rng() % f.bytes.size()] = char(rng());
      } else {
        f.value = interesting_u64(rng, f.value);
        if (f.wire == 5) f.value &= 0xffffffffu;
      }
      return true;
    case 2:  // another field number: payload in the field of another type
      f.number = rng() % 3 ? uint32_t(1 + rng() % 16) : f.number + 1;
      return true;
    case 3:  // another wire type with the same number
      if (f.is_message) return false;
      f.wire = uint8_t(f.wire == 0 ? 5 : 0);
      f.bytes.clear();
      return true;
    case 4: {  // duplicate a field (repeated where it should be single, or one more element)
      std::vector<WireField>& m = *messages[rng() % messages.size()];
      if (m.empty()) return false;
      m.push_back(m[rng() % m.size()]);
      return true;
    }
    case 5: {  // drop a field
      std::vector<WireField>& m = *messages[rng() % messages.size()];
      if (m.empty()) return false;
      m.erase(m.begin() + long(rng() % m.size()));
      return true;
    }
    case 6: {  // copy a field from elsewhere in the model into this message
      std::vector<WireField>& m = *messages[rng() % messages.size()];
      m.push_back(*fields[rng() % fields.size()]);
      return true;
    }
    default:  // a packed array shortened or lengthened by one element
      if (f.wire != 2 || f.is_message) return false;
      if (rng() % 2 && !f.bytes.empty()) f.bytes.pop_back();
      else f.bytes.push_back(char(rng()));
      return true;
  }
}

}  // namespace pareto::fuzz
