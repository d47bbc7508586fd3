// run_pipeline: decode workers -> batched inference on the calling thread -> render workers ->
// in-order commit. One mutex guards the hand-over between stages; a second orders commits.
#include "camkit/pipeline.hpp"

#include <ATen/Parallel.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "camkit/error.hpp"
#include "camkit/output.hpp"
#include "pipeline/stages.hpp"
#include "pipeline/volume.hpp"

namespace camkit {
namespace {

namespace fs = std::filesystem;
using pipeline::Item;
using pipeline::State;
using ItemPtr = std::unique_ptr<Item>;

// Appends lines to the index, each followed by fdatasync: after a crash the index holds whole
// lines for committed records (a torn last line is dropped on the next run, which rewrites it).
class IndexFile {
 public:
  explicit IndexFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(ErrorCode::usage, path + ": cannot write: " + std::strerror(errno));
  }
  ~IndexFile() { ::close(fd_); }
  IndexFile(const IndexFile&) = delete;
  IndexFile& operator=(const IndexFile&) = delete;
  void append(const std::string& line) {
    size_t done = 0;
    while (done < line.size()) {
      const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error(ErrorCode::usage, path_ + ": cannot write: " + std::strerror(errno));
      done += static_cast<size_t>(n);
    }
    ::fdatasync(fd_);
  }

 private:
  std::string path_;
  int fd_ = -1;
};

class Run {
 public:
  Run(const Model& model, const std::vector<PipelineInput>& inputs, const PipelineOptions& o)
      : model_(model),
        explainer_(model),
        inputs_(inputs),
        o_(o),
        hash_(options_hash(model, o)),
        index_((fs::path(o.out_dir) / o.index_name).string()) {
    const int w = o.workers > 0 ? o.workers : (o.threads >= 8 ? 2 : 1);
    workers_ = w;
    // Inputs decoded ahead of inference, and inputs handed to rendering but not committed.
    // LibTorch's unoptimised CPU convolution picks its kernel by batch size (the maps then
    // differ in the last bits), the frozen oneDNN graph does not: batch only on that graph.
    const Method m = o.explain.method;
    const bool gradients = m == Method::gradcam || m == Method::gradcam_pp ||
                           m == Method::xgradcam || m == Method::layercam || m == Method::hirescam;
    batch_ = model.options().optimize && !gradients ? o.batch_size : 1;
    ahead_ = static_cast<size_t>(2 * batch_ + 4 * w + 2);
    render_limit_ = static_cast<size_t>(batch_ + 4 * w + 2);
  }

  PipelineSummary run() {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int i = 0; i < workers_; ++i)
      threads.emplace_back([this] { guard([this] { decode(); }); });
    for (int i = 0; i < workers_; ++i)
      threads.emplace_back([this] { guard([this] { render(); }); });
    guard([this] { infer(); });
    {
      std::lock_guard<std::mutex> lk(mu_);
      inference_done_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads) t.join();
    if (fatal_) std::rethrow_exception(fatal_);
    summary_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return summary_;
  }

 private:
  template <class F>
  void guard(F&& f) {
    try {
      f();
    } catch (...) {
      std::lock_guard<std::mutex> lk(mu_);
      if (!fatal_) fatal_ = std::current_exception();
      stop_ = true;
      cv_.notify_all();
    }
  }

