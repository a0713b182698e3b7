#!/usr/bin/env bash
# Builds mcbridge into build/<type>: debug, release (default) or asan (Debug + ASan/UBSan).
# Extra arguments go to cmake's configure step, e.g. scripts/build.sh release -DMCBRIDGE_TESTS=OFF
# -Werror when CI=true. Parallelism: $MCBRIDGE_JOBS (default 2, the size of our machines).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
type="${1:-release}"
shift || true

case "$type" in
  debug) cmake_args=(-DCMAKE_BUILD_TYPE=Debug) ;;
  release) cmake_args=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan) cmake_args=(-DCMAKE_BUILD_TYPE=Debug -DMCBRIDGE_SANITIZE=ON) ;;
  *)
    echo "usage: $0 [debug|release|asan] [cmake args...]" >&2
    exit 2
    ;;
esac
if [[ "${CI:-}" == "true" ]]; then
  cmake_args+=(-DMCBRIDGE_WERROR=ON)
fi

dir="build/$type"
echo "build: $type -> $dir"
cmake -S . -B "$dir" "${cmake_args[@]}" "$@"
cmake --build "$dir" -j "${MCBRIDGE_JOBS:-2}"
