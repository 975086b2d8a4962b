// A structure-aware mutator for protobuf wire format (ONNX ModelProto),
// schema-free: the input is decoded into a tree of fields (a length-delimited
// field becomes a sub-message when its bytes parse as one), one field is
// changed, and the tree is encoded again with consistent lengths. Blind byte
// flips rarely survive the nested length prefixes; these mutations reach the
// loader's checks: a varint set to an absurd or edge value (dims, data_type,
// counts), a field moved to another number (a payload in the typed field of
// another type: float_data under an INT64 data_type), a wire type changed, a
// field duplicated, dropped or copied from elsewhere in the model.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace pareto::fuzz {

struct WireField {
  uint32_t number = 0;
  uint8_t wire = 0;  // 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
  uint64_t value = 0;
  std::string bytes;                // wire 2 when not a message
  std::vector<WireField> children;  // wire 2 parsed as a message
  bool is_message = false;
};

// False when the bytes are not a complete, valid message.
bool parse_wire(const uint8_t* p, size_t n, std::vector<WireField>& out, int depth = 0);
std::string encode_wire(const std::vector<WireField>& fields);
// Applies one structural mutation; false if the message offers nothing to mutate.
bool mutate_wire(std::vector<WireField>& msg, std::mt19937_64& rng);

}  // namespace pareto::fuzz
