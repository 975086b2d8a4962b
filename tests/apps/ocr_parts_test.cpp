// Pieces of the OCR pipeline on their own: joining the boxes of one visual
// line, bicubic enlargement, and where the models are found.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "apps/image.h"
#include "apps/ocr/text_lines.h"
#include "pareto/models.hpp"

namespace {

using pareto::ocr::TextLine;

TextLine piece(const std::string& text, float x0, float y0, float x1, float y1, float conf = 0.9f) {
  TextLine l;
  l.text = text;
  l.confidence = conf;
  l.box = {{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}};
  return l;
}

TEST(OcrLines, PiecesOfOneLineAreJoinedWithOneSpace) {
  // Given right to left, with the spaces CTC leaves at crop edges.
  auto out = pareto::apps::ocr::merge_visual_lines({piece("fox jumps", 210, 12, 400, 40, 0.8f), piece("The quick brown ", 10, 10, 190, 38, 1.0f)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "The quick brown fox jumps");
  EXPECT_FLOAT_EQ(out[0].box[0][0], 10);
  EXPECT_FLOAT_EQ(out[0].box[1][0], 400);
  EXPECT_FLOAT_EQ(out[0].box[2][1], 40);
  // Weighted by characters: 15 at 1.0, 9 at 0.8.
  EXPECT_NEAR(out[0].confidence, (15 * 1.0 + 9 * 0.8) / 24, 1e-6);
}

TEST(OcrLines, SeparateLinesStaySeparateInReadingOrder) {
  auto out = pareto::apps::ocr::merge_visual_lines(
      {piece("third", 10, 100, 90, 130), piece("first", 10, 10, 90, 40), piece("second", 10, 55, 120, 85), piece("right", 130, 11, 210, 41)});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].text, "first right");
  EXPECT_EQ(out[1].text, "second");
  EXPECT_EQ(out[2].text, "third");
}

TEST(OcrLines, OverlappingBoxesAreNotJoined) {
  // Two boxes over the same columns (a line detected twice) are two lines.
  auto out = pareto::apps::ocr::merge_visual_lines({piece("a", 10, 10, 200, 40), piece("b", 20, 12, 210, 42)});
  EXPECT_EQ(out.size(), 2u);
  EXPECT_TRUE(pareto::apps::ocr::merge_visual_lines({}).empty());
}

TEST(OcrLines, FarColumnsVerticalTextAndBlankPiecesStayApart) {
  // A second column 5 heights to the right is not the same line.
  auto cols = pareto::apps::ocr::merge_visual_lines({piece("left", 10, 10, 100, 40), piece("right", 250, 10, 330, 40)});
  ASSERT_EQ(cols.size(), 2u);
  EXPECT_EQ(cols[0].text, "left");
  // Vertical text (tall boxes) is never joined.
  EXPECT_EQ(pareto::apps::ocr::merge_visual_lines({piece("a", 10, 10, 30, 90), piece("b", 35, 10, 55, 90)}).size(), 2u);
  // A piece that was only spaces disappears instead of adding one.
  auto blank = pareto::apps::ocr::merge_visual_lines({piece("ab", 10, 10, 60, 40), piece("   ", 65, 10, 80, 40), piece("cd", 85, 10, 140, 40)});
  ASSERT_EQ(blank.size(), 1u);
  EXPECT_EQ(blank[0].text, "ab cd");
}

TEST(OcrLines, UpsideDownPiecesReadRightToLeft) {
  // An upside-down line: the classifier turned both crops, and the words
  // read from the right of the image to the left.
  TextLine a = piece("world", 10, 10, 100, 40), b = piece("hello", 110, 10, 200, 40);
  a.flipped = b.flipped = true;
  auto out = pareto::apps::ocr::merge_visual_lines({a, b});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "hello world");
  EXPECT_FLOAT_EQ(out[0].box[0][0], 10);   // the box still spans the image left to right
  EXPECT_FLOAT_EQ(out[0].box[1][0], 200);
  EXPECT_TRUE(out[0].flipped);
}

