#!/usr/bin/env bash
# Runs every test and prints one closing line: "N passed, M failed".
#   VALK_TEST_QUICK=1   release build only (skip sanitizer and fuzz builds)
#   VALK_TEST_ONLY=fuzz only the fuzz run (VALK_FUZZ_SECONDS long)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=$(nproc)
PASSED=0
FAILED=0
FAILURES=()

step() { printf '\n== %s\n' "$*"; }
record() {  # record NAME STATUS
  if [ "$2" -eq 0 ]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); FAILURES+=("$1"); fi
}

build() {  # build DIR [cmake args...]
  local dir=$1; shift
  cmake -S . -B "$dir" "$@" >"$dir.cmake.log" 2>&1 || { cat "$dir.cmake.log"; return 1; }
  cmake --build "$dir" -j "$JOBS" 2>&1 | grep -E "error|warning|Error" ; return "${PIPESTATUS[0]}"
}

# Runs the unit tests, the .valk suites and the CLI tests against one build.
suite() {  # suite DIR LABEL
  local dir=$1 label=$2
  step "$label: unit tests"
  "$dir/valk_unit_tests" --gtest_brief=1; record "$label unit tests" $?
  for t in tests/valk/*.valk; do
    local name; name=$(basename "$t")
    local expect=0
    grep -q '^; expect-exit: 1' "$t" && expect=1
    out=$(cd tests/valk && timeout 300 "$ROOT/$dir/valk" "$name" 2>&1); st=$?
    if [ "$st" -eq "$expect" ]; then
      printf '  ok    %s  (%s)\n' "$name" "$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)"
      record "$label $name" 0
    else
      printf '  FAIL  %s (exit %s, expected %s)\n' "$name" "$st" "$expect"
      printf '%s\n' "$out" | grep -vE '^✅' | tail -40 | sed 's/^/        /'
      record "$label $name" 1
    fi
  done
  for t in tests/cli/*.sh tests/http/*.sh; do
    [ -e "$t" ] || continue
    VALK="$ROOT/$dir/valk" bash "$t" >"/tmp/valk-cli-$$.log" 2>&1; st=$?
    if [ $st -eq 0 ]; then printf '  ok    %s\n' "$(basename "$t")"; else
      printf '  FAIL  %s\n' "$(basename "$t")"; sed 's/^/        /' "/tmp/valk-cli-$$.log" | tail -30; fi
    record "$label $(basename "$t")" $st
  done
}

if [ "${VALK_TEST_ONLY:-}" != fuzz ]; then
  step "release build (gcc)"
  build build -DVALK_TESTS=ON -DCMAKE_BUILD_TYPE=Release; record "release build" $?
  suite build release
fi

if [ -z "${VALK_TEST_QUICK:-}" ]; then
  step "reader fuzzing (libFuzzer, clang 14)"
  mkdir -p build-fuzz
  if CC=clang-14 CXX=clang++-14 build build-fuzz -DVALK_FUZZ=ON -DVALK_TESTS=OFF -DVALK_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo; then
    corpus=$(mktemp -d); cp tests/fuzz/corpus/* "$corpus"/ 2>/dev/null
    ASAN_OPTIONS=detect_leaks=0 ./build-fuzz/fuzz_reader -max_total_time="${VALK_FUZZ_SECONDS:-20}" \
      -rss_limit_mb=4096 "$corpus" >build-fuzz/fuzz.log 2>&1
    st=$?; tail -3 build-fuzz/fuzz.log; rm -rf "$corpus"; record "fuzz reader" $st
  else
    record "fuzz build" 1
  fi
fi

if [ -z "${VALK_TEST_QUICK:-}" ] && [ "${VALK_TEST_ONLY:-}" != fuzz ]; then
  step "sanitizer build (clang 14, ASan + UBSan)"
  mkdir -p build-asan
  if CC=clang-14 CXX=clang++-14 build build-asan -DVALK_SANITIZE=ON -DVALK_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo; then
    record "asan build" 0
    # The collector scans memory conservatively: leak checking does not apply.
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      suite build-asan asan
  else
    record "asan build" 1
  fi
fi

echo
if [ ${#FAILURES[@]} -gt 0 ]; then
  printf 'failed: %s\n' "${FAILURES[@]}"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
