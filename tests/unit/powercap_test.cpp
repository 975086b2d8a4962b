// Powercap discovery and energy deltas over a fake sysfs tree in the test
// temp folder, so the tests run the same on machines with and without RAPL.
#include "profile/powercap.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;
using pareto::profile::energy_delta_uj;
using pareto::profile::EnergyMeter;
using pareto::profile::Powercap;

namespace {

// A /sys/class/powercap look-alike: two packages, a core subzone of package 0
// listed beside them (as the class folder does), and zones that must be
// ignored: an MMIO twin of package 0 and a platform (psys) zone.
class FakePowercap {
 public:
  FakePowercap() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::path(::testing::TempDir()) / ("powercap_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    zone("intel-rapl:0", "package-0", 1000000, 100);
    zone("intel-rapl:0:0", "core", 1000000, 40);
    // Named like a package so that only the folder-name rule (N:M is a
    // subzone) can keep it out.
    zone("intel-rapl:1:0", "package-1", 2000000, 30);
    zone("intel-rapl:1", "package-1", 2000000, 1000);
    zone("intel-rapl-mmio:0", "package-0", 1000000, 7);
    zone("intel-rapl:2", "psys", 1000000, 5);
  }
  ~FakePowercap() {
    std::error_code ec;
    for (auto& e : fs::recursive_directory_iterator(root_, ec))
      fs::permissions(e.path(), fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(root_, ec);
  }
  void zone(const std::string& dir, const std::string& name, uint64_t range, uint64_t energy) {
    fs::create_directories(root_ / dir);
    write(dir + "/name", name + "\n");
    write(dir + "/max_energy_range_uj", std::to_string(range) + "\n");
    set(dir, energy);
  }
  void set(const std::string& dir, uint64_t energy) { write(dir + "/energy_uj", std::to_string(energy) + "\n"); }
  void write(const std::string& rel, const std::string& text) { std::ofstream(root_ / rel) << text; }
  std::string root() const { return root_.string(); }
  fs::path path(const std::string& rel) const { return root_ / rel; }

 private:
  fs::path root_;
};

}  // namespace

TEST(Powercap, DiscoversPackageZonesOnly) {
  FakePowercap t;
  Powercap p = Powercap::discover(t.root());
  ASSERT_TRUE(p.available()) << p.why_unavailable();
  ASSERT_EQ(p.zones().size(), 2u);
  EXPECT_EQ(p.zones()[0].name, "package-0");
  EXPECT_EQ(p.zones()[1].name, "package-1");
  EXPECT_EQ(p.zones()[0].max_range_uj, 1000000u);
  EXPECT_EQ(p.zones()[1].max_range_uj, 2000000u);
  EXPECT_EQ(p.describe(), "package-0 (intel-rapl:0) + package-1 (intel-rapl:1), powercap");
}

TEST(Powercap, NormalDelta) {
  FakePowercap t;
  Powercap p = Powercap::discover(t.root());
  ASSERT_TRUE(p.available()) << p.why_unavailable();
  auto before = p.read();
  ASSERT_TRUE(before.ok()) << before.error;
  EXPECT_EQ(before.uj, (std::vector<uint64_t>{100, 1000}));
  t.set("intel-rapl:0", 350);
  t.set("intel-rapl:1", 1500);
  auto after = p.read();
  auto j = p.joules_between(before, after);
  ASSERT_TRUE(j.has_value());
  EXPECT_DOUBLE_EQ(*j, (250 + 500) * 1e-6);
}

TEST(Powercap, WrapAroundDelta) {
  // One wrap: from `before` up to the range, then from 0 to `after`.
  EXPECT_EQ(energy_delta_uj(999900, 50, 1000000), 150u);
  EXPECT_EQ(energy_delta_uj(4294967000ull, 1000, 4294967295ull), 295u + 1000u);
  EXPECT_EQ(energy_delta_uj(262143328000ull, 0, 262143328850ull), 850u);
  EXPECT_EQ(energy_delta_uj(10, 10, 100), 0u);
  EXPECT_FALSE(energy_delta_uj(101, 5, 100).has_value());  // beyond the range: not a counter value
  EXPECT_FALSE(energy_delta_uj(5, 101, 100).has_value());

  FakePowercap t;
  t.set("intel-rapl:0", 999900);
  Powercap p = Powercap::discover(t.root());
  ASSERT_TRUE(p.available()) << p.why_unavailable();
  auto before = p.read();
  t.set("intel-rapl:0", 50);   // wrapped: 100 to the top, 50 after it
  t.set("intel-rapl:1", 1000);  // unchanged
  auto j = p.joules_between(before, p.read());
  ASSERT_TRUE(j.has_value());
  EXPECT_DOUBLE_EQ(*j, 150e-6);
}

TEST(Powercap, SubzonesAndTwinsAreNotSummed) {
  FakePowercap t;
  Powercap p = Powercap::discover(t.root());
  ASSERT_TRUE(p.available()) << p.why_unavailable();
  auto before = p.read();
  t.set("intel-rapl:0", 200);        // +100
  t.set("intel-rapl:0:0", 900000);   // core subzone: inside package-0
  t.set("intel-rapl:1:0", 800000);   // a subzone, whatever its name
  t.set("intel-rapl-mmio:0", 90000);  // the same package through MMIO
  t.set("intel-rapl:2", 500000);     // psys: the platform, package included
  auto j = p.joules_between(before, p.read());
  ASSERT_TRUE(j.has_value());
  EXPECT_DOUBLE_EQ(*j, 100e-6);
}

TEST(Powercap, MissingTreeIsUnavailableWithReason) {
  const std::string root = ::testing::TempDir() + "/no_such_powercap_tree";
  Powercap p = Powercap::discover(root);
  EXPECT_FALSE(p.available());
  EXPECT_NE(p.why_unavailable().find(root), std::string::npos) << p.why_unavailable();
  EXPECT_NE(p.describe().find("unavailable"), std::string::npos);
  auto s = p.read();
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(p.joules_between(s, s).has_value());
  EnergyMeter m(p);
  m.start();
  EXPECT_FALSE(m.stop().has_value());
  EXPECT_FALSE(m.error().empty());
}

TEST(Powercap, EmptyTreeIsUnavailable) {
  FakePowercap t;
  fs::remove_all(t.path("intel-rapl:0"));
  fs::remove_all(t.path("intel-rapl:1"));
  Powercap p = Powercap::discover(t.root());
  EXPECT_FALSE(p.available());
  EXPECT_NE(p.why_unavailable().find("no package zones"), std::string::npos) << p.why_unavailable();
}

TEST(Powercap, GarbageEnergyMakesZoneUnavailable) {
  for (const std::string bad : {"abc\n", "", "\n", "-5\n", "12 34\n", "0x10\n", "99999999999999999999999\n"}) {
    FakePowercap t;
    t.write("intel-rapl:1/energy_uj", bad);
    Powercap p = Powercap::discover(t.root());
    EXPECT_FALSE(p.available()) << "energy_uj '" << bad << "' was accepted";
    EXPECT_NE(p.why_unavailable().find("intel-rapl:1/energy_uj"), std::string::npos) << p.why_unavailable();
  }
  FakePowercap t;
  t.set("intel-rapl:0", 1000001);  // above its max_energy_range_uj: not a counter value
  Powercap p = Powercap::discover(t.root());
  EXPECT_FALSE(p.available());
  EXPECT_NE(p.why_unavailable().find("intel-rapl:0/energy_uj"), std::string::npos) << p.why_unavailable();
  t.set("intel-rapl:0", 1000000);
  t.write("intel-rapl:0/max_energy_range_uj", "lots\n");
  p = Powercap::discover(t.root());
  EXPECT_FALSE(p.available());
  EXPECT_NE(p.why_unavailable().find("max_energy_range_uj"), std::string::npos) << p.why_unavailable();
}

TEST(Powercap, UnreadableEnergyMakesZoneUnavailable) {
  {  // a read error (here EISDIR), which works as root too
    FakePowercap t;
    fs::remove(t.path("intel-rapl:0/energy_uj"));
    fs::create_directory(t.path("intel-rapl:0/energy_uj"));
    Powercap p = Powercap::discover(t.root());
    EXPECT_FALSE(p.available());
    EXPECT_NE(p.why_unavailable().find("intel-rapl:0/energy_uj"), std::string::npos) << p.why_unavailable();
  }
  if (::geteuid() != 0) {  // the Linux 5.10 case: root-only energy_uj (root reads through mode 000)
    FakePowercap t;
    fs::permissions(t.path("intel-rapl:1/energy_uj"), fs::perms::none);
    Powercap p = Powercap::discover(t.root());
    EXPECT_FALSE(p.available());
    EXPECT_NE(p.why_unavailable().find("Linux 5.10"), std::string::npos) << p.why_unavailable();
  }
}

TEST(Powercap, LaterReadFailureIsFlaggedNotThrown) {
  FakePowercap t;
  Powercap p = Powercap::discover(t.root());
  ASSERT_TRUE(p.available()) << p.why_unavailable();
  auto before = p.read();
  t.set("intel-rapl:0", 300);
  t.write("intel-rapl:1/energy_uj", "garbage\n");
  auto after = p.read();
  EXPECT_FALSE(after.ok());
  EXPECT_NE(after.error.find("intel-rapl:1/energy_uj"), std::string::npos) << after.error;
  EXPECT_EQ(after.uj[0], 300u);  // what could be read still is
  EXPECT_FALSE(p.joules_between(before, after).has_value());
  fs::remove(t.path("intel-rapl:1/energy_uj"));  // the file vanishing: same
  EXPECT_FALSE(p.read().ok());
}

TEST(Powercap, EnergyMeterMeasuresBetweenStartAndStop) {
  FakePowercap t;
  EnergyMeter m(Powercap::discover(t.root()));
  EXPECT_FALSE(m.stop().has_value());  // not started
  m.start();
  t.set("intel-rapl:0", 100 + 2000);
  t.set("intel-rapl:1", 1000 + 3000);
  auto j = m.stop();
  ASSERT_TRUE(j.has_value()) << m.error();
  EXPECT_DOUBLE_EQ(*j, 5000e-6);
}
