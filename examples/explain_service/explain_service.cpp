// explain_service MODEL: reads image paths on stdin, one per line, and prints for each one
// JSON line on stdout: the top class, its score and the CAM box, or the reason it failed.
//
//   $ ls /usr/share/darknet/data/*.jpg | explain_service squeezenet1_1.pt
//   {"input": "/usr/share/darknet/data/dog.jpg", "class": 537, "label": "dogsled",
//    "score": 0.8001, "box": [130, 101, 588, 540]}
//
// The shape of a service that must say where the model looked next to its answer: the model is
// loaded once, and each request costs one forward pass (CAM) and one localisation.
#include <camkit/error.hpp>
#include <camkit/explain.hpp>
#include <camkit/image.hpp>
#include <camkit/model.hpp>
#include <camkit/preprocess.hpp>
#include <cstdio>
#include <iostream>
#include <string>

namespace {

// JSON string literal: quotes, backslashes and control characters escaped.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string answer(const camkit::Explainer& explainer, const camkit::Preprocess& recipe,
                   const std::string& path) {
  const camkit::Prepared in = camkit::prepare(camkit::read_input(path), recipe, path);
  camkit::ExplainOptions options;  // CAM, top-1
  const camkit::Explanation ex = explainer.explain(in, options);
  const camkit::ClassMap& top = ex.maps.front();
  const camkit::Localization loc = camkit::localize(top.raw, in, 0.2f, false);
  std::string line = "{\"input\": " + quoted(path) +
                     ", \"class\": " + std::to_string(top.prediction.class_index) +
                     ", \"label\": " + quoted(top.prediction.label) +
                     ", \"score\": " + std::to_string(top.prediction.score) + ", \"box\": ";
  if (!loc.box) return line + "null}";
  const camkit::Box& b = *loc.box;
  return line + "[" + std::to_string(static_cast<int>(b.x0)) + ", " +
         std::to_string(static_cast<int>(b.y0)) + ", " + std::to_string(static_cast<int>(b.x1)) +
         ", " + std::to_string(static_cast<int>(b.y1)) + "]}";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: explain_service MODEL < paths\n";
    return 2;
  }
  try {
    const camkit::Model model = camkit::Model::load(argv[1]);
    const camkit::Explainer explainer(model);
    const camkit::Preprocess recipe = model.preprocess();
    int failed = 0;
    for (std::string path; std::getline(std::cin, path);) {
      if (path.empty()) continue;
      try {
        std::cout << answer(explainer, recipe, path) << std::endl;
      } catch (const camkit::Error& e) {
        // One request's failure is its answer, never the service's end.
        std::cout << "{\"input\": " << quoted(path) << ", \"error\": " << quoted(e.what()) << "}"
                  << std::endl;
        ++failed;
      }
    }
    return failed ? 1 : 0;
  } catch (const camkit::Error& e) {
    std::cerr << "explain_service: " << e.what() << "\n";
    return static_cast<int>(e.code());
  }
}
