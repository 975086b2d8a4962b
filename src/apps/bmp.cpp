// Uncompressed Windows bitmaps (BI_RGB: 8-bit paletted, 24- and 32-bit):
// the test images of Coral's and TFLite's classification examples. Every
// header field is checked against the file before a pixel is read.
#include <cstring>
#include <fstream>

#include "apps/image.h"
#include "pareto/error.h"
#include "pareto/limits.hpp"

namespace pareto::apps {

namespace {

uint32_t u32_at(const std::vector<uint8_t>& b, size_t at) {
  return uint32_t(b[at]) | uint32_t(b[at + 1]) << 8 | uint32_t(b[at + 2]) << 16 | uint32_t(b[at + 3]) << 24;
}
uint16_t u16_at(const std::vector<uint8_t>& b, size_t at) { return uint16_t(b[at] | b[at + 1] << 8); }

}  // namespace

Image load_bmp(const std::string& path, int64_t max_pixels) {
  if (max_pixels < 0) max_pixels = current_limits().image_pixels;
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) fail(StatusCode::io_error, path + ": cannot open image");
  const uint64_t file_size = uint64_t(f.tellg());
  f.seekg(0);
  // The headers first; the pixels are read only once the headers say how many there are.
  constexpr size_t kFileHeader = 14, kHeaders = kFileHeader + 40;
  std::vector<uint8_t> b(kHeaders);
  if (file_size < kHeaders || !f.read(reinterpret_cast<char*>(b.data()), long(kHeaders)) || b[0] != 'B' || b[1] != 'M')
    fail_argument(path + ": not a BMP file (or its header is cut short)");
  const uint32_t pixel_offset = u32_at(b, 10), dib_size = u32_at(b, 14);
  if (dib_size < 40) fail_unsupported(path + ": BMP header of " + std::to_string(dib_size) + " bytes (OS/2 bitmaps) is not supported");
  const int32_t width = int32_t(u32_at(b, 18)), height_field = int32_t(u32_at(b, 22));
  const uint16_t bpp = u16_at(b, 28);
  const uint32_t compression = u32_at(b, 30);
  // BI_BITFIELDS (3) would need its channel masks read: refused rather than guessed.
  if (compression != 0) fail_unsupported(path + ": BMP compression " + std::to_string(compression) + " (RLE or bit fields) is not supported");
  if (bpp != 8 && bpp != 24 && bpp != 32) fail_unsupported(path + ": BMP with " + std::to_string(bpp) + " bits per pixel is not supported");
  const bool top_down = height_field < 0;
  const int64_t height = top_down ? -int64_t(height_field) : height_field;
  if (width <= 0 || height <= 0) fail_argument(path + ": BMP of " + std::to_string(width) + " x " + std::to_string(height) + " pixels");
  if (int64_t(width) * height > max_pixels)
    fail_argument(path + ": " + std::to_string(width) + " x " + std::to_string(height) + " pixels exceed the image limit of " + std::to_string(max_pixels));
  // Rows are padded to 4 bytes.
  const uint64_t row_bytes = (uint64_t(width) * bpp + 31) / 32 * 4;
  // width and height are below 2^31 and their product below the pixel limit: no sum or product here wraps.
  const uint64_t pixels_end = uint64_t(pixel_offset) + row_bytes * uint64_t(height);
  if (pixel_offset < kHeaders || pixels_end > file_size)
    fail_argument(path + ": the BMP's pixels (" + std::to_string(row_bytes) + " bytes x " + std::to_string(height) + " rows from offset " +
                  std::to_string(pixel_offset) + ") run past the end of the " + std::to_string(file_size) + "-byte file");
  b.resize(size_t(pixels_end));
  if (!f.read(reinterpret_cast<char*>(b.data()) + kHeaders, long(pixels_end - kHeaders))) fail(StatusCode::io_error, path + ": cannot read the BMP's pixels");
  std::vector<uint8_t> palette;  // 8-bit: B, G, R, reserved per entry
  if (bpp == 8) {
    uint32_t colors = u32_at(b, 46);
    if (colors == 0) colors = 256;
    const size_t at = kFileHeader + dib_size;
    if (colors > 256 || at + size_t(colors) * 4 > pixel_offset) fail_argument(path + ": the BMP's palette does not fit before its pixels");
    palette.assign(b.begin() + long(at), b.begin() + long(at + size_t(colors) * 4));
  }
  Image img;
  img.width = width, img.height = int(height);
  img.rgb.resize(size_t(width) * size_t(height) * 3);
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* row = b.data() + pixel_offset + size_t(top_down ? y : height - 1 - y) * row_bytes;
    uint8_t* out = img.rgb.data() + size_t(y) * size_t(width) * 3;
    for (int64_t x = 0; x < width; ++x, out += 3) {
      if (bpp == 8) {
        const size_t i = size_t(row[x]) * 4;
        if (i + 3 > palette.size()) fail_argument(path + ": a pixel names palette entry " + std::to_string(row[x]) + " past the palette");
        out[0] = palette[i + 2], out[1] = palette[i + 1], out[2] = palette[i];
      } else {
        const uint8_t* p = row + size_t(x) * (bpp / 8);  // stored B, G, R (, A)
        out[0] = p[2], out[1] = p[1], out[2] = p[0];
      }
    }
  }
  return img;
}

}  // namespace pareto::apps
