// Names of camkit's temporaries: ".<name>.camkit-tmp.<host>.<pid>.<n>". Hidden, unmistakably
// camkit's, and carrying the host, so that clean-up on one host never touches what a process of
// another host (sharing the file system) is writing.
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <climits>

#include "camkit/output.hpp"

namespace camkit {
namespace {

constexpr const char* kMarker = ".camkit-tmp.";
constexpr std::size_t kNameBytes = 64;
constexpr std::size_t kMaxDigits = 18;  // fits a long long; longer runs are not ours

bool host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

bool all_digits(const std::string& s) {
  if (s.empty() || s.size() > kMaxDigits) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// Cuts at most kNameBytes bytes without splitting a UTF-8 sequence.
std::string short_name(const std::string& name) {
  if (name.size() <= kNameBytes) return name;
  std::size_t n = kNameBytes;
  while (n > 0 && (static_cast<unsigned char>(name[n]) & 0xC0) == 0x80) --n;
  return name.substr(0, n);
}

}  // namespace

const std::string& host_id() {
  static const std::string id = [] {
    char buf[HOST_NAME_MAX + 1] = {};
    std::string h;
    if (::gethostname(buf, sizeof buf - 1) == 0) h = buf;
    for (char& c : h)
      if (!host_char(c)) c = '_';
    if (h.size() > 64) h.resize(64);
    return h.empty() ? std::string("unknown-host") : h;
  }();
  return id;
}

std::string temporary_name(const std::string& name) {
  static std::atomic<unsigned long long> counter{0};
  return "." + short_name(name) + kMarker + host_id() + "." + std::to_string(::getpid()) + "." +
         std::to_string(counter++);
}

std::optional<TemporaryOwner> temporary_owner(const std::string& name) {
  const std::size_t at = name.rfind(kMarker);
  if (name.size() < 2 || name[0] != '.' || at == std::string::npos || at < 2) return std::nullopt;
  const std::string tail = name.substr(at + std::char_traits<char>::length(kMarker));
  const std::size_t last = tail.rfind('.');
  if (last == std::string::npos || last == 0) return std::nullopt;
  const std::size_t before = tail.rfind('.', last - 1);
  if (before == std::string::npos || before == 0) return std::nullopt;
  const std::string host = tail.substr(0, before);
  const std::string pid = tail.substr(before + 1, last - before - 1);
  const std::string counter = tail.substr(last + 1);
  if (!all_digits(pid) || !all_digits(counter)) return std::nullopt;
  for (char c : host)
    if (!host_char(c)) return std::nullopt;
  const long long value = std::stoll(pid);
  if (value <= 0) return std::nullopt;
  return TemporaryOwner{host, value};
}

}  // namespace camkit