TEST(OcrImage, BicubicKeepsFlatImagesFlatAndEdgesSharperThanBilinear) {
  pareto::apps::Image img;
  img.width = 8;
  img.height = 1;
  img.rgb.assign(8 * 3, 0);
  for (int x = 4; x < 8; ++x) std::fill_n(img.rgb.begin() + x * 3, 3, uint8_t(200));  // a step edge
  const auto cubic = pareto::apps::resize_bicubic(img, 32, 4), linear = pareto::apps::resize_bilinear(img, 32, 4);
  ASSERT_EQ(cubic.width, 32);
  ASSERT_EQ(cubic.height, 4);
  EXPECT_EQ(cubic.at(0, 0)[0], 0);     // far from the edge: unchanged
  EXPECT_EQ(cubic.at(31, 3)[1], 200);
  // Just left and right of the edge, bicubic stays closer to the two levels.
  int cubic_spread = 0, linear_spread = 0;
  for (int x = 12; x < 20; ++x) {
    cubic_spread += std::min<int>(cubic.at(x, 1)[0], 200 - cubic.at(x, 1)[0]);
    linear_spread += std::min<int>(linear.at(x, 1)[0], 200 - linear.at(x, 1)[0]);
  }
  EXPECT_LT(cubic_spread, linear_spread);
  pareto::apps::Image one;  // a single pixel enlarges to a flat image
  one.width = one.height = 1;
  one.rgb = {10, 20, 30};
  const auto big = pareto::apps::resize_bicubic(one, 5, 3);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 5; ++x) EXPECT_EQ(big.at(x, y)[2], 30);
}

TEST(OcrImage, UprightCropsCopyPixelsAndAgreeWithTheSampledPath) {
  pareto::apps::Image img;
  img.width = 37;
  img.height = 23;
  img.rgb.resize(size_t(img.width * img.height * 3));
  for (size_t i = 0; i < img.rgb.size(); ++i) img.rgb[i] = uint8_t((i * 37 + i / 5) % 251);
  const pareto::apps::PointF q[4] = {{5, 3}, {30, 3}, {30, 20}, {5, 20}};
  const auto copy = pareto::apps::warp_quad(img, q, 25, 17);  // the copying path
  for (int y = 0; y < 17; ++y)
    for (int x = 0; x < 25; ++x)
      for (int c = 0; c < 3; ++c) ASSERT_EQ(copy.at(x, y)[c], img.at(5 + x, 3 + y)[c]) << x << "," << y;
  // Off whole pixels by 1e-3: the sampling path, which must agree to a unit.
  const pareto::apps::PointF q2[4] = {{5.001f, 3}, {30.001f, 3}, {30.001f, 20}, {5.001f, 20}};
  const auto sampled = pareto::apps::warp_quad(img, q2, 25, 17);
  for (size_t i = 0; i < copy.rgb.size(); ++i) ASSERT_LE(std::abs(int(copy.rgb[i]) - int(sampled.rgb[i])), 1) << i;
  // Reaching past the image: sampled with the border replicated, no copy.
  const pareto::apps::PointF q3[4] = {{30, 3}, {40, 3}, {40, 20}, {30, 20}};
  const auto edge = pareto::apps::warp_quad(img, q3, 10, 17);
  EXPECT_EQ(edge.at(9, 0)[0], img.at(36, 3)[0]);
}

