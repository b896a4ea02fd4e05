#!/usr/bin/env bash
# The test command: installs dependencies, builds with warnings as errors and ASan/UBSan, runs every test, then
# runs every fuzz target for a bounded time (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The real models (models/) for the tests that load them; without them (no registry reachable) those tests skip.
scripts/install-models.sh --quiet || echo "test: the real models could not be installed; the tests that need them skip"
jobs=$(nproc)
cmake -S . -B build-test -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNAPTIX_WERROR=ON -DSYNAPTIX_SANITIZE=ON
cmake --build build-test -j "$jobs"
cd build-test
ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j "$jobs"
cd ..
# Every fuzz target (fuzz/) for a bounded time under ASan/UBSan, from its seed corpus.
FUZZ_SECONDS=${FUZZ_SECONDS:-20} scripts/fuzz.sh
