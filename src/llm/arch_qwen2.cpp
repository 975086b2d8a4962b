// Qwen2 / Qwen2.5: the llama block with q/k/v biases and NeoX-ordered RoPE.
#include "llm/arch.h"

namespace pareto::llm {

const ArchSpec kArchQwen2{"qwen2", true, true};

}  // namespace pareto::llm
