#include "model/threads.hpp"

#include <ATen/Parallel.h>
#include <omp.h>

#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "camkit/error.hpp"

namespace camkit::detail {

int torch_thread_count(int intra_op) {
  return intra_op > 1 ? 2 * (intra_op - 1) : 0;
}

int interop_thread_count(int intra_op) {
  return intra_op > 1 ? intra_op : 0;
}

void check_threads_start(int count, const std::string& advice) {
  std::mutex mutex;
  std::condition_variable released;
  bool done = false;
  std::vector<std::thread> threads;
  std::string failure;
  try {
    for (int i = 0; i < count; ++i)
      threads.emplace_back([&] {
        std::unique_lock<std::mutex> lock(mutex);
        released.wait(lock, [&] { return done; });
      });
  } catch (const std::system_error& e) {
    failure = e.what();
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    done = true;
  }
  released.notify_all();
  for (auto& t : threads) t.join();
  if (!failure.empty())
    throw Error(ErrorCode::usage,
                "cannot start " + std::to_string(count) + " threads (" + failure + "): " + advice);
}

void set_torch_threads(int n, int extra, const std::string& advice) {
  if (n < 1) return;
  check_threads_start(torch_thread_count(n) + interop_thread_count(n) + extra, advice);
  at::set_num_threads(n);
  // The inter-op pool (the masking methods' helpers) as large as the intra-op count, not one
  // thread per core; it can be sized only before its first use (a Python caller's, say).
  try {
    at::set_num_interop_threads(n);
  } catch (const std::exception&) {
  }
}

void set_thread_torch_threads(int n) {
  if (n < 1) return;
  // LibTorch sets a thread's count from its process-wide one at the thread's first parallel
  // operator: at::get_num_threads runs that first, so it cannot undo this later. (Not the
  // inline at::internal::lazy_init_num_threads: its once-per-thread flag would be this
  // library's own copy, libcamkit.so exporting none of LibTorch's symbols, and LibTorch's flag
  // would stay unset.) Only OpenMP's count for this thread changes: at::set_num_threads would
  // also resize the pool LibTorch shares between threads (and start its threads) at every call.
  (void)at::get_num_threads();
  omp_set_num_threads(n);
}

}  // namespace camkit::detail
