// The integer depthwise conv (kernels/u8_depthwise.h): the VNNI kernel
// against its twin bit for bit (awkward widths, strides, pads, dilation of
// rows, 1-row maps under 5x5 kernels as in PP-OCR cls, zero points 0 /
// 128 / 255, weights at -128 and 127, rows in pieces as the strip walk
// calls it; with the activation in the kernel); the twin against the QDQ graph's float arithmetic; and the
// strip walk (f32_depthwise_conv) choosing it, with float and uint8
// outputs, 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/conv.h"
#include "kernels/dispatch.h"
#include "kernels/int8_conv.h"
#include "kernels/u8_depthwise.h"
#include "kernel_test_util.h"

using namespace pareto;
using namespace pareto::kernels;
using pareto::testing::ConvCase;
using pareto::testing::params_of;

namespace {

// n, cin, h, w, cout, kh, kw, group, strides, dilations, pads (top, left, bottom, right)
const ConvCase kCases[] = {
    {1, 3, 2, 96, 3, 5, 5, 3, 1, 1, 1, 1, 2, 2, 2, 2},        // PP-OCR cls: 2-row map, 5x5
    {1, 2, 6, 96, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},        // stride (2, 1)
    {1, 2, 1, 1, 2, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1},         // 1x1 plane
    {1, 4, 11, 37, 4, 3, 3, 4, 2, 2, 1, 1, 1, 1, 1, 1},       // stride 2, odd width
    {2, 3, 9, 70, 6, 7, 7, 3, 1, 1, 2, 1, 3, 3, 6, 3},        // 7x7 (two tap quads, the second short), multiplier 2, row dilation 2, batch 2
    {1, 2, 5, 17, 2, 1, 9, 2, 1, 2, 1, 1, 0, 4, 0, 4},        // 1x9, stride_w 2
    {1, 2, 8, 130, 2, 5, 5, 2, 1, 1, 1, 1, 0, 0, 0, 0},       // unpadded, 126 columns (a tail of 14)
    {1, 2, 3, 300, 2, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1},       // wide: blocks of 4 and a remainder
    {1, 2, 40, 64, 2, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1},       // 2560 outputs per plane: cut in bands of rows over threads
    {1, 70, 4, 8, 70, 3, 3, 70, 1, 1, 1, 1, 1, 1, 1, 1},      // 70 planes of 32 outputs: groups of 64 planes, 32 per call
    {1, 2, 4, 33, 2, 3, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1},        // a 2-row plane at stride 2 both ways
    {1, 2, 4, 40, 2, 1, 3, 2, 2, 1, 1, 1, 0, 1, 0, 1},        // 1x3 at stride (2, 1): input row 3 read by no output
    {1, 3, 3, 96, 3, 5, 5, 3, 2, 1, 1, 1, 2, 2, 2, 2},        // PP-OCR cls: 3-row map, 5x5 at stride (2, 1)
};

std::vector<uint8_t> bytes(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  uint32_t s = seed;
  for (uint8_t& b : v) b = uint8_t((s = s * 1664525u + 1013904223u) >> 24);
  return v;
}

std::vector<int8_t> codes(size_t n, uint32_t seed) {
  std::vector<int8_t> v(n);
  const std::vector<uint8_t> b = bytes(n, seed);
  for (size_t i = 0; i < n; ++i) v[i] = int8_t(b[i]);
  if (n > 1) {
    v[0] = -128;
    v[1] = 127;
  }
  return v;
}

std::vector<int32_t> row_sums(const std::vector<int8_t>& k, int64_t rows, int64_t kw) {
  std::vector<int32_t> s(size_t(rows), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < kw; ++j) s[size_t(r)] += k[size_t(r * kw + j)];
  return s;
}

std::vector<int32_t> quads(const std::vector<int8_t>& k, int64_t rows, int64_t kw) {
  std::vector<int32_t> q(size_t(rows * u8_depthwise_tap_groups(kw)));
  u8_depthwise_weight_quads(k.data(), rows, kw, q.data());
  return q;
}

// The case's geometry for one channel (the kernels' unit).
ConvParams one_channel(const ConvCase& c) {
  ConvCase one = c;
  one.n = one.cin = one.cout = one.group = 1;
  return params_of(one);
}

std::string name(const ConvCase& c) {
  return "h=" + std::to_string(c.h) + " w=" + std::to_string(c.w) + " k=" + std::to_string(c.kh) + "x" + std::to_string(c.kw) +
         " s=" + std::to_string(c.sh) + "," + std::to_string(c.sw);
}

}  // namespace

