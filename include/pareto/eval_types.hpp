// Options and report of evaluate_quantized (pareto/quantize.hpp): plain data,
// in a header of its own so that the quant layer, which fills the report,
// needs no part of the API above it.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pareto {

// Quality of a quantized model against its base on held-out text:
// perplexity of both (llama.cpp's convention), mean KL divergence of the
// quantized next-token distribution from the base one, top-1 agreement, and
// per-layer relative MSE and cosine similarity of the residual stream.
struct EvalOptions {
  int64_t ctx = 128;
  int64_t max_chunks = 0;  // 0: all
  std::string tokenizer;   // for llama2.c checkpoints
  // Weights repacked for this CPU's kernels as generate runs them (the
  // packed kernels quantize activations their own way, so figures move by
  // a fraction of a percent); off: the row kernels on the file's layout.
  bool repack = false;
  std::function<void(int64_t, int64_t)> progress;  // (chunk done, chunks)
};

struct LayerError {
  double rel_mse = 0;  // sum (q - b)^2 / sum b^2 over all scored positions
  double cosine = 0;   // mean over positions
};

struct EvalReport {
  double ppl_base = 0, ppl_quant = 0;
  double kl_mean = 0;  // nats per scored token
  double top1 = 0;     // share of scored tokens with the same argmax
  int64_t tokens = 0, chunks = 0;
  std::vector<LayerError> layers;
  double bpw_base = 0, bpw_quant = 0;  // bits per weight of the matmul weights
  uint64_t bytes_base = 0, bytes_quant = 0;
};

}  // namespace pareto
