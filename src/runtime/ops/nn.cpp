// Dense layers and softmax: the adapters from ONNX attributes to the kernel
// library's plain-parameter entry points (convolutions: conv.cpp).
#include <cmath>
#include <vector>

#include "core/cpu.h"
#include "kernels/bf16_conv.h"
#include "kernels/conv.h"
#include "kernels/dispatch.h"
#include "kernels/softmax.h"
#include "kernels/gemm.h"
#include "kernels/int8_matmul.h"
#include "kernels/small_k_matmul.h"
#include "runtime/executor.h"
#include "runtime/ops/cache_stamps.h"
#include "runtime/ops/conv_params.h"
#include "runtime/ops/op_util.h"

namespace pareto::runtime {

namespace {

void infer_matmul(InferContext& ctx) {
  const ir::ValueType* a = ctx.type(0);
  const ir::ValueType* b = ctx.type(1);
  if (!a || !b) return;
  ctx.out_types[0].dtype = a->dtype;
  if (!a->rank_known || !b->rank_known || a->dims.empty() || b->dims.empty()) return;
  Shape as = a->dims, bs = b->dims;
  bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (a_vec) as.insert(as.begin(), 1);
  if (b_vec) bs.push_back(1);
  Shape out = broadcast_shapes(ctx.node, Shape(as.begin(), as.end() - 2), Shape(bs.begin(), bs.end() - 2));
  if (!a_vec) out.push_back(as[as.size() - 2]);
  if (!b_vec) out.push_back(bs.back());
  ctx.out_types[0].rank_known = true;
  ctx.out_types[0].dims = out;
}

void infer_gemm(InferContext& ctx) {
  const ir::ValueType* a = ctx.type(0);
  const ir::ValueType* b = ctx.type(1);
  if (!a || !b) return;
  ctx.out_types[0].dtype = a->dtype;
  if (!a->rank_known || !b->rank_known || a->dims.size() != 2 || b->dims.size() != 2) return;
  bool ta = ctx.node.attr_i("transA", 0), tb = ctx.node.attr_i("transB", 0);
  ctx.out_types[0].rank_known = true;
  ctx.out_types[0].dims = {ta ? a->dims[1] : a->dims[0], tb ? b->dims[0] : b->dims[1]};
}

// C[b] = A[b] x B[b] with numpy broadcasting of the batch dims.
// MatMul by a constant 2-D B (a classifier head, a projection): computed
// as C^T = B^T A^T with B^T packed once per executor, as conv weights are,
// instead of B packed on every call; C^T is then transposed into place.
// Pays off for few rows against many columns (PP-OCR rec's [40, 120] x
// [120, 6625] head: B is 3.2 MB, A 19 KB).
bool matmul_packed_constant(OpContext& ctx, const float* a, int64_t rows, int64_t m, int64_t k, int64_t n, float* y) {
  if (!is_constant_input(ctx, 1) || ctx.in(1).rank() != 2 || n < 4 * m || n < 256 || m <= 0 || k <= 0) return false;
  const int level = int(kernels::kernel_table().level);
  const std::shared_ptr<const void> packed = ctx.executor->node_cache(ctx.node, stamps::packed_matmul(level), [&]() -> std::shared_ptr<const void> {
    kernels::GemmArgs g;
    g.m = n;
    g.k = k;
    g.a = ctx.in(1).data<float>();  // B [k][n], read as A = B^T
    g.lda = n;
    g.trans_a = true;
    auto buf = std::make_shared<std::vector<float>>(kernels::f32_gemm_packed_a_floats(n, k));
    kernels::f32_gemm_pack_a(g, buf->data());
    return std::shared_ptr<const void>(buf, buf->data());
  });
  thread_local std::vector<float> scratch;
  if (scratch.size() < size_t(n * m)) scratch.resize(size_t(n * m));
  float* ct = scratch.data();
  for (int64_t r = 0; r < rows; r += m) {
    kernels::GemmArgs g;
    g.m = n;
    g.n = m;
    g.k = k;
    g.b = a + r * k;  // A [m][k], read as B = A^T
    g.ldb = k;
    g.trans_b = true;
    g.c = ct;
    g.ldc = m;
    kernels::f32_gemm_packed(g, static_cast<const float*>(packed.get()));
    float* out = y + r * n;
    // In column blocks whose part of C^T (block x m floats) stays in L1
    // while all m output rows take their share of it.
    const int64_t block = std::max<int64_t>(16, (int64_t(32) << 10) / (4 * m));
    parallel_for((n + block - 1) / block, [&](int64_t b0, int64_t b1) {
      for (int64_t j0 = b0 * block; j0 < std::min(n, b1 * block); j0 += block)
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = j0; j < std::min(n, j0 + block); ++j) out[i * n + j] = ct[j * m + i];
    });
  }
  return true;
}

// MatMul of a few rows of A by a 2-D B with k <= 128 (AVX-512 or NEON): the
// product is a 1x1 conv of B (k channels of n pixels) by A (rows x k
// weights), which the small-k kernel runs without transposing anything
// (PP-OCR rec's [40, 120] x [120, 6625] head at ~3x the transposed packed GEMM).
// A constant B is laid out in the kernel's panels once per executor
// (small_k_matmul.h), where the 1x1-conv form copies it on every call.
bool matmul_small_k(OpContext& ctx, const float* a, int64_t rows, int64_t k, int64_t n, const float* b, float* y) {
  kernels::ConvParams p;
  p.c_in = k;
  p.c_out = rows;
  p.h = p.out_h = 1;
  p.w = p.out_w = n;
  // Few rows against many columns: the kernel splits the work over columns
  // only, so a tall A ([4096, 64] x [64, 64]) would keep threads idle.
  if (n < 64 || rows <= 0 || rows > 256 || !kernels::pointwise_applicable(p)) return false;
  if (!is_constant_input(ctx, 1)) {
    kernels::pointwise_conv(p, b, a, nullptr, y);
    return true;
  }
  const std::shared_ptr<const void> panels = ctx.executor->node_cache(ctx.node, stamps::kSmallKPanels, [&]() -> std::shared_ptr<const void> {
    auto buf = std::make_shared<std::vector<float>>(kernels::small_k_panels_floats(k, n));
    kernels::pack_small_k_panels(b, k, n, buf->data());
    return std::shared_ptr<const void>(buf, buf->data());
  });
  kernels::small_k_matmul_panels(a, rows, k, static_cast<const float*>(panels.get()), n, y);
  return true;
}

// A MatMul the precision pass marked compute=bf16 (a constant 2-D B): the
// bf16 conv kernel as a 1x1 conv over the rows of A (A^T as the image,
// B^T as the weights, packed once per executor), then transposed back.
bool matmul_bf16(OpContext& ctx, const float* a, int64_t rows, int64_t k, int64_t n, float* y) {
  if (!is_constant_input(ctx, 1) || ctx.in(1).rank() != 2 || rows <= 0 || k <= 0 || n <= 0 || !kernels::bf16_conv_available()) return false;
  const std::shared_ptr<const void> held = ctx.executor->node_cache(ctx.node, stamps::kBf16Weights, [&]() -> std::shared_ptr<const void> {
    std::vector<float> bt(size_t(n * k));
    const float* b = ctx.in(1).data<float>();
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < n; ++j) bt[size_t(j * k + i)] = b[i * n + j];
    return std::make_shared<kernels::Bf16Weights>(kernels::pack_bf16_weights(bt.data(), n, k));
  });
  thread_local std::vector<float> at, yt;
  at.resize(size_t(k * rows));
  yt.resize(size_t(n * rows));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < k; ++i) at[size_t(i * rows + r)] = a[r * k + i];
  kernels::ConvParams p;
  p.c_in = k;
  p.c_out = n;
  p.h = p.out_h = 1;
  p.w = p.out_w = rows;
  kernels::bf16_conv2d(p, at.data(), *static_cast<const kernels::Bf16Weights*>(held.get()), nullptr, yt.data());
  float* ytp = yt.data();
  parallel_for(rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t j = 0; j < n; ++j) y[r * n + j] = ytp[j * rows + r];
  });
  return true;
}

