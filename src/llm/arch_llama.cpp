// Llama 2/3, TinyLlama, SmolLM, MobileLLM: RMSNorm, SwiGLU, GQA, adjacent-pair RoPE.
#include "llm/arch.h"

namespace pareto::llm {

const ArchSpec kArchLlama{"llama", false, false};

const ArchSpec* find_arch(const std::string& name) {
  for (const ArchSpec* a : {&kArchLlama, &kArchQwen2})
    if (name == a->name) return a;
  return nullptr;
}

std::string arch_names() { return std::string(kArchLlama.name) + ", " + kArchQwen2.name; }

}  // namespace pareto::llm
