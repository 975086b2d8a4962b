#include "apps/image.h"

#include <jpeglib.h>
#include <png.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

#include "pareto/error.h"
#include "pareto/limits.hpp"

namespace pareto::apps {

namespace {

void check_size(const std::string& path, int64_t w, int64_t h, int64_t max_pixels) {
  if (w <= 0 || h <= 0) fail_argument(path + ": image has no pixels");
  if (w * h <= max_pixels) return;
  const std::string what = path + ": an image of " + std::to_string(w) + "x" + std::to_string(h) + " pixels";
  if (max_pixels == current_limits().image_pixels) check_limit(what, uint64_t(w) * uint64_t(h), "image-pixels");
  fail_argument(what + " is larger than the limit of " + std::to_string(max_pixels) + " pixels");
}

Image load_png(const std::string& path, int64_t max_pixels) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&img, path.c_str())) fail_argument(path + ": not a readable PNG (" + img.message + ")");
  std::unique_ptr<png_image, void (*)(png_image*)> guard(&img, png_image_free);
  check_size(path, img.width, img.height, max_pixels);
  img.format = PNG_FORMAT_RGB;
  Image out;
  out.width = int(img.width);
  out.height = int(img.height);
  out.rgb.resize(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, nullptr, out.rgb.data(), 0, nullptr)) fail_argument(path + ": corrupt PNG (" + img.message + ")");
  return out;
}

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_quiet(j_common_ptr) {}  // warnings are counted and turned into errors, not printed

void jpeg_fail(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  e->mgr.format_message(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

// libjpeg reports errors by longjmp: everything with a destructor lives
// outside this function, which only touches the decoder and raw buffers.
bool decode_jpeg(std::FILE* f, jpeg_decompress_struct* cinfo, JpegError* err, std::vector<uint8_t>* rgb, int* w, int* h,
                 int64_t max_pixels, bool* too_big) {
  cinfo->err = jpeg_std_error(&err->mgr);
  err->mgr.error_exit = jpeg_fail;
  err->mgr.output_message = jpeg_quiet;
  if (setjmp(err->jump)) {
    jpeg_destroy_decompress(cinfo);
    return false;
  }
  jpeg_create_decompress(cinfo);
  jpeg_stdio_src(cinfo, f);
  jpeg_read_header(cinfo, TRUE);
  // The size limit before decoding starts: for a progressive JPEG,
  // jpeg_start_decompress allocates coefficient buffers for the whole image
  // (gigabytes for a few hundred bytes of header).
  if (int64_t(cinfo->image_width) * int64_t(cinfo->image_height) > max_pixels) {
    *w = int(cinfo->image_width);
    *h = int(cinfo->image_height);
    *too_big = true;
    jpeg_destroy_decompress(cinfo);
    return false;
  }
  cinfo->out_color_space = JCS_RGB;
  jpeg_start_decompress(cinfo);
  *w = int(cinfo->output_width);
  *h = int(cinfo->output_height);
  if (int64_t(*w) * *h > max_pixels || cinfo->output_components != 3) {
    *too_big = int64_t(*w) * *h > max_pixels;
    jpeg_destroy_decompress(cinfo);
    return false;
  }
  rgb->resize(size_t(*w) * size_t(*h) * 3);  // allocation failure throws past no live libjpeg frame of ours
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = rgb->data() + size_t(cinfo->output_scanline) * size_t(*w) * 3;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_decompress(cinfo);
  jpeg_destroy_decompress(cinfo);
  return true;
}

Image load_jpeg(const std::string& path, int64_t max_pixels) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) fail(StatusCode::io_error, path + ": cannot open");
  jpeg_decompress_struct cinfo;
  JpegError err;
  Image out;
  bool too_big = false;
  if (!decode_jpeg(f.get(), &cinfo, &err, &out.rgb, &out.width, &out.height, max_pixels, &too_big)) {
    if (too_big) check_size(path, out.width, out.height, max_pixels);
    fail_argument(path + ": corrupt or unsupported JPEG (" + std::string(err.message[0] ? err.message : "not RGB") + ")");
  }
  if (err.mgr.num_warnings > 0) fail_argument(path + ": truncated or corrupt JPEG data");
  return out;
}

}  // namespace

void save_png(const Image& img, const std::string& path) {
  if (img.width <= 0 || img.height <= 0 || img.rgb.size() != size_t(img.width) * size_t(img.height) * 3)
    fail_argument(path + ": no image to write");
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), std::fclose);
  if (!f) fail(StatusCode::io_error, path + ": cannot write");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    fail(StatusCode::internal, path + ": libpng could not start");
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    fail(StatusCode::io_error, path + ": PNG write failed");
  }
  png_init_io(png, f.get());
  png_set_IHDR(png, info, png_uint_32(img.width), png_uint_32(img.height), 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < img.height; ++y) png_write_row(png, const_cast<png_bytep>(img.at(0, y)));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
}

