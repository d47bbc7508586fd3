// Progress on a terminal and the final summary line.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "camkit/pipeline.hpp"

namespace camkit {
namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string duration(double s) {
  char buf[32];
  const long t = static_cast<long>(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  return buf;
}

void write_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace

ProgressBar::ProgressBar(int fd) : fd_(fd), tty_(::isatty(fd) == 1), start_(now()) {}

void ProgressBar::update(std::size_t finished, std::size_t total) {
  if (!tty_) return;
  const double t = now();
  if (finished < total && last_ >= 0 && t - last_ < 0.1) return;
  last_ = t;
  const double elapsed = t - start_;
  const double rate = elapsed > 0 ? static_cast<double>(finished) / elapsed : 0;
  const int width = 30;
  const int filled = total ? static_cast<int>(width * finished / total) : width;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(width - filled), '-');
  char buf[160];
  std::snprintf(buf, sizeof buf, "\r[%s] %zu/%zu %.1f img/s ETA %s\x1b[K", bar.c_str(), finished,
                total, rate,
                rate > 0 ? duration(static_cast<double>(total - finished) / rate).c_str() : "?");
  write_all(fd_, buf);
}

void ProgressBar::finish() {
  if (tty_) write_all(fd_, "\r\x1b[K");
}

std::string format_summary(const PipelineSummary& s) {
  char buf[200];
  const double rate = s.seconds > 0 ? static_cast<double>(s.done) / s.seconds : 0;
  std::snprintf(buf, sizeof buf,
                "camkit: %zu done, %zu failed, %zu skipped in %.1f s (%.1f images/s)", s.done,
                s.failed, s.skipped, s.seconds, rate);
  return buf;
}

}  // namespace camkit
