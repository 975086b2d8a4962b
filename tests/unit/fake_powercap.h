// A powercap tree with one package zone whose counter stands still (nothing
// writes it during a test): readings succeed and measure 0 J.
#pragma once
#include <filesystem>
#include <fstream>
#include <string>

namespace pareto::test {

inline std::string fake_powercap(const std::string& root) {
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root + "/intel-rapl:0");
  std::ofstream(root + "/intel-rapl:0/name") << "package-0\n";
  std::ofstream(root + "/intel-rapl:0/energy_uj") << "123456\n";
  std::ofstream(root + "/intel-rapl:0/max_energy_range_uj") << "262143328850\n";
  return root;
}

}  // namespace pareto::test
