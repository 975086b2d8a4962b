// libFuzzer target for llama2.c tokenizer .bin files: the first two bytes
// choose the vocabulary size the model would ask for, the rest is the file;
// the tokenizer built from it then encodes and decodes a fixed text.
#include "fuzz_support.h"
#include "llm/model.h"
#include "llm/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static pareto::fuzz::MemFile file("tok.bin");
  if (size < 2) return 0;
  const int64_t vocab_size = int64_t(data[0]) | int64_t(data[1]) << 8;
  const std::string& path = file.write(data + 2, size - 2);
  pareto::fuzz::expect_clean_refusal([&] {
    pareto::llm::Vocab vocab;
    pareto::llm::load_llama2c_tokenizer(path, vocab_size, vocab);
    pareto::llm::Tokenizer tok(vocab);
    tok.decode(tok.encode("Once upon a time, \xc3\xa9t\xc3\xa9 <s> 42\n", true));
  });
  return 0;
}
