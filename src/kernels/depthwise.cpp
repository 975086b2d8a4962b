// Depthwise convolution (one input channel per group) on NCHW f32: the
// plane kernels of this build's vector level (x86/depthwise_avx512.cpp,
// arm/depthwise_neon.cpp) or the generic loop, parallel over planes; the
// input may be read on a uint8 grid (ConvParams::quant_in) and the output
// rounded to uint8 (quant_out).
#include <algorithm>
#include <cstdint>

#include "core/cpu.h"
#include "core/thread_pool.h"
#include "kernels/conv.h"
#include "kernels/dispatch.h"
#include "kernels/int8_conv.h"
#include "kernels/scratch.h"
#include "kernels/u8_depthwise.h"

namespace pareto::kernels {

void f32_depthwise_plane_generic(const ConvParams& p, const float* src, const float* k, float bias, float* dst) {
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    float* d = dst + oh * p.out_w;
    for (int64_t ow = 0; ow < p.out_w; ++ow) d[ow] = bias;
    for (int64_t i = 0; i < p.kh; ++i) {
      const int64_t ih = oh * p.stride_h - p.pad_top + i * p.dil_h;
      if (ih < 0 || ih >= p.h) continue;
      const float* s = src + ih * p.w;
      for (int64_t j = 0; j < p.kw; ++j) {
        const float kv = k[i * p.kw + j];
        const int64_t off = j * p.dil_w - p.pad_left;
        // ow range with 0 <= ow*stride + off < w, so the inner loop has no branch
        const int64_t lo = off >= 0 ? 0 : (-off + p.stride_w - 1) / p.stride_w;
        const int64_t hi = p.w - off <= 0 ? 0 : std::min(p.out_w, (p.w - off - 1) / p.stride_w + 1);
        if (p.stride_w == 1)
          for (int64_t ow = lo; ow < hi; ++ow) d[ow] += kv * s[ow + off];
        else
          for (int64_t ow = lo; ow < hi; ++ow) d[ow] += kv * s[ow * p.stride_w + off];
      }
    }
  }
}

