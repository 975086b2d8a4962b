// Sessions own their parallelism: eight threads, each with its own session
// (ONNX and LLM, 1-3 threads each), run at the same time in one process and
// every output equals what the same session gives when run alone. Built
// and run under ThreadSanitizer by the tsan preset (scripts/run-tests.sh).
#include <gtest/gtest.h>

#include <filesystem>
#include <atomic>
#include <chrono>
#include <latch>
#include <fstream>
#include <thread>
#include <unistd.h>

#include "../unit/proto_builder.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "pareto/llm.hpp"
#include "pareto/llm_engine.hpp"
#include "pareto/pareto.hpp"
#include "runtime/thread_choice.h"

namespace {

using namespace pareto;
using namespace pareto::test;

std::vector<float> ramp(size_t n, float scale, float offset) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * float(int(i * 7919 % 101) - 50) / 50.f + offset;
  return v;
}

// Conv -> Relu -> MatMul -> Softmax, large enough that every op splits its
// work across a session's threads (GEMM and elementwise thresholds).
std::string conv_model_file(const std::string& dir) {
  Msg g;
  g.m(1, node("Conv", {"x", "w", "b"}, {"c"}, "conv", {attr_ints("pads", {1, 1, 1, 1})}));
  g.m(1, node("Relu", {"c"}, {"r"}, "relu"));
  g.m(1, node("Reshape", {"r", "shape"}, {"flat"}, "reshape"));
  g.m(1, node("MatMul", {"flat", "m"}, {"mm"}, "matmul"));
  g.m(1, node("Softmax", {"mm"}, {"y"}, "softmax", {attr_int("axis", -1)}));
  g.s(2, "concurrency");
  g.m(5, tensor_f32("w", {32, 8, 3, 3}, ramp(32 * 8 * 9, 0.1f, 0.f)));
  g.m(5, tensor_f32("b", {32}, ramp(32, 0.05f, 0.01f)));
  Msg shape;
  shape.i(1, 2).i(2, 7).s(8, "shape");  // dims [2], INT64
  for (int64_t d : {int64_t(32 * 48), int64_t(48)}) shape.i(7, d);
  g.m(5, shape);
  g.m(5, tensor_f32("m", {48, 96}, ramp(48 * 96, 0.2f, 0.f)));
  g.m(11, value_info("x", 1, {1, 8, 48, 48}));
  g.m(12, value_info("y", 1, {32 * 48, 96}));
  const std::string path = dir + "/concurrency.onnx";
  std::ofstream(path, std::ios::binary) << model(g).bytes;
  return path;
}

struct Job {
  bool llm = false;
  int threads = 1;
  std::vector<float> onnx_out;
  std::string text;  // greedy continuation
  int64_t generated = 0;
};

class Concurrency : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("pareto-concurrency-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    onnx_path_ = conv_model_file(dir_.string());
    llm_path_ = (dir_ / "tiny.gguf").string();
    auto r = synth_llm({"llama", "tiny", "q8_0", 7, 2}, llm_path_);
    ASSERT_TRUE(r.ok()) << r.status().message;
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }

  // One session's whole life: open, run three times, keep the last output.
  static void run_job(Job& job) {
    if (job.llm) {
      LlmOptions o;
      o.threads = job.threads;
      o.ctx = 64;
      auto s = LlmSession::open(llm_path_, o);
      ASSERT_TRUE(s.ok()) << s.status().message;
      GenerateOptions g;
      g.max_tokens = 12;
      g.temperature = 0.f;
      for (int round = 0; round < 2; ++round) {
        s.value()->reset();
        std::string text;
        auto st = s.value()->generate("once upon a time", g, [&](const std::string& t) {
          text += t;
          return true;
        });
        ASSERT_TRUE(st.ok()) << st.status().message;
        job.text = text;
        job.generated = st.value().generated_tokens;
      }
      return;
    }
    SessionOptions o;
    o.threads = job.threads;
    auto s = Session::open(onnx_path_, o);
    ASSERT_TRUE(s.ok()) << s.status().message;
    const Tensor x = Tensor::from_vector(ramp(8 * 48 * 48, 1.f, 0.1f), {1, 8, 48, 48});
    for (int round = 0; round < 3; ++round) {
      auto out = s.value()->run({{"x", x}});
      ASSERT_TRUE(out.ok()) << out.status().message;
      const Tensor& y = out.value()[0];
      job.onnx_out.assign(y.data<float>(), y.data<float>() + y.numel());
    }
  }

  static std::filesystem::path dir_;
  static std::string onnx_path_, llm_path_;
};

std::filesystem::path Concurrency::dir_;
std::string Concurrency::onnx_path_, Concurrency::llm_path_;

