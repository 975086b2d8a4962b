// The int8 conv's VNNI panel built from copies of the input rows
// (avx512vnni::panel_from_windows) against the im2col definition written
// out here byte by byte: strides 1-4, dilation, padding wider than a tap's
// reach and none, rows shorter than a vector and longer than several,
// tiles that start and end inside a row, int8 input (the flip), k not a
// multiple of 4. Whole convs through the path are checked against their
// direct twin in int8_conv_test.cpp.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "core/cpu.h"
#include "kernels/int8_conv.h"
#include "kernel_test_util.h"

using namespace pareto;
using namespace pareto::kernels;
using pareto::testing::ConvCase;
using pareto::testing::params_of;

#if defined(__x86_64__)
namespace {

// Column q (output pixel first + q) of quad kq, byte b: im2col row kk = 4 kq + b.
std::vector<uint8_t> panel_by_definition(const ConvParams& p, const std::vector<uint8_t>& x, int64_t cin, uint8_t flip, uint8_t pad,
                                         int64_t k4, int64_t first, int64_t count, int64_t n16) {
  const int64_t k = cin * p.kh * p.kw;
  std::vector<uint8_t> out(size_t(k4 * n16), 0);
  for (int64_t kk = 0; kk < k4; ++kk)
    for (int64_t q = 0; q < count; ++q) {
      uint8_t v = 0;
      if (kk < k) {
        const int64_t c = kk / (p.kh * p.kw), i = kk / p.kw % p.kh, j = kk % p.kw;
        const int64_t oh = (first + q) / p.out_w, ow = (first + q) % p.out_w;
        const int64_t ih = oh * p.stride_h - p.pad_top + i * p.dil_h, iw = ow * p.stride_w - p.pad_left + j * p.dil_w;
        v = ih >= 0 && ih < p.h && iw >= 0 && iw < p.w ? uint8_t(x[size_t((c * p.h + ih) * p.w + iw)] ^ flip) : pad;
      }
      out[size_t(((kk / 4) * n16 + q) * 4 + kk % 4)] = v;
    }
  return out;
}

}  // namespace

TEST(Int8Panel, WindowsMatchTheIm2colDefinition) {
  const CpuFeatures& f = cpu_features();
  if (!(f.avx512vnni && f.avx512bw && f.avx512vbmi)) GTEST_SKIP() << "no AVX-512 VNNI + VBMI here: the window panel does not run";
  // n, cin, h, w, cout, kh, kw, group, strides, dilations, pads (top, left, bottom, right)
  const ConvCase cases[] = {
      {1, 3, 48, 192, 8, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1},    // PP-OCR cls's stem
      {1, 3, 9, 1, 8, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1},       // a one-pixel-wide image: one output column
      {1, 2, 5, 17, 4, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},      // 1x1 stride 1 (k = 2: one quad, two taps past k)
      {1, 5, 7, 150, 4, 3, 3, 1, 1, 2, 1, 1, 1, 1, 1, 1},     // stride (1, 2), rows of 75 outputs: a 11-column last group
      {1, 3, 6, 100, 4, 3, 5, 1, 1, 3, 1, 2, 2, 4, 1, 3},     // stride 3, dilation 2, pads wider than the left tap
      {1, 4, 5, 131, 4, 2, 4, 1, 2, 4, 1, 1, 0, 0, 1, 3},     // stride 4, even kernel, no left padding
      {1, 1, 3, 33, 4, 1, 11, 1, 1, 1, 1, 1, 0, 5, 0, 5},     // 1 x 11 kernel, pad 5 each side
      {1, 7, 11, 64, 4, 3, 3, 1, 2, 2, 2, 2, 2, 2, 2, 2},     // dilation 2 both ways, k = 63
  };
  std::mt19937 rng(11);
  int64_t tiles = 0;
  for (const ConvCase& c : cases) {
    const ConvParams p = params_of(c);
    const int64_t k = c.cin * c.kh * c.kw, k4 = (k + 3) / 4 * 4, plane = p.out_h * p.out_w;
    std::vector<uint8_t> x(size_t(c.cin * c.h * c.w));
    for (auto& v : x) v = uint8_t(rng());
    for (int signed_input = 0; signed_input < 2; ++signed_input) {
      const uint8_t flip = signed_input ? 0x80 : 0, pad = signed_input ? 0x83 : 131;
      // Whole planes, single pixels, and tiles starting and ending mid-row.
      std::vector<std::pair<int64_t, int64_t>> spans = {{0, plane}, {0, 1}, {plane - 1, 1}};
      for (int r = 0; r < 6; ++r) {
        const int64_t a = int64_t(rng() % uint64_t(plane)), b = int64_t(rng() % uint64_t(plane));
        spans.push_back({std::min(a, b), std::max(a, b) - std::min(a, b) + 1});
      }
      for (auto [first, count] : spans) {
        const int64_t rows = avx512vnni::panel_window_rows(p, first, count);
        ASSERT_TRUE(avx512vnni::panel_from_windows_fits(p, c.cin, c.w, rows)) << "kw=" << c.kw << " sw=" << c.sw;
        const int64_t n16 = (count + 15) / 16 * 16;
        const std::vector<uint8_t> want = panel_by_definition(p, x, c.cin, flip, pad, k4, first, count, n16);
        std::vector<uint8_t> got(want.size() + 64, 0xEE);
        // The caller zeroes columns [count, n16) (int8_conv.cpp); here they start so.
        for (int64_t kq = 0; kq < k4 / 4; ++kq) std::fill_n(got.begin() + (kq * n16 + count) * 4, (n16 - count) * 4, 0);
        avx512vnni::panel_from_windows(p, x.data(), c.cin, c.h, c.w, flip, pad, k, k4, first, count, got.data(), n16 * 4);
        for (size_t i = 0; i < want.size(); ++i)
          ASSERT_EQ(got[i], want[i]) << "kw=" << c.kw << " sw=" << c.sw << " w=" << c.w << " first=" << first << " count=" << count
                                     << " signed=" << signed_input << " byte " << i;
        for (size_t i = want.size(); i < got.size(); ++i) ASSERT_EQ(got[i], 0xEE) << "write past the panel";
        ++tiles;
      }
    }
  }
  EXPECT_EQ(tiles, int64_t(std::size(cases)) * 2 * 9);
}

TEST(Int8Panel, WindowsRefuseWhatTheyCannotHold) {
  ConvParams p = params_of({1, 3, 48, 192, 8, 3, 3, 1, 5, 5, 1, 1, 1, 1, 1, 1});
  EXPECT_FALSE(avx512vnni::panel_from_windows_fits(p, 3, 192, 3)) << "stride 5: 16 columns span more than 64 bytes";
  p = params_of({1, 3, 48, 192, 8, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1});
  EXPECT_TRUE(avx512vnni::panel_from_windows_fits(p, 3, 192, 3));
  EXPECT_FALSE(avx512vnni::panel_from_windows_fits(p, 4096, 192, 3)) << "copies of 4096 channels' rows past 1 MiB";
  p = params_of({1, 3, 8, 300, 8, 1, 130, 1, 1, 1, 1, 1, 0, 65, 0, 64});
  EXPECT_FALSE(avx512vnni::panel_from_windows_fits(p, 3, 300, 1)) << "left padding past the copy's margin";
}
#endif  // x86-64
