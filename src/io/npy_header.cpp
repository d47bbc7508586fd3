#include "io/npy_header.hpp"

#include <cstring>
#include <string_view>

#include "io/file_bytes.hpp"

namespace camkit::io {

namespace {

// A recursive-descent reader for exactly the literal np.save writes, nothing more: a dict of
// three known keys whose values are strings, True/False, or tuples of non-negative integers.
// Anything else is rejected rather than guessed at.
class HeaderParser {
 public:
  HeaderParser(const std::string& path, std::string_view text) : path_(path), text_(text) {}

  NpyHeader parse() {
    NpyHeader h;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = parse_string();
      expect(':');
      skip_space();
      if (key == "descr" && !seen_descr) {
        // Structured dtypes are written as a list of fields.
        if (peek() == '[') throw input_error(path_, "unsupported dtype (structured array)");
        h.descr = parse_string();
        seen_descr = true;
      } else if (key == "fortran_order" && !seen_order) {
        h.fortran_order = parse_bool();
        seen_order = true;
      } else if (key == "shape" && !seen_shape) {
        h.shape = parse_shape();
        seen_shape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != '}') {
        fail("expected ',' or '}'");
      }
    }
    ++pos_;  // '}'
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the dict");
    if (!seen_descr) fail("missing 'descr'");
    if (!seen_order) fail("missing 'fortran_order'");
    if (!seen_shape) fail("missing 'shape'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw input_error(path_, "malformed .npy header (" + what + ")");
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void skip_space() {
    while (pos_ < text_.size() && std::strchr(" \t\r\n", text_[pos_]) != nullptr) ++pos_;
  }

  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  std::string parse_string() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const std::size_t start = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\') fail("escape sequences are not supported");
      ++pos_;
    }
    if (pos_ >= text_.size()) fail("unterminated string");
    return std::string(text_.substr(start, pos_++ - start));
  }

  bool parse_bool() {
    if (text_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (text_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("fortran_order must be True or False");
  }

  std::vector<std::uint64_t> parse_shape() {
    std::vector<std::uint64_t> shape;
    expect('(');
    for (;;) {
      skip_space();
      if (peek() == ')') break;
      shape.push_back(parse_dim());
      skip_space();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != ')') {
        fail("expected ',' or ')' in shape");
      }
    }
    ++pos_;  // ')'
    return shape;
  }

  std::uint64_t parse_dim() {
    if (peek() < '0' || peek() > '9') fail("shape entries must be non-negative integers");
    std::uint64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      const auto digit = static_cast<std::uint64_t>(peek() - '0');
      if (v > (UINT64_MAX - digit) / 10) fail("shape entry too large");
      v = v * 10 + digit;
      ++pos_;
    }
    if (peek() == 'L') ++pos_;  // Python 2 long literal, found in files from old NumPy
    return v;
  }

  const std::string& path_;
  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

NpyHeader parse_npy_header(const std::string& path, const unsigned char* data, std::size_t size) {
  static const unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (size < 6 || std::memcmp(data, kMagic, 6) != 0) {
    throw input_error(path, "not a .npy file (bad magic)");
  }
  if (size < 8) throw input_error(path, "truncated .npy header");
  const int major = data[6], minor = data[7];
  if (major < 1 || major > 3 || minor != 0) {
    throw input_error(path, "unsupported .npy format version " + std::to_string(major) + "." +
                                std::to_string(minor));
  }
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  if (size < 8 + length_bytes) throw input_error(path, "truncated .npy header");
  std::uint64_t header_length = 0;
  for (std::size_t i = 0; i < length_bytes; ++i) {
    header_length |= static_cast<std::uint64_t>(data[8 + i]) << (8 * i);
  }
  const std::size_t start = 8 + length_bytes;
  if (header_length > kNpyHeaderMax) {
    throw input_error(path, "malformed .npy header (header length " +
                                std::to_string(header_length) + " is over " +
                                std::to_string(kNpyHeaderMax) + " bytes)");
  }
  if (header_length > size - start) {
    throw input_error(path, "truncated .npy header (header length " +
                                std::to_string(header_length) + " exceeds the " +
                                std::to_string(size - start) + " bytes left in the file)");
  }
  const std::string_view text(reinterpret_cast<const char*>(data + start),
                              static_cast<std::size_t>(header_length));
  NpyHeader h = HeaderParser(path, text).parse();
  h.data_offset = start + static_cast<std::size_t>(header_length);
  return h;
}

std::string shape_string(const std::vector<std::uint64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

}  // namespace camkit::io
