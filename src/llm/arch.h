// What differs between the supported decoder architectures. Each
// architecture has its own file (arch_<name>.cpp) that declares its spec.
#pragma once
#include <string>

namespace pareto::llm {

struct ArchSpec {
  const char* name;
  bool rope_neox;  // rotate (i, i + d/2) pairs instead of adjacent ones
  bool qkv_bias;   // q/k/v projections carry biases
};

const ArchSpec* find_arch(const std::string& name);
std::string arch_names();

extern const ArchSpec kArchLlama;
extern const ArchSpec kArchQwen2;

}  // namespace pareto::llm
