#include "runtime/ops/tflite_conv_gemm.h"

#include <algorithm>

#include "core/thread_pool.h"
#include "kernels/int8_conv.h"
#include "runtime/ops/cache_stamps.h"
#include "runtime/ops/op_util.h"

namespace pareto::runtime {

namespace {

kernels::ConvParams geometry(const kernels::QConvParams& p) {
  kernels::ConvParams g;
  g.n = p.batch, g.c_in = p.in_c, g.h = p.in_h, g.w = p.in_w, g.c_out = p.out_c, g.kh = p.k_h, g.kw = p.k_w, g.group = 1;
  g.stride_h = p.stride_h, g.stride_w = p.stride_w, g.dil_h = p.dilation_h, g.dil_w = p.dilation_w;
  g.pad_top = p.pad_top, g.pad_left = p.pad_left, g.out_h = p.out_h, g.out_w = p.out_w;
  return g;
}

// TFLite's filter [out_c][k_h][k_w][in_c] reordered to the GEMM's rows
// [out_c][in_c * k_h * k_w] and packed, once per executor and node.
std::shared_ptr<const kernels::Int8Weights> pack_filter(const kernels::QConvParams& p, const Tensor& w, const std::vector<int32_t>& zero) {
  const int64_t taps = p.k_h * p.k_w, k = p.in_c * taps;
  std::vector<uint8_t> rows(size_t(p.out_c * k));
  const uint8_t* src = static_cast<const uint8_t*>(w.raw());  // one byte per weight in either type
  for (int64_t o = 0; o < p.out_c; ++o)
    for (int64_t t = 0; t < taps; ++t)
      for (int64_t ci = 0; ci < p.in_c; ++ci) rows[size_t(o * k + ci * taps + t)] = src[(o * taps + t) * p.in_c + ci];
  auto packed = std::make_shared<kernels::Int8Weights>(
      kernels::pack_int8_weights(rows.data(), w.dtype() == DType::i8, p.out_c, k, zero.data(), int64_t(zero.size())));
  kernels::prepare_shifted_weights(*packed, geometry(p));
  return packed;
}

}  // namespace

bool tfl_conv_by_gemm(const OpContext& c, const kernels::QConvParams& p, const Tensor& x, const Tensor& w, const std::vector<int32_t>& filter_zero,
                      const int32_t* bias, Tensor& y) {
  const int64_t k = p.in_c * p.k_h * p.k_w;
  if (!kernels::int8_detail::fast_gemm() || k > kernels::kMaxInt8ConvK || p.batch * p.out_h * p.out_w == 0) return false;
  const auto held = prepared_once(c, 1, stamps::kTfliteFilterPacked, [&]() -> std::shared_ptr<const void> { return pack_filter(p, w, filter_zero); });
  const auto& packed = *static_cast<const kernels::Int8Weights*>(held.get());
  const int64_t plane_in = p.in_h * p.in_w, plane_out = p.out_h * p.out_w;
  // NHWC to NCHW, and the int32 sums, in this thread's grow-only buffers.
  thread_local std::vector<uint8_t> nchw;
  thread_local std::vector<int32_t> sums;
  nchw.resize(size_t(x.numel()));
  sums.resize(size_t(p.batch * p.out_c * plane_out));
  const uint8_t* in = static_cast<const uint8_t*>(x.raw());
  uint8_t* t = nchw.data();
  parallel_for(p.batch * p.in_c, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const int64_t n = nc / p.in_c, ch = nc % p.in_c;
      const uint8_t* s = in + n * plane_in * p.in_c + ch;
      uint8_t* d = t + nc * plane_in;
      for (int64_t i = 0; i < plane_in; ++i) d[i] = s[i * p.in_c];
    }
  });
  kernels::Int8ConvParams q;
  q.geo = geometry(p);
  q.x_signed = x.dtype() == DType::i8;
  q.x_zero = -p.input_offset;
  q.out.kind = kernels::Int8Output::i32;
  kernels::int8_conv2d(q, t, packed, sums.data());
  // TFLite's epilogue on each sum, written NHWC.
  const int32_t* acc = sums.data();
  const bool is_signed = x.dtype() == DType::i8;
  parallel_for(p.batch * plane_out, [&](int64_t b, int64_t e) {
    for (int64_t np = b; np < e; ++np) {
      const int64_t n = np / plane_out, px = np % plane_out;
      const int32_t* a = acc + n * p.out_c * plane_out + px;
      for (int64_t oc = 0; oc < p.out_c; ++oc) {
        int32_t v = kernels::fxp::wrapping_add(a[oc * plane_out], bias ? bias[oc] : 0);
        v = kernels::fxp::wrapping_add(kernels::fxp::multiply_by_multiplier(v, p.multipliers[oc]), p.output_offset);
        v = std::clamp(v, p.act_min, p.act_max);
        if (is_signed) y.data<int8_t>()[np * p.out_c + oc] = int8_t(v);
        else y.data<uint8_t>()[np * p.out_c + oc] = uint8_t(v);
      }
    }
  });
  return true;
}

}  // namespace pareto::runtime