Image load_image(const std::string& path, int64_t max_pixels) {
  if (max_pixels < 0) max_pixels = current_limits().image_pixels;
  unsigned char sig[8] = {};
  {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
    if (!f) fail(StatusCode::io_error, path + ": cannot open image");
    if (std::fread(sig, 1, 8, f.get()) < 3) fail_argument(path + ": too short to be an image");
  }
  if (std::memcmp(sig, "\x89PNG", 4) == 0) return load_png(path, max_pixels);
  if (sig[0] == 0xFF && sig[1] == 0xD8 && sig[2] == 0xFF) return load_jpeg(path, max_pixels);
  if (sig[0] == 'B' && sig[1] == 'M') return load_bmp(path, max_pixels);
  fail_argument(path + ": not a PNG, JPEG or BMP image");
}

namespace {
// Keys' cubic convolution weights (a = -0.75) for a sample at fraction t
// past the second of four taps.
void cubic_weights(float t, float w[4]) {
  constexpr float a = -0.75f;
  const float d[4] = {1 + t, t, 1 - t, 2 - t};
  for (int i = 0; i < 4; ++i) {
    const float x = d[i];
    w[i] = x <= 1 ? ((a + 2) * x - (a + 3)) * x * x + 1 : ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  }
}

// Bicubic (Keys, a = -0.75: OpenCV's INTER_CUBIC) with the border replicated.
void sample_bicubic(const Image& src, float fx, float fy, uint8_t* out) {
  // Far outside (or not a number) only replicates the border anyway; the
  // clamp keeps the integer conversion defined.
  fx = std::isfinite(fx) ? std::clamp(fx, -2.f, float(src.width) + 1) : 0.f;
  fy = std::isfinite(fy) ? std::clamp(fy, -2.f, float(src.height) + 1) : 0.f;
  const int x0 = int(std::floor(fx)), y0 = int(std::floor(fy));
  const float tx = fx - float(x0), ty = fy - float(y0);
  float wx[4], wy[4];
  cubic_weights(tx, wx);
  cubic_weights(ty, wy);
  float acc[3] = {0, 0, 0};
  for (int j = 0; j < 4; ++j) {
    const int y = std::clamp(y0 - 1 + j, 0, src.height - 1);
    for (int i = 0; i < 4; ++i) {
      const uint8_t* p = src.at(std::clamp(x0 - 1 + i, 0, src.width - 1), y);
      const float w = wx[i] * wy[j];
      for (int c = 0; c < 3; ++c) acc[c] += w * float(p[c]);
    }
  }
  for (int c = 0; c < 3; ++c) out[c] = uint8_t(std::lround(std::clamp(acc[c], 0.f, 255.f)));
}

// Source taps of every output position along one axis (pixel-centre
// alignment, border replicated): `taps` indices and weights per position.
struct AxisTaps {
  int taps = 0;
  std::vector<int> index;
  std::vector<float> weight;
};

AxisTaps axis_taps(int src_len, int dst_len, bool cubic) {
  AxisTaps t;
  t.taps = cubic ? 4 : 2;
  t.index.resize(size_t(dst_len) * size_t(t.taps));
  t.weight.resize(t.index.size());
  const float scale = float(src_len) / float(dst_len);
  for (int o = 0; o < dst_len; ++o) {
    const float f = (float(o) + 0.5f) * scale - 0.5f;
    int* idx = &t.index[size_t(o) * size_t(t.taps)];
    float* w = &t.weight[size_t(o) * size_t(t.taps)];
    if (cubic) {
      const int i0 = int(std::floor(f));
      cubic_weights(f - float(i0), w);
      for (int k = 0; k < 4; ++k) idx[k] = std::clamp(i0 - 1 + k, 0, src_len - 1);
    } else {
      const float c = std::clamp(f, 0.f, float(src_len - 1));
      const int i0 = int(c);
      idx[0] = i0;
      idx[1] = std::min(i0 + 1, src_len - 1);
      w[1] = c - float(i0);
      w[0] = 1 - w[1];
    }
  }
  return t;
}

// Separable resize: rows first into floats, then columns; each output
// pixel costs taps_x + taps_y multiply-adds per channel instead of their
// product.
Image resize_separable(const Image& src, int width, int height, bool cubic) {
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.resize(size_t(width) * size_t(height) * 3);
  if (src.width <= 0 || src.height <= 0 || width <= 0 || height <= 0) return out;
  const AxisTaps tx = axis_taps(src.width, width, cubic), ty = axis_taps(src.height, height, cubic);
  std::vector<float> rows(size_t(src.height) * size_t(width) * 3);
  for (int y = 0; y < src.height; ++y) {
    const uint8_t* s = src.at(0, y);
    float* r = &rows[size_t(y) * size_t(width) * 3];
    for (int x = 0; x < width; ++x) {
      float acc[3] = {0, 0, 0};
      for (int k = 0; k < tx.taps; ++k) {
        const size_t j = size_t(x) * size_t(tx.taps) + size_t(k);
        const uint8_t* p = s + size_t(tx.index[j]) * 3;
        for (int c = 0; c < 3; ++c) acc[c] += tx.weight[j] * float(p[c]);
      }
      for (int c = 0; c < 3; ++c) r[size_t(x) * 3 + size_t(c)] = acc[c];
    }
  }
  std::vector<float> acc(size_t(width) * 3);
  for (int y = 0; y < height; ++y) {
    std::fill(acc.begin(), acc.end(), 0.f);
    for (int k = 0; k < ty.taps; ++k) {
      const size_t j = size_t(y) * size_t(ty.taps) + size_t(k);
      const float w = ty.weight[j];
      const float* r = &rows[size_t(ty.index[j]) * size_t(width) * 3];
      for (size_t i = 0; i < acc.size(); ++i) acc[i] += w * r[i];
    }
    uint8_t* d = out.rgb.data() + size_t(y) * size_t(width) * 3;
    for (size_t i = 0; i < acc.size(); ++i) d[i] = uint8_t(std::lround(std::clamp(acc[i], 0.f, 255.f)));
  }
  return out;
}

}  // namespace

