// A folder of the running test's own for files it writes. ctest runs each
// test as its own process, two at a time, so fixed names in the shared temp
// folder race: one test's sox once read a file another test was rewriting,
// and a noise length read from it came back empty (sox then synthesized
// without end until the 900 s timeout).
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace pareto::testing {

// The folders this process made, removed when it exits after its tests
// passed (kept after a failure, to look at). ctest runs each test in a
// process of its own; without this every run left its folders in /tmp.
struct ScratchDirs {
  std::vector<std::filesystem::path> made;
  ~ScratchDirs() {
    if (!::testing::UnitTest::GetInstance()->Passed()) return;
    std::error_code ec;
    for (const std::filesystem::path& p : made) std::filesystem::remove_all(p, ec);
  }
};
inline ScratchDirs& scratch_dirs() {
  static ScratchDirs dirs;
  return dirs;
}

inline std::string scratch_dir(const std::string& tag = "") {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "no_test";
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.') c = '_';
  std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / ("pareto_" + name + "_" + std::to_string(::getpid()));
  std::vector<std::filesystem::path>& made = scratch_dirs().made;
  if (std::find(made.begin(), made.end(), dir) == made.end()) made.push_back(dir);
  if (!tag.empty()) dir /= tag;
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace pareto::testing
