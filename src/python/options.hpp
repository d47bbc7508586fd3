// Keyword arguments of the Python module as camkit options: one table of names, checked as the
// camkit command checks its flags (an unknown name or a value out of range is a UsageError).
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "camkit/model.hpp"
#include "session.hpp"

namespace camkit::python {

namespace py = pybind11;

/// The options of Model.explain() (and explain_batch(), which also takes batch_size) from
/// keyword arguments; `name` receives "name" when given. Throws Error(usage).
CallOptions call_options(const py::kwargs& kwargs, bool batch, std::string* name);

/// The docstring lines of those options, with their defaults.
std::string call_options_doc(bool batch);

/// A colormap by name; `what` names the argument in the error. Throws Error(usage).
Colormap colormap_arg(const std::string& name, const char* what);

}  // namespace camkit::python
