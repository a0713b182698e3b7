#!/usr/bin/env bash
# Builds the libFuzzer targets in build-fuzz/ (clang-14, ASan + UBSan) and runs each on a scratch
# copy of its seed corpus for a bounded time: the text parser for [seconds], then the binary
# parser and ASCII auth handshake for half of it (at least 10 s).
#   scripts/fuzz.sh [seconds]        (default 60)
# Extra libFuzzer flags can be passed in FUZZ_FLAGS, e.g. FUZZ_FLAGS="-jobs=2 -workers=2".
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${root}/build-fuzz"

CC=clang-14 CXX=clang++-14 cmake -S "${root}" -B "${build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMCBRIDGE_FUZZ=ON -DMCBRIDGE_TESTS=OFF -DMCBRIDGE_BENCH=OFF >/dev/null
cmake --build "${build}" -j2 --target parser_fuzz binary_fuzz

# New inputs the fuzzer finds go to a scratch corpus, so the checked-in seeds stay small.
work="${build}/corpus-parser"
mkdir -p "${work}"
cp -n "${root}/tests/fuzz/corpus/"* "${work}/" 2>/dev/null || true
work_binary="${build}/corpus-binary"
mkdir -p "${work_binary}"
cp -n "${root}/tests/fuzz/corpus-binary/"* "${work_binary}/" 2>/dev/null || true

# Crash reproducers land in build-fuzz/ (crash-*, leak-*, timeout-*).
cd "${build}"
"${build}/tests/fuzz/parser_fuzz" -max_total_time="${seconds}" -max_len=4096 \
  -timeout=10 ${FUZZ_FLAGS:-} "${work}"
binary_seconds=$(( seconds / 2 > 10 ? seconds / 2 : 10 ))
exec "${build}/tests/fuzz/binary_fuzz" -max_total_time="${binary_seconds}" -max_len=4096 \
  -timeout=10 ${FUZZ_FLAGS:-} "${work_binary}"
