# Sourced by the bench/gpu scripts on the device machine: the repository root as the working directory, the
# output folder ($OUT, the device tool's when set), the carried libraries and one kernel cache.
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
OUT=${OUT:-/tmp/synaptix-gpu}
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$PWD/.gpu-carry/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export SYNAPTIX_CACHE_DIR=/tmp/synaptix-cache
