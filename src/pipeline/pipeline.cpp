// run_pipeline: decode workers -> batched inference on S streams (the calling thread and S - 1
// more, each with its share of LibTorch's threads) -> render workers -> in-order commit. One
// mutex guards the hand-over between stages, a second the forming of batches (in input order,
// so their composition depends only on the list), a third orders commits.
#include "camkit/pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "camkit/error.hpp"
#include "camkit/output_folder.hpp"
#include "camkit/record.hpp"
#include "model/threads.hpp"
#include "pipeline/failures.hpp"
#include "pipeline/index_journal.hpp"
#include "pipeline/run_folders.hpp"
#include "pipeline/stages.hpp"
#include "pipeline/volume.hpp"

namespace camkit {
namespace {

namespace fs = std::filesystem;
using pipeline::Item;
using pipeline::State;
using ItemPtr = std::unique_ptr<Item>;

const char* const kThreadAdvice = "lower --threads or --workers";

int worker_count(const PipelineOptions& o) {
  return o.workers > 0 ? o.workers : (o.threads >= 8 ? 2 : 1);
}

// LibTorch's intra-op threads of the whole run, shared out among the streams.
int intra_op_total(const PipelineOptions& o) {
  return o.intra_op_threads > 0 ? o.intra_op_threads : o.threads;
}

// Inference streams: each runs whole batches with its own intra-op threads. Several streams of
// few threads keep the cores busier than one stream of many (an operator's threads meet at a
// barrier after every operator, and a core the workers take stalls all of them).
// The count depends on the whole list's length (total_inputs, the same in every shard and on
// resume), never on what is left to do, so an input gets the same threads in every run.
int stream_count(const Model& model, const PipelineOptions& o, size_t inputs) {
  if (model.options().device != "cpu") return 1;
  const int threads = intra_op_total(o);
  // Methods that run hundreds of masked inputs per input in batches (--mask-batch) keep every
  // thread busy on their own; streams would only leave the last inputs on a few threads.
  const Method m = o.explain.method;
  const bool masked =
      m == Method::scorecam || m == Method::sscam || m == Method::iscam || m == Method::ablationcam;
  const int wanted = o.streams > 0 ? o.streams : masked ? 1 : std::min(threads, 4);
  return static_cast<int>(std::max<size_t>(1, std::min<size_t>(wanted, inputs)));
}

// Intra-op threads of stream `s` out of `streams`: the threads shared out, the first streams
// taking the remainder; at least one each.
int stream_threads(const PipelineOptions& o, int streams, int s) {
  const int threads = intra_op_total(o);
  return std::max(1, threads / streams + (s < threads % streams ? 1 : 0));
}

class Run {
 public:
  Run(const Model& model, const std::vector<PipelineInput>& inputs, const PipelineOptions& o,
      const OutputFolder& out, pipeline::IndexJournal& index)
      : model_(model),
        explainer_(model),
        inputs_(inputs),
        o_(o),
        hash_(options_hash(model, o)),
        out_(out),
        index_(index) {
    for (const Model& m : o.fuse_layers) fuse_explainers_.emplace_back(m);
    const int w = worker_count(o);
    workers_ = w;
    streams_ = stream_count(model, o, o.total_inputs);
    // Inputs decoded ahead of inference, and inputs handed to rendering but not committed.
    batch_ = invariant_batch_size(model, o.explain.method, o.batch_size);
    ahead_ = static_cast<size_t>((streams_ + 1) * batch_ + 4 * w + 2);
    render_limit_ = static_cast<size_t>(streams_ * batch_ + 4 * w + 2);
  }

  int streams() const { return streams_; }

  PipelineSummary run() {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads, streams;
    try {
      for (int i = 0; i < workers_; ++i)
        threads.emplace_back([this] { guard([this] { decode(); }); });
      for (int i = 0; i < workers_; ++i)
        threads.emplace_back([this] { guard([this] { render(); }); });
      for (int s = 1; s < streams_; ++s)
        streams.emplace_back([this, s] { guard([this, s] { infer(s); }); });
    } catch (const std::system_error& e) {
      // Under a thread or memory limit: stop the ones started, join them, report cleanly.
      stop_all();
      for (auto& t : streams) t.join();
      for (auto& t : threads) t.join();
      throw Error(ErrorCode::usage, "cannot start " + std::to_string(2 * workers_ + streams_ - 1) +
                                        " worker threads (" + e.what() +
                                        "): lower --threads or --workers");
    }
    guard([this] { infer(0); });
    for (auto& t : streams) t.join();
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
  void stop_all() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
  }

