// Writes a loaded llama-family model (e.g. a llama2.c checkpoint with its
// tokenizer) as a GGUF file pareto and llama.cpp read: llama metadata, the
// SentencePiece vocabulary with token types, and every tensor in f32.
#pragma once
#include <string>

#include "frontend/gguf/gguf_writer.h"
#include "llm/model.h"

namespace pareto::llm {

void export_gguf(const Model& m, const std::string& path);

// llama.cpp's general.file_type for a model whose matrices are all `ggml_type`
// (f32 0, f16 1, q4_0 2, q8_0 7, q4_k 14 = Q4_K_S).
uint32_t llama_file_type(uint32_t ggml_type);

// The general.* and llama.* hyper-parameter keys for `c` (shared with synth).
void write_llama_metadata(gguf::Writer& w, const ModelConfig& c, const std::string& name, uint32_t file_type);

}  // namespace pareto::llm
