// Device energy profiles: the built-in ones parse, and a broken profile is
// refused with a message naming where it came from and which field is wrong.
#include "profile/device_profile.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"

using nlohmann::json;
using pareto::profile::builtin_device_profile;
using pareto::profile::builtin_device_profile_names;
using pareto::profile::builtin_device_profile_text;
using pareto::profile::DeviceProfile;
using pareto::profile::load_device_profile;
using pareto::profile::parse_device_profile;

namespace {

// The message of the pareto::Error that `f` throws ("" if none).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const pareto::Error& e) {
    return e.what();
  }
  return "";
}

// The x86 profile with one change applied, parsed as "test.json".
template <class Edit>
std::string parse_error_after(Edit edit) {
  json j = json::parse(builtin_device_profile_text("x86-avx512"));
  edit(j);
  return error_of([&] { parse_device_profile(j.dump(), "test.json"); });
}

}  // namespace

TEST(DeviceProfile, BuiltinProfilesParse) {
  EXPECT_EQ(builtin_device_profile_names(), (std::vector<std::string>{"arm-phone", "x86-avx512"}));
  for (const std::string& name : builtin_device_profile_names()) {
    DeviceProfile d = builtin_device_profile(name);
    EXPECT_EQ(d.name, name);
    EXPECT_NE(d.description.find("45 nm"), std::string::npos) << name << ": the description must keep the node caveat";
    for (const char* p : {"fp32", "fp16", "bf16", "int8", "int4w"}) EXPECT_GT(d.pj_per_mac.at(p), 0) << name << " " << p;
    for (const char* l : {"l1", "l2", "llc", "dram"}) EXPECT_GT(d.pj_per_byte.at(l), 0) << name << " " << l;
    EXPECT_GT(d.pj_per_elementwise_op, 0);
    EXPECT_GT(d.static_watts, 0);
    // The model's orderings: narrower math is cheaper, farther memory dearer.
    EXPECT_LT(d.pj_per_mac.at("int8"), d.pj_per_mac.at("bf16"));
    EXPECT_LT(d.pj_per_mac.at("bf16"), d.pj_per_mac.at("fp32"));
    EXPECT_LT(d.pj_per_byte.at("l1"), d.pj_per_byte.at("l2"));
    EXPECT_LT(d.pj_per_byte.at("l2"), d.pj_per_byte.at("llc"));
    EXPECT_LT(d.pj_per_byte.at("llc"), d.pj_per_byte.at("dram"));
  }
  // The Horowitz sums (ISSCC 2014): 3.7 + 0.9, 1.1 + 0.9, 0.2 + 0.1; 100 pJ / 8 B.
  DeviceProfile x86 = builtin_device_profile("x86-avx512");
  EXPECT_DOUBLE_EQ(x86.pj_per_mac.at("fp32"), 4.6);
  EXPECT_DOUBLE_EQ(x86.pj_per_mac.at("fp16"), 2.0);
  EXPECT_DOUBLE_EQ(x86.pj_per_mac.at("int8"), 0.3);
  EXPECT_DOUBLE_EQ(x86.pj_per_byte.at("l2"), 12.5);
}

TEST(DeviceProfile, SourcesCoverEveryNumber) {
  for (const std::string& name : builtin_device_profile_names()) {
    DeviceProfile d = builtin_device_profile(name);
    size_t numbers = 2;  // pj_per_elementwise_op, static_watts
    for (const auto& [k, v] : d.pj_per_mac) EXPECT_FALSE(d.sources["pj_per_mac." + k].empty()) << name << " " << k;
    for (const auto& [k, v] : d.pj_per_byte) EXPECT_FALSE(d.sources["pj_per_byte." + k].empty()) << name << " " << k;
    EXPECT_FALSE(d.sources["pj_per_elementwise_op"].empty());
    EXPECT_FALSE(d.sources["static_watts"].empty());
    numbers += d.pj_per_mac.size() + d.pj_per_byte.size();
    EXPECT_EQ(d.sources.size(), numbers) << name;
  }
  std::string e = parse_error_after([](json& j) { j["sources"].erase("pj_per_byte.llc"); });
  EXPECT_NE(e.find("sources.pj_per_byte.llc"), std::string::npos) << e;
  e = parse_error_after([](json& j) { j["sources"]["static_watts"] = "  "; });
  EXPECT_NE(e.find("sources.static_watts"), std::string::npos) << e;
  e = parse_error_after([](json& j) { j["sources"]["pj_per_mac.fp64"] = "a number that is not there"; });
  EXPECT_NE(e.find("sources.pj_per_mac.fp64"), std::string::npos) << e;
}

TEST(DeviceProfile, MissingFieldIsNamed) {
  for (const char* field : {"name", "pj_per_mac", "pj_per_elementwise_op", "pj_per_byte", "static_watts", "sources"}) {
    std::string e = parse_error_after([&](json& j) { j.erase(field); });
    EXPECT_NE(e.find("test.json"), std::string::npos) << e;
    EXPECT_NE(e.find(std::string(field) + " is missing"), std::string::npos) << e;
  }
  std::string e = parse_error_after([](json& j) { j["pj_per_mac"].erase("int4w"); });
  EXPECT_NE(e.find("pj_per_mac.int4w is missing"), std::string::npos) << e;
  e = parse_error_after([](json& j) { j["pj_per_byte"].erase("dram"); });
  EXPECT_NE(e.find("pj_per_byte.dram is missing"), std::string::npos) << e;
}