#if defined(__x86_64__)  // the VNNI kernel is built for x86-64 only
TEST(U8Depthwise, VnniKernelEqualsTwin) {
  int ran = 0;
  for (const ConvCase& c : kCases) {
    const ConvParams p = one_channel(c);
    if (!u8_depthwise_fast(p)) continue;
    ++ran;
    for (int32_t zero : {0, 128, 255}) {
      const std::vector<uint8_t> x = bytes(size_t(c.h * c.w), uint32_t(3 + zero));
      const std::vector<int8_t> k = codes(size_t(c.kh * c.kw), 5);
      const std::vector<int32_t> sums = row_sums(k, c.kh, c.kw), q = quads(k, c.kh, c.kw);
      // The activation in the kernel's registers: the twin's sums then apply_activation.
      Activation act;
      act.kind = zero == 0 ? ActKind::none : zero == 128 ? ActKind::hard_swish : ActKind::sigmoid;
      if (zero == 255) act.scale = 1.5f, act.shift = -0.25f, act.floor = 0.1f;  // the affine and floor after it
      const U8DepthwisePlane s{x.data(), zero, k.data(), q.data(), sums.data(), 0.0123f, -0.75f, zero == 0 ? nullptr : &act};
      const size_t out = size_t(p.out_h * p.out_w);
      std::vector<float> want(out, -1.f);
      u8_depthwise_rows_ref(p, s, want.data(), 0, p.out_h);
      if (s.act) apply_activation(act, want.data(), nullptr, int64_t(out));
      for (int64_t piece : {int64_t(1), int64_t(3), p.out_h}) {
        std::vector<float> got(out + 16, -2.f);
        std::vector<uint8_t> scratch(u8_depthwise_scratch_bytes(p), 0xCD);
        for (int64_t oh = 0; oh < p.out_h; oh += piece)
          avx512vnni::u8_depthwise_rows(p, s, got.data(), scratch.data(), oh, std::min(p.out_h, oh + piece));
        ASSERT_EQ(std::memcmp(got.data(), want.data(), out * sizeof(float)), 0) << name(c) << " zero=" << zero << " piece=" << piece;
        for (size_t i = out; i < got.size(); ++i) ASSERT_EQ(got[i], -2.f) << "write past the plane: " << name(c);
      }
    }
  }
  if (ran == 0) GTEST_SKIP() << "this CPU has no AVX-512 VNNI with VBMI: the integer depthwise kernel is built but not run";
}

// Several channels' whole planes in one call (u8_depthwise_planes, the
// strip walk's path for short maps): each plane the twin's bits, the
// padded rows' zero-point fill shared by the channels (a scratch left
// dirty by a wider conv first), nothing written past the last plane or
// the scratch; planes with different zero points go one by one.
TEST(U8Depthwise, VnniPlanesAtOnceEqualTwin) {
  int ran = 0;
  for (const ConvCase& c : kCases) {
    const ConvParams p = one_channel(c);
    if (!u8_depthwise_fast(p) || p.out_h > kMaxU8DepthwisePlaneRows) continue;
    ++ran;
    for (int32_t zero : {0, 131, 255, -1})  // -1: each plane its own zero point
      for (int64_t count : {1, 2, 7}) {
        const size_t plane = size_t(p.out_h * p.out_w), in_plane = size_t(c.h * c.w);
        const std::vector<uint8_t> x = bytes(size_t(count) * in_plane, uint32_t(11 + zero));
        std::vector<std::vector<int8_t>> k;
        std::vector<std::vector<int32_t>> sums, q;
        std::vector<U8DepthwisePlane> planes;
        std::vector<float> want(size_t(count) * plane);
        Activation act;  // with one zero point: HardSwish in the kernel (the first plane's, for all)
        act.kind = ActKind::hard_swish;
        for (int64_t ch = 0; ch < count; ++ch) {
          k.push_back(codes(size_t(c.kh * c.kw), uint32_t(20 + ch)));
          sums.push_back(row_sums(k.back(), c.kh, c.kw));
          q.push_back(quads(k.back(), c.kh, c.kw));
        }
        for (int64_t ch = 0; ch < count; ++ch) {
          planes.push_back({x.data() + size_t(ch) * in_plane, zero >= 0 ? zero : int32_t(40 * ch), k[size_t(ch)].data(), q[size_t(ch)].data(),
                            sums[size_t(ch)].data(), 0.01f * float(ch + 1), 0.5f - float(ch), zero == 131 ? &act : nullptr});
          u8_depthwise_rows_ref(p, planes.back(), want.data() + size_t(ch) * plane, 0, p.out_h);
        }
        if (zero == 131) apply_activation(act, want.data(), nullptr, int64_t(want.size()));
        std::vector<float> got(want.size() + 16, -2.f);
        const size_t scratch_bytes = u8_depthwise_scratch_bytes(p);
        std::vector<uint8_t> scratch(scratch_bytes + 64, 0xCD);
        avx512vnni::u8_depthwise_planes(p, planes.data(), count, got.data(), scratch.data());
        ASSERT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)), 0) << name(c) << " zero=" << zero << " count=" << count;
        for (size_t i = want.size(); i < got.size(); ++i) ASSERT_EQ(got[i], -2.f) << "write past the planes: " << name(c);
        for (size_t i = scratch_bytes; i < scratch.size(); ++i) ASSERT_EQ(scratch[i], 0xCD) << "write past the scratch: " << name(c);
      }
  }
  if (ran == 0) GTEST_SKIP() << "this CPU has no AVX-512 VNNI with VBMI: the integer depthwise kernel is built but not run";
}
#endif

