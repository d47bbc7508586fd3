#!/usr/bin/env bash
# The sanitizer and fuzzing step of `make test` (README "Sanitizers and fuzzing"):
#  1. builds the torch-free areas (io, preprocess, render, output, report, eval), their tests and
#     the fuzz harnesses with clang, AddressSanitizer and UBSan in a second build folder;
#  2. runs those tests (the corpora's replay included) under the sanitizers;
#  3. runs each libFuzzer harness for FUZZ_SECONDS seconds (default 20), starting from its
#     committed corpus (fuzz/corpus/<name>); new inputs go to <build>/fuzz-corpus/<name>, not to
#     the repository. A crash stops the step; the input is left in <build>/fuzz-crashes/, to be
#     fixed at its cause and committed to fuzz/corpus/<name>/ as a regression case.
# Usage: tools/sanitize.sh [BUILD_DIR]   (default build/sanitize; FUZZ_SECONDS, JOBS, FUZZERS)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/sanitize}
jobs=${JOBS:-$(nproc)}
seconds=${FUZZ_SECONDS:-20}
fuzzers=${FUZZERS:-npy dicom image nifti metadata csv}
cxx=${CAMKIT_SANITIZE_CXX:-clang++-14}

start=$(date +%s)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" \
  -DCAMKIT_TORCH=OFF -DCAMKIT_SANITIZE=ON -DCAMKIT_FUZZ=ON -DCAMKIT_WERROR=ON \
  -DCAMKIT_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$jobs"

# The libraries camkit links (OpenCV's thread pool, DCMTK's codec registry, fontconfig) keep
# process-lifetime allocations; leaks are checked for camkit's own frames only.
export LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp:print_suppressions=0"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
(cd "$build" && ctest --output-on-failure -j"$jobs")
built=$(date +%s)

mkdir -p "$build/fuzz-corpus" "$build/fuzz-crashes"
for name in $fuzzers; do
  work="$build/fuzz-corpus/$name"
  mkdir -p "$work"
  echo "fuzz: $name for ${seconds}s"
  # -rss_limit_mb bounds a run the way ReadOptions' limits promise to; -timeout flags inputs that
  # take seconds (a quadratic path is a bug here too).
  if ! "$build/fuzz/camkit_fuzz_$name" "$work" "fuzz/corpus/$name" -max_total_time="$seconds" \
      -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$build/fuzz-crashes/$name-" >"$build/fuzz-$name.log" 2>&1; then
    tail -n 60 "$build/fuzz-$name.log"
    echo "fuzz: $name found a crash: $(ls -t "$build"/fuzz-crashes/"$name"-* | head -n 1)" >&2
    exit 1
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$build/fuzz-$name.log" |
    tr '\n' ' '
  echo
done
end=$(date +%s)
echo "sanitize: build and tests $((built - start)) s, fuzzing $((end - built)) s"
