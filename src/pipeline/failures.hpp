// What one input's failure is: the rule that keeps a bad input, an allocation that fails or an
// unexpected exception during one input from ending the run. Private to the pipeline.
#pragma once

#include <exception>
#include <optional>
#include <string>

namespace camkit::pipeline {

/// The one-line message for input `path` failing with `error`, or nothing when the error must
/// stop the run (camkit::Error of another code than input: model, usage, busy). camkit's input
/// errors keep their text (prefixed with `path` unless they start with it); out of memory
/// (std::bad_alloc, LibTorch's "DefaultCPUAllocator: can't allocate") reads
/// "<path>: out of memory (...)"; any other exception "<path>: unexpected error: <first line>".
std::optional<std::string> input_failure(const std::string& path, const std::exception_ptr& error);

/// Whether `error` is an allocation failure (so a batch is worth retrying one input at a time).
bool out_of_memory(const std::exception_ptr& error);

}  // namespace camkit::pipeline
