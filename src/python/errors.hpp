// camkit's errors as Python exceptions: camkit.Error, the base, with one subclass per exit code
// (InputError 1, UsageError 2, ModelError 3, InternalError 4, BusyError 5), each carrying the
// code as `code` and camkit's one-line message.
#pragma once

#include <pybind11/pybind11.h>

#include <stdexcept>

#include "camkit/error.hpp"

namespace camkit::python {

namespace py = pybind11;

/// An exception camkit did not expect outside any input (the CLI's exit code 4).
struct InternalError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Creates the exception classes in `m` and translates camkit::Error and InternalError into
/// them.
void register_errors(py::module_& m);

/// An instance (not raised) of the class for `error`, for results that keep their errors.
py::object error_object(const Error& error);

/// Runs `f`, turning exceptions camkit does not know (neither camkit::Error nor Python's) into
/// InternalError with their message.
template <class F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error&) {
    throw;
  } catch (const py::error_already_set&) {
    throw;
  } catch (const py::builtin_exception&) {
    throw;
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw InternalError("internal error (please report it): " + what.substr(0, what.find('\n')));
  }
}

}  // namespace camkit::python
