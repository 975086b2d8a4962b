// `pareto` command line: one subcommand per file.
#include <malloc.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "cli.h"
#include "pareto/limits.hpp"

namespace {

const char* kUsage =
    "usage: pareto <command> [options]\n"
    "\n"
    "commands:\n"
    "  info MODEL [--graph] [--shape NAME=D0,D1,...] [--cpu]\n"
    "      inputs/outputs, op histogram, parameters, opsets; --graph prints the IR\n"
    "  run MODEL [--input NAME=FILE.npy|random[:SEED]|fill:V]... [--shape NAME=...]\n"
    "            [--output DIR] [--profile] [--threads N] [--warmup N]\n"
    "      runs once (after N untimed runs); writes each output as DIR/NAME.npy\n"
    "  profile MODEL [--json] [--html FILE] [--device x86-avx512|arm-phone|FILE.json] [--runs N] [--threads N]\n"
    "          [--shape ...] [--input ...] [--no-optimize] [--precision bf16|f16] [--no-ceilings] [--caches l1d=48K,l2=1M,llc=32M]   (GGUF/llama2.c: [-p 64] [--kv f16])\n"
    "      per op: time, operations by precision, bytes by cache level (estimated), roofline, energy (estimated;\n"
    "      measured too where powercap counters are readable); per inference or per decoded token\n"
    "  bench MODEL [--runs N] [--warmup N] [--threads N] [--shape NAME=...] [--input ...] [-O [--dynamic]] [--json]\n"
    "        [--precision fp32|bf16|f16 [--precision-keep NODE]...]  (with -O; bf16/f16 also report their error against fp32)\n"
    "      load time, first run, median and p90 latency, peak RSS\n"
    "  bench --llm MODEL [-p 512] [-n 128] [-t 1,2] [--reps 3] [--json]\n"
    "  bench --llm MODEL --parallel 1,4,16 [-n 128] [-t 2] [--reps 3] [--prompt TEXT] [--json]\n"
    "      llama-bench-style prefill/decode tokens/s, decode as a share of the bandwidth roofline\n"
    "  bench --bandwidth [-t 1,2]\n"
    "      memory read bandwidth probe (1 GiB buffer)\n"
    "  generate MODEL [-p PROMPT] [-n N] [--temp T] [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R]\n"
    "           [--seed S] [--threads N] [--ctx N] [--tokenizer TOK.bin] [--kv f16|f32|q8] [--no-repack]\n"
    "      streams text from a GGUF or llama2.c model; speed and memory to stderr\n"
    "  chat MODEL [--system TEXT] [--chat-template chatml|llama2|llama3|raw] [generate options]\n"
    "      interactive; history stays in the KV cache; Ctrl-D quits, Ctrl-C interrupts a reply\n"
    "  perplexity MODEL --file TEXT [--ctx N] [--threads N] [--tokenizer TOK.bin]\n"
    "      llama.cpp's convention: chunks of N tokens, second half of each scored\n"
    "  synth --preset micro|tiny|0.5b|1.1b --type f32|f16|q8_0|q4_0|q4_k -o FILE.gguf [--seed S] [--threads N]\n"
    "      random-weight llama model with real shapes (1.1b = TinyLlama)\n"
    "  tokenize MODEL -p TEXT [--no-bos] [--tokenizer TOK.bin]\n"
    "  quantize IN.gguf OUT.gguf [--method rtn|awq|gptq|smoothquant [--alpha A] [--act-order]] [--keep NAME-PART]...\n"
    "           [--type q8_0|q4_0|q4_1|q4_k|f16|q8_row|pq<B>g<G><s|a> | --bits 8|4|3|2 [--group 32|64|128|256] [--sym|--asym]]\n"
    "           [--calib FILE] [--calib-tokens N] [--threads N]\n"
    "      weight matrices to a GGML type where one fits (llama.cpp's rounding, byte for byte), else pareto's\n"
    "      group formats (tail groups, never truncated); smoothquant writes W8A8 (q8_row); progress and a summary;\n"
    "      --type q3_k_s|q3_k_m|q3_k_l|q4_k_s|q4_k_m|q5_k_s|q5_k_m: llama.cpp's mix (its types per tensor; rtn or gptq)\n"
    "  quantize IN.onnx OUT.onnx --calib DIR [--method minmax|percentile|entropy|mse] [--percentile P]\n"
    "           [--keep NODE]... [--no-keep-first-last] [--sensitivity] [--quantize-outputs]\n           [--quantize-depthwise] [--quantize-matmul] [--expose-quantized] [--dynamic] [--weights nearest|gptq [--gptq-rows N]]\n           [--calib-limit N] [--threads N] [--const NAME=VALUE]\n"
    "           [--calib-shape 1,3,H,W] [--calib-mean R,G,B] [--calib-std R,G,B] [--calib-bgr]\n"
    "      static int8 (per-channel int8 weights, uint8 activations) written as a QDQ ONNX model; DIR holds .npy\n"
    "      inputs (one per sample; subfolders with NAME.npy for several inputs) or images (PNG/JPEG, resized to\n"
    "      --calib-shape or the input's shape, then (v/255 - mean) / std per channel); per-conv ranges and sensitivity\n"
    "      (entropy breaks PP-OCR rec: README \"int8 models\"; percentile or minmax there); --dynamic: activation\n"
    "      ranges per run (DynamicQuantizeLinear, float biases; the samples only measure the error); --weights gptq:\n"
    "      int8 codes by GPTQ on the calibration inputs (same scales; the layer outputs move least)\n"
    "  tune MODEL.onnx --calib DIR -o OUT.onnx|OUT.pareto [--eval DIR] [--formats int8[,bf16]] [--threads 1,2] [--points 6] [--runs 10] [--rounds 4]\n"
    "       [--generations 2] [--population 8] [--seed 1] [--max-timed 8] [--cache FILE]\n"
    "       [--max-latency MS] [--max-memory MIB] [--max-energy MJ] [--max-quality-loss X] [--max-task-loss X]\n"
    "       [--objective latency|memory|energy|quality|task] [--method percentile[,minmax,entropy,mse,dynamic][+gptq]] [--time-budget S]\n"
    "       [--ocr-set DIR --ocr-role det|cls|rec [--ocr-models DIR] [--ocr-every N] | --vad-set DIR] [--const NAME=VALUE]...\n"
    "       [--calib-limit 16] [--no-energy] [--in-process | --timing-cpu N] [--round-latency median|fastest] [--explain] [--json]\n"
    "      per conv int8, bf16 or fp32, the calibration method and threads, from measured points: sensitivities and per-node\n"
    "      times, a greedy path, the anchors (fp32, bf16 all, int8 with float or bf16 ends, int8 all) per method, an evolutionary\n"
    "      search ranked by a per-node cost model (its front timed); quality as\n"
    "      output error and, with --ocr-set, the OCR set's CER; energy estimated; prints the Pareto front, writes the\n"
    "      chosen model (bf16: a compiled .pareto); --time-budget: no greedy point started past S seconds; --plot FILE.html;\n"
    "      --timing-cpu N: the 1-thread timings pinned to cpu N (a VM's vCPUs can differ by 40% for minutes);\n"
    "      --round-latency fastest: a point's latency is its fastest round's, not the median (a VM's slow spells)\n"
    "  tune MODEL.gguf --eval TEXT -o OUT.gguf [--formats f16,q8_0,q6_k,q5_k,q5_0,q4_k,q4_0,q3_k]\n"
    "       [--method rtn[,gptq][,awq]] [--calib TEXT] [--calib-tokens 512] [--kv f16[,q8,f32]] [--group tensor|layer|kind|kind-split] [--threads 1,2]\n"
    "       [--ctx 128] [--chunks N] [--points 8] [--time-points 0] [--generations 8] [--population 16] [--seed 1] [--time-budget S]\n"
    "       [--max-timed 12] [--anchor FILE.gguf]... [--max-latency MS] [--max-memory MIB] [--max-bpw B] [--max-energy MJ]\n"
    "       [--max-kl X] [--objective latency|memory|bpw|energy|quality] [--cache FILE] [--test TEXT] [--plot FILE.html]\n"
    "       [--runs 1] [--rounds 4] [--lab-memory 2048] [--explain] [--json]\n"
    "      a weight type and rounding (GPTQ where it writes the type) per tensor, the KV cache type and threads: KL against\n"
    "      the base model on TEXT measured for every point, sensitivity, a greedy\n"
    "      path, an evolutionary search; uniform formats and anchor files (llama.cpp's mixes) timed beside the front,\n"
    "      in --rounds rounds over all of them in turn (order alternating; medians of the rounds)\n"
    "  serve MODEL [--host 127.0.0.1] [--port 8080] [--parallel N] [--queue 16] [--ctx N (per slot)] [--threads N]\n"
    "        [--api-key KEY | --api-key-file F] [--alias NAME] [--kv f16|f32|q8] [--max-body BYTES] [--tokenizer TOK.bin]\n"
    "      OpenAI-compatible HTTP server: /v1/chat/completions, /v1/completions (stream too), /v1/models, /health,\n"
    "      /metrics, /v1/ocr (image -> lines), /v1/vad (WAV -> segments), /v1/classify (image -> classes) and\n"
    "      /v1/wakeword[?keyword=hey_jarvis,alexa] (WAV -> detections) [--ocr-models DIR] [--vad-model F]\n"
    "      [--classify-model M.tflite|M.onnx --classify-labels L] [--wakeword-models DIR];\n"
    "      N slots decode together (one weight pass per step); a full queue answers 429\n"
    "        [--upstream URL [--upstream-key K] [--upstream-model M] [--upstream-timeout S]] [--route-policy FILE.json]\n"
    "        [--max-device-ms MS] [--confidence-tokens K [--max-entropy X] [--min-logprob Y]]\n"
    "      hybrid routing: private requests stay; over the latency budget goes upstream; unsure first K tokens are\n"
    "      asked upstream again; a failing upstream is answered here (header x-pareto-served-by, field pareto)\n"
    "  route-calibrate --device URL --upstream URL --prompts FILE [--max-tokens 16] [--key K] [--upstream-key K] [--json]\n"
    "      runs each prompt (a line, or JSON lines with \"prompt\") on both servers; the curve of upstream share\n"
    "      against agreement with the upstream's answer per confidence threshold (for serve --max-entropy/--min-logprob)\n"
    "  calibrate MODEL.gguf --file TEXT -o STATS.txt [--ctx 128] [--tokens 4096]\n"
    "      importance (mean squared input) of every matmul column, for quantize --importance STATS.txt\n"
    "  eval BASE QUANT --file TEXT [--ctx 128] [--chunks N] [--tokenizer TOK.bin]\n"
    "      perplexity of both, KL divergence, top-1 agreement, per-layer error, bits per weight\n"
    "  compile MODEL.onnx [--shape NAME=D0,D1,...] [--const NAME=VALUE] [--precision fp32|bf16|f16] [--report] [--no-prepack] [-o MODEL.pareto]\n"
    "      graph compiler: nodes before/after each pass, what it fused, the memory plan; -o writes a compiled\n"
    "      model that run/info/bench load directly (run/bench also take -O to compile at load)\n"
    "  ocr IMAGE... [--json | --jsonl] [--profile] [--models DIR] [--threads N] [--warmup N] [--limit-side 960]\n"
    "      [--unclip-ratio 2.0] [--rec-min-width 0] [--rec-bilinear] [--no-merge-lines] [--dump-inputs DIR] [--precision fp32|bf16|f16]\n"
    "      [--det F] [--cls F] [--rec F]   text lines (PP-OCRv4 detect -> classify -> recognize) with boxes and confidences\n"
    "  ocr --score SET_DIR [--every N] ...   character error rate on a labelled set (truth.json), as bench/ocr/score.mjs\n"
    "  classify IMAGE... --model M.tflite|M.onnx [--labels L] [--top 5] [--json] [--mean R,G,B --std R,G,B] [--threads N] [--dump-inputs DIR]\n"
    "      top-K classes of each image (PNG, JPEG, BMP) from any image classifier, quantized TFLite included\n"
    "  vad AUDIO.wav [--json] [--profile] [--model PATH] [--threshold 0.5] [--min-speech-ms 250]\n"
    "      [--min-silence-ms 100] [--pad-ms 30] [--probs] [--dump-inputs DIR]: speech segments (silero VAD), start and end in seconds\n"
    "  vad --score SET_DIR [--model PATH]: a labelled set's boundary error (SET_DIR/truth.json: [{file, segments: [[s, e], ...]}])\n"
    "  wakeword AUDIO.wav | --stream [--keyword hey_jarvis[,alexa,...]] [--models DIR] [--threshold 0.5] [--cooldown-ms 2000]\n"
    "      [--vad-model F | --no-vad] [--json] [--scores] [--profile]: openWakeWord detections with times (--stream: 16 kHz s16le on stdin)\n"
    "  version\n"
    "\n"
    "every command: --threads N defaults to the performance cores (pareto info --cpu shows the clusters and the count)\n"
    "  --cpu-mask HEX limits threads to those cpus (0xF0 = cpus 4-7); --cpu-strict pins thread i to the i-th of them\n"
    "  (alone: to the performance cores)\n"
    "every command: --limit NAME=VALUE (repeatable; K/M/G/T suffixes) raises or lowers what a file may make\n"
    "  pareto allocate: tensor-bytes (2G), tensor-elements (2G), vocab-size (2M), context (1M), image-pixels (128M),\n"
    "  audio-seconds (14400); also PARETO_LIMIT_TENSOR_BYTES=... etc.\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace pareto::tools;
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  // glibc hands large freed blocks back to the OS, so every inference would
  // page-fault its activations in again (~12% of det latency). Keep them in
  // the heap until the memory planner gives each model one arena.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  try {
    using Spec = OptionSpec;
    const std::vector<std::string> llm_open = {"--tokenizer", "--ctx", "--threads", "-t", "--kv"};
    const std::vector<std::string> sampling = {"-n", "--n-predict", "--temp", "--top-k", "--top-p", "--min-p",
                                               "--repeat-penalty", "--repeat-last-n", "--seed"};
    auto join = [](std::vector<std::string> a, const std::vector<std::string>& b) {
      a.insert(a.end(), b.begin(), b.end());
      return a;
    };
    const std::vector<std::string> model_inputs = {"--input", "--shape", "--const", "--threads", "-t", "--warmup", "--precision", "--precision-keep"};
    // Parses the command's options, then runs it under the limits its
    // --limit options set (everything it opens takes them by default).
    auto run = [&](int (*command)(const Args&), const Spec& spec) {
      const Args a = parse_args(argc, argv, 2, spec);
      pareto::Limits limits = pareto::default_limits();
      for (const std::string& l : a.all("--limit")) pareto::set_limit(limits, l);
      if (a.has("--cpu-mask") || a.has("--cpu-strict")) pareto::place_threads(a.get("--cpu-mask", ""), a.has("--cpu-strict"));
      pareto::LimitsScope scope(limits);
      return command(a);
    };
    if (cmd == "info") return run(cmd_info, Spec{{"--graph", "--cpu"}, {"--shape"}});
    if (cmd == "run")
      return run(cmd_run, Spec{{"--profile", "-O", "--optimize"}, join(model_inputs, {"--output"})});
    if (cmd == "profile")
      return run(cmd_profile, Spec{{"--json", "--no-ceilings", "--no-optimize", "--no-repack"},
                                   join(model_inputs, {"--runs", "--device", "--html", "--top", "-p", "--kv", "--tokenizer", "--caches"})});
    if (cmd == "bench")
      return run(cmd_bench, Spec{{"--json", "--llm", "--bandwidth", "--no-repack", "-O", "--optimize", "--dynamic"},
                                                      join(model_inputs, {"--runs", "-p", "-n", "--reps", "--ctx", "--kv", "--tokenizer", "--parallel", "--prompt"})});
    if (cmd == "generate")
      return run(cmd_generate, Spec{{"--no-repack"}, join(join(llm_open, sampling), {"-p", "--prompt"})});
    if (cmd == "chat")
      return run(cmd_chat, Spec{{"--no-repack"}, join(join(llm_open, sampling), {"--system", "--chat-template"})});
    if (cmd == "serve")
      return run(cmd_serve, Spec{{"--no-repack"}, {"--host", "--port", "--parallel", "-np", "--queue", "--ctx", "--threads", "-t", "--kv",
                                                   "--tokenizer", "--api-key", "--api-key-file", "--alias", "--max-body", "--upstream",
                                                   "--upstream-key", "--upstream-model", "--upstream-timeout", "--max-device-ms",
                                                   "--confidence-tokens", "--max-entropy", "--min-logprob", "--route-policy",
                                                   "--ocr-models", "--vad-model", "--classify-model", "--classify-labels", "--wakeword-models"}});
    if (cmd == "route-calibrate")
      return run(cmd_route_calibrate, Spec{{"--json"}, {"--device", "--upstream", "--prompts", "--max-tokens", "--key", "--upstream-key",
                                                        "--upstream-model"}});
    if (cmd == "synth")
      return run(cmd_synth, Spec{{}, {"--arch", "--preset", "--type", "-o", "--output", "--seed", "--threads", "-t"}});
    if (cmd == "perplexity")
      return run(cmd_perplexity, Spec{{"--no-repack"}, join(llm_open, {"--file", "-f", "-c"})});
    if (cmd == "ocr")
      return run(cmd_ocr, Spec{{"--json", "--jsonl", "--profile", "--no-merge-lines", "--rec-bilinear"},
                                                    {"--models", "--threads", "-t", "--warmup", "--limit-side", "--limit-type",
                                                     "--unclip-ratio", "--rec-min-width", "--dump-inputs", "--precision", "--det", "--cls",
                                                     "--rec", "--score", "--every"}});
    if (cmd == "calibrate")
      return run(cmd_calibrate, Spec{{}, {"--file", "-o", "--ctx", "--tokens", "--tokenizer"}});
    if (cmd == "eval")
      return run(cmd_eval, Spec{{}, {"--file", "--ctx", "--chunks", "--tokenizer"}});
    if (cmd == "quantize")
      return run(cmd_quantize, Spec{{"--fold-only", "--sym", "--asym", "--act-order", "--no-keep-first-last", "--sensitivity", "--quantize-outputs",
                                                          "--quantize-depthwise", "--quantize-matmul", "--expose-quantized", "--dynamic", "--calib-bgr"},
                                                         {"--method", "--alpha", "--keep", "--type", "--bits", "--group", "--calib",
                                                          "--calib-tokens", "--threads", "-t", "--importance", "--tokenizer", "--percentile",
                                                          "--calib-limit", "--const", "--calib-shape", "--calib-mean", "--calib-std", "--weights", "--gptq-rows"}});
    if (cmd == "tune")
      return run(cmd_tune, Spec{{"--explain", "--json", "--in-process", "--no-energy"},
                                {"--calib", "--eval", "-o", "--output", "--threads", "-t", "--points", "--runs", "--max-latency", "--max-memory",
                                 "--max-quality-loss", "--objective", "--method", "--calib-limit", "--plot", "--formats", "--ctx", "--chunks",
                                 "--generations", "--population", "--seed", "--time-budget", "--max-timed", "--anchor", "--max-bpw", "--lab-memory",
                                 "--max-energy", "--max-kl", "--cache", "--test", "--group", "--max-task-loss", "--ocr-set",
                                 "--ocr-role", "--ocr-models", "--ocr-every", "--rounds", "--calib-tokens", "--kv", "--vad-set", "--const",
                                 "--time-points", "--timing-cpu", "--round-latency"}});
    if (cmd == "compile")
      return run(cmd_compile, Spec{{"--report", "--no-prepack"}, {"--shape", "--const", "-o", "--output", "--precision", "--precision-keep"}});
    if (cmd == "classify")
      return run(cmd_classify, Spec{{"--json"}, {"--model", "--labels", "--top", "--mean", "--std", "--threads", "-t", "--dump-inputs"}});
    if (cmd == "vad")
      return run(cmd_vad, Spec{{"--json", "--profile", "--probs", "--no-optimize"},
                                                    {"--model", "--threshold", "--min-speech-ms", "--min-silence-ms", "--pad-ms",
                                                     "--threads", "-t", "--dump-inputs", "--score"}});
    if (cmd == "wakeword")
      return run(cmd_wakeword, Spec{{"--json", "--profile", "--scores", "--stream", "--no-vad"},
                                    {"--keyword", "--models", "--threshold", "--cooldown-ms", "--vad-model", "--threads", "-t"}});
    if (cmd == "tokenize")
      return run(cmd_tokenize, Spec{{"--no-bos", "--no-repack"}, join(llm_open, {"-p", "--prompt"})});
    if (cmd == "version" || cmd == "--version") {
      std::printf("pareto %s\n%s\n", pareto::version().c_str(), pareto::cpu_summary().c_str());
      return 0;
    }
    std::fprintf(stderr, "pareto: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
    return 2;
  } catch (const pareto::Error& e) {
    std::fprintf(stderr, "pareto %s: error: %s\n", cmd.c_str(), e.what());
    return e.code() == pareto::StatusCode::invalid_argument ? 2 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pareto %s: error: %s\n", cmd.c_str(), e.what());
    return 1;
  }
}
