#!/usr/bin/env bash
# Fresh Debian machine to first tokens: install dependencies, build (Release), run a fixture model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSYNAPTIX_TESTS=OFF
cmake --build build
build/synaptix inspect --model ../shared/fixtures/models/llama
build/synaptix generate --model ../shared/fixtures/models/llama --prompt "The quick brown fox" --max-tokens 24
