// libFuzzer target for llama2.c checkpoints (seven int32 header fields, then
// float32 weights), loaded with a fixed valid tokenizer, then one decoding
// step of models small enough to run at once. The custom mutator sets header
// fields to edge values: the counts whose products and sums size the file.
#include <cstring>

#include "fuzz_support.h"
#include "llm/model.h"
#include "llm/tokenizer.h"
#include "llm/transformer.h"

namespace {

// A valid 512-token tokenizer .bin (specials, byte pieces, letters).
std::string tokenizer_bytes() {
  std::string out(4, '\0');
  const int32_t max_len = 8;
  std::memcpy(out.data(), &max_len, 4);
  for (int i = 0; i < 512; ++i) {
    std::string piece = i == 0 ? "<unk>" : i == 1 ? "\n<s>\n" : i == 2 ? "\n</s>\n" : i < 259 ? "<0x" + std::to_string(i - 3) + ">"
                                                                                     : std::string(1 + i % 3, char('a' + i % 26));
    const float score = -float(i);
    const int32_t len = int32_t(piece.size());
    out.append(reinterpret_cast<const char*>(&score), 4);
    out.append(reinterpret_cast<const char*>(&len), 4);
    out += piece;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static pareto::fuzz::MemFile model_file("fuzz.bin");
  static pareto::fuzz::MemFile tok_file("tok.bin");
  static const std::string tok_path = [] {
    const std::string t = tokenizer_bytes();
    return tok_file.write(reinterpret_cast<const uint8_t*>(t.data()), t.size());
  }();
  const std::string& path = model_file.write(data, size);
  pareto::fuzz::expect_clean_refusal([&] {
    std::unique_ptr<pareto::llm::Model> model = pareto::llm::load_llama2c_model(path, tok_path);
    pareto::llm::Tokenizer tok(model->vocab);
    tok.decode(tok.encode("hello world", true));
    if (model->weight_bytes > (size_t(8) << 20)) return;
    pareto::llm::Transformer t(*model, 8, pareto::llm::KvType::f16);
    const int32_t tokens[2] = {1, 5};
    t.forward(tokens, 2, 0);
  });
  return 0;
}

#ifdef PARETO_LIBFUZZER
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  std::mt19937_64 rng(seed);
  if (size >= 28 && rng() % 3 != 0) {
    const size_t field = rng() % 7;
    int32_t v = 0;
    std::memcpy(&v, data + 4 * field, 4);
    v = int32_t(uint32_t(pareto::fuzz::interesting_u64(rng, uint64_t(uint32_t(v)))));
    if (rng() % 4 == 0) v = int32_t(0u - uint32_t(v));  // vocab_size < 0 means an unshared classifier
    std::memcpy(data + 4 * field, &v, 4);
    return size;
  }
  return LLVMFuzzerMutate(data, size, max_size);
}
#endif
