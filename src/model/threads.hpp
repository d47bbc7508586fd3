// LibTorch's thread pools, sized only after camkit knows the threads can start: LibTorch's
// pthreadpool waits forever for a thread that could not be created (a stack or address-space
// limit), and OpenMP aborts the process. Private to the library.
#pragma once

#include <string>

namespace camkit::detail {

/// Threads LibTorch starts for `intra_op` intra-op threads: its pthreadpool's and OpenMP's,
/// each intra_op - 1 beside the caller.
int torch_thread_count(int intra_op);

/// Threads of LibTorch's inter-op pool, sized to `intra_op` at load and started at the masking
/// methods' first use (run_batches) when intra_op > 1: c10's pool cannot recover from a thread
/// that does not start, so they are counted in the checks before.
int interop_thread_count(int intra_op);

/// Starts `count` threads that wait together, then releases and joins them. Throws
/// Error(usage) "cannot start <count> threads (<reason>): <advice>" when one cannot start.
void check_threads_start(int count, const std::string& advice);

/// at::set_num_threads(n) after checking that LibTorch's threads and `extra` more can start.
void set_torch_threads(int n, int extra, const std::string& advice);

/// n intra-op threads for the calling thread's operators (OpenMP's count, which is per
/// thread; LibTorch's own pool, shared by all threads, is left as it is). No check: the caller
/// has made sure they can start.
void set_thread_torch_threads(int n);

}  // namespace camkit::detail