  void decode() {
    for (;;) {
      size_t i;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] {
          return stop_ || next_decode_ >= inputs_.size() || next_decode_ < infer_pos_ + ahead_;
        });
        if (stop_ || next_decode_ >= inputs_.size()) return;
        i = next_decode_++;
      }
      auto item = std::make_unique<Item>();
      item->pos = i;
      item->in = &inputs_[i];
      if (o_.overwrite || !pipeline::load_complete_record(*item, o_, hash_)) {
        try {
          pipeline::decode_item(*item, model_, o_);
        } catch (const Error& e) {
          if (e.code() != ErrorCode::input) throw;
          fail(*item, e.what());
        }
      }
      {
        std::lock_guard<std::mutex> lk(mu_);
        decoded_[i] = std::move(item);
      }
      cv_.notify_all();
    }
  }

  static void fail(Item& item, const std::string& message) {
    item.state = State::failed;
    item.error = message;
    item.picture = Rgb8();
    item.prepared = Prepared();
  }

  ItemPtr take(size_t pos) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [&] { return stop_ || decoded_.count(pos); });
    if (stop_) return nullptr;
    ItemPtr item = std::move(decoded_[pos]);
    decoded_.erase(pos);
    return item;
  }

  // Batches are maximal runs of consecutive inputs that can share a forward pass (failed and
  // skipped inputs in between pass along), so their composition depends only on the list.
  void infer() {
    const size_t n = inputs_.size();
    size_t pos = 0;
    while (pos < n) {
      std::vector<ItemPtr> batch, along;
      const size_t start = pos;
      while (pos < n && pos < start + ahead_ && batch.size() < static_cast<size_t>(batch_)) {
        ItemPtr item = take(pos);
        if (!item) return;
        if (item->state == State::decoded && !batch.empty() &&
            !pipeline::same_batch(*batch[0], *item)) {
          std::lock_guard<std::mutex> lk(mu_);
          decoded_[pos] = std::move(item);
          break;
        }
        (item->state == State::decoded ? batch : along).push_back(std::move(item));
        ++pos;
      }
      {
        std::lock_guard<std::mutex> lk(mu_);
        infer_pos_ = pos;
      }
      cv_.notify_all();
      explain(batch);
      for (auto& item : batch) along.push_back(std::move(item));
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] {
        return stop_ || in_render_ == 0 || in_render_ + along.size() <= render_limit_;
      });
      if (stop_) return;
      in_render_ += along.size();
      for (auto& item : along) render_queue_.push_back(std::move(item));
      lk.unlock();
      cv_.notify_all();
    }
  }

  void explain(std::vector<ItemPtr>& batch) {
    if (batch.empty()) return;
    ExplainOptions eo = o_.explain;
    eo.classes = batch.front()->classes;
    std::vector<const Prepared*> ptrs;
    for (const auto& item : batch) ptrs.push_back(&item->prepared);
    try {
      std::vector<Explanation> exs = explainer_.explain_batch(ptrs, eo);
      for (size_t i = 0; i < batch.size(); ++i) {
        batch[i]->ex = std::move(exs[i]);
        batch[i]->state = State::explained;
      }
      return;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::input) throw;
    }
    // One input of the batch does not fit the model: explain them one by one to find it.
    for (auto& item : batch) {
      try {
        item->ex = explainer_.explain(item->prepared, eo);
        item->state = State::explained;
      } catch (const Error& e) {
        if (e.code() != ErrorCode::input) throw;
        fail(*item, item->in->path + ": " + e.what());
      }
    }
  }

  void render() {
    for (;;) {
      ItemPtr item;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || !render_queue_.empty() || inference_done_; });
        if (stop_ || render_queue_.empty()) return;
        item = std::move(render_queue_.front());
        render_queue_.pop_front();
      }
      if (item->state == State::explained) {
        try {
          pipeline::render_item(*item, model_, o_, hash_);
        } catch (const Error& e) {
          if (e.code() != ErrorCode::input) throw;
          fail(*item, e.what());
        }
      }
      commit(std::move(item));
    }
  }

  // Records, index lines and callbacks in input order, whichever worker finishes last.
  void commit(ItemPtr item) {
    size_t committed = 0;
    {
      std::lock_guard<std::mutex> lk(commit_mu_);
      finished_[item->pos] = std::move(item);
      while (!finished_.empty() && finished_.begin()->first == next_commit_) {
        commit_one(*finished_.begin()->second);
        finished_.erase(finished_.begin());
        ++next_commit_;
        ++committed;
        if (o_.on_progress) o_.on_progress(next_commit_, inputs_.size());
      }
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      in_render_ -= committed;
    }
    cv_.notify_all();
  }

  void commit_one(Item& item) {
    if (item.state == State::failed) {
      ++summary_.failed;
      if (o_.on_error) o_.on_error(item.error);
      index_.append(pipeline::error_line(item));
      return;
    }
    const std::string rel = pipeline::record_relative(*item.in);
    if (item.state == State::skipped) {
      ++summary_.skipped;
    } else {
      write_file_atomic((fs::path(o_.out_dir) / rel).string(), item.record_text);
      ++summary_.done;
    }
    index_.append(pipeline::index_line(item));
    if (o_.on_record) {
      nlohmann::json out = item.record;
      out["record"] = (fs::path(o_.out_dir) / rel).string();
      o_.on_record(out.dump());
    }
  }

  const Model& model_;
  const Explainer explainer_;
  const std::vector<PipelineInput>& inputs_;
  const PipelineOptions& o_;
  const std::string hash_;
  IndexFile index_;
  int workers_ = 1, batch_ = 1;
  size_t ahead_ = 0, render_limit_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  size_t next_decode_ = 0, infer_pos_ = 0, in_render_ = 0;
  std::map<size_t, ItemPtr> decoded_;
  std::deque<ItemPtr> render_queue_;
  bool inference_done_ = false, stop_ = false;
  std::exception_ptr fatal_;

  std::mutex commit_mu_;
  std::map<size_t, ItemPtr> finished_;
  size_t next_commit_ = 0;
  PipelineSummary summary_;
};

void check(bool ok, const std::string& message) {
  if (!ok) throw Error(ErrorCode::usage, message);
}

}  // namespace

PipelineSummary run_pipeline(const Model& model, const std::vector<PipelineInput>& inputs,
                             const PipelineOptions& o) {
  check(o.threads >= 1, "--threads must be at least 1");
  check(o.batch_size >= 1, "--batch-size must be at least 1");
  check(o.png_compression >= 0 && o.png_compression <= 9, "--png-compression must be in 0..9");
  check(o.jpeg_quality >= 1 && o.jpeg_quality <= 100, "--quality must be in 1..100");
  check(o.alpha >= 0 && o.alpha <= 1, "--alpha must be in [0, 1]");
  check(o.box_threshold >= 0 && o.box_threshold <= 1, "--box-threshold must be in [0, 1]");
  check(o.max_overlay_side >= 16, "--max-overlay-side must be at least 16");
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  check(fs::is_directory(o.out_dir, ec), o.out_dir + ": cannot create the output folder");
  remove_stale_temporaries(o.out_dir);
  if (o.volume) {  // exams run one at a time: every thread goes to LibTorch
    at::set_num_threads(o.intra_op_threads > 0 ? o.intra_op_threads : o.threads);
    IndexFile index((fs::path(o.out_dir) / o.index_name).string());
    return pipeline::run_volumes(model, inputs, o,
                                 [&index](const std::string& line) { index.append(line); });
  }
  const int workers = o.workers > 0 ? o.workers : (o.threads >= 8 ? 2 : 1);
  at::set_num_threads(o.intra_op_threads > 0 ? o.intra_op_threads
                                             : std::max(1, o.threads - 2 * workers));
  Run run(model, inputs, o);
  return run.run();
}

}  // namespace camkit
