// The OCR set's character error rate (ocr::score_set, edit_distance_utf8):
// what pareto tune uses as its OCR task metric, so it must count as
// bench/ocr/score.mjs does: code points, not bytes; a missed line costs its
// characters and the line break; spaces inside lines count.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "pareto/ocr.hpp"
#include "scratch_dir.h"

using pareto::ocr::edit_distance_utf8;

namespace {

std::string models() { return std::string(PARETO_SOURCE_DIR) + "/models/ocr"; }
bool have_models() { return bool(std::ifstream(models() + "/ch_PP-OCRv4_rec_infer.onnx")); }
bool have_convert() { return std::system("convert -version 2>/dev/null | grep -q ImageMagick") == 0; }

void render(const std::string& text, const std::string& path) {
  const std::string cmd = "convert -background white -fill black -font /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf -pointsize 32 label:'" +
                          text + "' -bordercolor white -border 24 " + path;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

}  // namespace

TEST(OcrScore, EditDistanceCountsCodePoints) {
  EXPECT_EQ(edit_distance_utf8("kitten", "sitting"), 3);
  EXPECT_EQ(edit_distance_utf8("", "abc"), 3);
  EXPECT_EQ(edit_distance_utf8("abc", ""), 3);
  EXPECT_EQ(edit_distance_utf8("same", "same"), 0);
  // One Chinese character is one edit, not its three UTF-8 bytes.
  EXPECT_EQ(edit_distance_utf8("今天天气很好", "今天天气好"), 1);
  EXPECT_EQ(edit_distance_utf8("价格", "价钱"), 1);
  // A space is a character like any other.
  EXPECT_EQ(edit_distance_utf8("Tel: 010", "Tel:010"), 1);
  // Full-width and ASCII forms differ.
  EXPECT_EQ(edit_distance_utf8("A,B", "A，B"), 1);
  // A malformed byte is one character of its own, never read past the end.
  EXPECT_EQ(edit_distance_utf8(std::string("a\xE4", 2), "a"), 1);
  EXPECT_EQ(edit_distance_utf8(std::string("\xF0\x9F\x98\x80", 4), "x"), 1);  // one 4-byte code point
  // A stray byte equals no real character (not U+00E9 for 0xE9).
  EXPECT_EQ(edit_distance_utf8(std::string("\xE9", 1), "\u00e9"), 1);
  EXPECT_EQ(edit_distance_utf8(std::string("\x80", 1), "\u0080"), 1);
}

TEST(OcrScore, SetScoreCountsMissedLinesAndTakesEveryNth) {
  if (!have_models()) GTEST_SKIP() << "OCR models not found in models/ocr (run scripts/fetch-models.sh)";
  if (!have_convert()) GTEST_SKIP() << "ImageMagick 'convert' not installed (scripts/setup.sh)";
  const std::string dir = pareto::testing::scratch_dir();
  render("Open source inference engine", dir + "/a.png");
  render("Battery level is low", dir + "/b.png");
  render("Fresh bread every morning", dir + "/c.png");
  auto p = pareto::ocr::Pipeline::open(models());
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  // What the pipeline reads from each image, joined as the score joins them.
  auto read = [&](const std::string& file) {
    auto r = p.value()->run_file(dir + "/" + file);
    EXPECT_TRUE(r.ok());
    std::string s;
    for (size_t i = 0; i < r.value().lines.size(); ++i) s += (i ? "\n" : "") + r.value().lines[i].text;
    return s;
  };
  const std::string a = read("a.png"), c = read("c.png");
  // b's truth has a second line the image does not show: 11 characters + the line break missed.
  std::ofstream(dir + "/truth.json") << R"([{"file": "a.png", "lines": ["Open source inference engine"]},
    {"file": "b.png", "lines": ["Battery level is low", "not printed"]},
    {"file": "c.png", "lines": ["Fresh bread every morning!"]}])";
  auto all = pareto::ocr::score_set(*p.value(), dir);
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  const int64_t want_ac = edit_distance_utf8("Open source inference engine", a) + edit_distance_utf8("Fresh bread every morning!", c);
  EXPECT_GE(want_ac, 1);  // the '!' is not in the image
  EXPECT_EQ(all.value().images, 3);
  EXPECT_EQ(all.value().lines, 4);
  EXPECT_EQ(all.value().chars, 28 + 20 + 1 + 11 + 26);
  EXPECT_EQ(all.value().errors, want_ac + edit_distance_utf8("Battery level is low\nnot printed", read("b.png")));
  EXPECT_GE(all.value().errors, want_ac + 12);
  EXPECT_DOUBLE_EQ(all.value().cer(), double(all.value().errors) / double(all.value().chars));
  // Exact lines: a's if read exactly, never b's second or c's (the '!').
  EXPECT_EQ(all.value().exact_lines, (a == "Open source inference engine") + (read("b.png") == "Battery level is low"));
  // Every second image: a and c.
  auto half = pareto::ocr::score_set(*p.value(), dir, 2);
  ASSERT_TRUE(half.ok()) << half.status().to_string();
  EXPECT_EQ(half.value().images, 2);
  EXPECT_EQ(half.value().chars, 28 + 26);
  EXPECT_EQ(half.value().errors, want_ac);
}

TEST(OcrScore, MalformedTruthNamesTheFile) {
  if (!have_models()) GTEST_SKIP() << "OCR models not found in models/ocr (run scripts/fetch-models.sh)";
  const std::string dir = pareto::testing::scratch_dir();
  auto p = pareto::ocr::Pipeline::open(models());
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  for (const std::string& bad : {std::string("[{\"file\": \"a.png\""), std::string("{\"file\": 1}"), std::string("[{\"file\": \"a.png\", \"lines\": [3]}]"),
                                 std::string("[{\"lines\": []}]"), std::string("[{\"file\": \"../x.png\", \"lines\": []}]"),
                                 std::string("[{\"file\": \"/etc/x.png\", \"lines\": []}]")}) {
    std::ofstream(dir + "/truth.json") << bad;
    auto r = pareto::ocr::score_set(*p.value(), dir);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message.find("truth.json"), std::string::npos) << r.status().message;
  }
  auto missing = pareto::ocr::score_set(*p.value(), dir + "/nowhere");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message.find("cannot open"), std::string::npos) << missing.status().message;
}
