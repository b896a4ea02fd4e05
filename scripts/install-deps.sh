#!/usr/bin/env bash
# Installs every Debian package Synaptix builds with. CUDA is optional: when the toolkit is installed
# (nvcc on PATH) the CUDA target is built too; nothing here installs it.
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config git
      nlohmann-json3-dev libpcre2-dev libutf8proc-dev libsqlite3-dev libssl-dev
      libcli11-dev libcpp-httplib-dev libgtest-dev libgmock-dev libbenchmark-dev libopenblas-dev
      libdnnl-dev  # oneDNN: a vendor GEMM tactic (bf16 matmul, AMX where the CPU has it) the CPU tuner times
      python3 python3-pip unzip
      libvalijson-dev  # JSON Schema validation for eval's format-adherence checker (header-only)
      clang libclang-rt-14-dev)  # clang-14 and its libFuzzer/ASan/UBSan runtimes, for scripts/fuzz.sh
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