  // Only what no single input explains reaches here (model, usage, index errors, camkit bugs
  // outside any input): it stops the run.
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

  // Marks `item` failed when the exception being handled is its own failure; else rethrows it.
  static void fail_or_rethrow(Item& item) {
    const std::exception_ptr e = std::current_exception();
    const std::optional<std::string> message = pipeline::input_failure(item.in->path, e);
    if (!message) std::rethrow_exception(e);
    fail(item, *message);
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
      try {
        if (o_.overwrite || !pipeline::load_complete_record(*item, o_, hash_, out_))
          pipeline::decode_item(*item, model_, o_);
      } catch (...) {
        fail_or_rethrow(*item);
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
    item.ex = Explanation();
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
  // skipped inputs in between pass along), formed one at a time in input order whichever stream
  // asks, so their composition depends only on the list. Returns the batch's first input;
  // nullopt when nothing is left.
  std::optional<size_t> next_batch(std::vector<ItemPtr>& batch, std::vector<ItemPtr>& along) {
    std::lock_guard<std::mutex> forming(form_mu_);
    const size_t n = inputs_.size();
    if (form_pos_ >= n) return std::nullopt;
    const size_t start = form_pos_;
    while (form_pos_ < n && form_pos_ < start + ahead_ &&
           batch.size() < static_cast<size_t>(batch_)) {
      ItemPtr item = take(form_pos_);
      if (!item) return std::nullopt;
      if (item->state == State::decoded && !batch.empty() &&
          !pipeline::same_batch(*batch[0], *item)) {
        std::lock_guard<std::mutex> lk(mu_);
        decoded_[form_pos_] = std::move(item);
        break;
      }
      (item->state == State::decoded ? batch : along).push_back(std::move(item));
      ++form_pos_;
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      infer_pos_ = form_pos_;
      unhanded_.insert(start);
    }
    cv_.notify_all();
    return start;
  }

  // One inference stream: batches until none is left, each handed to rendering when there is
  // room. The stream holding the earliest batch not yet handed over never waits for room: the
  // inputs after it cannot be committed before it.
  void infer(int stream) {
    detail::set_thread_torch_threads(stream_threads(o_, streams_, stream));
    for (;;) {
      std::vector<ItemPtr> batch, along;
      const std::optional<size_t> first = next_batch(batch, along);
      if (!first) return;
      const size_t start = *first;
      explain(batch);
      for (auto& item : batch) along.push_back(std::move(item));
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] {
        return stop_ || in_render_ == 0 || *unhanded_.begin() == start ||
               in_render_ + along.size() <= render_limit_;
      });
      if (stop_) return;
      unhanded_.erase(start);
      in_render_ += along.size();
      for (auto& item : along) render_queue_.push_back(std::move(item));
      lk.unlock();
      cv_.notify_all();
    }
  }

  // The inputs' explanations: at the model's layer, fused with the further layers' when the
  // run fuses layers. Each further layer explains the classes the first chose for each input.
  std::vector<Explanation> explain_inputs(const std::vector<const Prepared*>& ptrs,
                                          const ExplainOptions& eo) const {
    std::vector<Explanation> exs = explainer_.explain_batch(ptrs, eo);
    if (fuse_explainers_.empty()) return exs;
    std::vector<std::vector<Explanation>> per_input(exs.size());
    for (size_t i = 0; i < exs.size(); ++i) per_input[i].push_back(std::move(exs[i]));
    for (const Explainer& other : fuse_explainers_) {
      std::vector<Explanation> more = other.explain_batch(ptrs, eo);
      for (size_t i = 0; i < more.size(); ++i) {
        std::vector<int> want, got;
        for (const ClassMap& cm : per_input[i].front().maps)
          want.push_back(cm.prediction.class_index);
        for (const ClassMap& cm : more[i].maps) got.push_back(cm.prediction.class_index);
        if (want != got) {  // logits equal but for the last bits: a tie ranked otherwise
          ExplainOptions fixed = eo;
          fixed.classes = want;
          more[i] = other.explain(*ptrs[i], fixed);
        }
        per_input[i].push_back(std::move(more[i]));
      }
    }
    for (size_t i = 0; i < exs.size(); ++i)
      exs[i] = fuse_explanations(per_input[i], *ptrs[i], o_.fuse);
    return exs;
  }