TEST_F(Concurrency, EightSessionsAtOnceMatchTheSerialRun) {
  // Five ONNX and three LLM sessions, each kind with 1, 2 and 3 threads.
  const std::pair<bool, int> mix[8] = {{false, 1}, {true, 1}, {false, 2}, {false, 3}, {true, 2}, {false, 1}, {false, 2}, {true, 3}};
  std::vector<Job> serial(8), concurrent(8);
  for (size_t i = 0; i < serial.size(); ++i) {
    serial[i].llm = concurrent[i].llm = mix[i].first;
    serial[i].threads = concurrent[i].threads = mix[i].second;
  }
  for (Job& j : serial) run_job(j);
  // All eight start together (a latch), so their runs overlap.
  std::latch start(8);
  std::vector<std::thread> threads;
  for (Job& j : concurrent)
    threads.emplace_back([&j, &start] {
      start.arrive_and_wait();
      run_job(j);
    });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < serial.size(); ++i) {
    const std::string what = "session " + std::to_string(i) + (serial[i].llm ? " (LLM, " : " (ONNX, ") +
                             std::to_string(serial[i].threads) + " threads)";
    if (serial[i].llm) {
      ASSERT_GT(serial[i].generated, 0) << what;
      EXPECT_EQ(serial[i].generated, concurrent[i].generated) << what;
      EXPECT_EQ(serial[i].text, concurrent[i].text) << what;
    } else {
      ASSERT_EQ(serial[i].onnx_out.size(), size_t(32 * 48 * 96)) << what;
      EXPECT_EQ(serial[i].onnx_out, concurrent[i].onnx_out) << what;  // bit for bit
    }
  }
}

// The default pool (tools, tests) and a session's pool are separate: resizing
// the default pool while a session runs on its own does not touch it.
TEST_F(Concurrency, ResizingTheDefaultPoolLeavesSessionsAlone) {
  Job alone, during;
  alone.threads = during.threads = 2;
  run_job(alone);
  std::thread t([&] { run_job(during); });
  for (int i = 0; i < 50; ++i) set_num_threads(1 + i % 4);
  t.join();
  set_num_threads(1);
  EXPECT_EQ(alone.onnx_out, during.onnx_out);
}

// A chunk that throws on a worker thread reaches the caller (never
// std::terminate), after every worker has left the region; workers run under
// the caller's limits.
TEST(ThreadPoolRegions, WorkerExceptionsAndLimitsReachTheCaller) {
  ThreadPool pool(3);
  PoolScope scope(&pool);
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> done{0};
    EXPECT_THROW(parallel_for(3, [&](int64_t b, int64_t e) {
                   for (int64_t i = b; i < e; ++i) {
                     if (i == 2) fail_argument("chunk 2 refuses");
                     ++done;
                   }
                 }),
                 Error);
    EXPECT_EQ(done.load(), 2);  // chunks 0 and 1 ran to completion before the rethrow
  }
  Limits low;
  low.tensor_bytes = 1024;
  LimitsScope limits(low);
  std::atomic<int> refused{0};
  parallel_for(3, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      try {
        Tensor::empty(DType::f32, {1024});  // 4096 bytes: above the caller's limit on every thread
      } catch (const Error&) {
        ++refused;
      }
    }
  });
  EXPECT_EQ(refused.load(), 3);
}

// Indices handed out one at a time: each runs exactly once, whichever
// thread takes it, as single-index ranges; exceptions still reach the caller.
TEST(ThreadPoolRegions, DynamicRegionsRunEveryIndexOnce) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    PoolScope scope(&pool);
    for (int64_t n : {1, 2, 7, 100}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      parallel_for_dynamic(n, [&](int64_t b, int64_t e) {
        if (threads > 1) {
          EXPECT_EQ(e, b + 1);
        }
        for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
      });
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[size_t(i)].load(), 1) << "index " << i << " of " << n << ", threads " << threads;
    }
    EXPECT_THROW(parallel_for_dynamic(5, [&](int64_t b, int64_t e) {
                   for (int64_t i = b; i < e; ++i)
                     if (i == 3) fail_argument("index 3 refuses");
                 }),
                 Error);
  }
}

// Balanced regions: every index exactly once, in ranges inside [0, n),
// for sizes with short, single-index and uneven chunks; a chunk's owner
// starts at its front; exceptions reach the caller.
TEST(ThreadPoolRegions, BalancedRegionsRunEveryIndexOnce) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    PoolScope scope(&pool);
    for (int64_t n : {1, 2, 3, 7, 8, 100, 1001}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      parallel_for_balanced(n, [&](int64_t b, int64_t e) {
        EXPECT_TRUE(0 <= b && b < e && e <= n) << b << ", " << e;
        for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
      });
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[size_t(i)].load(), 1) << "index " << i << " of " << n << ", threads " << threads;
    }
    // Shares just under 2^31 (the packed offsets' limit) and past it (static) still cover [0, n) once.
    for (int64_t big : {int64_t(threads) * ((int64_t(1) << 31) - 1), int64_t(3) << 32}) {
      std::atomic<int64_t> covered{0};
      parallel_for_balanced(big, [&](int64_t b, int64_t e) {
        EXPECT_TRUE(0 <= b && b < e && e <= big) << b << ", " << e;
        covered += e - b;
      });
      EXPECT_EQ(covered.load(), big);
    }
    EXPECT_THROW(parallel_for_balanced(9, [&](int64_t b, int64_t e) {
                   for (int64_t i = b; i < e; ++i)
                     if (i == 3) fail_argument("index 3 refuses");
                 }),
                 Error);
  }
}

