// Access to the reference models made by tests/python/fixtures_models.py.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "camkit/image.hpp"
#include "camkit/model.hpp"
#include "camkit/preprocess.hpp"
#include "camkit/render.hpp"

namespace camkit::testing {

inline std::string models_dir() {
  return std::string(CAMKIT_FIXTURES) + "/models/";
}

inline nlohmann::json manifest() {
  std::ifstream in(models_dir() + "manifest.json");
  if (!in) return nlohmann::json::object({{"models", nlohmann::json::array()}});
  return nlohmann::json::parse(in);
}

/// Every model entry of the manifest.
inline std::vector<nlohmann::json> manifest_all() {
  const nlohmann::json m = manifest();
  return std::vector<nlohmann::json>(m["models"].begin(), m["models"].end());
}

/// Load options for a manifest model: the probe runs at the model's own input size (models
/// without metadata that take only that size would not run at the default 224x224).
inline ModelOptions options_for(const nlohmann::json& m) {
  ModelOptions o;
  const auto& s = m["input_shape"];
  o.probe_height = s[2].get<int>();
  o.probe_width = s[3].get<int>();
  return o;
}

inline std::vector<nlohmann::json> manifest_models(const std::string& kind) {
  std::vector<nlohmann::json> out;
  for (const auto& m : manifest_all())
    if (m["kind"] == kind) out.push_back(m);
  return out;
}

/// A reference array written by NumPy: little-endian float32, C order, any shape.
struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

inline NpyArray read_reference(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || bytes.compare(1, 5, "NUMPY") != 0)
    throw std::runtime_error(path + ": not a .npy file");
  const bool v1 = bytes[6] == 1;
  const size_t hlen = v1 ? (uint8_t(bytes[8]) | uint8_t(bytes[9]) << 8)
                         : (uint8_t(bytes[8]) | uint8_t(bytes[9]) << 8 | uint8_t(bytes[10]) << 16);
  const size_t start = v1 ? 10 : 12;
  const std::string header = bytes.substr(start, hlen);
  if (header.find("'<f4'") == std::string::npos)
    throw std::runtime_error(path + ": reference arrays must be float32");
  NpyArray a;
  const size_t open = header.find('(', header.find("'shape'")), close = header.find(')', open);
  std::string dims = header.substr(open + 1, close - open - 1);
  size_t n = 1;
  for (size_t pos = 0; pos < dims.size();) {
    size_t next = dims.find(',', pos);
    std::string tok = dims.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    if (tok.find_first_of("0123456789") != std::string::npos) {
      a.shape.push_back(std::stoll(tok));
      n *= a.shape.back();
    }
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  a.values.resize(n);
  if (bytes.size() < start + hlen + n * 4) throw std::runtime_error(path + ": truncated");
  std::memcpy(a.values.data(), bytes.data() + start + hlen, n * 4);
  return a;
}

/// A (1, C, H, W) float32 reference input as a model input, no preprocessing.
inline Prepared prepared_from_npy(const std::string& path) {
  NpyArray a = read_reference(path);
  if (a.shape.size() != 4) throw std::runtime_error(path + ": expected (1, C, H, W)");
  Prepared p;
  p.channels = static_cast<int>(a.shape[1]);
  p.height = static_cast<int>(a.shape[2]);
  p.width = static_cast<int>(a.shape[3]);
  p.chw = std::move(a.values);
  p.geometry = {p.height, p.width, p.height, p.width, 0, 0, p.height, p.width};
  return p;
}

/// max |a - b| / max |b|
inline double max_rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    num = std::max(num, std::abs(double(a[i]) - b[i]));
    den = std::max(den, std::abs(double(b[i])));
  }
  return den > 0 ? num / den : num;
}

}  // namespace camkit::testing