// The twin computes what the QDQ graph says: sum of (x - zero) * x_scale
// times k * w_scale, plus the bias, up to float rounding.
TEST(U8Depthwise, TwinIsTheQdqArithmetic) {
  const float x_scale = 0.031f, w_scale = 0.0047f;
  for (const ConvCase& c : kCases) {
    const ConvParams p = one_channel(c);
    const std::vector<uint8_t> x = bytes(size_t(c.h * c.w), 9);
    const std::vector<int8_t> k = codes(size_t(c.kh * c.kw), 10);
    const std::vector<int32_t> sums = row_sums(k, c.kh, c.kw);
    std::vector<float> xf(x.size()), kf(k.size());
    for (size_t i = 0; i < x.size(); ++i) xf[i] = float(int32_t(x[i]) - 77) * x_scale;
    for (size_t i = 0; i < k.size(); ++i) kf[i] = float(k[i]) * w_scale;
    const float bias = 0.3f;
    std::vector<float> want(size_t(p.out_h * p.out_w)), got(want.size());
    f32_conv2d_ref(p, xf.data(), kf.data(), &bias, want.data());
    const U8DepthwisePlane s{x.data(), 77, k.data(), nullptr, sums.data(), x_scale * w_scale, bias};
    u8_depthwise_rows_ref(p, s, got.data(), 0, p.out_h);
    for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5f * (1.f + std::abs(want[i]))) << name(c) << " at " << i;
  }
}

// f32_depthwise_conv with int8_weights set: the integer kernel per plane
// (where it runs), then the activation and the rounding to uint8, as the
// float path does; channel multipliers, batch 2, 1 and 2 threads.
TEST(U8Depthwise, StripWalkTakesTheIntegerKernel) {
  const float x_scale = 0.05f, out_scale = 0.09f;
  const int32_t x_zero = 113, out_zero = 7;
  int ran = 0;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const ConvCase& c : kCases) {
      ConvParams p = params_of(c);
      ASSERT_TRUE(f32_conv_is_depthwise(p));
      if (!u8_depthwise_fast(p)) continue;
      ++ran;
      const int64_t taps = c.kh * c.kw, plane = p.out_h * p.out_w, in_plane = c.h * c.w;
      const std::vector<uint8_t> x = bytes(size_t(c.n * c.cin * in_plane), 21);
      const std::vector<int8_t> k = codes(size_t(c.cout * taps), 22);
      const std::vector<int32_t> sums = row_sums(k, c.cout * c.kh, c.kw), q = quads(k, c.cout * c.kh, c.kw);
      std::vector<float> scale(size_t(c.cout)), bias(size_t(c.cout)), wf(k.size());
      for (int64_t o = 0; o < c.cout; ++o) {
        scale[size_t(o)] = x_scale * (0.002f + 0.001f * float(o));
        bias[size_t(o)] = 0.1f * float(o) - 0.2f;
      }
      for (size_t i = 0; i < k.size(); ++i) wf[i] = float(k[i]);  // not read by the integer path
      // The twin per plane, then relu and the rounding.
      const int64_t mult = c.cout / c.cin;
      std::vector<float> want(size_t(c.n * c.cout * plane));
      for (int64_t n = 0; n < c.n; ++n)
        for (int64_t o = 0; o < c.cout; ++o) {
          ConvParams one = p;
          const U8DepthwisePlane s{x.data() + (n * c.cin + o / mult) * in_plane, x_zero, k.data() + o * taps, nullptr, sums.data() + o * c.kh,
                                   scale[size_t(o)], bias[size_t(o)]};
          u8_depthwise_rows_ref(one, s, want.data() + (n * c.cout + o) * plane, 0, p.out_h);
        }
      for (float& v : want) v = std::max(v, 0.f);
      std::vector<uint8_t> want_u8(want.size());
      quantize_u8_ref(want.data(), int64_t(want.size()), out_scale, out_zero, want_u8.data());
      p.epilogue.act.kind = ActKind::relu;
      p.quant_in.scale = x_scale;
      p.quant_in.zero = x_zero;
      p.quant_in.data = x.data();
      p.int8_weights = {q.data(), sums.data(), scale.data()};
      std::vector<float> got(want.size(), -5.f);
      f32_conv2d(p, nullptr, wf.data(), bias.data(), got.data());
      ASSERT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)), 0) << name(c) << " threads=" << threads;
      std::vector<uint8_t> got_u8(want.size() + 64, 0xEE);
      p.quant_out = {got_u8.data(), out_scale, out_zero};
      f32_conv2d(p, nullptr, wf.data(), bias.data(), nullptr);
      for (size_t i = 0; i < want_u8.size(); ++i) ASSERT_EQ(int(got_u8[i]), int(want_u8[i])) << name(c) << " uint8 at " << i;
      for (size_t i = want_u8.size(); i < got_u8.size(); ++i) ASSERT_EQ(got_u8[i], 0xEE) << "write past the output";
    }
  }
  set_num_threads(1);
  if (ran == 0) GTEST_SKIP() << "this CPU has no AVX-512 VNNI with VBMI: the strip walk keeps the float plane kernel";
}
