// The profile report's renderers: names from a model file cannot break out
// of the HTML page's data block or add markup; the page carries no network
// reference; the text table says what is estimated.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "profile/analysis.h"
#include "profile/report_html.h"

using namespace pareto;

namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

nlohmann::json small_report(const std::string& op_name) {
  profile::ReportInput in;
  in.model = "m.onnx", in.kind = "onnx";
  in.device = profile::builtin_device_profile("x86-avx512");
  in.machine.threads = 1, in.machine.l1d = 32768, in.machine.l2 = 1 << 20, in.machine.llc = 32 << 20;
  profile::OpRecord op;
  op.name = op_name, op.op = "Conv", op.seconds = 0.001;
  op.cost.macs = 1000;
  op.cost.accesses = {{1, 4000, profile::AccessKind::activation, false}, {2, 400, profile::AccessKind::weight, false},
                      {3, 4000, profile::AccessKind::activation, true}};
  in.passes.push_back({"inference", "inference", 1, 0.001, {op}});
  return profile::build_report(in);
}

}  // namespace

TEST(ProfileReport, HostileNamesStayText) {
  const std::string hostile = "</script><img src=x onerror=alert(1)><!--";
  const std::string html = profile::render_profile_html(small_report(hostile));
  // Script elements are raw text up to the first "</script": the name must
  // not end the data block early, so every block closes where it should.
  EXPECT_EQ(count(html, "</script>"), count(html, "<script"));
  // Outside the script elements there is no markup of the name's.
  std::string outside;
  size_t at = 0;
  for (size_t open = html.find("<script"); open != std::string::npos; open = html.find("<script", at)) {
    outside += html.substr(at, open - at);
    const size_t close = html.find("</script>", open);
    ASSERT_NE(close, std::string::npos);
    at = close + 9;
  }
  outside += html.substr(at);
  EXPECT_EQ(outside.find("<img"), std::string::npos);
  EXPECT_EQ(outside.find("onerror"), std::string::npos);
  // The data block still holds the name exactly (JSON allows "<\/" for "</").
  const std::string open_tag = "<script type=\"application/json\" id=\"profile-data\">";
  const size_t data = html.find(open_tag);
  ASSERT_NE(data, std::string::npos);
  const size_t end = html.find("</script>", data);
  const nlohmann::json back = nlohmann::json::parse(html.substr(data + open_tag.size(), end - data - open_tag.size()));
  EXPECT_EQ(back["ops"][0]["name"].get<std::string>(), hostile);
  // No address to fetch in the markup (the data may cite sources by URL as
  // text; the script's one URI is the SVG namespace, which loads nothing).
  EXPECT_EQ(outside.find("http://"), std::string::npos);
  EXPECT_EQ(outside.find("https://"), std::string::npos);
  EXPECT_EQ(count(html, "http://"), count(html, "http://www.w3.org/2000/svg"));
}

TEST(ProfileReport, TextSaysEstimated) {
  const std::string text = profile::report_text(small_report("conv0"));
  EXPECT_NE(text.find("energy (estimated)"), std::string::npos);
  EXPECT_NE(text.find("conv0"), std::string::npos);
  const nlohmann::json r = small_report("conv0");
  EXPECT_TRUE(r["estimated"].get<bool>());
  EXPECT_DOUBLE_EQ(r["ops"][0]["macs"].get<double>(), 1000);
  EXPECT_DOUBLE_EQ(r["summary"]["bytes"]["weights"].get<double>(), 400);
}

TEST(ProfileReport, MeasuredEnergyIsPerUnitOfTheMeteredRuns) {
  profile::ReportInput in;
  in.model = "m", in.kind = "onnx";
  in.device = profile::builtin_device_profile("x86-avx512");
  profile::OpRecord op;
  op.name = "a", op.op = "Relu", op.seconds = 0.001, op.cost.elementwise = 10;
  in.passes.push_back({"inference", "inference", 1, 0.002, {op}});
  in.measured_energy_j = 0.5;  // over 5 inferences
  in.measured_units = 5;
  const nlohmann::json r = profile::build_report(in);
  EXPECT_DOUBLE_EQ(r["summary"]["measured_energy_mj"].get<double>(), 100.0);
  const double est = r["summary"]["energy_mj"]["total"].get<double>();
  EXPECT_DOUBLE_EQ(r["summary"]["measured_over_estimated"].get<double>(), 100.0 / est);
}

TEST(ProfileReport, TextOfPartialOrHostileJsonDoesNotCrash) {
  for (const char* text : {"{}", "[]", "null", R"({"machine": 3, "phases": {"x": 1}, "ops": [1, {"name": "\u001b[2Jwipe"}]})"}) {
    const std::string out = profile::report_text(nlohmann::json::parse(text));
    EXPECT_EQ(out.find('\x1b'), std::string::npos) << text;
  }
}
