// The ground-truth CSV readers of camkit eval (boxes and labels files, then the ground-truth
// table that resolves their classes) on arbitrary bytes, written to a temporary file because
// that is their interface. Any camkit::Error is an expected outcome.
#include <cstddef>
#include <cstdint>
#include <string>

#include "camkit/error.hpp"
#include "camkit/eval.hpp"
#include "scratch_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = camkit_fuzz::write_scratch(data, size, ".csv");
  if (path.empty()) return 0;
  const camkit::ClassSpace multi = camkit::ClassSpace::for_model(3, {"cat", "dog", "bird"});
  const camkit::ClassSpace binary = camkit::ClassSpace::for_model(1, {});
  for (const camkit::ClassSpace* classes : {&multi, &binary}) {
    try {
      const camkit::GroundTruthTable table(*classes, path, path);
      for (const camkit::BoxRow& row : camkit::read_boxes_csv(path)) {
        try {
          table.lookup(row.path);
        } catch (const camkit::Error&) {
        }
      }
      table.unused_paths();
    } catch (const camkit::Error&) {
    }
  }
  try {
    camkit::read_labels_csv(path);
  } catch (const camkit::Error&) {
  }
  return 0;
}
