// run_batches, which shares the masking methods' batches between one-thread workers: results
// in batch order, one intra-op thread per batch, the caller's grad mode, errors carried back.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/script.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "camkit/error.hpp"
#include "explain/explain_impl.hpp"
#include "fixtures.hpp"

namespace camkit::testing {
namespace {

Model two_threads() {
  ModelOptions opt;
  opt.threads = 2;
  return Model::load(models_dir() + "resnet18_traced.pt", opt);
}

TEST(MaskBatches, InOrderOnOneThreadEachSharedWithAHelper) {
  const Model model = two_threads();
  ASSERT_EQ(at::get_num_threads(), 2);
  std::mutex mu;
  std::set<int> counts;
  for (bool grad : {false, true}) {
    std::set<bool> modes;
    std::set<std::thread::id> takers;
    torch::AutoGradMode mode(grad);
    std::condition_variable both;
    const std::vector<at::Tensor> out = detail::run_batches(model.impl(), 40, [&](int64_t b) {
      std::unique_lock<std::mutex> lock(mu);
      takers.insert(std::this_thread::get_id());
      counts.insert(at::get_num_threads());
      modes.insert(torch::GradMode::is_enabled());
      both.notify_all();
      // Batch 0 waits for the other worker to take one (however slowly it starts).
      if (b == 0) both.wait_for(lock, std::chrono::seconds(20), [&] { return takers.size() >= 2; });
      return at::full({1}, static_cast<double>(b));
    });
    ASSERT_EQ(out.size(), 40u);
    for (int64_t b = 0; b < 40; ++b) EXPECT_EQ(out[b].item<double>(), b);
    EXPECT_EQ(modes, std::set<bool>{grad});
    EXPECT_EQ(takers.size(), 2u);  // the caller and one helper
    EXPECT_TRUE(takers.count(std::this_thread::get_id()));
  }
  EXPECT_EQ(counts, std::set<int>{1});
  EXPECT_EQ(at::get_num_threads(), 2);  // the caller's count is back
}

TEST(MaskBatches, FirstErrorIsRethrownAfterTheWorkersStop) {
  const Model model = two_threads();
  std::atomic<int> running{0};
  try {
    detail::run_batches(model.impl(), 50, [&](int64_t b) {
      ++running;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      --running;
      if (b == 5) throw Error(ErrorCode::model, "batch 5 failed");
      return at::zeros({1});
    });
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "batch 5 failed");
  }
  EXPECT_EQ(running.load(), 0);  // nothing still running on return
  EXPECT_EQ(at::get_num_threads(), 2);
}

TEST(MaskBatches, OneThreadRunsEveryBatchOnTheCaller) {
  ModelOptions opt;
  opt.threads = 1;
  const Model model = Model::load(models_dir() + "resnet18_traced.pt", opt);
  std::set<std::thread::id> takers;
  const std::vector<at::Tensor> out = detail::run_batches(model.impl(), 7, [&](int64_t b) {
    takers.insert(std::this_thread::get_id());
    return at::full({1}, static_cast<double>(b));
  });
  EXPECT_EQ(takers, std::set<std::thread::id>{std::this_thread::get_id()});
  for (int64_t b = 0; b < 7; ++b) EXPECT_EQ(out[b].item<double>(), b);
}

}  // namespace
}  // namespace camkit::testing
