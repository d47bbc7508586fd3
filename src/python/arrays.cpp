#include "arrays.hpp"

#include <cmath>
#include <cstdint>
#include <memory>

#include "camkit/error.hpp"

namespace camkit::python {
namespace {

std::string shape_text(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

[[noreturn]] void bad(const std::string& name, const std::string& why) {
  throw Error(ErrorCode::input, name + ": " + why);
}

bool is_path(py::handle x) {
  return py::isinstance<py::str>(x) || py::isinstance<py::bytes>(x) || py::hasattr(x, "__fspath__");
}

std::string path_of(py::handle x) {
  // os.fsencode gives the bytes the file system holds, whatever the locale.
  return py::module_::import("os").attr("fsencode")(x).cast<std::string>();
}

// Pixels of an unsigned-integer array, scaled as camkit's readers scale them (v / max).
template <class T>
Image pixels(const py::array& a, const std::string& name, int bit_depth) {
  const auto arr = py::array_t<T, py::array::c_style>::ensure(a);
  if (!arr) bad(name, "cannot read the array");
  const int c = arr.ndim() == 3 ? static_cast<int>(arr.shape(2)) : 1;
  if ((arr.ndim() != 2 && arr.ndim() != 3) || (c != 1 && c != 3 && c != 4))
    bad(name,
        "pixel arrays are (H, W) or (H, W, C) with C 1, 3 or 4; this one is " + shape_text(arr));
  Image im;
  im.height = static_cast<int>(arr.shape(0));
  im.width = static_cast<int>(arr.shape(1));
  if (im.height < 1 || im.width < 1) bad(name, "empty array " + shape_text(arr));
  im.channels = c == 1 ? 1 : 3;
  im.bit_depth = bit_depth;
  const double scale = bit_depth == 8 ? 255.0 : 65535.0;
  const T* src = arr.data();
  const size_t n = static_cast<size_t>(im.height) * im.width;
  im.data.resize(n * im.channels);
  for (size_t i = 0; i < n; ++i)
    for (int k = 0; k < im.channels; ++k)
      im.data[i * im.channels + k] = static_cast<float>(src[i * c + k] / scale);
  return im;
}

py::array_t<float, py::array::c_style> floats(const py::array& a, const std::string& name) {
  auto f = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!f) bad(name, "cannot read the array as float32");
  const float* p = f.data();
  for (py::ssize_t i = 0; i < f.size(); ++i)
    if (!std::isfinite(p[i])) bad(name, "contains NaN or Inf values");
  return f;
}

Image image_of(const py::array& a, const std::string& name) {
  if (a.dtype().kind() == 'u' && a.itemsize() == 1) return pixels<std::uint8_t>(a, name, 8);
  if (a.dtype().kind() == 'u' && a.itemsize() == 2) return pixels<std::uint16_t>(a, name, 16);
  bad(name, "unsupported array dtype " + py::str(a.dtype()).cast<std::string>() +
                " (pixels: uint8 or uint16; model inputs: float)");
}

// A torch tensor as the NumPy array it shares memory with (no torch headers needed): floats as
// float32, integer (C, H, W) pictures turned to (H, W, C) as NumPy images are laid out.
py::object from_tensor(py::handle x) {
  py::object t = x.attr("detach")().attr("cpu")();
  if (t.attr("is_floating_point")().cast<bool>())
    t = t.attr("float")();
  else if (t.attr("dim")().cast<int>() == 3)
    t = t.attr("permute")(1, 2, 0);
  return t.attr("contiguous")().attr("numpy")();
}

}  // namespace

Source to_source(py::handle given_x, const std::string& given) {
  const bool tensor = py::hasattr(given_x, "detach") && py::hasattr(given_x, "numpy") &&
                      !py::isinstance<py::array>(given_x);
  const py::object x = tensor ? from_tensor(given_x) : py::reinterpret_borrow<py::object>(given_x);
  Source s;
  if (is_path(x)) {
    if (!given.empty()) throw Error(ErrorCode::usage, "name: only arrays take a name");
    s.kind = Source::Kind::path;
    s.name = path_of(x);
    return s;
  }
  s.name = given.empty() ? "<array>" : given;
  if (!py::isinstance<py::array>(x))
    throw Error(ErrorCode::usage,
                s.name +
                    ": expected a path, a NumPy array or a torch tensor, "
                    "not " +
                    py::str(py::type::of(x).attr("__name__")).cast<std::string>());
  const py::array a = py::reinterpret_borrow<py::array>(x);
  if (a.dtype().kind() != 'f') {
    s.kind = Source::Kind::image;
    s.image = image_of(a, s.name);
    return s;
  }
  // Floats are the model input, channels first as torch takes them.
  const auto f = floats(a, s.name);
  std::vector<py::ssize_t> shape(f.shape(), f.shape() + f.ndim());
  if (shape.size() == 4 && shape[0] == 1) shape.erase(shape.begin());
  if (shape.size() == 2) shape.insert(shape.begin(), 1);
  if (shape.size() != 3)
    bad(s.name, "float arrays are model inputs (C, H, W), (1, C, H, W) or (H, W); this one is " +
                    shape_text(f));
  if (shape[0] != 1 && shape[0] != 3 && (shape[2] == 1 || shape[2] == 3))
    bad(s.name, "float arrays are model inputs (C, H, W); " + shape_text(f) +
                    " looks like (H, W, C): transpose it, or pass uint8 pixels");
  if (shape[0] < 1 || shape[1] < 1 || shape[2] < 1) bad(s.name, "empty array " + shape_text(f));
  s.kind = Source::Kind::prepared;
  s.input.channels = static_cast<int>(shape[0]);
  s.input.height = static_cast<int>(shape[1]);
  s.input.width = static_cast<int>(shape[2]);
  s.input.chw.assign(f.data(), f.data() + f.size());
  return s;
}

Image to_image(py::handle x) {
  if (is_path(x)) return read_input(path_of(x));
  if (!py::isinstance<py::array>(x))
    throw Error(ErrorCode::usage, "image: expected a path or a NumPy array");
  const py::array a = py::reinterpret_borrow<py::array>(x);
  if (a.dtype().kind() != 'f') return image_of(a, "image");
  const auto f = floats(a, "image");
  const int c = f.ndim() == 3 ? static_cast<int>(f.shape(2)) : 1;
  if ((f.ndim() != 2 && f.ndim() != 3) || (c != 1 && c != 3))
    bad("image",
        "float pictures are (H, W) or (H, W, C) with C 1 or 3; this one is " + shape_text(f));
  Image im;
  im.height = static_cast<int>(f.shape(0));
  im.width = static_cast<int>(f.shape(1));
  im.channels = c;
  im.data.assign(f.data(), f.data() + f.size());
  return im;
}

Map to_map(py::handle x) {
  const auto f = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(x);
  if (!f || f.ndim() != 2 || f.shape(0) < 1 || f.shape(1) < 1)
    throw Error(ErrorCode::usage, "map: expected a 2-D array of numbers");
  Map m;
  m.height = static_cast<int>(f.shape(0));
  m.width = static_cast<int>(f.shape(1));
  m.data.assign(f.data(), f.data() + f.size());
  return m;
}

py::array map_view(const Map& map, py::handle owner) {
  const py::ssize_t w = map.width;
  py::array a(
      py::dtype::of<float>(), {static_cast<py::ssize_t>(map.height), w},
      {w * static_cast<py::ssize_t>(sizeof(float)), static_cast<py::ssize_t>(sizeof(float))},
      map.data.data(), owner);
  a.attr("setflags")(py::arg("write") = false);
  return a;
}

py::array rgb_array(Rgb8&& picture) {
  // The capsule owns the pixels from here on; NumPy frees them with the array.
  auto pixels = std::make_unique<std::vector<std::uint8_t>>(std::move(picture.data));
  const std::uint8_t* data = pixels->data();
  py::capsule owner(pixels.get(),
                    [](void* p) { delete static_cast<std::vector<std::uint8_t>*>(p); });
  pixels.release();
  const py::ssize_t w = picture.width;
  return py::array(py::dtype::of<std::uint8_t>(),
                   {static_cast<py::ssize_t>(picture.height), w, py::ssize_t{3}},
                   {w * 3, py::ssize_t{3}, py::ssize_t{1}}, data, owner);
}

}  // namespace camkit::python
