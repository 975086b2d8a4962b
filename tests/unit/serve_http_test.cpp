// pareto serve over HTTP: bad input of every kind is a clear OpenAI-shaped
// error and the server stays up; keys, request ids, 429, slow clients.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "serve_test_util.h"

namespace pareto {
namespace {

using nlohmann::json;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif

int64_t resident_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return 0;
}

serve::ServeOptions options(int64_t ctx = 256) {
  serve::ServeOptions o;
  o.engine.llm.ctx = ctx;
  o.engine.slots = 2;
  o.max_body_bytes = 64 << 10;
  o.read_timeout_s = 1;
  return o;
}

// The body is {"error": {"message", "type", "param", "code"}}; returns it.
json expect_error(const httplib::Result& r, int status, const std::string& param = "") {
  EXPECT_TRUE(r) << "no response";
  if (!r) return {};
  EXPECT_EQ(r->status, status) << r->body;
  json body = json::parse(r->body, nullptr, false);
  EXPECT_TRUE(body.is_object() && body.contains("error")) << r->body;
  if (!body.is_object() || !body.contains("error")) return {};
  const json& e = body["error"];
  EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty());
  EXPECT_TRUE(e["type"].is_string());
  EXPECT_TRUE(e.contains("param") && e.contains("code"));
  if (!param.empty()) {
    EXPECT_EQ(e["param"], param) << r->body;
  }
  return e;
}

TEST(Serve, BadRequestsAreClearErrors) {
  Running s(options());
  auto c = s.client();
  expect_error(post(c, "/v1/chat/completions", "{\"messages\": [ "), 400);
  expect_error(post(c, "/v1/chat/completions", "[1, 2]"), 400);
  expect_error(post(c, "/v1/chat/completions", R"({"messages": "hello"})"), 400, "messages");
  expect_error(post(c, "/v1/chat/completions", R"({"messages": []})"), 400, "messages");
  expect_error(post(c, "/v1/chat/completions", R"({"messages": [{"role": "user"}], "max_tokens": "5"})"), 400, "max_tokens");
  expect_error(post(c, "/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0})"), 400, "max_tokens");
  expect_error(post(c, "/v1/chat/completions", R"({"messages": [{"role": "wizard", "content": "x"}]})"), 400, "messages[0].role");
  expect_error(post(c, "/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "temperature": -1})"), 400, "temperature");
  expect_error(post(c, "/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "n": 3})"), 400, "n");
  expect_error(post(c, "/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "tools": []})"), 400, "tools");
  expect_error(post(c, "/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "stream_options": {}})"), 400, "stream_options");
  expect_error(post(c, "/v1/completions", R"({"prompt": 42})"), 400, "prompt");
  expect_error(post(c, "/v1/completions", R"({"prompt": "x", "seed": 1.5})"), 400, "seed");
  expect_error(post(c, "/v1/completions", R"({"prompt": "x", "max_tokens": 99999999999999999999})"), 400);
  // Invalid UTF-8 inside a JSON string.
  expect_error(post(c, "/v1/completions", std::string("{\"prompt\": \"a\xff\xfe b\"}")), 400);
  // Absurd max_tokens, and a prompt longer than the context.
  json e = expect_error(post(c, "/v1/completions", R"({"prompt": "x", "max_tokens": 1000000})"), 400);
  EXPECT_EQ(e["code"], "context_length_exceeded");
  std::string words;
  for (int i = 0; i < 400; ++i) words += "word ";
  expect_error(post(c, "/v1/completions", json{{"prompt", words}, {"max_tokens", 1}}.dump()), 400);
  expect_error(c.Get("/v1/nothing"), 404);
  // A body over the limit.
  expect_error(post(c, "/v1/completions", json{{"prompt", std::string(100 << 10, 'a')}}.dump()), 413);
  // Still serving, and bad input leaves no memory behind: a few hundred
  // more of the same move the resident set by less than a few MiB (not
  // measured under AddressSanitizer, whose quarantine keeps freed memory).
  const int64_t rss0 = resident_kib();
  for (int i = 0; i < 200; ++i) {
    post(c, "/v1/chat/completions", "{\"messages\": [ ");
    post(c, "/v1/completions", std::string("{\"prompt\": \"a\xff\"}"));
    post(c, "/v1/completions", R"({"prompt": "x", "max_tokens": 1000000})");
    post(c, "/v1/completions", json{{"prompt", std::string(100 << 10, 'a')}}.dump());
  }
  if (!kAddressSanitizer) {
    EXPECT_LT(resident_kib() - rss0, 8 << 10) << "KiB grown over 800 bad requests";
  }
  auto ok = post(c, "/v1/completions", R"({"prompt": "hello", "max_tokens": 3, "temperature": 0})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  json body = json::parse(ok->body);
  EXPECT_EQ(body["object"], "text_completion");
  EXPECT_LE(body["usage"]["completion_tokens"].get<int>(), 3);
  EXPECT_EQ(ok->get_header_value("x-pareto-served-by"), "device");
}

// Sends raw bytes, closes the sending side (unless told not to: httplib
// 0.11 writes no answer to a peer that has), and returns what came back (up to 5 s).
std::string raw_exchange(int port, const std::string& bytes, bool close_sending = true) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string got;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    for (size_t at = 0; at < bytes.size();) {
      const ssize_t n = ::send(fd, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n <= 0) break;  // the server may refuse and close before all is sent
      at += size_t(n);
    }
    if (close_sending) ::shutdown(fd, SHUT_WR);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, size_t(n));
  }
  ::close(fd);
  return got;
}