TEST(DeviceProfile, BadNumbersAreNamed) {
  std::string e = parse_error_after([](json& j) { j["pj_per_byte"]["l2"] = -1.0; });
  EXPECT_NE(e.find("pj_per_byte.l2 is negative"), std::string::npos) << e;
  e = parse_error_after([](json& j) { j["pj_per_mac"]["bf16"] = "NaN"; });  // JSON has no NaN; a string is the closest
  EXPECT_NE(e.find("pj_per_mac.bf16 must be a number"), std::string::npos) << e;
  e = parse_error_after([](json& j) { j["static_watts"] = true; });
  EXPECT_NE(e.find("static_watts must be a number"), std::string::npos) << e;
  e = parse_error_after([](json& j) { j["pj_per_mac"]["fp32"] = 4.6e6; });  // nJ typed as pJ, and then some
  EXPECT_NE(e.find("pj_per_mac.fp32 is implausibly large"), std::string::npos) << e;
  e = parse_error_after([](json& j) { j["static_watts"] = 1300; });  // mW typed as W
  EXPECT_NE(e.find("static_watts is implausibly large"), std::string::npos) << e;
  e = parse_error_after([](json& j) { j["pj_per_elementwise_op"] = nullptr; });
  EXPECT_NE(e.find("pj_per_elementwise_op must be a number"), std::string::npos) << e;

  // Infinity cannot be written by json::dump; spell a literal that overflows.
  // The JSON parser refuses it before any field is looked at, quoting it.
  std::string text = builtin_device_profile_text("x86-avx512");
  const std::string from = "\"static_watts\": 1.3";
  ASSERT_NE(text.find(from), std::string::npos);
  text.replace(text.find(from), from.size(), "\"static_watts\": 1e999");
  e = error_of([&] { parse_device_profile(text, "inf.json"); });
  EXPECT_NE(e.find("inf.json"), std::string::npos) << e;
  EXPECT_NE(e.find("1e999"), std::string::npos) << e;
}

TEST(DeviceProfile, MalformedDocumentsAreRefused) {
  std::string e = error_of([] { parse_device_profile("{\"name\": ", "cut.json"); });
  EXPECT_NE(e.find("cut.json: not valid JSON"), std::string::npos) << e;
  e = error_of([] { parse_device_profile("[1, 2]", "array.json"); });
  EXPECT_NE(e.find("array.json: must be a JSON object"), std::string::npos) << e;
  e = parse_error_after([](json& j) { j["static_wats"] = 1.0; });  // a typo is not ignored
  EXPECT_NE(e.find("static_wats is not a known field"), std::string::npos) << e;
  e = parse_error_after([](json& j) { j["pj_per_byte"]["l4"] = 1.0; });
  EXPECT_NE(e.find("pj_per_byte.l4 is not a known field"), std::string::npos) << e;
  e = parse_error_after([](json& j) { j["pj_per_mac"] = 4.6; });
  EXPECT_NE(e.find("pj_per_mac must be an object"), std::string::npos) << e;
  e = parse_error_after([](json& j) { j["name"] = ""; });
  EXPECT_NE(e.find("name is empty"), std::string::npos) << e;
}

TEST(DeviceProfile, UnknownNameListsTheKnownOnes) {
  std::string e = error_of([] { builtin_device_profile("riscv-watch"); });
  EXPECT_NE(e.find("riscv-watch"), std::string::npos) << e;
  EXPECT_NE(e.find("arm-phone, x86-avx512"), std::string::npos) << e;
  EXPECT_EQ(error_of([] { load_device_profile("riscv-watch"); }), e);
}

TEST(DeviceProfile, LoadsPathsAndNames) {
  EXPECT_EQ(load_device_profile("arm-phone").name, "arm-phone");
  const std::string dir = ::testing::TempDir() + "/device_profile_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  json j = json::parse(builtin_device_profile_text("arm-phone"));
  j["name"] = "my-phone";
  j["static_watts"] = 0.25;
  std::ofstream(dir + "/mine.json") << j.dump(2);
  DeviceProfile d = load_device_profile(dir + "/mine.json");
  EXPECT_EQ(d.name, "my-phone");
  EXPECT_DOUBLE_EQ(d.static_watts, 0.25);

  try {
    load_device_profile(dir + "/absent.json");
    ADD_FAILURE() << "no error for a missing file";
  } catch (const pareto::Error& err) {
    EXPECT_EQ(err.code(), pareto::StatusCode::io_error);
    EXPECT_NE(std::string(err.what()).find("absent.json"), std::string::npos) << err.what();
  }
  std::string e = error_of([&] { load_device_profile(dir); });  // a '/' makes it a path; a folder is not a profile
  EXPECT_NE(e.find(dir), std::string::npos) << e;
  std::ofstream(dir + "/broken.json") << "{\"name\": \"x\"}";
  e = error_of([&] { load_device_profile(dir + "/broken.json"); });
  EXPECT_NE(e.find(dir + "/broken.json"), std::string::npos) << e;
  std::filesystem::remove_all(dir);
}

#ifdef PARETO_SOURCE_DIR
TEST(DeviceProfile, EmbeddedTextIsTheFile) {
  for (const std::string& name : builtin_device_profile_names()) {
    std::ifstream in(std::string(PARETO_SOURCE_DIR) + "/data/devices/" + name + ".json", std::ios::binary);
    std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(builtin_device_profile_text(name), file) << name << ": reconfigure to embed the edited file";
  }
}
#endif