// A slow thread's chunk is finished by the other one: the calling thread
// (chunk [0, 8) of 16) sleeps 50 ms per index, the worker's chunk takes no
// time, so the worker takes pieces of the caller's chunk from its back
// while the caller works at its front (its first piece, if it gets one,
// starts at 0: where the caller is held up before its first take, the
// worker may take the whole chunk, as a clean-clone CI run saw once). A
// static split leaves the caller all 8 (checked: the same region with
// parallel_for).
TEST(ThreadPoolRegions, BalancedRegionsMoveWorkOffASlowThread) {
  ThreadPool pool(2);
  PoolScope scope(&pool);
  const std::thread::id caller = std::this_thread::get_id();
  auto run = [&](bool balanced) {
    std::atomic<int> by_caller{0};
    std::atomic<int64_t> caller_first{-1};
    std::vector<std::atomic<int>> hits(16);
    auto body = [&](int64_t b, int64_t e) {
      if (std::this_thread::get_id() == caller && caller_first.load() < 0) caller_first = b;
      for (int64_t i = b; i < e; ++i) {
        hits[size_t(i)]++;
        if (std::this_thread::get_id() == caller) {
          by_caller++;
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      }
    };
    if (balanced) parallel_for_balanced(16, body);
    else parallel_for(16, body);
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
    if (balanced) EXPECT_TRUE(caller_first.load() == 0 || (caller_first.load() == -1 && by_caller.load() == 0)) << caller_first.load();
    else EXPECT_EQ(caller_first.load(), 0);
    return by_caller.load();
  };
  EXPECT_EQ(run(false), 8);
  EXPECT_LT(run(true), 8);
}

}  // namespace

// The server's engine under ThreadSanitizer: four threads submit and
// cancel at once on three slots (the queue full now and then), callbacks
// return false midway, and the engine is destroyed with requests queued
// and running. Every request gets exactly one final event.
TEST(ConcurrencyLlmEngine, SubmitCancelAndDestroyWhileRunning) {
  const std::string path = (std::filesystem::temp_directory_path() / ("pareto_engine_tsan_" + std::to_string(::getpid()) + ".gguf")).string();
  SynthSpec spec;
  spec.preset = "micro", spec.type = "q8_0";
  ASSERT_TRUE(synth_llm(spec, path).ok());
  std::atomic<int> submitted{0}, refused{0}, finals{0};
  {
    LlmEngineOptions o;
    o.slots = 3, o.max_queue = 2, o.llm.ctx = 64, o.llm.threads = 2;
    auto opened = LlmEngine::open(path, o);
    ASSERT_TRUE(opened.ok()) << opened.status().message;
    LlmEngine& engine = *opened.value();
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c)
      clients.emplace_back([&, c] {
        for (int i = 0; i < 12; ++i) {
          CompletionParams p;
          p.max_tokens = 8 + (i % 5) * 8;
          p.seed = uint64_t(c * 100 + i);
          p.ignore_eos = true;
          auto events = std::make_shared<std::atomic<int>>(0);
          auto id = engine.submit("abc", p, [&, events, i](const CompletionEvent& e) {
            if (e.done) ++finals;
            return ++*events < 3 || i % 3 != 0;  // every third request gives up after two pieces
          });
          ASSERT_TRUE(id.ok());
          if (id.value() == 0) {
            ++refused;
            continue;
          }
          ++submitted;
          if (i % 4 == 1) engine.cancel(id.value());
          if (i % 5 == 2) engine.stats();
        }
      });
    for (auto& t : clients) t.join();
  }  // destroyed with whatever still runs or waits
  EXPECT_EQ(finals.load(), submitted.load()) << "one final event per accepted request";
  EXPECT_EQ(submitted + refused, 48);
  std::filesystem::remove(path);
}

// One graph's thread choice learned from runs on two threads at once: the
// runs in step 2 read their own copy of the choice while another run may
// end the learning (ThreadSanitizer checks the hand-over).
TEST(ConcurrencyThreadChoice, LearnsFromRunsOnTwoThreads) {
  pareto::runtime::ThreadChoice tc(4);
  const std::vector<int64_t> key = {1, 3, -1};
  auto runner = [&] {
    for (int i = 0; i < 500; ++i) {
      pareto::runtime::ThreadChoice::Run r = tc.begin(key);
      int inline_nodes = 0;
      for (size_t n = 0; n < 4; ++n) {
        const bool in = r.run_inline(n);
        inline_nodes += in;
        if (r.timing()) r.seconds[n] = in ? (n % 2 ? 3.0 : 1.0) : 2.0;  // nodes 0 and 2 gain inline
      }
      tc.finish(r);
      if (!r.timing()) {
        EXPECT_EQ(inline_nodes, 2);
        return;
      }
    }
  };
  std::thread a(runner), b(runner);
  a.join();
  b.join();
  EXPECT_FALSE(tc.learning());
  EXPECT_EQ(tc.inline_count(key), 2);
}
