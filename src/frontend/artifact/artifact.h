// The compiled-model artifact (.pareto): an optimized graph, its memory plan
// and its weights in one file that is mmap'd and used in place. A framed
// little-endian format of our own (no protobuf, no FlatBuffers runtime):
//
//   header (64 bytes): magic "PARETO\x1a\n", u32 version, u32 header bytes,
//     u64 file bytes, u64 checksum of everything after the header (FNV-1a
//     over 64-bit little-endian words, then the tail bytes),
//     u64 graph offset, u64 graph bytes, u64 weights offset, u64 weights bytes
//   graph section: the model (opsets, producer), the graph (values with
//     types and constant references, nodes with attributes, subgraphs
//     recursively) and the memory plan (buffer offsets per value)
//   weights section: every constant tensor, 64-byte aligned, referenced by
//     offset from the graph section; tensors alias the mapping.
//
// The reader checks the checksum before parsing, and every count, index,
// offset and size against the bytes present: a truncated, corrupted or
// wrong-version file is refused with a message naming the file and offset.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "ir/graph.h"
#include "ir/memory_plan.h"

namespace pareto::artifact {

// 2: FusedConv may carry post_floor (a Max by a constant in its epilogue),
// which a version-1 reader would drop silently; version-1 files still load.
// 3: a depthwise conv may write uint8 (out_scale, fuse_quantize), which an
// older reader would run as a float output; versions 1 and 2 still load.
// 4: an int8 conv's float weights (fold_qdq's w_scales) may be stored as
// their int8 codes (tensor tag kInt8RowsTag), where code * w_scale gives
// every weight back bit for bit; they load as an int8 tensor, which the
// conv reads as codes of its w_scales (runtime/ops/conv.cpp).
constexpr uint32_t kVersion = 4;
constexpr int32_t kInt8RowsTag = -8;
constexpr uint32_t kOldestVersion = 1;
constexpr char kMagic[8] = {'P', 'A', 'R', 'E', 'T', 'O', '\x1a', '\n'};

struct Compiled {
  ir::Model model;
  std::unique_ptr<ir::MemoryPlan> plan;  // may be null (no static shapes)
};

bool is_artifact(const uint8_t* data, size_t size);
uint64_t checksum(const uint8_t* data, size_t size);
void save(const std::string& path, const ir::Model& model, const ir::MemoryPlan* plan);
Compiled load(const std::string& path);
// The reader on bytes in memory (the fuzz target); `owner` keeps them alive for aliasing tensors.
Compiled load_from_memory(const uint8_t* data, size_t size, const std::string& name, std::shared_ptr<const void> owner);

}  // namespace pareto::artifact