void run_matmul(OpContext& ctx) {
  Tensor rounded;  // an int8 MatMul's input on its uint8 grid, where the int8 GEMM would be the scalar one
  if (ctx.node.has_attr("x_scale")) {
    if (kernels::int8_matmul_fast()) return run_matmul_int8(ctx);
    rounded = matmul_input_on_int8_grid(ctx);
    ctx.path = "int8 as f32";
  }
  const Tensor& a0 = rounded.defined() ? rounded : ctx.in(0);
  const Tensor& b0 = ctx.in(1);
  if (a0.dtype() != DType::f32 || b0.dtype() != DType::f32) ctx.unsupported(std::string("MatMul on ") + dtype_name(a0.dtype()));
  if (a0.rank() == 0 || b0.rank() == 0) ctx.invalid("MatMul inputs must have rank >= 1");
  Shape as = a0.shape(), bs = b0.shape();
  bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (a_vec) as.insert(as.begin(), 1);
  if (b_vec) bs.push_back(1);
  int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  if (bs[bs.size() - 2] != k) ctx.invalid("inner dimensions differ: " + shape_to_string(a0.shape()) + " x " + shape_to_string(b0.shape()));
  Shape abatch(as.begin(), as.end() - 2), bbatch(bs.begin(), bs.end() - 2);
  Shape batch = broadcast_shapes(ctx.node, abatch, bbatch);
  Shape out = batch;
  if (!a_vec) out.push_back(m);
  if (!b_vec) out.push_back(n);
  Tensor& y = ctx.out(0, DType::f32, out);
  std::vector<int64_t> sa = broadcast_strides(abatch, batch), sb = broadcast_strides(bbatch, batch);
  int64_t nb = shape_numel(batch);
  if (!a_vec && !b_vec && bbatch.empty() && ctx.node.attr_s("compute", "") == "bf16" && matmul_bf16(ctx, a0.data<float>(), nb * m, k, n, y.data<float>()))
    return;
  if (!a_vec && !b_vec && bbatch.empty() && matmul_small_k(ctx, a0.data<float>(), nb * m, k, n, b0.data<float>(), y.data<float>())) return;
  if (!a_vec && !b_vec && bbatch.empty() && matmul_packed_constant(ctx, a0.data<float>(), nb * m, m, k, n, y.data<float>())) return;
  const float* pa = a0.data<float>();
  const float* pb = b0.data<float>();
  float* py = y.data<float>();
  for (int64_t bi = 0; bi < nb; ++bi) {
    int64_t oa = 0, ob = 0, rem = bi;
    for (size_t dd = batch.size(); dd-- > 0;) {
      int64_t idx = rem % batch[dd];
      rem /= batch[dd];
      oa += idx * sa[dd];
      ob += idx * sb[dd];
    }
    kernels::GemmArgs g;
    g.m = m;
    g.n = n;
    g.k = k;
    g.a = pa + oa * m * k;
    g.lda = k;
    g.b = pb + ob * k * n;
    g.ldb = n;
    g.c = py + bi * m * n;
    g.ldc = n;
    kernels::f32_gemm(g);
  }
}

