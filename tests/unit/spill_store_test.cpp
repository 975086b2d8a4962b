// tune's store of quantized matrices (quant/spill_store.h): within the
// budget buffers stay in memory; past it the least recently used go to a
// file and come back byte for byte without being made again; a buffer the
// caller holds outlives its eviction; a file that cannot be written or read
// back is made again instead; the directory is removed at the end. And
// tune's lab gives the same bytes and the same quality with no memory for
// matrices at all (every one read back from disk) as with room for all.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "quant/llm_mix.h"
#include "quant/spill_store.h"
#include "tune_llm_test_util.h"

using namespace pareto;
using namespace pareto::tune_test;

namespace {

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string bytes_of(int seed, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char((i * 131 + size_t(seed) * 7919) % 251);
  return s;
}

}  // namespace

TEST(SpillStore, PastTheBudgetBuffersGoToDiskAndComeBackUnchanged) {
  std::string dir;
  {
    quant::SpillStore store(1500);  // room for one 1000-byte buffer
    int made = 0;
    auto make = [&](int seed) { return [&made, seed] { ++made; return bytes_of(seed, 1000); }; };
    const auto a = store.get({0, 1}, make(1));
    EXPECT_EQ(store.spilled(), 0);
    EXPECT_EQ(store.resident_bytes(), 1000u);
    const auto b = store.get({0, 2}, make(2));  // a goes to disk
    EXPECT_EQ(store.spilled(), 1);
    EXPECT_EQ(store.resident_bytes(), 1000u);
    EXPECT_EQ(*a, bytes_of(1, 1000));  // the caller's reference outlives the eviction
    const auto a2 = store.get({0, 1}, make(99));  // read back, not made
    EXPECT_EQ(*a2, bytes_of(1, 1000));
    EXPECT_EQ(made, 2);
    EXPECT_EQ(store.read_back(), 1);
    EXPECT_EQ(store.spilled(), 2);  // b went out in its turn
    const auto b2 = store.get({0, 2}, make(99));
    EXPECT_EQ(*b2, bytes_of(2, 1000));
    EXPECT_EQ(store.spilled(), 2);  // a's file was still there: not written twice
    EXPECT_EQ(made, 2);
    dir = store.directory();
    ASSERT_FALSE(dir.empty());
    EXPECT_TRUE(exists(dir + "/0-1.bin"));
    store.erase_if([](const quant::SpillStore::Key& k) { return k.second == 1; });
    EXPECT_FALSE(exists(dir + "/0-1.bin"));
    const auto a3 = store.get({0, 1}, make(3));  // erased: made again
    EXPECT_EQ(*a3, bytes_of(3, 1000));
    EXPECT_EQ(made, 3);
  }
  EXPECT_FALSE(exists(dir));  // files and directory removed with the store
}

TEST(SpillStore, AFileThatCannotBeReadBackIsMadeAgain) {
  quant::SpillStore store(0);
  int made = 0;
  auto make = [&made] { ++made; return bytes_of(5, 4000); };
  (void)store.get({7, 7}, make);
  (void)store.get({8, 8}, [] { return bytes_of(6, 10); });  // {7, 7} to disk
  ASSERT_EQ(store.spilled(), 1);
  const std::string file = store.directory() + "/7-7.bin";
  {
    std::ofstream f(file, std::ios::binary | std::ios::trunc);
    f << "short";  // truncated behind the store's back
  }
  const auto again = store.get({7, 7}, make);
  EXPECT_EQ(*again, bytes_of(5, 4000));
  EXPECT_EQ(made, 2);
  EXPECT_EQ(store.rebuilt(), 1);
  EXPECT_EQ(store.read_back(), 0);
}

TEST(SpillStore, WithNowhereToWriteBuffersAreMadeAgain) {
  quant::SpillStore store(0, "/nonexistent-pareto-dir/sub");
  int made = 0;
  auto make = [&made] { ++made; return bytes_of(1, 100); };
  (void)store.get({1, 1}, make);
  (void)store.get({2, 2}, [] { return bytes_of(2, 100); });
  EXPECT_EQ(store.spilled(), 0);
  EXPECT_EQ(*store.get({1, 1}, make), bytes_of(1, 100));
  EXPECT_EQ(made, 2);
}

TEST(TuneLlm, TheLabMeasuresTheSameWithItsMatricesOnDisk) {
  NEED_STORIES();
  const std::string base = shared_models() + "/stories260K.gguf", text = read_file(shared_models() + "/tinystories_style_eval.txt");
  quant::MixLab roomy(base, text, 64, 2), tight(base, text, 64, 2, 0);
  roomy.calibrate("", 128);
  tight.calibrate("", 128);
  // Two formats and GPTQ over every tensor, then back over the first: in the
  // tight lab each build pushes the previous ones to disk.
  const std::vector<quant::Mix> mixes = {roomy.uniform(quant::choice_by_name("q4_0")), roomy.uniform(quant::choice_by_name("q8_0")),
                                         roomy.uniform(quant::choice_by_name("q4_0+gptq")), roomy.uniform(quant::choice_by_name("q4_0"))};
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
