// camkit/error.hpp — the one error type of the library.
//
// Usage:
//   try {
//     camkit::Image im = camkit::read_image("cat.jpg");
//   } catch (const camkit::Error& e) {
//     std::cerr << e.what() << "\n";          // one line: "cat.jpg: cannot decode image"
//     return static_cast<int>(e.code());       // 1 input, 2 usage, 3 model, 5 busy
//   }
//
// Every function of the library reports failure by throwing camkit::Error; none calls exit().
#pragma once

#include <stdexcept>
#include <string>

namespace camkit {

/// Error categories; the numeric values are the CLI's documented exit codes.
enum class ErrorCode {
  input = 1,  ///< an input file is missing, unreadable, corrupt or of the wrong shape/type
  usage = 2,  ///< an option or argument is invalid
  model = 3,  ///< the model cannot be loaded, or has no head the method can use
  // 4 is the CLI's "internal error" (an exception camkit did not expect outside any input).
  busy = 5,  ///< another live run holds the same work's lock on the output folder
};

/// Thrown by every camkit function. what() is a single line without a trailing newline.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace camkit
