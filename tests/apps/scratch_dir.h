// A folder of the running test's own for files it writes. ctest runs each
// test as its own process, two at a time, so fixed names in the shared temp
// folder race: one test's sox once read a file another test was rewriting,
// and a noise length read from it came back empty (sox then synthesized
// without end until the 900 s timeout).
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <string>

namespace pareto::testing {

inline std::string scratch_dir(const std::string& tag = "") {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "no_test";
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.') c = '_';
  std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / ("pareto_" + name + "_" + std::to_string(::getpid()));
  if (!tag.empty()) dir /= tag;
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace pareto::testing
