// tune's store of quantized matrices (quant/spill_store.h): within the
// budget buffers stay in memory; past it the least recently used that no
// caller holds go to a file and come back byte for byte without being made
// again; the file is unlinked from the start; where it cannot be written,
// buffers are made again instead. And
// tune's lab gives the same bytes and the same quality with no memory for
// matrices at all (every one read back from disk) as with room for all.
#include <gtest/gtest.h>
#include <cstdio>
#include <filesystem>
#include <string>

#include "../apps/scratch_dir.h"
#include "quant/llm_mix.h"
#include "quant/spill_store.h"
#include "tune_llm_test_util.h"

using namespace pareto;
using namespace pareto::tune_test;

namespace {

std::string bytes_of(int seed, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char((i * 131 + size_t(seed) * 7919) % 251);
  return s;
}

}  // namespace

TEST(SpillStore, PastTheBudgetBuffersGoToDiskAndComeBackUnchanged) {
  const std::string dir = pareto::testing::scratch_dir();
  quant::SpillStore store(1500, dir);  // room for one 1000-byte buffer
  int made = 0;
  auto make = [&](int seed) { return [&made, seed] { ++made; return bytes_of(seed, 1000); }; };
  {
    const auto a = store.get({0, 1}, make(1));
    EXPECT_EQ(store.resident_bytes(), 1000u);
    const auto b = store.get({0, 2}, make(2));  // a is held: it stays
    EXPECT_EQ(store.spilled(), 0);
    EXPECT_EQ(store.resident_bytes(), 2000u);
    EXPECT_EQ(*a, bytes_of(1, 1000));
  }
  (void)store.get({0, 3}, make(3));  // nothing held now: a and b go to disk
  EXPECT_EQ(store.spilled(), 2);
  EXPECT_EQ(store.resident_bytes(), 1000u);
  EXPECT_TRUE(store.has_file());
  EXPECT_TRUE(std::filesystem::is_empty(dir));  // the file was unlinked when made: nothing to leave behind
  const auto a2 = store.get({0, 1}, make(99));  // read back, not made
  EXPECT_EQ(*a2, bytes_of(1, 1000));
  EXPECT_EQ(made, 3);
  EXPECT_EQ(store.read_back(), 1);
  (void)store.get({0, 2}, make(99));  // b back, a (still held) stays, 3 goes
  EXPECT_EQ(store.read_back(), 2);
  EXPECT_EQ(store.spilled(), 3);
  const auto b2 = store.get({0, 2}, make(99));
  EXPECT_EQ(*b2, bytes_of(2, 1000));
  EXPECT_EQ(made, 3);
  EXPECT_EQ(store.rebuilt(), 0);
  store.erase_if([](const quant::SpillStore::Key& k) { return k.second == 1; });
  const auto a3 = store.get({0, 1}, make(4));  // erased: made again
  EXPECT_EQ(*a3, bytes_of(4, 1000));
  EXPECT_EQ(made, 4);
}

TEST(SpillStore, WithNowhereToWriteBuffersAreMadeAgain) {
  quant::SpillStore store(0, "/nonexistent-pareto-dir/sub");
  int made = 0;
  auto make = [&made] { ++made; return bytes_of(1, 100); };
  (void)store.get({1, 1}, make);
  (void)store.get({2, 2}, [] { return bytes_of(2, 100); });
  EXPECT_EQ(store.spilled(), 0);
  EXPECT_FALSE(store.has_file());
  EXPECT_EQ(*store.get({1, 1}, make), bytes_of(1, 100));
  EXPECT_EQ(made, 2);
  EXPECT_EQ(store.rebuilt(), 1);
}

TEST(TuneLlm, TheLabMeasuresTheSameWithItsMatricesOnDisk) {
  NEED_STORIES();
  const std::string base = shared_models() + "/stories260K.gguf", text = read_file(shared_models() + "/tinystories_style_eval.txt");
  quant::MixLab roomy(base, text, 64, 2), tight(base, text, 64, 2, 0);
  roomy.calibrate("", 128);
  tight.calibrate("", 128);
  // Two formats, GPTQ and AWQ over every tensor, then back over the first: in the
  // tight lab each build pushes the previous ones to disk.
  const std::vector<quant::Mix> mixes = {roomy.uniform(quant::choice_by_name("q4_0")), roomy.uniform(quant::choice_by_name("q8_0")),
                                         roomy.uniform(quant::choice_by_name("q4_0+gptq")), roomy.uniform(quant::choice_by_name("q4_0+awq")),
                                         roomy.uniform(quant::choice_by_name("q4_0"))};
  for (const quant::Mix& m : mixes) {
    quant::Mix mix = m;
    for (size_t i = 0; i < mix.size(); ++i)
      if (!roomy.allows(i, mix[i])) mix[i] = quant::type_of(mix[i]);
    const quant::MixQuality a = roomy.quality(mix), b = tight.quality(mix);
    EXPECT_EQ(a.kl, b.kl);
    EXPECT_EQ(a.ppl, b.ppl);
    for (size_t i = 0; i < mix.size(); ++i) EXPECT_EQ(*roomy.matrix_bytes(i, mix[i]), *tight.matrix_bytes(i, mix[i])) << roomy.tensors()[i].name;
  }
  EXPECT_EQ(roomy.store().spilled(), 0);
  EXPECT_GT(tight.store().spilled(), 0);
  EXPECT_GT(tight.store().read_back(), 0);
  EXPECT_EQ(tight.store().rebuilt(), 0);
}
