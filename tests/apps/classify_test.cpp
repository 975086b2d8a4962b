// pareto::classify on the Coral models and images in ../shared/models/coral:
// the top-1 classes and minimum scores Coral's own classification tests
// expect of these CPU models on cat.bmp (google-coral/edgetpu,
// classification engine test), and the labels its README names for other
// images.
#include <gtest/gtest.h>

#include <fstream>

#include "pareto/classify.hpp"

namespace pareto {
namespace {

std::string coral() { return std::string(PARETO_SOURCE_DIR) + "/../shared/models/coral/"; }

classify::Result top(const std::string& model, const std::string& image, int k = 3) {
  classify::Options o;
  o.top_k = k;
  o.labels_path = coral() + "imagenet_labels.txt";
  auto c = classify::Classifier::open(coral() + model, o);
  EXPECT_TRUE(c.ok()) << c.status().message;
  if (!c.ok()) return {};
  auto r = c.value()->run_file(coral() + image);
  EXPECT_TRUE(r.ok()) << r.status().message;
  return r.ok() ? r.value() : classify::Result{};
}

// Coral's test also asks for a minimum score; TensorFlow Lite 2.2 itself,
// run on the input pareto prepares (tests/models/check_tflite.sh compares
// every output byte), gives the scores below, two of them under Coral's
// minimum (0.36 and 0.8): their resize of the image, not the arithmetic, is
// what differs. The scores are asserted exactly: they are TFLite's.
TEST(Classify, CoralMobileNetsOnTheCatAsCoralsTestsExpect) {
  if (!std::ifstream(coral() + "cat.bmp")) GTEST_SKIP() << "../shared/models/coral not found next to the repository";
  struct Case {
    const char* model;
    int label;
    float tflite_score;
  };
  // 283 tiger cat, 286 Egyptian cat (index 0 is background).
  for (const Case& c : {Case{"mobilenet_v1_0.25_128_quant.tflite", 283, 90 / 256.f}, Case{"mobilenet_v1_0.5_160_quant.tflite", 286, 178 / 256.f},
                        Case{"mobilenet_v1_0.75_192_quant.tflite", 283, 112 / 256.f}, Case{"mobilenet_v2_1.0_224_quant.tflite", 286, 186 / 256.f}}) {
    const classify::Result r = top(c.model, "cat.bmp");
    ASSERT_FALSE(r.top.empty()) << c.model;
    EXPECT_EQ(r.top[0].index, c.label) << c.model << ": " << r.top[0].label << " " << r.top[0].score;
    EXPECT_EQ(r.top[0].score, c.tflite_score) << c.model;
  }
}

TEST(Classify, CoralImagesGetTheirLabels) {
  if (!std::ifstream(coral() + "parrot.jpg")) GTEST_SKIP() << "../shared/models/coral not found next to the repository";
  struct Case {
    const char* model;
    const char* image;
    const char* label;
  };
  for (const Case& c : {Case{"mobilenet_v1_0.75_192_quant.tflite", "parrot.jpg", "macaw"},
                        Case{"mobilenet_v1_0.75_192_quant.tflite", "bird.bmp", "chickadee"},
                        Case{"mobilenet_v1_0.75_192_quant.tflite", "grace_hopper.bmp", "military uniform"},
                        Case{"mobilenet_v2_1.0_224_quant.tflite", "parrot.jpg", "macaw"},
                        Case{"tf2_mobilenet_v2_1.0_224_ptq.tflite", "parrot.jpg", "macaw"},
                        Case{"tf2_mobilenet_v2_1.0_224_ptq.tflite", "bird.bmp", "chickadee"}}) {
    const classify::Result r = top(c.model, c.image);
    ASSERT_FALSE(r.top.empty()) << c.model;
    EXPECT_EQ(r.top[0].label, c.label) << c.model << " on " << c.image << ": " << r.top[0].score;
  }
}

// The int8 keras LSTM reads a 28 x 28 grayscale digit as 28 steps of 28
// pixels (UNIDIRECTIONAL_SEQUENCE_LSTM, TFLite's integer kernel): Coral's
// LSTM test expects 9 for mnist_nine.bmp. The score is TFLite's own (a later
// TFLite, tests/models/check_tflite.sh, equal byte for byte): 255/256.
TEST(Classify, CoralKerasLstmReadsTheNine) {
  if (!std::ifstream(coral() + "mnist_nine.bmp")) GTEST_SKIP() << "../shared/models/coral not found next to the repository";
  classify::Options o;
  o.top_k = 2;
  auto c = classify::Classifier::open(coral() + "keras_lstm_mnist_ptq.tflite", o);
  ASSERT_TRUE(c.ok()) << c.status().message;
  auto r = c.value()->run_file(coral() + "mnist_nine.bmp");
  ASSERT_TRUE(r.ok()) << r.status().message;
  ASSERT_EQ(r.value().top.size(), 2u);
  EXPECT_EQ(r.value().top[0].index, 9);
  EXPECT_EQ(r.value().top[0].score, 255 / 256.f);
  EXPECT_EQ(r.value().top[1].score, 0.f);
}

}  // namespace
}  // namespace pareto
