#include "pipeline/failures.hpp"

#include <new>

#include "camkit/error.hpp"

namespace camkit::pipeline {
namespace {

// LibTorch's messages carry a backtrace after the first line.
std::string first_line(const std::string& text) {
  const std::string line = text.substr(0, text.find('\n'));
  return line.empty() ? std::string("(no message)") : line;
}

bool allocator_message(const std::string& what) {
  return what.find("can't allocate memory") != std::string::npos ||
         what.find("DefaultCPUAllocator") != std::string::npos;
}

std::string prefixed(const std::string& path, const std::string& message) {
  return message.compare(0, path.size(), path) == 0 ? message : path + ": " + message;
}

}  // namespace

bool out_of_memory(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::bad_alloc&) {
    return true;
  } catch (const Error&) {
    return false;
  } catch (const std::exception& e) {
    return allocator_message(e.what());
  } catch (...) {
    return false;
  }
}

std::optional<std::string> input_failure(const std::string& path, const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::input) return std::nullopt;
    return prefixed(path, first_line(e.what()));
  } catch (const std::bad_alloc&) {
    return path + ": out of memory";
  } catch (const std::exception& e) {
    const std::string what = e.what();
    if (allocator_message(what)) {
      // "... you tried to allocate 8000000000 bytes. Error code 12 ..." -> the size asked for.
      const size_t at = what.find("you tried to allocate");
      std::string detail;
      if (at != std::string::npos) {
        detail = what.substr(at + 4);
        detail = " (" + detail.substr(0, detail.find_first_of(".\n")) + ")";
      }
      return path + ": out of memory" + detail;
    }
    return path + ": unexpected error: " + first_line(what);
  } catch (...) {
    return path + ": unexpected error (not a std::exception)";
  }
}

}  // namespace camkit::pipeline
