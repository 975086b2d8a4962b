// Helpers of the server tests: synthetic models, a running server, requests.
#pragma once
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "pareto/llm.hpp"
#include "pareto/serve.hpp"

namespace pareto {

// A synthetic tiny model per seed and process (ctest runs tests as parallel processes).
// Removed when the process ends.
inline std::string tiny_model(uint64_t seed = 1) {
  struct Files {
    std::map<uint64_t, std::string> paths;
    ~Files() {
      for (auto& [s, p] : paths) std::filesystem::remove(p);
    }
  };
  static Files files;
  auto& path = files.paths[seed];
  if (path.empty()) {
    const std::string p = (std::filesystem::temp_directory_path() /
                           ("pareto_serve_tiny_" + std::to_string(seed) + "_" + std::to_string(::getpid()) + ".gguf")).string();
    SynthSpec spec;
    spec.preset = "tiny", spec.type = "q8_0", spec.seed = seed;
    EXPECT_TRUE(synth_llm(spec, p).ok());
    path = p;
  }
  return path;
}

struct Running {
  std::unique_ptr<serve::Server> server;
  int port = 0;
  explicit Running(serve::ServeOptions o, uint64_t seed = 1) {
    o.model_path = tiny_model(seed);
    o.port = 0;
    server = std::make_unique<serve::Server>(o);
    port = server->start();
    for (int i = 0; i < 600 && !server->loaded(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(server->loaded());
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60, 0);
    return c;
  }
};

inline httplib::Result post(httplib::Client& c, const std::string& path, const std::string& body) {
  return c.Post(path.c_str(), body, "application/json");
}

}  // namespace pareto
