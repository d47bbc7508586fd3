// NumPy arrays in and out of the Python module: inputs as camkit sources, maps as views.
// Called with the GIL held.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "camkit/render.hpp"
#include "session.hpp"

namespace camkit::python {

namespace py = pybind11;

/// A path (str, bytes, os.PathLike), or an array: unsigned integers are pixels, (H, W) or
/// (H, W, C) with C 1, 3 or 4 (alpha dropped), RGB as PIL gives them; floats are the model
/// input itself, (H, W), (C, H, W) or (1, C, H, W). `name` names an array in messages and
/// records ("" gives "<array>"). Throws Error(input) for other arrays.
Source to_source(py::handle x, const std::string& name);

/// An image for camkit.overlay(): a path (read as camkit explain reads it) or an array as for
/// to_source, floats as (H, W) or (H, W, C) pictures.
Image to_image(py::handle x);

/// A 2-D float array as a map (copied). Throws Error(usage) for other shapes.
Map to_map(py::handle x);

/// A read-only (H, W) float32 view of `map`, which `owner` keeps alive: no copy.
py::array map_view(const Map& map, py::handle owner);

/// An (H, W, 3) uint8 array that owns the picture's pixels: no copy.
py::array rgb_array(Rgb8&& picture);

}  // namespace camkit::python
