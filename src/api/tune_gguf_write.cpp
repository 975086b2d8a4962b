#include "api/tune_gguf_write.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include "core/error.h"
#include "kernels/pareto_formats.h"
#include "kernels/quant_formats.h"
#include "quant/quantize_gguf.h"

namespace pareto::api {

namespace {

using quant::MixLab;
using quant::MixQuality;

void write_chosen(const std::string& in, const std::string& out, MixLab& lab, const LlmTunePoint& p, LlmTuneResult& r) {
  if (p.origin == "anchor") {
    std::ifstream src(p.label.substr(7), std::ios::binary);
    std::ofstream dst(out, std::ios::binary);
    dst << src.rdbuf();
    if (!src || !dst) fail(StatusCode::io_error, "cannot copy " + p.label.substr(7) + " to " + out);
    r.written = "a copy of the anchor " + p.label.substr(7);
    return;
  }
  quant::QuantizeOptions qo;
  std::map<std::string, int> count;
  int gptq = 0, awq = 0;
  int own = 0;  // tensors stored in pareto's group types (a tail-group fallback included)
  for (size_t i = 0; i < p.types.size(); ++i) {
    const uint32_t choice = quant::choice_by_name(p.types[i]), type = quant::type_of(choice);
    const std::string& name = lab.tensors()[i].name;
    qo.tensor_types[name] = type;
    // GPTQ's bytes are the ones measured, written as they are.
    if (quant::is_gptq(choice)) qo.packed[name] = *lab.matrix_bytes(i, choice), gptq += !lab.gptq_fell_back(i, choice);
    if (quant::is_awq(choice)) {  // the measured bytes, and the block's folded norm (and v's bias)
      const quant::MixTensor& t = lab.tensors()[i];
      const bool attention = quant::in_attention_block(t);
      const MixLab::AwqFold f = lab.awq_fold(t.layer, attention, type);
      const std::string blk = "blk." + std::to_string(t.layer) + ".";
      qo.packed[name] = *lab.matrix_bytes(i, choice);
      qo.f32_tensors[blk + (attention ? "attn_norm.weight" : "ffn_norm.weight")] = *f.norm;
      if (attention && f.v_bias) qo.f32_tensors[blk + "attn_v.bias"] = *f.v_bias;
      ++awq;
    }
    count[quant::type_name(type)]++;
    own += kernels::is_group_type(lab.stored_type(i, type)) || type == kernels::kQ8RowType;
  }
  const auto most = std::max_element(count.begin(), count.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  qo.type = quant::type_by_name(most->first);  // the file type llama.cpp reports: the commonest
  quant::quantize_gguf(in, out, qo);
  r.written = "a GGUF with a type per tensor (" + std::to_string(count.size()) + " types" +
              (gptq ? ", " + std::to_string(gptq) + " tensors rounded by GPTQ" : std::string()) +
              (awq ? ", " + std::to_string(awq) + " tensors scaled and clipped by AWQ, their blocks' norms folded" : std::string()) + "); " +
              (own ? std::to_string(own) + " tensors in pareto's own group types, which llama.cpp cannot load"
                   : std::string("every type a GGML type, so llama.cpp loads it too"));
}

}  // namespace

// Written next to `out` first, moved into place once its KL is checked.
void write_and_check(const std::string& in, const std::string& out, MixLab& lab, LlmTuneResult& r) {
  const LlmTunePoint& p = r.points[size_t(r.chosen)];
  const std::string tmp = out + ".tune-" + std::to_string(::getpid());
  struct Remove {
    std::string path;
    ~Remove() { std::remove(path.c_str()); }
  } remove_tmp{tmp};
  write_chosen(in, tmp, lab, p, r);
  auto written = llm::Model::load(tmp);
  MixLab::prepare(*written);
  const MixQuality check = lab.quality(*written, llm::kv_type_by_name(p.kv));
  written.reset();
  if (std::abs(check.kl - p.kl) > 1e-9 + 1e-6 * p.kl)
    fail(StatusCode::internal, "the written model's KL " + std::to_string(check.kl) + " differs from the measured " + std::to_string(p.kl));
  if (std::rename(tmp.c_str(), out.c_str()) != 0) fail(StatusCode::io_error, "cannot move " + tmp + " to " + out);
  if (p.kv != "f16") r.written += "; measured with a " + p.kv + " KV cache: run it with --kv " + p.kv;
}

}  // namespace pareto::api
