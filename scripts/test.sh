#!/usr/bin/env bash
# Everything CI checks (the README's "test"):
#   1. installs the dependencies;
#   2. builds with ASan+UBSan (Debug) and runs every ctest test under the sanitizers: unit tests,
#      and the Python suites (integration, conformance, real clients) driving the sanitized
#      daemon;
#   3. builds Release (the binary users run, -O2, debug logs compiled out) and runs ctest again;
#   4. runs the parser fuzzer briefly when scripts/fuzz.sh exists;
#   5. checks that the deploy manifests parse and that README.md documents every option.
# Runs every step even after a failure, prints a summary, exits non-zero if anything failed.
# Sized for a 2-core machine: builds with -j2, well under 40 minutes in total.
# Knobs: MCBRIDGE_TEST_SKIP_DEPS=1, MCBRIDGE_TEST_SKIP_RELEASE=1, MCBRIDGE_FUZZ_SECONDS (60),
#        extra arguments are passed to both ctest runs (e.g. -R unit).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
start=$SECONDS
failures=()
results=()

step() {  # step NAME COMMAND...: runs one step, records its result, returns its status
  local name="$1"
  shift
  local t0=$SECONDS
  echo
  echo "==== test.sh: $name"
  local rc=0
  "$@" || rc=$?
  if ((rc == 0)); then
    results+=("ok      $name ($((SECONDS - t0))s)")
  else
    results+=("FAILED  $name ($((SECONDS - t0))s, exit $rc)")
    failures+=("$name")
  fi
  return "$rc"
}

run_ctest() {  # run_ctest BUILD_DIR [ctest args...]; keeps the output in BUILD_DIR/ctest.log
  local dir="$1"
  shift
  ctest --test-dir "$dir" --output-on-failure --timeout 1500 "$@" 2>&1 | tee "$dir/ctest.log"
  return "${PIPESTATUS[0]}"
}

# The failing tests' names and reasons, repeated in the summary: CI shows only the end of
# the output, and the ctest log of a failed suite is thousands of lines above it.
failed_tests() {  # failed_tests LOG...
  grep -h -E '^(FAILED|ERROR) |\*\*\*(Failed|Timeout|Exception)|^[0-9]+% tests passed|ERROR: AddressSanitizer|runtime error:' \
    "$@" 2>/dev/null | cut -c1-300 | head -40
}

# Sanitizer settings for everything the ASan build runs, the daemon under the Python suites
# included: leaks are errors, UB stops the process with a stack.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

if [[ "${MCBRIDGE_TEST_SKIP_DEPS:-}" != 1 ]]; then
  step "install dependencies" bash scripts/install-deps.sh || true
fi

if step "build asan (Debug + ASan/UBSan)" bash scripts/build.sh asan; then
  step "ctest asan" run_ctest build/asan "$@"
fi

if [[ "${MCBRIDGE_TEST_SKIP_RELEASE:-}" != 1 ]]; then
  if step "build release" bash scripts/build.sh release; then
    step "ctest release" run_ctest build/release "$@"
  fi
fi

if [[ -f scripts/fuzz.sh ]]; then
  export MCBRIDGE_FUZZ_SECONDS="${MCBRIDGE_FUZZ_SECONDS:-60}"
  # A fixed seed makes a CI failure reproducible (the same inputs come first every run);
  # scripts/fuzz.sh alone, without it, explores afresh each time.
  export FUZZ_FLAGS="${FUZZ_FLAGS:--seed=1}"
  step "fuzz (${MCBRIDGE_FUZZ_SECONDS}s)" timeout 900 bash scripts/fuzz.sh "$MCBRIDGE_FUZZ_SECONDS" || true
fi

check_manifests() {
  local files=()
  while IFS= read -r -d '' f; do files+=("$f"); done \
    < <(find deploy -type f \( -name '*.yml' -o -name '*.yaml' \) -print0 2>/dev/null)
  if ((${#files[@]} == 0)); then
    echo "no manifests under deploy/"
    return 0
  fi
  /usr/bin/python3 - "${files[@]}" <<'PY'
import sys
import yaml
bad = 0
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        if not docs:
            raise ValueError("no YAML document")
        print(f"ok: {path} ({len(docs)} document(s))")
    except Exception as e:  # noqa: BLE001 - report every broken file
        print(f"BROKEN: {path}: {e}")
        bad += 1
sys.exit(1 if bad else 0)
PY
}
step "deploy manifests parse" check_manifests || true
# The README's options table is written by hand: check it names every flag and variable of the
# options table in config/options.cc (rows start with {"flag-name", "ENV_NAME", ...).
check_readme_options() {
  /usr/bin/python3 - <<'PY'
import re
import sys
src = open("config/options.cc").read()
readme = open("README.md").read()
rows = re.findall(r'\{"([a-z][a-z0-9-]*)", "([A-Z][A-Z0-9_]*)",', src)
if len(rows) < 10:
    sys.exit(f"found only {len(rows)} option rows in config/options.cc: parser out of date?")
missing = [f"--{flag}" for flag, _ in rows if f"`--{flag}" not in readme]
missing += [env for _, env in rows if f"`{env}`" not in readme]
missing += [x for x in ("`--config", "`MCBRIDGE_CONFIG`", "`--help", "`--version") if x not in readme]
if missing:
    sys.exit("README.md options table lacks: " + ", ".join(missing))
print(f"README.md documents all {len(rows)} table options")
PY
}
step "README documents every option" check_readme_options || true


echo
echo "==== test.sh summary ($((SECONDS - start))s)"
printf '  %s\n' "${results[@]}"
if ((${#failures[@]})); then
  echo "---- failing tests (from build/*/ctest.log)"
  failed_tests build/asan/ctest.log build/release/ctest.log
  echo "test.sh: FAILED: ${failures[*]}"
  exit 1
fi
echo "test.sh: all steps passed"
