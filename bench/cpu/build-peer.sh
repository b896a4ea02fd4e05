#!/usr/bin/env bash
# Builds the CPU peer, llama.cpp, from the llama-cpp-python source package on PyPI into the git-ignored
# folder peers/ (a peer to measure against, never a dependency of Synaptix: none of its code is committed).
#   peers/llama-cpp-python-VERSION/   the unpacked source package (llama.cpp is its vendor/llama.cpp submodule,
#                                     with its git metadata, so the build reports the llama.cpp commit)
#   peers/llama.cpp                   link to that vendor/llama.cpp; binaries in peers/llama.cpp/build/bin/
# CPU only: Release, GGML_NATIVE=ON (the build machine's instruction set, as Synaptix's -march=native) less AMX,
# no BLAS, no CUDA, no curl or OpenSSL; only the tools the benchmarks and cross-checks use. Idempotent: does
# nothing when the tools of this version and these options are built. Prints the bin folder.
# Usage: bench/cpu/build-peer.sh [-jN]   (env: PEER_VERSION, default 0.3.36 = llama.cpp 0c1e570; NICE=15)
set -euo pipefail
cd "$(dirname "$0")/../.."
version=${PEER_VERSION:-0.3.36}
jobs=${1:--j2}
nice_level=${NICE:-15}
peers=$PWD/peers
src=$peers/llama-cpp-python-$version
link=$peers/llama.cpp
bin=$link/build/bin
# llama-completion is the classic command-line generator (llama-cli needs the server build in this version);
# llama-batched-bench decodes several sequences at once (the batch-8 comparison)
tools=(llama-bench llama-batched-bench llama-perplexity llama-tokenize llama-simple llama-completion llama-quantize)

# AMX off: at llama.cpp 0c1e570 its AMX matmul (quantized weights, batches of more than one token) segfaults
# in ggml_backend_amx_mul_mat on SmolLM2's Q4_1 file on this Xeon (llama.cpp issue 20824, open; PR 16315 notes
# wrong Q4_0/Q4_1 results from the same path). GCC keeps explicit -mno-* over -march=native. BF16 weights
# never take the AMX path, so the bf16 comparison is unaffected.
cflags=""
[ "$(uname -m)" = x86_64 ] && cflags="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
config=(-G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_C_FLAGS=$cflags" "-DCMAKE_CXX_FLAGS=$cflags"
        -DGGML_NATIVE=ON -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF
        -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=OFF)

built() {  # this version, these options, every tool
  [ "$(readlink "$link" 2>/dev/null)" = "llama-cpp-python-$version/vendor/llama.cpp" ] || return 1
  [ "$(cat "$link/build/PEER_CONFIG" 2>/dev/null)" = "${config[*]}" ] || return 1
  for t in "${tools[@]}"; do [ -x "$bin/$t" ] || return 1; done
}
if built; then
  echo "$bin"
  exit 0
fi

mkdir -p "$peers"
if [ ! -f "$src/vendor/llama.cpp/CMakeLists.txt" ]; then
  command -v python3 >/dev/null || { echo "build-peer: python3 with pip is needed to download the source package" >&2; exit 1; }
  dl=$peers/.download
  mkdir -p "$dl"
  # --no-binary: the source package (sdist), which carries llama.cpp's sources; nothing is installed
  python3 -m pip download -q --no-deps --no-binary :all: -d "$dl" "llama-cpp-python==$version"
  tar xzf "$dl/llama_cpp_python-$version.tar.gz" -C "$peers"
  mv "$peers/llama_cpp_python-$version" "$src"
  rm -rf "$dl"
fi
ln -sfn "llama-cpp-python-$version/vendor/llama.cpp" "$link"

# Configure through the real path: llama.cpp finds its git metadata by a path relative to its source folder.
real=$(cd "$link" && pwd -P)
start=$(date +%s)
nice -n "$nice_level" cmake -S "$real" -B "$real/build" "${config[@]}" > "$real/build.log" 2>&1
nice -n "$nice_level" cmake --build "$real/build" "$jobs" --target "${tools[@]}" >> "$real/build.log" 2>&1 ||
  { tail -20 "$real/build.log" >&2; echo "build-peer: build failed (log: $real/build.log)" >&2; exit 1; }
commit=$(git -C "$link" rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "llama-cpp-python $version, llama.cpp $commit, built in $(( $(date +%s) - start )) s on $(date -u +%FT%TZ)" \
  | tee "$link/build/PEER_VERSION" >&2
echo "${config[*]}" > "$link/build/PEER_CONFIG"
built || { echo "build-peer: tools missing in $bin after the build (see $link/build.log)" >&2; exit 1; }
echo "$bin"
