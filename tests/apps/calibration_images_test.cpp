// Image calibration folders for pareto quantize: resize, channel order and
// normalization of each sample, the sample limit, clear errors.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "apps/image.h"
#include "pareto/calibration_images.hpp"
#include "scratch_dir.h"

using namespace pareto;

namespace {

// A w x h image whose pixel (x, y) is (10x, 20y, 7 + i) for image i.
apps::Image pattern(int w, int h, int i) {
  apps::Image img;
  img.width = w;
  img.height = h;
  img.rgb.resize(size_t(w * h * 3));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.rgb.data() + (size_t(y) * size_t(w) + size_t(x)) * 3;
      p[0] = uint8_t(10 * x);
      p[1] = uint8_t(20 * y);
      p[2] = uint8_t(7 + i);
    }
  return img;
}

}  // namespace

TEST(CalibrationImages, ResizeOrderAndNormalization) {
  const std::string dir = pareto::testing::scratch_dir("calib_images");
  ASSERT_EQ(std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str()), 0);
  for (int i = 0; i < 3; ++i) apps::save_png(pattern(12, 8, i), dir + "/img" + std::to_string(i) + ".png");
  std::ofstream(dir + "/notes.txt") << "not an image";
  EXPECT_TRUE(folder_has_images(dir));

  ImageCalibration how;
  how.shape = {1, 3, 8, 12};  // the images' own size: the resize keeps every pixel
  how.mean = {0.5f, 0.25f, 0.f};
  how.std = {0.5f, 0.5f, 2.f};
  how.bgr = true;
  auto s = load_calibration_images(dir, "x", how);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  ASSERT_EQ(s.value().size(), 3u);
  const Tensor& t = s.value()[2].at("x");
  ASSERT_EQ(t.shape(), (Shape{1, 3, 8, 12}));
  const float* v = t.data<float>();
  const int x = 5, y = 3;
  // BGR: model channel 0 is blue (7 + 2), 1 green (20y), 2 red (10x).
  EXPECT_NEAR(v[(0 * 8 + y) * 12 + x], (9.f / 255.f - 0.5f) / 0.5f, 1e-6f);
  EXPECT_NEAR(v[(1 * 8 + y) * 12 + x], (60.f / 255.f - 0.25f) / 0.5f, 1e-6f);
  EXPECT_NEAR(v[(2 * 8 + y) * 12 + x], (50.f / 255.f - 0.f) / 2.f, 1e-6f);

  how.shape = {1, 3, 4, 6};  // downscaled
  auto small = load_calibration_images(dir, "x", how, 2);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small.value().size(), 2u) << "the limit";
  EXPECT_EQ(small.value()[0].at("x").shape(), (Shape{1, 3, 4, 6}));

  how.shape = {3, 8, 12};
  auto bad = load_calibration_images(dir, "x", how);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message.find("1x3xHxW"), std::string::npos) << bad.status().message;
  how.shape = {1, 3, 8, 12};
  how.std = {1.f, 0.f, 1.f};
  EXPECT_FALSE(load_calibration_images(dir, "x", how).ok()) << "zero std";

  const std::string empty = pareto::testing::scratch_dir("calib_images_empty");
  ASSERT_EQ(std::system(("rm -rf " + empty + " && mkdir -p " + empty).c_str()), 0);
  EXPECT_FALSE(folder_has_images(empty));
  how.std = {1.f, 1.f, 1.f};
  auto none = load_calibration_images(empty, "x", how);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message.find("no calibration images"), std::string::npos);
}
