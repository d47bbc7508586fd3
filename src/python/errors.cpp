#include "errors.hpp"

#include <map>

namespace camkit::python {
namespace {

// Created once at import; Python owns them through the module (never freed before exit).
std::map<int, PyObject*>& classes() {
  static std::map<int, PyObject*> by_code;
  return by_code;
}

PyObject* class_for(int code) {
  const auto it = classes().find(code);
  return it != classes().end() ? it->second : classes().at(4);
}

}  // namespace

void register_errors(py::module_& m) {
  py::dict base_attrs;
  base_attrs["code"] = py::none();
  base_attrs["__doc__"] =
      "camkit's error: str(e) is camkit's one-line message, e.code the "
      "camkit command's exit code for it.";
  PyObject* base = PyErr_NewException("camkit.Error", PyExc_Exception, base_attrs.ptr());
  if (!base) throw py::error_already_set();
  m.add_object("Error", py::handle(base));
  struct Kind {
    int code;
    const char* name;
    const char* doc;
  };
  const Kind kinds[] = {
      {1, "InputError", "An input is missing, unreadable, corrupt or does not fit (exit 1)."},
      {2, "UsageError", "An option or argument is invalid (exit 2)."},
      {3, "ModelError", "The model cannot be loaded or has no head the method can use (exit 3)."},
      {4, "InternalError", "An error camkit did not expect: a bug or a broken install (exit 4)."},
      {5, "BusyError", "Another live run holds the same work's output folder (exit 5)."}};
  for (const Kind& k : kinds) {
    py::dict attrs;
    attrs["code"] = k.code;
    attrs["__doc__"] = k.doc;
    const std::string qualified = std::string("camkit.") + k.name;
    PyObject* cls = PyErr_NewException(qualified.c_str(), base, attrs.ptr());
    if (!cls) throw py::error_already_set();
    m.add_object(k.name, py::handle(cls));
    classes()[k.code] = cls;
  }
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      PyErr_SetString(class_for(static_cast<int>(e.code())), e.what());
    } catch (const InternalError& e) {
      PyErr_SetString(class_for(4), e.what());
    }
  });
}

py::object error_object(const Error& error) {
  return py::reinterpret_borrow<py::object>(class_for(static_cast<int>(error.code())))(
      error.what());
}

}  // namespace camkit::python
