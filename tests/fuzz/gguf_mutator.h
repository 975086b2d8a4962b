// A GGUF-aware mutator: walks the header, metadata and tensor infos of a
// GGUF file recording where each structural number sits (tensor and key
// counts, string lengths, value and element types, array counts, tensor
// ranks, dims, types and data offsets), then overwrites one of them with an
// edge value. Blind flips land in tensor data almost always; these reach the
// checks of every count, type, offset and length.
#pragma once
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace pareto::fuzz {

struct GgufField {
  size_t offset;
  int width;  // 4 or 8 bytes
  bool is_type;  // a value or tensor type code: small codes are the interesting ones
};

// Structural fields found before the walk leaves the buffer.
std::vector<GgufField> gguf_fields(const uint8_t* data, size_t size);
// Overwrites one structural field in place; false if none was found.
bool mutate_gguf(uint8_t* data, size_t size, std::mt19937_64& rng);

}  // namespace pareto::fuzz