Image resize_bilinear(const Image& src, int width, int height) { return resize_separable(src, width, height, false); }
Image resize_bicubic(const Image& src, int width, int height) { return resize_separable(src, width, height, true); }

namespace {
// Solves the 8x8 system for the homography taking (u, v) of the output
// rectangle to (x, y) in the source: x = (a u + b v + c) / (g u + h v + 1), ...
bool homography(const PointF dst[4], const PointF src[4], double h[9]) {
  double m[8][9] = {};
  for (int i = 0; i < 4; ++i) {
    const double u = dst[i].x, v = dst[i].y, x = src[i].x, y = src[i].y;
    double r0[9] = {u, v, 1, 0, 0, 0, -u * x, -v * x, x};
    double r1[9] = {0, 0, 0, u, v, 1, -u * y, -v * y, y};
    std::memcpy(m[2 * i], r0, sizeof r0);
    std::memcpy(m[2 * i + 1], r1, sizeof r1);
  }
  for (int c = 0; c < 8; ++c) {
    int p = c;
    for (int r = c + 1; r < 8; ++r)
      if (std::fabs(m[r][c]) > std::fabs(m[p][c])) p = r;
    if (std::fabs(m[p][c]) < 1e-12) return false;
    std::swap(m[c], m[p]);
    for (int r = 0; r < 8; ++r) {
      if (r == c) continue;
      const double f = m[r][c] / m[c][c];
      for (int k = c; k < 9; ++k) m[r][k] -= f * m[c][k];
    }
  }
  for (int i = 0; i < 8; ++i) h[i] = m[i][8] / m[i][i];
  h[8] = 1;
  return true;
}
}  // namespace

Image warp_quad(const Image& src, const PointF q[4], int width, int height) {
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.assign(size_t(width) * size_t(height) * 3, 0);
  const PointF rect[4] = {{0, 0}, {float(width), 0}, {float(width), float(height)}, {0, float(height)}};
  // An upright rectangle on whole pixels, as large as the output, inside the
  // image (most text lines): the transform is a whole-pixel shift and
  // bicubic sampling at whole pixels returns them unchanged, so copy rows.
  const int x0 = int(q[0].x), y0 = int(q[0].y);
  const bool upright = q[0].x == float(x0) && q[0].y == float(y0) && q[1].x == float(x0 + width) && q[1].y == q[0].y &&
                       q[2].x == q[1].x && q[2].y == float(y0 + height) && q[3].x == q[0].x && q[3].y == q[2].y;
  if (upright && x0 >= 0 && y0 >= 0 && x0 + width <= src.width && y0 + height <= src.height) {
    for (int y = 0; y < height; ++y)
      std::memcpy(out.rgb.data() + size_t(y) * size_t(width) * 3, src.at(x0, y0 + y), size_t(width) * 3);
    return out;
  }
  double h[9];
  if (!homography(rect, q, h)) return out;  // degenerate quad: a blank crop
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      // OpenCV's warpPerspective convention (PaddleOCR's crop): output pixel
      // (x, y) samples the source at H(x, y), whole pixel indices on both sides.
      const double u = x, v = y, w = h[6] * u + h[7] * v + 1;
      const float sx = float((h[0] * u + h[1] * v + h[2]) / w), sy = float((h[3] * u + h[4] * v + h[5]) / w);
      uint8_t* dst = out.rgb.data() + (size_t(y) * size_t(width) + size_t(x)) * 3;
      sample_bicubic(src, sx, sy, dst);
    }
  return out;
}

Image rotate_180(const Image& src) {
  Image out = src;
  const size_t n = size_t(src.width) * size_t(src.height);
  for (size_t i = 0; i < n; ++i) std::memcpy(out.rgb.data() + i * 3, src.rgb.data() + (n - 1 - i) * 3, 3);
  return out;
}

Image rotate_90_ccw(const Image& src) {
  Image out;
  out.width = src.height;
  out.height = src.width;
  out.rgb.resize(src.rgb.size());
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) std::memcpy(out.rgb.data() + (size_t(y) * size_t(out.width) + size_t(x)) * 3, src.at(src.width - 1 - y, x), 3);
  return out;
}

}  // namespace pareto::apps
