// pareto::profile_session end to end on a small model: the report's ops and
// totals, and the measured-energy path wired to a fake powercap tree (the
// counter advances between the reads only if something writes it, so here
// it reads 0 J, and the report must say measured, with the ratio), or to a
// missing one (the report says why there is no measurement).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "pareto/profile.hpp"
#include "fake_powercap.h"
#include "proto_builder.h"

using namespace pareto;

namespace {

std::string write_small_model() {
  // Named by the test: ctest runs tests as parallel processes, and two writing one file race.
  const std::string path = ::testing::TempDir() + "/profile_small_" + ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".onnx";
  std::ofstream(path, std::ios::binary) << pareto::test::small_model();
  return path;
}

nlohmann::json profile_with_powercap(const std::string& root) {
  SessionOptions so;
  so.optimize = true;
  so.profile = true;
  auto session = Session::open(write_small_model(), so);
  EXPECT_TRUE(session.ok()) << session.status().message;
  ProfileOptions o;
  o.runs = 3, o.warmup = 1, o.measure_ceilings = false, o.powercap_root = root;
  auto json = profile_session(*session.value(), "small", {{"x", Tensor::from_vector(std::vector<float>{1, 2, 3, -4, 5, -6}, {2, 3})}}, o);
  EXPECT_TRUE(json.ok()) << json.status().message;
  return nlohmann::json::parse(json.ok() ? json.value() : std::string("{}"));
}

}  // namespace

TEST(ProfileApi, ReportsOpsAndMeasuredEnergyFromPowercap) {
  const nlohmann::json r = profile_with_powercap(pareto::test::fake_powercap(::testing::TempDir() + "/fake-powercap"));
  ASSERT_TRUE(r.contains("ops"));
  ASSERT_FALSE(r["ops"].empty());
  EXPECT_TRUE(r["estimated"].get<bool>());
  // The counter did not move: measured 0 J, reported as measured, ratio 0.
  ASSERT_TRUE(r["summary"]["measured_energy_mj"].is_number()) << r["summary"].dump();
  EXPECT_EQ(r["summary"]["measured_energy_mj"].get<double>(), 0.0);
  EXPECT_EQ(r["summary"]["measured_over_estimated"].get<double>(), 0.0);
  EXPECT_NE(r["summary"]["measured_energy_note"].get<std::string>().find("powercap"), std::string::npos);
  double weights = 0;
  for (const auto& op : r["ops"]) weights += op["bytes"]["weights"].get<double>();
  EXPECT_EQ(r["summary"]["bytes"]["weights"].get<double>(), weights);
}

TEST(ProfileApi, SaysWhyThereIsNoMeasurement) {
  const nlohmann::json r = profile_with_powercap(::testing::TempDir() + "/no-such-powercap");
  EXPECT_TRUE(r["summary"]["measured_energy_mj"].is_null());
  EXPECT_FALSE(r["summary"]["measured_energy_note"].get<std::string>().empty());
}
