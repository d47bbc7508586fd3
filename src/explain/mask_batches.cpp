// The extra forward passes of the masking methods, spread over the intra-op threads a batch at a
// time (explain_impl.hpp, run_batches).
#include <ATen/Parallel.h>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>

#include "explain/explain_impl.hpp"
#include "model/threads.hpp"

namespace camkit::detail {
namespace {

// What the workers of one call share. A helper that starts after the caller has finished
// (LibTorch's pool was busy) finds `closed` and leaves without touching the call's data.
struct Batches {
  std::mutex mu;
  std::condition_variable idle;
  int active = 0;
  bool closed = false;
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
};

// Takes batches until none is left or one failed; every batch runs on one intra-op thread.
void take_batches(Batches& s, int64_t count, const std::function<at::Tensor(int64_t)>& batch,
                  std::vector<at::Tensor>& out, std::vector<std::exception_ptr>& errors) {
  set_thread_torch_threads(1);
  for (int64_t b; !s.failed && (b = s.next++) < count;) {
    try {
      out[b] = batch(b);
    } catch (...) {
      errors[b] = std::current_exception();
      s.failed = true;
    }
  }
}

}  // namespace

std::vector<at::Tensor> run_batches(const Model::Impl& m, int64_t count,
                                    const std::function<at::Tensor(int64_t)>& batch) {
  std::vector<at::Tensor> out(static_cast<size_t>(std::max<int64_t>(count, 0)));
  const int threads = m.device.is_cpu() ? at::get_num_threads() : 1;
  const int64_t workers = std::min<int64_t>(threads, count);
  if (workers <= 1) {
    for (int64_t b = 0; b < count; ++b) out[b] = batch(b);
    return out;
  }
  // Each worker runs its batches' operators on one thread: no OpenMP team to wake and wait
  // for at every operator, which costs more than the small operators above a late layer take.
  // The helpers are LibTorch's inter-op threads, which live as long as the process: a thread
  // started per call would resize LibTorch's shared pool when it first runs an operator. A
  // batch's result depends only on its inputs, so neither the order nor the worker matters.
  auto shared = std::make_shared<Batches>();
  std::vector<std::exception_ptr> errors(out.size());
  {
    // However this block ends, it ends only when no helper is inside the call any more.
    struct Close {
      Batches& s;
      ~Close() {
        std::unique_lock<std::mutex> lock(s.mu);
        s.closed = true;
        s.idle.wait(lock, [&] { return s.active == 0; });
      }
    } close{*shared};
    for (int64_t w = 1; w < workers; ++w) {
      try {
        at::launch([shared, count, &batch, &out, &errors] {  // with the caller's grad modes
          {
            std::lock_guard<std::mutex> lock(shared->mu);
            if (shared->closed) return;
            ++shared->active;
          }
          struct Leave {
            Batches& s;
            ~Leave() {
              std::lock_guard<std::mutex> lock(s.mu);
              if (--s.active == 0) s.idle.notify_all();
            }
          } leave{*shared};
          try {
            const int own = at::get_num_threads();
            take_batches(*shared, count, batch, out, errors);
            set_thread_torch_threads(own);
          } catch (...) {  // only a batch throws, and take_batches keeps its error
            shared->failed = true;
          }
        });
      } catch (const std::exception&) {
        break;  // no helper thread could start: the caller takes every batch
      }
    }
    take_batches(*shared, count, batch, out, errors);
    set_thread_torch_threads(threads);
  }
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  return out;
}

}  // namespace camkit::detail