// One row of A (a classifier head after a global pool): c = alpha * a B +
// beta * c (c holds C, or beta is 0). The blocked GEMM packs B and walks
// whole register tiles for it (PP-OCR cls's 200 x 2 head took 3 us); this
// runs on the calling thread, so only for small heads on the AVX-512 dot
// product (kernels::f32_dot_rows_fast).
void gemm_single_row(const kernels::GemmArgs& g) {
  thread_local std::vector<float> acc;
  acc.assign(size_t(g.n), 0.f);
  if (g.trans_b) {
    kernels::f32_dot_rows(g.b, g.k, g.a, nullptr, g.n, acc.data());
  } else {
    for (int64_t c = 0; c < g.k; ++c) {
      const float a = g.a[c];
      const float* row = g.b + c * g.ldb;
      for (int64_t j = 0; j < g.n; ++j) acc[size_t(j)] += a * row[j];
    }
  }
  for (int64_t j = 0; j < g.n; ++j) g.c[j] = g.alpha * acc[size_t(j)] + (g.beta != 0.f ? g.beta * g.c[j] : 0.f);
}

void run_gemm(OpContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  if (a.dtype() != DType::f32 || b.dtype() != DType::f32) ctx.unsupported(std::string("Gemm on ") + dtype_name(a.dtype()));
  if (a.rank() != 2 || b.rank() != 2) ctx.invalid("Gemm inputs must be 2-D");
  bool ta = ctx.node.attr_i("transA", 0), tb = ctx.node.attr_i("transB", 0);
  int64_t m = ta ? a.dim(1) : a.dim(0), k = ta ? a.dim(0) : a.dim(1);
  int64_t kb = tb ? b.dim(1) : b.dim(0), n = tb ? b.dim(0) : b.dim(1);
  if (k != kb) ctx.invalid("inner dimensions differ");
  Tensor& y = ctx.out(0, DType::f32, {m, n});
  float beta = ctx.node.attr_f("beta", 1.f);
  float* py = y.data<float>();
  bool has_c = ctx.has(2) && beta != 0.f;
  if (has_c) {
    const Tensor& c = ctx.in(2);
    if (c.dtype() != DType::f32) ctx.invalid("C must be float");
    if (broadcast_shapes(ctx.node, c.shape(), {m, n}) != Shape{m, n}) ctx.invalid("C does not broadcast to [M, N]");
    const float* pc = c.data<float>();
    for_each_broadcast<1>({m, n}, {&c.shape()},
                          [&](int64_t o, const std::array<int64_t, 1>& off, int64_t cnt, const std::array<int64_t, 1>& st) {
                            for (int64_t i = 0; i < cnt; ++i) py[o + i] = pc[off[0] + i * st[0]];
                          });
  }
  kernels::GemmArgs g;
  g.trans_a = ta;
  g.trans_b = tb;
  g.m = m;
  g.n = n;
  g.k = k;
  g.alpha = ctx.node.attr_f("alpha", 1.f);
  g.a = a.data<float>();
  g.lda = a.dim(1);
  g.b = b.data<float>();
  g.ldb = b.dim(1);
  g.beta = has_c ? beta : 0.f;
  g.c = py;
  g.ldc = n;
  // A single row, B's rows contiguous (ldb = k transposed, n otherwise).
  if (m == 1 && !ta && g.ldb == (tb ? k : n) && kernels::f32_dot_rows_fast(k, n)) return gemm_single_row(g);
  kernels::f32_gemm(g);
}

