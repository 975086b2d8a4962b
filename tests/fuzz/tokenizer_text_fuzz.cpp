// libFuzzer target for text given to the tokenizers: the first byte picks a
// real vocabulary (SentencePiece and byte-level BPE with the pre-tokenizers
// of llama3/qwen2-style, GPT-2 and deepseek, from ../shared/models/vocab),
// the rest is the text, encoded, decoded and streamed through Utf8Stream.
// Without ../shared, the vocabularies of the kept GGUF seeds (a SentencePiece
// micro model and a byte-level BPE vocabulary) stand in.
#include <cstdio>
#include <filesystem>

#include "fuzz_support.h"
#include "llm/model.h"
#include "llm/tokenizer.h"

#ifndef PARETO_SOURCE_DIR
#error "PARETO_SOURCE_DIR must name the checkout"
#endif

namespace {

std::vector<std::unique_ptr<pareto::llm::Vocab>>& vocabs() {
  static std::vector<std::unique_ptr<pareto::llm::Vocab>> v;
  return v;
}
std::vector<std::unique_ptr<pareto::llm::Tokenizer>>& tokenizers() {
  static std::vector<std::unique_ptr<pareto::llm::Tokenizer>> t;
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string shared = std::string(PARETO_SOURCE_DIR) + "/../shared/models/vocab/";
  const std::string seeds = std::string(PARETO_SOURCE_DIR) + "/tests/fuzz/corpus/gguf/";
  std::vector<std::string> files;
  for (const char* name : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-deepseek-coder.gguf",
                           "ggml-vocab-phi-3.gguf", "ggml-vocab-falcon.gguf", "ggml-vocab-starcoder.gguf"})
    if (std::filesystem::exists(shared + name)) files.push_back(shared + name);
  if (files.empty()) {
    std::fprintf(stderr, "tokenizer_text_fuzz: ../shared absent: fuzzing the seed corpus's two vocabularies\n");
    files = {seeds + "micro-f32.gguf", seeds + "bpe-vocab.gguf"};
  }
  for (const std::string& path : files) {
    const char* name = path.c_str();
    try {
      auto vocab = std::make_unique<pareto::llm::Vocab>(pareto::llm::load_gguf_vocab_file(path));
      auto tok = std::make_unique<pareto::llm::Tokenizer>(*vocab);
      vocabs().push_back(std::move(vocab));
      tokenizers().push_back(std::move(tok));
    } catch (const pareto::Error& e) {  // a pre-tokenizer pareto does not have yet
      std::fprintf(stderr, "tokenizer_text_fuzz: not fuzzing %s: %s\n", name, e.what());
    }
  }
  if (tokenizers().empty()) {
    std::fprintf(stderr, "tokenizer_text_fuzz: no vocabulary loads\n");
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const pareto::llm::Tokenizer& tok = *tokenizers()[data[0] % tokenizers().size()];
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  pareto::fuzz::expect_clean_refusal([&] {
    const std::vector<int32_t> ids = tok.encode(text, true);
    pareto::llm::Utf8Stream stream;
    int32_t prev = tok.bos();
    for (int32_t id : ids) {
      stream.push(tok.piece(prev, id));
      prev = id;
    }
    stream.flush();
    tok.decode(ids);
  });
  return 0;
}
