#include "api/npy.h"

#include <cstring>
#include <filesystem>
#include <optional>
#include <fstream>
#include <sstream>

#include "core/checked.h"
#include "pareto/error.h"

namespace pareto::api {

namespace {

struct Descr {
  const char* code;
  DType dtype;
};
const Descr kDescrs[] = {{"<f4", DType::f32}, {"<f8", DType::f64}, {"<f2", DType::f16}, {"<i8", DType::i64},
                         {"<i4", DType::i32}, {"<i2", DType::i16}, {"|i1", DType::i8}, {"|u1", DType::u8},
                         {"<u2", DType::u16}, {"<u4", DType::u32}, {"<u8", DType::u64}, {"|b1", DType::boolean}};

std::string field(const std::string& header, const std::string& key, const std::string& path) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) fail_argument(path + ": .npy header has no '" + key + "'");
  size_t colon = header.find(':', k);
  if (colon == std::string::npos) fail_argument(path + ": malformed .npy header");
  size_t b = header.find_first_not_of(' ', colon + 1);
  if (b == std::string::npos) fail_argument(path + ": malformed .npy header");
  size_t e = header[b] == '(' ? header.find(')', b) + 1 : header.find_first_of(",}", b);
  if (e == std::string::npos || e == 0) fail_argument(path + ": malformed .npy header");
  return header.substr(b, e - b);
}

// The shape tuple: "(2, 3)", "(5,)" or "()"; every item a whole number.
Shape parse_shape(const std::string& text, const std::string& path) {
  if (text.size() < 2 || text.front() != '(' || text.back() != ')')
    fail_argument(path + ": .npy shape '" + text + "' is not a tuple");
  Shape shape;
  std::stringstream ss(text.substr(1, text.size() - 2));
  std::string item;
  while (std::getline(ss, item, ',')) {
    const size_t b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
    if (b == std::string::npos) {
      if (ss.eof()) break;  // the trailing comma of "(5,)"
      fail_argument(path + ": .npy shape '" + text + "' has an empty item");
    }
    const std::string digits = item.substr(b, e - b + 1);
    if (digits.size() > 15 || digits.find_first_not_of("0123456789") != std::string::npos)
      fail_argument(path + ": .npy shape '" + text + "' has a bad dimension '" + digits + "'");
    shape.push_back(std::stoll(digits));  // at most 15 digits: no overflow
  }
  return shape;
}

}  // namespace

Tensor read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(StatusCode::io_error, path + ": cannot open");
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) fail_argument(path + ": not a .npy file");
  uint32_t hlen = 0;
  if (magic[6] == 1) {
    uint8_t b[2];
    if (!in.read(reinterpret_cast<char*>(b), 2)) fail_argument(path + ": truncated header");
    hlen = b[0] | uint32_t(b[1]) << 8;
  } else {
    uint8_t b[4];
    if (!in.read(reinterpret_cast<char*>(b), 4)) fail_argument(path + ": truncated header");
    hlen = b[0] | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
  }
  if (hlen > (1u << 20)) fail_argument(path + ": header too large");
  std::string header(hlen, '\0');
  if (!in.read(header.data(), hlen)) fail_argument(path + ": truncated header");
  std::string descr = field(header, "descr", path);
  if (field(header, "fortran_order", path).find("True") != std::string::npos) fail_argument(path + ": Fortran order is not supported");
  if (descr.size() >= 2 && (descr.front() == '\'' || descr.front() == '"')) descr = descr.substr(1, descr.size() - 2);
  DType dtype = DType::undefined;
  for (const Descr& d : kDescrs)
    if (descr == d.code) dtype = d.dtype;
  if (dtype == DType::undefined) fail_argument(path + ": unsupported dtype " + descr);
  const Shape shape = parse_shape(field(header, "shape", path), path);
  // Sizes from the header are checked against the file before anything is allocated.
  const size_t data_offset = (magic[6] == 1 ? 10 : 12) + size_t(hlen);
  std::optional<uint64_t> bytes = uint64_t(dtype_size(dtype));
  for (int64_t d : shape)
    if (bytes) bytes = checked_mul(*bytes, uint64_t(d));
  std::error_code ec;
  const uintmax_t file_bytes = std::filesystem::file_size(path, ec);
  if (!bytes || ec || file_bytes < data_offset || *bytes > file_bytes - data_offset)
    fail_argument(path + ": offset " + std::to_string(data_offset) + ": data is shorter than shape " + shape_to_string(shape) + " needs");
  Tensor t = Tensor::empty(dtype, shape);
  if (!in.read(static_cast<char*>(t.raw()), std::streamsize(t.nbytes())))
    fail_argument(path + ": data is shorter than shape " + shape_to_string(shape) + " needs");
  return t;
}

void write_npy(const std::string& path, const Tensor& t) {
  const char* code = nullptr;
  for (const Descr& d : kDescrs)
    if (d.dtype == t.dtype()) code = d.code;
  if (!code) fail_unsupported(std::string("cannot write ") + dtype_name(t.dtype()) + " to .npy");
  std::string shape = "(";
  for (int64_t d : t.shape()) shape += std::to_string(d) + ", ";
  if (t.rank() > 1) shape.erase(shape.size() - 2);
  else if (t.rank() == 1) shape.erase(shape.size() - 1);
  shape += ")";
  std::string header = std::string("{'descr': '") + code + "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out) fail(StatusCode::io_error, path + ": cannot create");
  out.write("\x93NUMPY\x01\x00", 8);
  uint16_t hl = uint16_t(header.size());
  char hb[2] = {char(hl & 0xff), char(hl >> 8)};
  out.write(hb, 2);
  out.write(header.data(), std::streamsize(header.size()));
  out.write(static_cast<const char*>(t.raw()), std::streamsize(t.nbytes()));
  if (!out) fail(StatusCode::io_error, path + ": write failed");
}

}  // namespace pareto::api
