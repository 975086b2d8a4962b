// 8-bit RGB images for the perception pipelines: decoding (PNG via libpng,
// JPEG via libjpeg-turbo, BMP our own), bilinear and bicubic resizing and perspective crops.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pareto::apps {

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // height * width * 3, row-major
  const uint8_t* at(int x, int y) const { return rgb.data() + (size_t(y) * size_t(width) + size_t(x)) * 3; }
};

// Decodes a PNG or JPEG file (by signature). Refuses truncated or corrupt
// files, and images above `max_pixels` (< 0: the image-pixels limit in
// force, pareto/limits.hpp), with a message naming the file and the limit.
Image load_image(const std::string& path, int64_t max_pixels = -1);
// Uncompressed BMP (8-bit paletted, 24- or 32-bit); load_image calls it for
// "BM" files. max_pixels < 0: the image-pixels limit in force.
Image load_bmp(const std::string& path, int64_t max_pixels = -1);

// Writes 8-bit RGB PNG (test images, debugging output).
void save_png(const Image& img, const std::string& path);

// Bilinear resize with pixel-centre alignment (the convention of OpenCV's INTER_LINEAR).
Image resize_bilinear(const Image& src, int width, int height);
// Bicubic (OpenCV's INTER_CUBIC kernel, a = -0.75), same alignment, border
// replicated: sharper than bilinear when enlarging.
Image resize_bicubic(const Image& src, int width, int height);

struct PointF {
  float x = 0, y = 0;
};

// Samples the quadrilateral q (top-left, top-right, bottom-right, bottom-left)
// of src into a width x height image through the perspective transform that
// maps the quad to the output rectangle, sampled bicubically (OpenCV's
// INTER_CUBIC, as PaddleOCR crops text lines); outside pixels replicate the
// border.
Image warp_quad(const Image& src, const PointF q[4], int width, int height);

Image rotate_180(const Image& src);
Image rotate_90_ccw(const Image& src);

}  // namespace pareto::apps