  void explain(std::vector<ItemPtr>& batch) {
    if (batch.empty()) return;
    ExplainOptions eo = o_.explain;
    eo.classes = batch.front()->classes;
    std::vector<const Prepared*> ptrs;
    for (const auto& item : batch) ptrs.push_back(&item->prepared);
    try {
      std::vector<Explanation> exs = explain_inputs(ptrs, eo);
      for (size_t i = 0; i < batch.size(); ++i) {
        batch[i]->ex = std::move(exs[i]);
        batch[i]->state = State::explained;
      }
      return;
    } catch (...) {
      // One input that does not fit the model, or a batch too large for the memory left: the
      // inputs one by one find the culprit (or fit). Model and usage errors stop the run.
      const std::exception_ptr e = std::current_exception();
      if (!pipeline::input_failure("", e)) std::rethrow_exception(e);
    }
    for (auto& item : batch) {
      try {
        item->ex = std::move(explain_inputs({&item->prepared}, eo).front());
        item->state = State::explained;
      } catch (...) {
        fail_or_rethrow(*item);
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
          pipeline::render_item(*item, model_, o_, hash_, out_);
        } catch (...) {
          fail_or_rethrow(*item);
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
    const std::string rel = pipeline::record_relative(*item.in);
    if (item.state == State::explained) {
      try {
        out_.write(rel, item.record_text);
      } catch (...) {
        fail_or_rethrow(item);
      }
    }
    if (item.state == State::failed) {
      ++summary_.failed;
      if (o_.on_error) o_.on_error(item.error);
      index_.append(pipeline::error_line(*item.in, item.error, o_));
      return;
    }
    ++(item.state == State::skipped ? summary_.skipped : summary_.done);
    index_.append(pipeline::index_line(item.record, *item.in, o_));
    if (o_.on_record) {
      nlohmann::json line = item.record;
      line["record"] = out_.path(rel);
      o_.on_record(pipeline::dump_json(line));
    }
  }

  const Model& model_;
  const Explainer explainer_;
  std::vector<Explainer> fuse_explainers_;  ///< the further layers of a fused run
  const std::vector<PipelineInput>& inputs_;
  const PipelineOptions& o_;
  const std::string hash_;
  const OutputFolder& out_;
  pipeline::IndexJournal& index_;
  int workers_ = 1, batch_ = 1, streams_ = 1;
  size_t ahead_ = 0, render_limit_ = 0;

  std::mutex form_mu_;
  size_t form_pos_ = 0;  ///< the next input a batch takes (guarded by form_mu_)

  std::mutex mu_;
  std::condition_variable cv_;
  size_t next_decode_ = 0, infer_pos_ = 0, in_render_ = 0;
  std::set<size_t> unhanded_;  ///< first inputs of the batches formed, not handed to rendering
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

void check_options(const PipelineOptions& o) {
  const int limit = thread_limit();
  check(o.threads >= 1 && o.threads <= limit, "--threads " + std::to_string(o.threads) +
                                                  ": use 1.." + std::to_string(limit) +
                                                  " (4 per CPU this process may use, at most 256)");
  check(o.workers >= 0 && o.workers <= o.threads, "--workers " + std::to_string(o.workers) +
                                                      ": use 0 (auto) .. --threads (" +
                                                      std::to_string(o.threads) + ")");
  check(o.streams >= 0 && o.streams <= o.threads, "--streams " + std::to_string(o.streams) +
                                                      ": use 0 (auto) .. --threads (" +
                                                      std::to_string(o.threads) + ")");
  check(o.intra_op_threads >= 0 && o.intra_op_threads <= limit,
        "intra-op threads must be in 0.." + std::to_string(limit));
  check(o.batch_size >= 1 && o.batch_size <= 1024, "--batch-size must be in 1..1024");
  check(o.png_compression >= 0 && o.png_compression <= 9, "--png-compression must be in 0..9");
  check(o.jpeg_quality >= 1 && o.jpeg_quality <= 100, "--jpeg-quality must be in 1..100");
  check(o.alpha >= 0 && o.alpha <= 1, "--alpha must be in [0, 1]");
  check(o.box_threshold >= 0 && o.box_threshold <= 1, "--box-threshold must be in [0, 1]");
  check(o.max_overlay_side >= 16, "--max-overlay-side must be at least 16");
  check(o.shard_count >= 1 && o.shard_index >= 0 && o.shard_index < o.shard_count,
        "--shard: use i/N with 0 <= i < N");
}

// Two inputs writing one record would overwrite each other's results: callers make names
// unique (make_output_names_unique); this is the library's last line of defence.
void check_unique_names(const std::vector<PipelineInput>& inputs) {
  std::unordered_map<std::string, const PipelineInput*> seen;
  for (const PipelineInput& in : inputs) {
    const auto [it, fresh] = seen.emplace(pipeline::record_relative(in), &in);
    if (!fresh)
      throw Error(ErrorCode::usage, in.path + " and " + it->second->path + " would both write " +
                                        it->first +
                                        " (make_output_names_unique gives them distinct names)");
  }
}

}  // namespace

PipelineSummary run_pipeline(const Model& model, const std::vector<PipelineInput>& inputs,
                             const PipelineOptions& options) {
  check_options(options);
  check_unique_names(inputs);
  if (!options.fuse_layers.empty()) {
    const std::string why = fuse_refusal(options.explain.method);
    check(why.empty(), "--fuse: " + method_name(options.explain.method) + ": " + why);
  }
  // A model property that stops the method is the run's error, before any input is read.
  Explainer(model).check(options.explain);
  if (!options.fuse_layers.empty()) {
    check(!options.volume && model.input_spec().rank == 2,
          "--fuse: defined for 2-D image models only (not for exams or 3-D models)");
    for (const Model& m : options.fuse_layers) {
      check(m.path() == model.path(), "--fuse: every layer must be of the same model file");
      check(m.layer().layer != model.layer().layer,
            "--fuse: layer " + m.layer().layer + " is given twice");
      Explainer(m).check(options.explain);
    }
  }
  PipelineOptions o = options;
  if (o.total_inputs == 0) o.total_inputs = inputs.size();
  const OutputFolder out(o.out_dir);
  // Taken before anything is cleaned or written: a second run of this shard stops here.
  const RunLock lock = RunLock::acquire(out, o.shard_index, o.shard_count, o.on_note);
  pipeline::remove_run_temporaries(out, inputs, o.volume.has_value());
  pipeline::IndexJournal index(out, index_file_name(o.shard_index, o.shard_count), inputs,
                               o.index_interval);
  PipelineSummary summary;
  const int torch_threads = intra_op_total(o);
  if (o.volume) {  // exams run one at a time: every thread goes to LibTorch
    detail::set_torch_threads(torch_threads, 0, kThreadAdvice);
    summary = pipeline::run_volumes(model, inputs, o, out,
                                    [&index](const std::string& line) { index.append(line); });
  } else {
    // Every thread serves the network, shared out among the streams: decoding and rendering
    // are a small part of an input's cost and run beside it.
    Run run(model, inputs, o, out, index);
    const int streams = run.streams();
    detail::check_threads_start(
        streams * (1 + detail::torch_thread_count(stream_threads(o, streams, 0))) - 1 +
            detail::interop_thread_count(torch_threads) + 2 * worker_count(o),
        kThreadAdvice);
    // Each stream sets its own thread's count; the caller's is the run's total again
    // afterwards, whichever thread ran a stream.
    struct Restore {
      int n;
      ~Restore() { detail::set_thread_torch_threads(n); }
    } restore{torch_threads};
    summary = run.run();
  }
  index.finish();
  return summary;
}

}  // namespace camkit