TEST(Serve, BodiesOverTheLimitAreRefusedHoweverTheyAreSent) {
  Running s(options());  // 64 KiB bodies
  const std::string big = json{{"prompt", std::string(1 << 20, 'a')}}.dump();
  // Chunked (no Content-Length): counted as it arrives.
  {
    std::string chunked = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (size_t at = 0; at < big.size(); at += 16 << 10) {
      const std::string piece = big.substr(at, 16 << 10);
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
      chunked += size + piece + "\r\n";
    }
    chunked += "0\r\n\r\n";
    const std::string reply = raw_exchange(s.port, chunked);
    EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply.substr(0, 200);
  }
  // Multipart without a length: refused before reading (its framing is not counted).
  {
    const std::string reply = raw_exchange(
        s.port, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        false);
    EXPECT_EQ(reply.rfind("HTTP/1.1 411", 0), 0u) << "[" << reply.substr(0, 300) << "]";
  }
  // Neither Content-Length nor chunks: the body runs to the end of the connection.
  {
    const std::string reply = raw_exchange(s.port, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" + big);
    EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply.substr(0, 200);
  }
  // gzip: a few KiB on the wire that would be a MiB inflated.
  {
    auto c = s.client();
    c.set_compress(true);
    expect_error(post(c, "/v1/completions", big), 413);
  }
  // Within the limit after inflating: served.
  {
    auto c = s.client();
    c.set_compress(true);
    auto r = post(c, "/v1/completions", R"({"prompt": "hello", "max_tokens": 2, "ignore_eos": true})");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
  }
  // JSON nested far deeper than any request needs (copying or printing it
  // would recurse once per level): refused, for whole and streamed requests.
  for (const char* stream : {"false", "true"}) {
    auto c = s.client();
    const std::string deep = std::string("{\"prompt\": \"x\", \"stream\": ") + stream + ", \"z\": " + std::string(20000, '[') +
                             std::string(20000, ']') + "}";
    json e = expect_error(post(c, "/v1/completions", deep), 400);
    EXPECT_NE(e["message"].get<std::string>().find("deeper"), std::string::npos) << e;
  }
  auto c = s.client();
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
}

TEST(Serve, HugeHeadersAndSlowClientsDoNotStopTheServer) {
  Running s(options());
  {
    auto c = s.client();
    httplib::Headers h = {{"X-Big", std::string(64 << 10, 'h')}};
    auto r = c.Get("/health", h);
    if (r) {
      EXPECT_GE(r->status, 400);  // refused, or the connection closed
    }
  }
  // A client that sends half a request and stalls is dropped after the read timeout.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(s.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const char partial[] = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"pro";
  ASSERT_GT(::send(fd, partial, sizeof partial - 1, 0), 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[512];
  const auto t0 = std::chrono::steady_clock::now();
  const ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);  // an error response or the connection closed
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ::close(fd);
  EXPECT_LT(waited, 4.5) << "the server gave up on the stalled request after its read timeout";
  if (n > 0) {
    buf[n] = 0;
    EXPECT_EQ(std::string(buf).rfind("HTTP/1.1 4", 0), 0u) << buf;
  }
  auto c = s.client();
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
}

TEST(Serve, ApiKeyAndRequestIds) {
  serve::ServeOptions o = options();
  o.api_key = "sesame";
  Running s(o);
  auto c = s.client();
  ASSERT_EQ(c.Get("/health")->status, 200);  // no key needed
  json e = expect_error(c.Get("/v1/models"), 401);
  EXPECT_EQ(e["code"], "invalid_api_key");
  expect_error(c.Get("/v1/models", {{"Authorization", "Bearer sesam"}}), 401);
  auto ok = c.Get("/v1/models", {{"Authorization", "Bearer sesame"}, {"x-request-id", "my-req.42"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->get_header_value("x-request-id"), "my-req.42");
  auto generated = c.Get("/v1/models", {{"Authorization", "Bearer sesame"}, {"x-request-id", "bad id\x01"}});
  ASSERT_TRUE(generated);
  EXPECT_EQ(generated->get_header_value("x-request-id").size(), 16u);
  // A refused POST still reads its body: the next request on the same
  // connection is parsed from where it starts, not from the body's bytes.
  auto kept = s.client();
  kept.set_keep_alive(true);
  expect_error(post(kept, "/v1/completions", R"({"prompt": "GET /health HTTP/1.1\r\n\r\n", "max_tokens": 2})"), 401);
  auto next = kept.Get("/v1/models", {{"Authorization", "Bearer sesame"}});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200) << next->body;
}

TEST(Serve, BusyServerAnswers429) {
  serve::ServeOptions o = options(4096);
  o.engine.slots = 1;
  o.engine.max_queue = 0;
  Running s(o);
  std::thread first([&] {
    auto c = s.client();
    auto r = post(c, "/v1/completions", R"({"prompt": "go on", "max_tokens": 4000, "temperature": 1, "ignore_eos": true})");
    EXPECT_TRUE(r && r->status == 200);
  });
  auto c = s.client();
  bool busy = false;
  for (int i = 0; i < 500 && !busy; ++i) {
    auto m = c.Get("/metrics");
    busy = m && m->body.find("pareto_engine_requests_total 1") != std::string::npos;
    if (!busy) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(busy);
  json e = expect_error(post(c, "/v1/completions", R"({"prompt": "me too", "max_tokens": 2})"), 429);
  EXPECT_EQ(e["code"], "queue_full");
  first.join();
  auto m = c.Get("/metrics");
  EXPECT_NE(m->body.find("pareto_requests_total{endpoint=\"/v1/completions\",status=\"429\"} 1"), std::string::npos) << m->body;
}

// A counter or gauge from /metrics; -1 when absent.
double metric(httplib::Client& c, const std::string& name) {
  auto m = c.Get("/metrics");
  if (!m) return -1;
  const size_t at = m->body.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(m->body.substr(at + name.size() + 2));
}

TEST(Serve, AClientThatLeavesBeforeAWholeAnswerFreesItsSlot) {
  serve::ServeOptions o = options(8192);
  o.engine.slots = 1;
  Running s(o);
  auto c = s.client();
  // Unstopped, this request would write 8000 tokens.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(s.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string body = R"({"prompt": "go on", "max_tokens": 8000, "temperature": 1, "ignore_eos": true})";
  const std::string request = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0), ssize_t(request.size()));
  bool running = false;
  for (int i = 0; i < 500 && !running; ++i) {
    running = metric(c, "pareto_generated_tokens_total") > 0;
    if (!running) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(running);
  ::close(fd);
  double active = 1;
  for (int i = 0; i < 100 && active != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    active = metric(c, "pareto_slots_active");
  }
  EXPECT_EQ(active, 0) << "the slot is free again";
  EXPECT_EQ(metric(c, "pareto_requests_cancelled_total"), 1);
  const double generated = metric(c, "pareto_generated_tokens_total");
  EXPECT_LT(generated, 4000) << "generation stopped early";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(metric(c, "pareto_generated_tokens_total"), generated);
  auto m = c.Get("/metrics");
  EXPECT_NE(m->body.find("pareto_requests_total{endpoint=\"/v1/completions\",status=\"499\"} 1"), std::string::npos) << m->body;
  // The server still answers whole requests (the look at the connection does not mistake a waiting client for a gone one).
  auto r = post(c, "/v1/completions", R"({"prompt": "hi", "max_tokens": 3, "ignore_eos": true})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["usage"]["completion_tokens"], 3);
}

TEST(Serve, StreamsServerSentEvents) {
  Running s(options());
  auto c = s.client();
  auto r = c.Post("/v1/chat/completions",
                  R"({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "temperature": 0, "stream": true, "ignore_eos": true,
                      "stream_options": {"include_usage": true}})",
                  "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  const std::string& body = r->body;
  ASSERT_GE(body.size(), 14u);
  EXPECT_EQ(body.substr(body.size() - 14), "data: [DONE]\n\n");
  int chunks = 0;
  bool usage = false;
  std::string streamed;
  for (size_t at = 0; (at = body.find("data: ", at)) != std::string::npos; at += 6) {
    const size_t end = body.find("\n\n", at);
    const std::string data = body.substr(at + 6, end - at - 6);
    if (data == "[DONE]") break;
    json j = json::parse(data);
    EXPECT_EQ(j["object"], "chat.completion.chunk");
    if (j.contains("usage")) {
      usage = j["usage"]["completion_tokens"].get<int>() == 5 && j["choices"].empty();
    } else if (j["choices"][0]["delta"].contains("content")) {
      streamed += j["choices"][0]["delta"]["content"].get<std::string>();
    }
    ++chunks;
  }
  EXPECT_GE(chunks, 7) << "role, five tokens, finish (and usage)";
  EXPECT_TRUE(usage);
  // The same request whole: the same text.
  auto whole = c.Post("/v1/chat/completions",
                      R"({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "temperature": 0, "ignore_eos": true})",
                      "application/json");
  ASSERT_TRUE(whole);
  EXPECT_EQ(json::parse(whole->body)["choices"][0]["message"]["content"], streamed);
}

TEST(Serve, AModelThatCannotLoadEndsTheServer) {
  serve::ServeOptions o = options();
  o.model_path = "/nonexistent/model.gguf";
  serve::Server server(o);
  server.start();
  std::string error;
  EXPECT_FALSE(server.wait(&error));  // returns, and the destructor joins (a hang fails by the test's timeout)
  EXPECT_NE(error.find("/nonexistent/model.gguf"), std::string::npos) << error;
}

}  // namespace
}  // namespace pareto
