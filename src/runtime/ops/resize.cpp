// Resize (opset 10+) and Upsample: each output coordinate maps back to the
// input per axis; nearest, linear and cubic become a short list of
// (index, weight) taps per axis, combined over all axes.
#include <cmath>
#include <cstring>

#include "runtime/ops/op_util.h"

namespace pareto::runtime {

namespace {

struct Tap {
  int64_t index;
  float weight;
};

struct ResizeMode {
  std::string mode = "nearest", coord = "half_pixel", nearest = "round_prefer_floor";
  float cubic_a = -0.75f;
  bool exclude_outside = false;
  float extrapolation = 0.f;
};

double original_coord(const ResizeMode& m, double x, double scale, int64_t in, int64_t out, double roi_start, double roi_end) {
  if (m.coord == "half_pixel") return (x + 0.5) / scale - 0.5;
  if (m.coord == "pytorch_half_pixel") return out > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
  if (m.coord == "align_corners") {
    // The ONNX reference uses the unrounded resized length in*scale here.
    double len = double(in) * scale;
    return out == 1 || len <= 1 ? 0.0 : x * double(in - 1) / (len - 1);
  }
  if (m.coord == "asymmetric") return x / scale;
  if (m.coord == "tf_crop_and_resize")
    return out > 1 ? roi_start * double(in - 1) + x * (roi_end - roi_start) * double(in - 1) / double(out - 1)
                   : 0.5 * (roi_start + roi_end) * double(in - 1);
  if (m.coord == "half_pixel_symmetric") {
    double adj = double(out) / (scale * double(in));
    double center = double(in) / 2.0, offset = center * (1 - adj);
    return offset + (x + 0.5) / scale - 0.5;
  }
  fail_unsupported("Resize coordinate_transformation_mode '" + m.coord + "'");
}

int64_t nearest_index(const ResizeMode& m, double x) {
  if (m.nearest == "floor") return int64_t(std::floor(x));
  if (m.nearest == "ceil") return int64_t(std::ceil(x));
  double f = std::floor(x);
  if (x - f == 0.5) return int64_t(m.nearest == "round_prefer_ceil" ? f + 1 : f);
  if (m.nearest == "round_prefer_floor" || m.nearest == "round_prefer_ceil") return int64_t(std::round(x));
  fail_unsupported("Resize nearest_mode '" + m.nearest + "'");
}

// Taps for one output coordinate; empty means "extrapolate".
std::vector<Tap> taps_for(const ResizeMode& m, int64_t o, double scale, int64_t in, int64_t out, double rs, double re) {
  double x = original_coord(m, double(o), scale, in, out, rs, re);
  if (m.coord == "tf_crop_and_resize" && (x < 0 || x > double(in - 1))) return {};
  // Far outside the input every tap lands on an edge anyway: clamped in
  // double first, so NaN or huge coordinates (hostile scales) never reach an
  // integer conversion.
  if (!(x >= -8.0)) x = -8.0;
  if (x > double(in) + 8.0) x = double(in) + 8.0;
  auto clampi = [in](int64_t i) { return std::max<int64_t>(0, std::min(in - 1, i)); };
  if (m.mode == "nearest") return {{clampi(nearest_index(m, x)), 1.f}};
  if (m.mode == "linear") {
    double xc = std::max(0.0, std::min(double(in - 1), x));
    int64_t x0 = int64_t(std::floor(xc));
    double t = xc - double(x0);
    return {{clampi(x0), float(1 - t)}, {clampi(x0 + 1), float(t)}};
  }
  if (m.mode == "cubic") {
    int64_t x0 = int64_t(std::floor(x));
    double t = x - double(x0), a = m.cubic_a;
    double w[4] = {((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a, ((a + 2) * t - (a + 3)) * t * t + 1,
                   ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
                   ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a};
    std::vector<Tap> taps;
    double sum = 0;
    for (int k = 0; k < 4; ++k) {
      int64_t i = x0 - 1 + k;
      if (m.exclude_outside && (i < 0 || i >= in)) continue;
      taps.push_back({clampi(i), float(w[k])});
      sum += w[k];
    }
    if (m.exclude_outside && sum != 0)
      for (Tap& tp : taps) tp.weight = float(tp.weight / sum);
    return taps;
  }
  fail_unsupported("Resize mode '" + m.mode + "'");
}

void resize_impl(OpContext& ctx, const ResizeMode& m, std::vector<double> scales, Shape out, const std::vector<double>& roi) {
  const Tensor& x = ctx.in(0);
  size_t r = size_t(x.rank());
  for (size_t d = 0; d < r; ++d)
    if (out[d] > 0 && x.dim(int(d)) == 0) ctx.invalid("cannot resize an empty axis to " + std::to_string(out[d]));
  // The output first: its size is checked against the limits before the taps are built for it.
  Tensor& y = ctx.out(0, x.dtype(), out);
  if (y.numel() == 0) return;
  std::vector<std::vector<std::vector<Tap>>> taps(r);
  std::vector<int64_t> strides(r, 1);
  for (size_t d = r; d-- > 1;) strides[d - 1] = strides[d] * x.dim(int(d));
  for (size_t d = 0; d < r; ++d) {
    double rs = roi.size() == 2 * r ? roi[d] : 0, re = roi.size() == 2 * r ? roi[d + r] : 1;
    taps[d].resize(size_t(out[d]));
    for (int64_t o = 0; o < out[d]; ++o) taps[d][size_t(o)] = taps_for(m, o, scales[d], x.dim(int(d)), out[d], rs, re);
  }
  bool single_tap = true;
  for (size_t d = 0; d < r; ++d)
    for (const auto& t : taps[d]) single_tap &= t.size() == 1 && t[0].weight == 1.f;
  if (single_tap && r > 0) {
    // Nearest (or identity) on every axis: a gather of input offsets, any dtype.
    std::vector<std::vector<int64_t>> offs(r);
    for (size_t d = 0; d < r; ++d)
      for (const auto& t : taps[d]) offs[d].push_back(t[0].index * strides[d]);
    PARETO_DISPATCH_BYTES(ctx, x.dtype(), {
      const scalar_t* src = static_cast<const scalar_t*>(x.raw());
      scalar_t* dst = static_cast<scalar_t*>(y.raw());
      const int64_t inner = out[r - 1], rows = inner ? y.numel() / inner : 0;
      const int64_t* last = offs[r - 1].data();
      // Rows in parallel; an output row that reads the same input row as
      // the one before it (nearest upsampling) is a copy of that row.
      parallel_for(rows, [&](int64_t begin, int64_t end) {
        int64_t prev_base = -1;
        for (int64_t row = begin; row < end; ++row) {
          int64_t base = 0;
          for (int64_t rest = row, d = int64_t(r) - 1; d-- > 0;) {
            base += offs[size_t(d)][size_t(rest % out[size_t(d)])];
            rest /= out[size_t(d)];
          }
          scalar_t* o = dst + row * inner;
          if (base == prev_base) std::memcpy(o, o - inner, sizeof(scalar_t) * size_t(inner));
          else
            for (int64_t i = 0; i < inner; ++i) o[i] = src[base + last[i]];
          prev_base = base;
        }
      });
    });
    return;
  }
  PARETO_DISPATCH_FLOAT(ctx, x.dtype(), {
    const scalar_t* src = x.data<scalar_t>();
    scalar_t* dst = y.data<scalar_t>();
    std::vector<int64_t> idx(r, 0);
    for (int64_t e = 0; e < y.numel(); ++e) {
      // Sum over the cartesian product of per-axis taps.
      double acc = 0;
      bool extrapolate = false;
      std::vector<size_t> k(r, 0);
      for (size_t d = 0; d < r; ++d)
        if (taps[d][size_t(idx[d])].empty()) extrapolate = true;
      if (extrapolate) {
        acc = m.extrapolation;
      } else {
        for (;;) {
          double w = 1;
          int64_t off = 0;
          for (size_t d = 0; d < r; ++d) {
            const Tap& t = taps[d][size_t(idx[d])][k[d]];
            w *= t.weight;
            off += t.index * strides[d];
          }
          acc += w * double(src[off]);
          size_t d = r;
          while (d-- > 0) {
            if (++k[d] < taps[d][size_t(idx[d])].size()) break;
            k[d] = 0;
          }
          if (d == size_t(-1)) break;
        }
      }
      dst[e] = scalar_t(acc);
      for (size_t d = r; d-- > 0;) {
        if (++idx[d] < out[d]) break;
        idx[d] = 0;
      }
    }
  });
}

void run_resize(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  size_t r = size_t(x.rank());
  ResizeMode m;
  m.mode = ctx.node.attr_s("mode", "nearest");
  if (ctx.opset >= 11) {
    m.coord = ctx.node.attr_s("coordinate_transformation_mode", "half_pixel");
    m.nearest = ctx.node.attr_s("nearest_mode", "round_prefer_floor");
    m.cubic_a = ctx.node.attr_f("cubic_coeff_a", -0.75f);
    m.exclude_outside = ctx.node.attr_i("exclude_outside", 0);
    m.extrapolation = ctx.node.attr_f("extrapolation_value", 0.f);
  } else {
    m.coord = "asymmetric";
    m.nearest = "floor";
  }
  if (ctx.node.attr_i("antialias", 0)) ctx.unsupported("antialias=1");
  if (ctx.node.has_attr("axes")) ctx.unsupported("the axes attribute");
  if (ctx.node.attr_s("keep_aspect_ratio_policy", "stretch") != "stretch") ctx.unsupported("keep_aspect_ratio_policy other than stretch");
  std::vector<double> scales, roi;
  Shape out(r);
  size_t scales_at = ctx.opset >= 11 ? 2 : 1;
  if (ctx.opset >= 11 && ctx.has(1))
    for (int64_t i = 0; i < ctx.in(1).numel(); ++i) roi.push_back(ctx.in(1).as_double(i));
  bool has_scales = ctx.has(scales_at) && ctx.in(scales_at).numel() > 0;
  bool has_sizes = ctx.opset >= 11 && ctx.has(3) && ctx.in(3).numel() > 0;
  if (has_scales == has_sizes) ctx.invalid("exactly one of scales and sizes must be given");
  if (has_scales) {
    const Tensor& s = ctx.in(scales_at);
    if (size_t(s.numel()) != r) ctx.invalid("scales has " + std::to_string(s.numel()) + " entries for rank " + std::to_string(r));
    for (size_t d = 0; d < r; ++d) {
      double sc = s.as_double(int64_t(d));
      if (!(sc > 0) || !(sc < 1e6)) ctx.invalid("scale must be positive and finite");
      scales.push_back(sc);
      out[d] = int64_t(std::floor(double(x.dim(int(d))) * sc));
    }
  } else {
    std::vector<int64_t> sizes = input_ints(ctx, 3);
    if (sizes.size() != r) ctx.invalid("sizes has the wrong length");
    for (size_t d = 0; d < r; ++d) {
      if (sizes[d] < 0) ctx.invalid("negative size");
      out[d] = sizes[d];
      scales.push_back(x.dim(int(d)) ? double(sizes[d]) / double(x.dim(int(d))) : 1.0);
    }
  }
  shape_numel(out);
  resize_impl(ctx, m, scales, out, roi);
}

void infer_resize(InferContext& ctx) {
  const ir::ValueType* x = ctx.type(0);
  if (!x) return;
  ctx.out_types[0].dtype = x->dtype;
  if (!x->rank_known) return;
  size_t scales_at = ctx.opset >= 11 ? 2 : 1;
  const Tensor* scales = ctx.value(scales_at);
  const Tensor* sizes = ctx.opset >= 11 ? ctx.value(3) : nullptr;
  Shape out = x->dims;
  if (sizes && sizes->numel() == int64_t(out.size())) {
    out = sizes->to_int_vector();
  } else if (scales && scales->numel() == int64_t(out.size())) {
    for (size_t d = 0; d < out.size(); ++d)
      if (out[d] >= 0) out[d] = int64_t(std::floor(double(out[d]) * scales->as_double(int64_t(d))));
  } else {
    return;
  }
  ctx.out_types[0].rank_known = true;
  ctx.out_types[0].dims = out;
}

void run_upsample(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  ResizeMode m;
  m.mode = ctx.node.attr_s("mode", "nearest");
  m.coord = "asymmetric";
  m.nearest = "floor";
  std::vector<double> scales;
  if (ctx.has(1)) {
    for (int64_t i = 0; i < ctx.in(1).numel(); ++i) scales.push_back(ctx.in(1).as_double(i));
  } else {
    for (float f : ctx.node.attr_floats("scales")) scales.push_back(f);
  }
  if (int64_t(scales.size()) != x.rank()) ctx.invalid("scales has the wrong length");
  Shape out(size_t(x.rank()));
  for (size_t d = 0; d < out.size(); ++d) {
    if (!(scales[d] > 0) || !(scales[d] < 1e6)) ctx.invalid("scale must be positive and finite");
    out[d] = int64_t(std::floor(double(x.dim(int(d))) * scales[d]));
  }
  resize_impl(ctx, m, scales, out, {});
}

}  // namespace

void register_resize_ops(OpRegistry& r) {
  r.add("Resize", run_resize, infer_resize);
  r.add("Upsample", run_upsample);
}

}  // namespace pareto::runtime
