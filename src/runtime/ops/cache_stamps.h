// The stamps of the executor's per-node cache (Executor::node_cache): what
// one node keeps, each kind under its own stamp, all listed here so that
// two kinds a node may hold at once never share one.
#pragma once

namespace pareto::runtime::stamps {

// A float conv's weights packed for the GEMM or Winograd-transformed, per
// weight input slot and kernel level (slot < 64, level < 64: below 1 << 13).
constexpr int packed_conv(int slot, int level, bool winograd) { return (slot * 64 + level) * 2 + (winograd ? 1 : 0); }
constexpr int kLookupPlanes = 1 << 13;        // QLookup's float tables split into byte planes
constexpr int kF16ConvWeights = (1 << 13) + 1;
constexpr int kTfliteFilterPacked = (1 << 13) + 2;  // a TFLite conv's int8 filter packed for the int8 GEMM
constexpr int kTfliteDepthwiseI32 = (1 << 13) + 3;  // a TFLite depthwise filter widened to int32
constexpr int kInt8ConvPlan = 1 << 20;
constexpr int kInt8MatMulPlan = (1 << 20) + 1;
constexpr int kDepthwiseInt8Plan = (1 << 20) + 2;
constexpr int kInt8ConvFloatWeights = (1 << 20) + 3;  // int8 codes as the floats they stand for
constexpr int kBf16Weights = 1 << 21;                 // a conv's or MatMul's weights packed for bf16
constexpr int packed_matmul(int level) { return (1 << 22) + level; }  // a constant MatMul B packed for the GEMM
constexpr int kConvGeometry = 1 << 23;
constexpr int kSqueezeExciteSteps = (1 << 23) + 1;  // FusedSqueezeExcite's attributes, read and checked once
constexpr int kSmallKPanels = (1 << 23) + 2;        // a constant MatMul B in the small-k kernel's 32-column panels

}  // namespace pareto::runtime::stamps