class ModelLookup : public ::testing::Test {
 protected:
  void SetUp() override {
    // A folder per test and process: ctest runs these tests in parallel.
    root_ = std::filesystem::path(::testing::TempDir()) /
            ("pareto_model_lookup_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
             std::to_string(getpid()));
    std::filesystem::remove_all(root_);
    for (const char* v : {"PARETO_OCR_MODELS", "PARETO_VAD_MODEL", "PARETO_MODELS", "XDG_CACHE_HOME", "HOME"}) {
      const char* old = std::getenv(v);
      saved_.emplace_back(v, old ? std::optional<std::string>(old) : std::nullopt);
      unsetenv(v);
    }
  }
  void TearDown() override {
    for (auto& [k, v] : saved_)
      if (v) setenv(k.c_str(), v->c_str(), 1);
      else unsetenv(k.c_str());
    std::filesystem::remove_all(root_);
  }
  std::string make(const std::string& sub) {
    const auto dir = root_ / sub;
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "ch_PP-OCRv4_rec_infer.onnx") << "x";
    return dir.string();
  }
  std::filesystem::path root_;
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_F(ModelLookup, FindsTheCacheFolderFromAnyWorkingDirectory) {
  make("cache/pareto/models/ocr");
  setenv("XDG_CACHE_HOME", (root_ / "cache").c_str(), 1);
  auto r = pareto::find_model_dir(pareto::ocr_models());
  ASSERT_TRUE(r.ok()) << r.status().message;
  EXPECT_EQ(r.value(), std::filesystem::weakly_canonical(root_ / "cache/pareto/models/ocr").string());
  // Without XDG_CACHE_HOME: ~/.cache.
  unsetenv("XDG_CACHE_HOME");
  make("home/.cache/pareto/models/ocr");
  setenv("HOME", (root_ / "home").c_str(), 1);
  r = pareto::find_model_dir(pareto::ocr_models());
  ASSERT_TRUE(r.ok()) << r.status().message;
  EXPECT_NE(r.value().find("home/.cache/pareto/models/ocr"), std::string::npos);
}

TEST_F(ModelLookup, EnvironmentComesBeforeTheCacheAndExplicitFolderIsTheOnlyOneTried) {
  make("cache/pareto/models/ocr");
  setenv("XDG_CACHE_HOME", (root_ / "cache").c_str(), 1);
  const std::string mine = make("mine");
  setenv("PARETO_OCR_MODELS", mine.c_str(), 1);
  auto r = pareto::find_model_dir(pareto::ocr_models());
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r.value().find("mine"), std::string::npos);
  r = pareto::find_model_dir(pareto::ocr_models(), (root_ / "nowhere").string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message.find("nowhere"), std::string::npos);
}

TEST_F(ModelLookup, MissingModelsSayWhereItLookedAndHowToFetchThem) {
  setenv("XDG_CACHE_HOME", (root_ / "empty").c_str(), 1);
  // A file no folder holds (the checkout's own models/ may be fetched).
  pareto::ModelLocation absent = pareto::ocr_models();
  absent.probe_file = "pareto_test_absent.onnx";
  auto r = pareto::find_model_dir(absent);
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message;
  EXPECT_NE(m.find("pareto_test_absent.onnx"), std::string::npos) << m;
  EXPECT_NE(m.find((root_ / "empty/pareto/models/ocr").string()), std::string::npos) << m;
  EXPECT_NE(m.find("scripts/fetch-models.sh"), std::string::npos) << m;
  EXPECT_NE(m.find("PARETO_OCR_MODELS"), std::string::npos) << m;
}

TEST_F(ModelLookup, VadVariableNamesTheFileWhateverItIsCalled) {
  const auto dir = root_ / "custom";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "my_vad.onnx") << "x";
  setenv("PARETO_VAD_MODEL", (dir / "my_vad.onnx").c_str(), 1);
  auto r = pareto::find_model_file(pareto::vad_models());
  ASSERT_TRUE(r.ok()) << r.status().message;
  EXPECT_EQ(r.value(), (dir / "my_vad.onnx").string());
  setenv("PARETO_VAD_MODEL", (dir / "missing.onnx").c_str(), 1);
  r = pareto::find_model_file(pareto::vad_models());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message.find("missing.onnx"), std::string::npos) << r.status().message;
  EXPECT_NE(r.status().message.find("PARETO_VAD_MODEL"), std::string::npos) << r.status().message;
  // An explicit file wins over the variable.
  r = pareto::find_model_file(pareto::vad_models(), (dir / "my_vad.onnx").string());
  ASSERT_TRUE(r.ok()) << r.status().message;
}

}  // namespace
