/* pareto C API: opaque handles and status codes, for embedding from C or
 * other languages. Every function that can fail returns a pareto_status;
 * pareto_last_error() gives the message for the calling thread. */
#ifndef PARETO_PARETO_H
#define PARETO_PARETO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  PARETO_OK = 0,
  PARETO_INVALID_ARGUMENT = 1,
  PARETO_INVALID_MODEL = 2,
  PARETO_UNSUPPORTED = 3,
  PARETO_OUT_OF_MEMORY = 4,
  PARETO_IO_ERROR = 5,
  PARETO_INTERNAL = 6
} pareto_status;

typedef struct pareto_session pareto_session;

/* Message of the last failed call on this thread ("" if none). */
const char* pareto_last_error(void);

pareto_status pareto_session_open(const char* model_path, int threads, pareto_session** out);
void pareto_session_free(pareto_session* session);

size_t pareto_session_input_count(const pareto_session* session);
size_t pareto_session_output_count(const pareto_session* session);
const char* pareto_session_input_name(const pareto_session* session, size_t index);
const char* pareto_session_output_name(const pareto_session* session, size_t index);

/* Binds a float32 input by name (the data is copied). */
pareto_status pareto_session_set_input_f32(pareto_session* session, const char* name, const float* data,
                                           const int64_t* dims, size_t rank);
/* Runs with the bound inputs; outputs stay valid until the next run or free. */
pareto_status pareto_session_run(pareto_session* session);
/* Output `index` as float32: its data, rank and dims (dims points into the session). */
pareto_status pareto_session_output_f32(const pareto_session* session, size_t index, const float** data,
                                        const int64_t** dims, size_t* rank);

/* Rewrites the weight matrices of a GGUF model (or a llama2.c checkpoint
 * with its tokenizer.bin in `tokenizer`, else NULL) in `type` ("q8_0",
 * "q4_0", "q4_k", ... as llama.cpp names them) by `method` ("rtn", "awq",
 * "gptq" or "smoothquant"; the calibrated methods calibrate on 512 tokens
 * sampled from the model) and writes a GGUF file. pareto/quantize.hpp has
 * every option. */
pareto_status pareto_quantize(const char* in_path, const char* out_path, const char* method, const char* type, const char* tokenizer,
                              int threads);

#ifdef __cplusplus
}
#endif

#endif /* PARETO_PARETO_H */
