// libFuzzer target for GGUF: header, metadata and tensor infos, the model
// loader (weights checked against the architecture's shapes), the tokenizer
// built from the file's vocabulary (encode and decode), chat template
// detection, and one decoding step of models small enough to run at once.
// The custom mutator edits counts, types, offsets and lengths in place
// (gguf_mutator.h).
#include "fuzz_support.h"
#include "gguf_mutator.h"
#include "llm/chat.h"
#include "llm/model.h"
#include "llm/tokenizer.h"
#include "llm/transformer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static pareto::fuzz::MemFile file("fuzz.gguf");
  const std::string& path = file.write(data, size);
  pareto::fuzz::expect_clean_refusal([&] {
    pareto::llm::Vocab vocab = pareto::llm::load_gguf_vocab_file(path);
    pareto::llm::detect_chat_format(vocab.chat_template);
    if (vocab.pieces.empty()) return;
    pareto::llm::Tokenizer tok(vocab);
    const std::vector<int32_t> ids = tok.encode("Hello world, <s> caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd 123\n\t<|im_start|>", true);
    tok.decode(ids);
  });
  pareto::fuzz::expect_clean_refusal([&] {
    std::unique_ptr<pareto::llm::Model> model = pareto::llm::load_gguf_model(path);
    if (model->weight_bytes > (size_t(8) << 20)) return;
    pareto::llm::Transformer t(*model, 8, pareto::llm::KvType::f16);
    const int32_t tokens[2] = {model->vocab.bos >= 0 ? model->vocab.bos : 0, 1};
    t.forward(tokens, 2, 0);
  });
  return 0;
}

#ifdef PARETO_LIBFUZZER
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  std::mt19937_64 rng(seed);
  if (rng() % 4 != 0 && pareto::fuzz::mutate_gguf(data, size, rng)) return size;
  return LLVMFuzzerMutate(data, size, max_size);
}
#endif
