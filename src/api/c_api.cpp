// The C API: a thin layer over Session that keeps errors as status codes.
#include <cstring>
#include <string>

#include "pareto/pareto.h"
#include "pareto/pareto.hpp"
#include "pareto/quantize.hpp"

struct pareto_session {
  std::unique_ptr<pareto::Session> session;
  std::map<std::string, pareto::Tensor> inputs;
  std::vector<pareto::Tensor> outputs;
};

namespace {

thread_local std::string g_last_error;

pareto_status report(const pareto::Status& s) {
  g_last_error = s.ok() ? "" : s.message;
  return pareto_status(int(s.code));
}

pareto_status report(pareto::StatusCode code, const std::string& message) { return report(pareto::Status{code, message}); }

}  // namespace

extern "C" {

const char* pareto_last_error(void) { return g_last_error.c_str(); }

pareto_status pareto_session_open(const char* model_path, int threads, pareto_session** out) {
  if (!model_path || !out) return report(pareto::StatusCode::invalid_argument, "null argument");
  *out = nullptr;
  pareto::SessionOptions opt;
  opt.threads = threads > 0 ? threads : 1;
  auto s = pareto::Session::open(model_path, opt);
  if (!s.ok()) return report(s.status());
  auto* handle = new (std::nothrow) pareto_session;
  if (!handle) return report(pareto::StatusCode::out_of_memory, "out of memory");
  handle->session = std::move(s.value());
  *out = handle;
  return report(pareto::Status{});
}

void pareto_session_free(pareto_session* session) { delete session; }

size_t pareto_session_input_count(const pareto_session* s) { return s ? s->session->inputs().size() : 0; }
size_t pareto_session_output_count(const pareto_session* s) { return s ? s->session->outputs().size() : 0; }

const char* pareto_session_input_name(const pareto_session* s, size_t i) {
  return s && i < s->session->inputs().size() ? s->session->inputs()[i].name.c_str() : nullptr;
}

const char* pareto_session_output_name(const pareto_session* s, size_t i) {
  return s && i < s->session->outputs().size() ? s->session->outputs()[i].name.c_str() : nullptr;
}

pareto_status pareto_session_set_input_f32(pareto_session* s, const char* name, const float* data, const int64_t* dims,
                                           size_t rank) {
  if (!s || !name || (!data && rank) || (!dims && rank)) return report(pareto::StatusCode::invalid_argument, "null argument");
  try {
    pareto::Shape shape(dims, dims + rank);
    pareto::Tensor t = pareto::Tensor::empty(pareto::DType::f32, shape);
    if (t.nbytes()) std::memcpy(t.raw(), data, t.nbytes());
    s->inputs[name] = t;
  } catch (const pareto::Error& e) {
    return report(e.code(), e.what());
  }
  return report(pareto::Status{});
}

pareto_status pareto_session_run(pareto_session* s) {
  if (!s) return report(pareto::StatusCode::invalid_argument, "null session");
  auto r = s->session->run(s->inputs);
  if (!r.ok()) return report(r.status());
  s->outputs = std::move(r.value());
  return report(pareto::Status{});
}

pareto_status pareto_session_output_f32(const pareto_session* s, size_t i, const float** data, const int64_t** dims,
                                        size_t* rank) {
  if (!s || !data || !dims || !rank) return report(pareto::StatusCode::invalid_argument, "null argument");
  if (i >= s->outputs.size()) return report(pareto::StatusCode::invalid_argument, "no output " + std::to_string(i) + " (run first?)");
  const pareto::Tensor& t = s->outputs[i];
  if (t.dtype() != pareto::DType::f32)
    return report(pareto::StatusCode::invalid_argument, std::string("output is ") + pareto::dtype_name(t.dtype()) + ", not float32");
  *data = static_cast<const float*>(t.raw());
  *dims = t.shape().data();
  *rank = t.shape().size();
  return report(pareto::Status{});
}

pareto_status pareto_quantize(const char* in_path, const char* out_path, const char* method, const char* type, const char* tokenizer,
                              int threads) {
  if (!in_path || !out_path || !method || !type) return report(pareto::StatusCode::invalid_argument, "null argument");
  auto m = pareto::quant_method_by_name(method);
  if (!m.ok()) return report(m.status());
  pareto::QuantizeOptions o;
  o.method = m.value();
  o.type = type;
  if (tokenizer) o.tokenizer = tokenizer;
  o.threads = threads > 0 ? threads : 1;
  return report(pareto::quantize_model(in_path, out_path, o).status());
}

}  // extern "C"
