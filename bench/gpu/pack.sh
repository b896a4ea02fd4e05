#!/usr/bin/env bash
# Packs what bench/gpu/run.sh needs on the device machine into .gpu-carry/ (ignored by git; name it in the
# device call's `carry`): the CUDA test binaries and the CLI built here (Release, no -march=native), the
# non-system shared libraries they load, the reference fixtures and the eval text (../shared does not travel).
# The device image has the CUDA toolkit and a compiler but not this project's C++ dependencies
# (PCRE2, utf8proc, SQLite, CLI11, GoogleTest, ...), so building there would need them carried anyway.
#
#   bench/gpu/pack.sh [build-dir]      (default build-cuda-rel)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build-cuda-rel}
DEST=.gpu-carry
grep -qx '/.gpu-carry/' .git/info/exclude 2>/dev/null || { mkdir -p .git/info; echo '/.gpu-carry/' >> .git/info/exclude; }
rm -rf "$DEST"
mkdir -p "$DEST/bin" "$DEST/lib" "$DEST/shared/fixtures" "$DEST/shared/data"
# synaptix hands CUDA commands to synaptix-cuda beside it (cmake/layers.cmake builds both).
for b in synaptix synaptix-cuda test_backend_cuda test_kernels_cuda test_engine_cuda test_tune_cuda test_apps_cuda; do
  if [ -e "$BUILD/$b" ]; then strip -o "$DEST/bin/$b" "$BUILD/$b"; fi
done
# Libraries the device image may lack: everything outside libc/libstdc++ and the NVIDIA driver/toolkit.
for b in "$DEST"/bin/*; do
  ldd "$b" | awk '/=> \//{print $3}'
done | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libstdc++.so*|libgcc_s.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libcuda.so*|libnvrtc*|libcublas*|libnvidia*) ;;
    *) cp -L "$lib" "$DEST/lib/" ;;
  esac
done
cp -r ../shared/fixtures/models "$DEST/shared/fixtures/"
cp ../shared/data/wiki.test.raw "$DEST/shared/data/"  # eval.sh's perplexity text
# run.sh STAGE=serve: a tokenizer covering Llama-3.1-8B's 128256 ids for the synthetic model the server loads.
python3 bench/gpu/synth_tokenizer.py ../shared/fixtures/tokenizers/llama3_style "$DEST/shared/tokenizer-128256" 128256
du -sh "$DEST" "$DEST"/*