enum class SoftmaxKind { softmax, log_softmax, hardmax };

template <SoftmaxKind kind>
void run_softmax(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  bool legacy = ctx.opset < 13;
  int64_t axis = normalize_axis(ctx, ctx.node.attr_i("axis", legacy ? 1 : -1), std::max(x.rank(), 1));
  int64_t outer = 1, len = 1, inner = 1;
  for (int64_t i = 0; i < x.rank(); ++i) {
    if (legacy) (i < axis ? outer : len) *= x.dim(int(i));
    else (i < axis ? outer : i == axis ? len : inner) *= x.dim(int(i));
  }
  Tensor& y = ctx.out(0, x.dtype(), x.shape());
  if (x.numel() == 0) return;  // an empty axis has no first element to start the maximum from
  if (kind == SoftmaxKind::softmax && inner == 1 && x.dtype() == DType::f32) {  // contiguous rows: the vector kernel
    kernels::f32_softmax_rows(x.data<float>(), y.data<float>(), outer, len);
    return;
  }
  PARETO_DISPATCH_FLOAT(ctx, x.dtype(), {
    const scalar_t* src = x.data<scalar_t>();
    scalar_t* dst = y.data<scalar_t>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t in = 0; in < inner; ++in) {
        const scalar_t* s = src + o * len * inner + in;
        scalar_t* d = dst + o * len * inner + in;
        scalar_t mx = s[0];
        int64_t arg = 0;
        for (int64_t i = 1; i < len; ++i)
          if (s[i * inner] > mx) {
            mx = s[i * inner];
            arg = i;
          }
        if constexpr (kind == SoftmaxKind::hardmax) {
          for (int64_t i = 0; i < len; ++i) d[i * inner] = i == arg ? 1 : 0;
        } else {
          scalar_t sum = 0;
          for (int64_t i = 0; i < len; ++i) {
            scalar_t e = std::exp(s[i * inner] - mx);
            if constexpr (kind == SoftmaxKind::softmax) d[i * inner] = e;
            sum += e;
          }
          if constexpr (kind == SoftmaxKind::softmax) {
            scalar_t r = scalar_t(1) / sum;
            for (int64_t i = 0; i < len; ++i) d[i * inner] *= r;
          } else {
            scalar_t ls = std::log(sum);
            for (int64_t i = 0; i < len; ++i) d[i * inner] = s[i * inner] - mx - ls;
          }
        }
      }
  });
}

void run_dropout(OpContext& ctx) {
  if (ctx.has(2) && ctx.in(2).numel() == 1 && ctx.in(2).as_double(0) != 0 && (!ctx.has(1) || ctx.in(1).as_double(0) != 0))
    ctx.unsupported("training_mode=true (random masks)");
  ctx.set_out(0, ctx.in(0));
  if (ctx.outputs.size() > 1 && ctx.node.outputs[1] >= 0) {
    Tensor& mask = ctx.out(1, DType::boolean, ctx.in(0).shape());
    std::fill(static_cast<uint8_t*>(mask.raw()), static_cast<uint8_t*>(mask.raw()) + mask.numel(), 1);
  }
}

}  // namespace

void register_nn_ops(OpRegistry& r) {
  r.add("Conv", run_conv, infer_conv);
  r.add("FusedConv", run_conv, infer_conv);  // domain "pareto": written by the compiler's fusion passes
  r.add("ConvTranspose", run_conv_transpose, infer_conv_transpose);
  r.add("FusedConvTranspose", run_conv_transpose, infer_conv_transpose);  // domain "pareto": + activation (fuse_activation)
  r.add("FusedConvTransposePair", run_conv_transpose_pair, infer_conv_transpose_pair);  // domain "pareto": fuse_conv_transpose_pair
  r.add("MatMul", run_matmul, infer_matmul);
  r.add("Gemm", run_gemm, infer_gemm);
  r.add("Softmax", run_softmax<SoftmaxKind::softmax>, infer_same_as_input);
  r.add("LogSoftmax", run_softmax<SoftmaxKind::log_softmax>, infer_same_as_input);
  r.add("Hardmax", run_softmax<SoftmaxKind::hardmax>, infer_same_as_input);
  r.add("Dropout", run_dropout, infer_same_as_input);
}

}  // namespace pareto::runtime
