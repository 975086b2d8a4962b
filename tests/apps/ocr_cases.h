// Text the OCR test renders with ImageMagick: English words, digits and
// punctuation, Chinese phrases; single lines, paragraphs of three lines,
// rotated 180 degrees, on noisy tinted backgrounds, and small.
#pragma once
#include <string>
#include <vector>

namespace pareto::testing {

struct OcrCase {
  std::string name;
  std::vector<std::string> lines;  // expected, top to bottom
  std::string font;                // font file (Debian fonts-dejavu-core, fonts-wqy-zenhei)
  bool rotate180 = false;
  bool noisy = false;
  int pointsize = 32;
};

inline std::vector<OcrCase> ocr_cases() {
  const std::string latin = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", cjk = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc";
  const std::vector<std::string> english = {
      "The quick brown fox jumps",     "Invoice number 4821",        "Meeting room on the third floor", "Please keep the door closed",
      "Open source inference engine",  "Battery level is low",       "Welcome to the city library",     "Fresh bread every morning",
      "Quarterly report summary",      "Turn left at the next corner", "Emergency exit only",           "Coffee and tea are free",
      "Order shipped on Monday",       "Station platform two",       "Keep calm and carry on",           "Hello world from pareto"};
  const std::vector<std::string> digits = {
      "Tel: 010-8827-3391",   "Total: $1,284.50",   "2026-11-24 18:30", "Room 305, Building B", "ID 4417 2093 8812",
      "Price 35.99 EUR",      "Call (555) 013-2468", "Version 3.14.159", "Flight CA1832 Gate 17", "Order #A-77031",
      "Temp: 23.5C / 74.3F", "Page 12 of 48"};
  const std::vector<std::string> chinese = {"今天天气很好", "欢迎光临",       "北京市海淀区", "人工智能",     "机器学习模型",
                                            "中华人民共和国", "谢谢你的帮助",   "我们明天见",   "火车站在哪里", "这本书很有意思",
                                            "价格是三十五元", "请注意安全",     "深度学习",     "开放源代码",   "电子邮件地址"};
  std::vector<OcrCase> cases;
  for (size_t i = 0; i < english.size(); ++i) cases.push_back({"en" + std::to_string(i), {english[i]}, latin});
  for (size_t i = 0; i < digits.size(); ++i) cases.push_back({"num" + std::to_string(i), {digits[i]}, latin});
  for (size_t i = 0; i < chinese.size(); ++i) cases.push_back({"zh" + std::to_string(i), {chinese[i]}, cjk});
  cases.push_back({"para0", {english[0], digits[0], english[1]}, latin});
  cases.push_back({"para1", {english[2], digits[1], english[3]}, latin});
  cases.push_back({"para2", {chinese[0], chinese[1], chinese[2]}, cjk});
  cases.push_back({"para3", {chinese[3], chinese[4], chinese[5]}, cjk});
  for (size_t i = 0; i < 4; ++i) cases.push_back({"rot_en" + std::to_string(i), {english[4 + i]}, latin, true});
  for (size_t i = 0; i < 3; ++i) cases.push_back({"rot_zh" + std::to_string(i), {chinese[6 + i]}, cjk, true});
  for (size_t i = 0; i < 4; ++i) cases.push_back({"noisy_en" + std::to_string(i), {english[8 + i]}, latin, false, true});
  for (size_t i = 0; i < 2; ++i) cases.push_back({"noisy_num" + std::to_string(i), {digits[2 + i]}, latin, false, true});
  for (size_t i = 0; i < 3; ++i) cases.push_back({"noisy_zh" + std::to_string(i), {chinese[9 + i]}, cjk, false, true});
  // Small text (18-25 px): the spaces between words are a few pixels wide.
  for (size_t i = 0; i < 8; ++i) cases.push_back({"small_en" + std::to_string(i), {english[8 + i]}, latin, false, false, 18 + int(i)});
  for (size_t i = 0; i < 4; ++i) cases.push_back({"small_num" + std::to_string(i), {digits[4 + i]}, latin, false, false, 18 + 2 * int(i)});
  return cases;
}

}  // namespace pareto::testing
