#!/usr/bin/env bash
# Fresh Debian machine to first tokens: install dependencies and the real models, build (Release), then answer
# a chat prompt with SmolLM2-135M-Instruct (its Q4_1 GGUF, dequantized at load).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/install-models.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSYNAPTIX_TESTS=OFF
cmake --build build
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
build/synaptix inspect --model "$model"
build/synaptix generate --model "$model" --chat --prompt "What is the capital of France? Answer in one sentence." --max-tokens 48
