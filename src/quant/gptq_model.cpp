// GPTQ over a whole GGUF model, one layer at a time: the calibration
// sequences' residual streams are carried from layer to layer
// (Transformer::forward_layers), and only the current layer's matmul inputs
// are kept for its Hessians, then its matrices are written and freed. The
// activations are those of one forward pass over all layers, bit for bit
// (the same bytes as collecting every layer at once), in a layer's memory
// instead of the model's: 1.1B on 11264 calibration tokens kept 11.7 GB of
// inputs and 4.4 GB of f32 weight copies at once before.
#include <map>

#include "core/file.h"
#include "kernels/quant_formats.h"  // ggml_type_traits
#include "quant/gptq.h"
#include "quant/quantize_gguf.h"

namespace pareto::quant {

namespace {

// Every matrix of layer l into m.packed: by GPTQ on `acts` where it writes
// the type, by plain rounding (as write_calibrated would) where not.
void quantize_layer(CalibratedModel& m, int64_t l, const std::vector<Activations>& acts, const CalibratedOptions& o, CalibratedReport& rep) {
  const std::string prefix = "blk." + std::to_string(l) + ".";
  GptqOptions go;
  go.act_order = o.act_order;
  // One factor per input (q, k and v share one, gate and up another), freed after its last matrix.
  const std::vector<NamedMatrix> matrices = layer_matrices(m.layers[size_t(l)]);
  std::map<int, size_t> last;
  for (size_t k = 0; k < matrices.size(); ++k) last[int(matrices[k].input)] = k;
  std::map<int, GptqFactor> factors;
  for (size_t k = 0; k < matrices.size(); ++k) {
    const NamedMatrix& nm = matrices[k];
    Matrix& w = *nm.matrix;
    const uint32_t type = storage_type(calibrated_type(o, prefix + nm.name), w.cols);
    std::string& packed = m.packed[prefix + nm.name];
    if (!gptq_writes(type)) {  // a mix's q5_0 / q5_1 / f16 fallback: rounded to nearest
      rep.notes.push_back(prefix + nm.name + ": " + kernels::ggml_type_traits(type).name + " has no GPTQ writer, rounded to nearest");
      if (last[int(nm.input)] == k) factors.erase(int(nm.input));
      packed = round_rows(type, w.w.data(), w.rows, w.cols);
    } else {
      auto it = factors.find(int(nm.input));
      if (it == factors.end()) it = factors.emplace(int(nm.input), gptq_factor(acts[size_t(nm.input)].rows, w.cols, go)).first;
      GptqResult g = gptq_quantize(w.w, w.rows, w.cols, it->second, type, go);
      if (last[int(nm.input)] == k) factors.erase(it);
      if (g.fell_back) rep.notes.push_back(prefix + nm.name + ": Cholesky failed at every damping, rounded to nearest");
      packed = std::move(g.bytes);
    }
    w.w = std::vector<float>();  // written: the f32 copy goes
  }
}

}  // namespace

CalibratedReport gptq_quantize_model(const std::string& in, const std::string& out, const CalibratedOptions& o) {
  const double t0 = now_seconds();
  CalibratedReport rep;
  CalibratedModel m;
  const CalibrationSequences seq = open_calibrated(in, o, m, rep);
  const llm::ModelConfig& c = m.model->config;
  const int64_t L = c.n_layers, ctx = m.ctx, n_tok = seq.count;
  const std::unique_ptr<llm::Model> fast = int8_forward_copy(*m.model);
  if (fast) rep.calibration += ", forward pass on a Q8_0 copy of the weights";
  llm::Transformer tr(fast ? *fast : *m.model, ctx);
  // The residual stream of every calibration token entering the next layer.
  std::vector<float> stream(size_t(n_tok * c.dim));
  tr.embed(seq.tokens.data(), n_tok, stream.data());
  std::vector<Activations> acts;
  tr.input_hook = [&](int64_t, llm::MatmulInput which, const float* x, int64_t n, int64_t cols) { acts[size_t(which)].add(x, n, cols); };
  double forward_s = 0;
  for (int64_t l = 0; l < L; ++l) {
    acts.assign(4, Activations{});
    for (Activations& a : acts) a.keep = n_tok;
    const double f0 = now_seconds();
    for (int64_t s = 0; s < n_tok; s += ctx) {
      const float* next = tr.forward_layers(stream.data() + s * c.dim, ctx, 0, l, l + 1);
      std::copy(next, next + ctx * c.dim, stream.begin() + s * c.dim);
    }
    forward_s += now_seconds() - f0;
    m.layers.push_back(copy_layer(m.model->layers[size_t(l)], c.dim));
    if (o.quantize) quantize_layer(m, l, acts, o, rep);
    if (o.progress) o.progress(int(l + 1), int(L), now_seconds() - t0);
  }
  rep.calibration_seconds = forward_s;
  write_calibrated(m, o, out);
  rep.seconds = now_seconds() - t0;
  return rep;
}

}  // namespace pareto::quant