namespace {
// The plane kernel of this build's vector level (AVX-512 or NEON), for
// stride_w 1 or 2 and dil_w 1; the generic loop otherwise.
bool depthwise_plane_kernel(const ConvParams& p) {
  const IsaLevel level = kernel_table().level;
  const bool isa = (kBuildX86 && level == IsaLevel::avx512) || (kBuildArm64 && level == IsaLevel::neon);
  return isa && (p.stride_w == 1 || p.stride_w == 2) && p.dil_w == 1;
}
// The whole-plane kernel of the NEON build (x86 walks strips: depthwise_strips).
int64_t depthwise_plane_scratch(const ConvParams& p) {
  if constexpr (kBuildArm64) return neon::depthwise_scratch_floats(p);
  return 0;
}
void depthwise_plane_fast(const ConvParams& p, const float* src, const float* k, float bias, float* dst, float* scratch) {
  if constexpr (kBuildArm64) neon::depthwise_plane(p, src, k, bias, dst, scratch);
}

// Input plane `offset` (h * w values) as the floats (q - zero) * scale, q
// the stored uint8 plane or the float plane rounded to uint8 here.
const float* dequantized_plane(const QuantizedInput& qi, const float* x, int64_t offset, int64_t count) {
  const uint8_t* q = qi.data ? qi.data + offset : nullptr;
  if (!q) {
    uint8_t* rounded = thread_scratch<uint8_t, 0>(size_t(count));
    quantize_u8(x + offset, count, qi.scale, qi.zero, rounded);
    q = rounded;
  }
  float* out = thread_scratch<float, 6>(size_t(count));
  dequantize_u8(q, count, qi.scale, qi.zero, out);
  return out;
}

// The AVX-512 plane kernel walks each plane in strips of output rows
// (about 16 KiB of output each, a multiple of its 4-row groups), and each
// strip is finished (activation, residual, rounding to uint8) right after
// its sums: the strip's input rows, scratch and output stay in L1/L2,
// where whole planes (up to 400 KB in PP-OCR det, several per pass)
// streamed through the last-level cache. The same operations on every
// value as the whole-plane path, so the same bits.
//
// With several threads each plane is cut into one band of rows per thread,
// and thread t starts on band t of every plane (band-major; balanced: a
// thread done with its own takes pieces of the others'):
// the convolutions around it split their pixels the same way, so a thread
// reads rows its own core wrote. Splitting by planes instead made each
// thread read half of its input from the other core's cache and held
// PP-OCR det near 1.2x on 2 threads.
void depthwise_strips(const ConvParams& p, const float* x, const float* w, const float* bias, float* y) {
  const int64_t mult = p.c_out / p.c_in, plane = p.out_h * p.out_w, planes = p.n * p.c_out;
  const QuantizedOutput& q = p.quant_out;
  const QuantizedInput& qi = p.quant_in;
  const int64_t strip = std::max<int64_t>(4, (4096 / std::max<int64_t>(1, p.out_w)) / 4 * 4);
  // Small planes (under 2048 outputs: PP-OCR det's 40x40 and 20x20 maps) go
  // whole, by planes: a band's fixed costs (its halo rows, a call per strip)
  // outweighed the locality there (det fp32 at 2 threads ~2% faster so).
  const int64_t bands = plane < 2048 ? 1 : std::clamp<int64_t>(p.out_h / 8, 1, num_threads());
  // Planes of one strip each and at most 1024 outputs are finished
  // several at a time (about 2048 outputs; PP-OCR cls's depthwise convs but
  // the first: 24-200 planes of 192-576 values), one activation call (where
  // the integer kernel has not applied it) and one rounding call per group:
  // a call per plane cost more than its work there. Elementwise either way:
  // the same bits.
  const int64_t group = bands == 1 && p.out_h <= strip ? std::max<int64_t>(1, 2048 / std::max<int64_t>(1, plane)) : 1;
  const DepthwiseInt8& iw = p.int8_weights;
  const bool integer = qi.active() && iw.quads && u8_depthwise_fast(p);
  // The integer kernel applies the activation to its sums in registers
  // (not with a residual, nor one without a vector form): a pass less.
  const bool act_in_kernel = integer && p.epilogue.active() && !p.epilogue.residual && has_vector_form(p.epilogue.act.kind);
  parallel_for_balanced(bands * planes, [&](int64_t begin, int64_t end) {
    float* scratch = integer ? nullptr : thread_scratch<float, 1>(size_t(avx512::depthwise_scratch_floats(p)));
    uint8_t* u8_scratch = integer ? thread_scratch<uint8_t, 2>(u8_depthwise_scratch_bytes(p)) : nullptr;
    int64_t rounded_at = -1, rounded_band = -1;  // the input rows rounded last (a channel multiplier reads them again)
    // Channel oc's integer weights over the uint8 plane q.
    auto integer_plane = [&](const uint8_t* q, int64_t oc) {
      const int32_t* quads = iw.quads + oc * p.kh * u8_depthwise_tap_groups(p.kw);
      const Activation* act = act_in_kernel ? &p.epilogue.act : nullptr;
      return U8DepthwisePlane{q, qi.zero, nullptr, quads, iw.row_sums + oc * p.kh, iw.scale[oc], bias ? bias[oc] : 0.f, act};
    };
    // Output rows [oh0, oh1) of plane nc (its band's rows [oh_begin, oh_end)) into dst, the plane's first row.
    auto sums = [&](int64_t nc, int64_t band, int64_t oh_begin, int64_t oh_end, float* dst, int64_t oh0, int64_t oh1) {
      const int64_t n = nc / p.c_out, oc = nc % p.c_out, ic = oc / mult;
      const int64_t in_at = (n * p.c_in + ic) * p.h * p.w;
      DepthwiseSource src;
      if (qi.active()) {
        src.scale = qi.scale;
        src.zero = qi.zero;
        src.row = thread_scratch<float, 6>(size_t(p.w));
        if (qi.data) {
          src.q = qi.data + in_at;
        } else {  // float input on the uint8 grid: the input rows this band reads, rounded once
          uint8_t* rounded = thread_scratch<uint8_t, 0>(size_t(p.h * p.w));
          if (rounded_at != in_at || rounded_band != band) {
            const int64_t ih0 = std::clamp<int64_t>(oh_begin * p.stride_h - p.pad_top, 0, p.h);
            const int64_t ih1 = std::clamp<int64_t>((oh_end - 1) * p.stride_h - p.pad_top + (p.kh - 1) * p.dil_h + 1, ih0, p.h);
            quantize_u8(x + in_at + ih0 * p.w, (ih1 - ih0) * p.w, qi.scale, qi.zero, rounded + ih0 * p.w);
          }
          rounded_at = in_at;
          rounded_band = band;
          src.q = rounded;
        }
      } else {
        src.f = x + in_at;
      }
      if (integer) {
        avx512vnni::u8_depthwise_rows(p, integer_plane(src.q, oc), dst, u8_scratch, oh0, oh1);
      } else {
        avx512::depthwise_plane_rows(p, src, w + oc * p.kh * p.kw, bias ? bias[oc] : 0.f, dst, scratch, oh0, oh1);
      }
    };
    // Planes [first, last) of stored uint8 input, a bounded array of plane
    // descriptions per call (a group of 1-pixel planes holds 2048 of them).
    auto integer_planes = [&](int64_t first, int64_t last, float* block, uint8_t* scratch) {
      constexpr int64_t kPlanesPerCall = 32;
      U8DepthwisePlane planes[kPlanesPerCall];
      for (int64_t at = first; at < last; at += kPlanesPerCall) {
        const int64_t count = std::min(kPlanesPerCall, last - at);
        for (int64_t k = 0; k < count; ++k) {
          const int64_t nc = at + k, oc = nc % p.c_out;
          planes[k] = integer_plane(qi.data + (nc / p.c_out * p.c_in + oc / mult) * p.h * p.w, oc);
        }
        if constexpr (kBuildX86) avx512vnni::u8_depthwise_planes(p, planes, count, block + (at - first) * plane, scratch);
      }
    };
    // Activation (unless the integer kernel applied it), residual and
    // rounding of the count outputs at dst, output element `at` onwards.
    auto finish = [&](float* dst, int64_t at, int64_t count) {
      if (p.epilogue.active() && !act_in_kernel)
        apply_activation(p.epilogue.act, dst, p.epilogue.residual ? p.epilogue.residual + at : nullptr, count);
      if (q.data) quantize_u8(dst, count, q.scale, q.zero, q.data + at);
    };
    if (group > 1) {  // one band: the tasks are the planes
      // Stored uint8 planes summed in integers: the planes of a group in one
      // call, the kernel's per-plane set-up done once (u8_depthwise_planes;
      // it goes plane by plane itself where it cannot share it).
      const bool planes_at_once = integer && qi.data;
      for (int64_t first = begin; first < end; first += group) {
        const int64_t last = std::min(end, first + group);
        float* block = q.data ? thread_scratch<float, 5>(size_t((last - first) * plane)) : y + first * plane;
        if (planes_at_once) {
          integer_planes(first, last, block, u8_scratch);
        } else {
          for (int64_t nc = first; nc < last; ++nc) sums(nc, 0, 0, p.out_h, block + (nc - first) * plane, 0, p.out_h);
        }
        finish(block, first * plane, (last - first) * plane);
      }
      return;
    }
    for (int64_t task = begin; task < end; ++task) {
      const int64_t band = task / planes, nc = task % planes;
      const int64_t oh_begin = band * p.out_h / bands, oh_end = (band + 1) * p.out_h / bands;
      float* dst = q.data ? thread_scratch<float, 5>(size_t(plane)) : y + nc * plane;
      for (int64_t oh0 = oh_begin; oh0 < oh_end; oh0 += strip) {
        const int64_t oh1 = std::min(oh_end, oh0 + strip), first = oh0 * p.out_w;
        sums(nc, band, oh_begin, oh_end, dst, oh0, oh1);
        finish(dst + first, nc * plane + first, (oh1 - oh0) * p.out_w);
      }
    }
  });
}

}  // namespace

