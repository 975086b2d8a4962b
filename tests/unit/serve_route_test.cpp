// Hybrid routing of pareto serve: a second pareto server as the upstream
// (another synthetic model, so the two sides' answers differ) and upstreams
// that fail in the ways networks do: HTTP 500, too slow, closed connections.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "serve_test_util.h"

namespace pareto {
namespace {

using nlohmann::json;

const char* kCompletion = R"({"prompt": "Once upon a time", "max_tokens": 12, "temperature": 0})";

// The upstream's own answer to kCompletion.
std::string upstream_text(const Running& up) {
  auto c = up.client();
  auto r = post(c, "/v1/completions", kCompletion);
  EXPECT_TRUE(r && r->status == 200);
  return r ? json::parse(r->body)["choices"][0]["text"].get<std::string>() : "";
}

serve::ServeOptions device_options(const std::string& upstream) {
  serve::ServeOptions o;
  o.engine.llm.ctx = 256;
  o.route.upstream = upstream;
  o.route.upstream_timeout_s = 1;
  return o;
}

json complete(const Running& s, const std::string& body, httplib::Headers headers = {}) {
  auto c = s.client();
  auto r = c.Post("/v1/completions", headers, body, "application/json");
  EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no response");
  if (!r) return {};
  json j = json::parse(r->body);
  EXPECT_EQ(r->get_header_value("x-pareto-served-by"), j["pareto"]["served_by"]);
  EXPECT_EQ(r->get_header_value("x-pareto-route-reason"), j["pareto"]["route_reason"]);
  return j;
}

TEST(ServeRoute, LatencyBudgetPrivacyAndConfidence) {
  Running up(serve::ServeOptions{}, /*seed=*/9);
  const std::string up_text = upstream_text(up);
  const std::string url = "http://127.0.0.1:" + std::to_string(up.port) + "/v1";

  serve::ServeOptions o = device_options(url);
  o.route.max_device_seconds = 1e-6;  // nothing fits: everything not private goes upstream
  Running dev(o);
  json j = complete(dev, kCompletion);
  EXPECT_EQ(j["pareto"]["served_by"], "upstream");
  EXPECT_EQ(j["pareto"]["route_reason"], "latency_budget");
  EXPECT_EQ(j["choices"][0]["text"], up_text);
  json priv = complete(dev, R"({"prompt": "Once upon a time", "max_tokens": 12, "temperature": 0, "pareto": {"private": true}})");
  EXPECT_EQ(priv["pareto"]["served_by"], "device");
  EXPECT_EQ(priv["pareto"]["route_reason"], "private");
  EXPECT_NE(priv["choices"][0]["text"], up_text) << "the two models differ";
  json header_priv = complete(dev, kCompletion, {{"x-pareto-private", "1"}});
  EXPECT_EQ(header_priv["pareto"]["route_reason"], "private");

  // Streamed through: the upstream's chunks, after a comment naming the side.
  auto c = dev.client();
  auto r = post(c, "/v1/completions", R"({"prompt": "Once upon a time", "max_tokens": 12, "temperature": 0, "stream": true})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body.rfind(": pareto served_by=upstream route_reason=latency_budget\n\n", 0), 0u) << r->body.substr(0, 200);
  std::string streamed;
  for (size_t at = 0; (at = r->body.find("data: {", at)) != std::string::npos; ++at) {
    json chunk = json::parse(r->body.substr(at + 6, r->body.find("\n\n", at) - at - 6));
    if (!chunk["choices"].empty()) streamed += chunk["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(streamed, up_text);

  // Confidence: the synthetic model is unsure of everything (entropy ~ log vocab).
  serve::ServeOptions unsure = device_options(url);
  unsure.route.confidence_tokens = 4;
  unsure.route.max_entropy = 0.5;
  Running dev2(unsure);
  json low = complete(dev2, kCompletion);
  EXPECT_EQ(low["pareto"]["served_by"], "upstream");
  EXPECT_EQ(low["pareto"]["route_reason"], "low_confidence");
  EXPECT_GT(low["pareto"]["device_confidence"]["mean_entropy"].get<double>(), 0.5);
  EXPECT_EQ(low["choices"][0]["text"], up_text);
  auto c2 = dev2.client();
  auto s = post(c2, "/v1/completions", R"({"prompt": "Once upon a time", "max_tokens": 12, "temperature": 0, "stream": true})");
  ASSERT_TRUE(s);
  EXPECT_NE(s->body.find(": pareto served_by=upstream route_reason=low_confidence"), std::string::npos) << s->body.substr(0, 300);
  serve::ServeOptions sure = device_options(url);
  sure.route.confidence_tokens = 4;
  sure.route.max_entropy = 50;
  Running dev3(sure);
  EXPECT_EQ(complete(dev3, kCompletion)["pareto"]["route_reason"], "within_budget");

  auto m = dev.client().Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("pareto_route_decisions_total{side=\"upstream\",reason=\"latency_budget\"} 2"), std::string::npos) << m->body;
  EXPECT_NE(m->body.find("pareto_route_decisions_total{side=\"device\",reason=\"private\"} 2"), std::string::npos);
}

// A listener that accepts connections and closes them at once.
struct Slammer {
  int fd = -1, port = 0;
  std::atomic<bool> stop{false};
  std::thread loop;
  Slammer() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t n = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
    port = ntohs(a.sin_port);
    ::listen(fd, 8);
    loop = std::thread([this] {
      while (!stop) {
        const int c = ::accept(fd, nullptr, nullptr);
        if (c >= 0) ::close(c);
      }
    });
  }
  ~Slammer() {
    stop = true;
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    loop.join();
  }
};

TEST(ServeRoute, FailingUpstreamsAreAnsweredByTheDevice) {
  httplib::Server faults;
  faults.Post("/error/v1/completions", [](const httplib::Request&, httplib::Response& res) {
    res.status = 500;
    res.set_content(R"({"error": {"message": "boom"}})", "application/json");
  });
  faults.Post("/slow/v1/completions", [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::seconds(3));
    res.set_content(R"({"choices": []})", "application/json");
  });
  faults.Post("/garbage/v1/completions", [](const httplib::Request&, httplib::Response& res) { res.set_content("not json", "text/plain"); });
  faults.Post("/nochoices/v1/completions", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"id": "x", "choices": []})", "application/json");  // JSON, but no completion
  });
  faults.Post("/empty/v1/completions", [](const httplib::Request&, httplib::Response& res) { res.set_content("", "text/event-stream"); });
  // Half a chunk, then the connection ends.
  faults.Post("/broken/v1/completions", [](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/event-stream", [](size_t, httplib::DataSink& sink) {
      const std::string half = "data: {\"choices\": [{\"text\": \"par";
      sink.write(half.data(), half.size());
      return false;
    });
  });
  const int fault_port = faults.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { faults.listen_after_bind(); });
  Slammer slammer;
  const std::string base = "http://127.0.0.1:" + std::to_string(fault_port);
  for (const std::string& url : std::vector<std::string>{base + "/error", base + "/slow", base + "/garbage", base + "/nochoices", base + "/empty",
                                                          "http://127.0.0.1:" + std::to_string(slammer.port), std::string("http://127.0.0.1:1")}) {
    serve::ServeOptions o = device_options(url);
    o.route.max_device_seconds = 1e-6;
    Running dev(o);
    const auto t0 = std::chrono::steady_clock::now();
    json j = complete(dev, kCompletion);
    EXPECT_EQ(j["pareto"]["served_by"], "device") << url;
    EXPECT_EQ(j["pareto"]["route_reason"], "upstream_failed") << url;
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.9) << url << ": the timeout holds";
    auto c = dev.client();
    auto s = post(c, "/v1/completions", R"({"prompt": "Once upon a time", "max_tokens": 4, "temperature": 0, "stream": true})");
    ASSERT_TRUE(s);
    EXPECT_NE(s->body.find(": pareto served_by=device route_reason=upstream_failed"), std::string::npos) << url;
    EXPECT_EQ(s->body.substr(s->body.size() - 14), "data: [DONE]\n\n") << url;
  }
  // An upstream that breaks after sending bytes: the client's stream is cut
  // (nothing can be taken back), the server stays up.
  {
    serve::ServeOptions o = device_options(base + "/broken");
    o.route.max_device_seconds = 1e-6;
    Running dev(o);
    auto c = dev.client();
    auto s = post(c, "/v1/completions", R"({"prompt": "Once upon a time", "max_tokens": 4, "temperature": 0, "stream": true})");
    if (s) {
      EXPECT_EQ(s->body.find("data: [DONE]"), std::string::npos) << "a cut stream does not pretend to end";
    }
    auto h = c.Get("/health");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 200);
  }
  // Unsure device, failing upstream: the device's own answer, saying so.
  {
    serve::ServeOptions o = device_options(base + "/error");
    o.route.confidence_tokens = 4;
    o.route.max_entropy = 0.5;
    Running dev(o);
    json j = complete(dev, kCompletion);
    EXPECT_EQ(j["pareto"]["served_by"], "device");
    EXPECT_EQ(j["pareto"]["route_reason"], "low_confidence_upstream_failed");
  }
  // Calibration against answers that are not completions: an error naming the side, no crash.
  {
    Running dev(serve::ServeOptions{});
    for (const char* bad : {"/garbage", "/nochoices"}) {
      serve::CalibrateOptions o;
      o.device_url = "http://127.0.0.1:" + std::to_string(dev.port);
      o.upstream_url = base + bad;
      o.prompts = {"once"};
      try {
        serve::calibrate_routing(o);
        ADD_FAILURE() << bad << ": no error";
      } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("upstream"), std::string::npos) << e.what();
      }
    }
  }
  faults.stop();
  serving.join();
}

