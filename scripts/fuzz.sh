#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/*_fuzz.cpp) with Clang, ASan and UBSan in build-fuzz and runs each one for a
# bounded time from a copy of its seed corpus (fuzz/corpus/<target>/), with its dictionary (fuzz/dict/). A crash,
# sanitizer report, leak, timeout, out-of-memory or escaped non-synaptix exception fails the script; the input
# that did it is kept under build-fuzz/run/<target>/ for `build-fuzz/fuzz_<target> <file>` to replay.
#   FUZZ_SECONDS   seconds per target (default 20)
#   FUZZ_TARGETS   targets to run, space-separated (default: every fuzz/*_fuzz.cpp)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-20}
targets=${FUZZ_TARGETS:-$(for f in fuzz/*_fuzz.cpp; do basename "$f" _fuzz.cpp; done)}

cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
      -DCMAKE_CXX_COMPILER=clang++ -DSYNAPTIX_FUZZ=ON -DSYNAPTIX_TESTS=OFF -DSYNAPTIX_CUDA=OFF >/dev/null
build_targets=()
for t in $targets; do build_targets+=("fuzz_$t"); done
cmake --build build-fuzz -j "${FUZZ_BUILD_JOBS:-$(nproc)}" --target "${build_targets[@]}"

failed=()
for t in $targets; do
  work=build-fuzz/run/$t
  rm -rf "$work"
  mkdir -p "$work/corpus"
  cp fuzz/corpus/"$t"/* "$work/corpus/"
  dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=("-dict=fuzz/dict/$t.dict")
  # -timeout: one input may take at most 10 s; -malloc_limit_mb: one allocation over 1 GiB is a finding
  # (the rule is no unbounded allocation from input); -rss_limit_mb: the whole process stays under 2 GiB.
  set +e
  "build-fuzz/fuzz_$t" "$work/corpus" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -malloc_limit_mb=1024 -artifact_prefix="$work/" -print_final_stats=1 \
      >"$work/log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
  corpus=$(ls "$work/corpus" | wc -l)
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    echo "fuzz_$t: FAILED (exit $rc) after ${runs:-?} runs; log $work/log"
    grep -E "ERROR|SUMMARY|runtime error|terminate|what\(\)|Test unit written|^    #[0-9]+ " "$work/log" | head -40
  else
    echo "fuzz_$t: ${runs:-?} runs in ${seconds}s, no crash (corpus $(ls fuzz/corpus/"$t" | wc -l) seeds -> $corpus)"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found crashes in: ${failed[*]}"
  exit 1
fi
