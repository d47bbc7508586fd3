// libcamkit.so as the command and the Python module load it (it exports none of LibTorch's
// symbols, so inline LibTorch code compiled into it keeps its own once-per-thread state): a
// thread's intra-op count that camkit sets must survive LibTorch's first parallel operator
// on that thread, which sets the thread's count from the process-wide one.
#include "model/threads.hpp"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <thread>

namespace {

TEST(SharedLibraryThreads, AThreadsCountSurvivesItsFirstParallelOperator) {
  at::set_num_threads(2);
  for (int n : {1, 3}) {
    int before = -1, after = -1;
    std::thread t([&] {
      camkit::detail::set_thread_torch_threads(n);
      before = at::get_num_threads();
      const at::Tensor a = at::rand({256, 256});
      (void)(at::mm(a, a) + a).sum().item<float>();
      after = at::get_num_threads();
    });
    t.join();
    EXPECT_EQ(before, n);
    EXPECT_EQ(after, n);
  }
  EXPECT_EQ(at::get_num_threads(), 2);  // the caller's own count is untouched
}

}  // namespace