TEST(ServeRoute, CalibrationCurve) {
  EXPECT_NEAR(serve::text_similarity("kitten", "sitting"), 1.0 - 3.0 / 7.0, 1e-12);
  EXPECT_EQ(serve::text_similarity("", ""), 1.0);
  Running dev(serve::ServeOptions{}, 1), same(serve::ServeOptions{}, 1), other(serve::ServeOptions{}, 9);
  serve::CalibrateOptions o;
  o.device_url = "http://127.0.0.1:" + std::to_string(dev.port);
  o.prompts = {"once upon a time", "the cat", "a b c", "zebra crossing"};
  o.max_tokens = 8;
  o.upstream_url = "http://127.0.0.1:" + std::to_string(same.port) + "/v1";
  serve::CalibrationReport r = serve::calibrate_routing(o);
  ASSERT_EQ(r.samples.size(), 4u);
  for (const auto& s : r.samples) EXPECT_EQ(s.similarity, 1.0) << "the same model on both sides";
  for (const auto& p : r.curve) EXPECT_EQ(p.agreement, 1.0);
  o.upstream_url = "http://127.0.0.1:" + std::to_string(other.port);
  r = serve::calibrate_routing(o);
  double mean_similarity = 0;
  for (const auto& s : r.samples) mean_similarity += s.similarity / 4;
  EXPECT_LT(mean_similarity, 1.0) << "different models write different text";
  double last_share = 2;
  for (const auto& p : r.curve) {
    if (p.signal != "mean_entropy") continue;
    EXPECT_LE(p.upstream_share, last_share) << "a higher entropy threshold sends fewer requests up";
    last_share = p.upstream_share;
    if (p.upstream_share == 1) {
      EXPECT_EQ(p.agreement, 1.0);
    }
    if (p.upstream_share == 0) {
      EXPECT_NEAR(p.agreement, mean_similarity, 1e-12);
    }
  }
  EXPECT_EQ(last_share, 0.0);
  o.device_url = "http://127.0.0.1:1";
  EXPECT_THROW(serve::calibrate_routing(o), std::runtime_error);
}

}  // namespace
}  // namespace pareto