void f32_depthwise_conv(const ConvParams& p, const float* x, const float* w, const float* bias, float* y) {
  const int64_t mult = p.c_out / p.c_in, plane = p.out_h * p.out_w;
  const QuantizedOutput& q = p.quant_out;
  const bool fast = depthwise_plane_kernel(p);
  if constexpr (kBuildX86)
    if (fast) return depthwise_strips(p, x, w, bias, y);
  parallel_for_dynamic(p.n * p.c_out, [&](int64_t begin, int64_t end) {
    float* scratch = fast ? thread_scratch<float, 1>(size_t(depthwise_plane_scratch(p))) : nullptr;
    for (int64_t nc = begin; nc < end; ++nc) {
      const int64_t n = nc / p.c_out, oc = nc % p.c_out, ic = oc / mult;
      const int64_t in_at = (n * p.c_in + ic) * p.h * p.w;
      const float* src = p.quant_in.active() ? dequantized_plane(p.quant_in, x, in_at, p.h * p.w) : x + in_at;
      const float* k = w + oc * p.kh * p.kw;
      // Rounded to uint8 at the end: the float plane goes to scratch.
      float* dst = q.data ? thread_scratch<float, 5>(size_t(plane)) : y + nc * plane;
      const float b = bias ? bias[oc] : 0.f;
      if (fast) depthwise_plane_fast(p, src, k, b, dst, scratch);
      else f32_depthwise_plane_generic(p, src, k, b, dst);
      if (p.epilogue.active()) {  // the plane is still in cache
        const float* res = p.epilogue.residual ? p.epilogue.residual + nc * plane : nullptr;
        apply_activation(p.epilogue.act, dst, res, plane);
      }
      if (q.data) quantize_u8(dst, plane, q.scale, q.zero, q.data + nc * plane);
    }
  });
}

}  // namespace pareto::kernels
