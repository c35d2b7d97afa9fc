#!/usr/bin/env bash
# Runs every test; the last line it prints is the only one of the form
#   N passed, M failed, K skipped
# and the exit status is non-zero when anything failed.
#
# What counts as one test:
#   - each GoogleTest case of valk_unit_tests (read from its JSON report);
#   - each test case of a tests/valk/*.valk suite (the test module's
#     "N passed, M failed" line after "🏁 Test Results"); a suite that
#     crashes, times out, prints no summary or exits with the wrong status
#     counts one failure more, on top of the cases it did report. A suite
#     marked "; expect-exit: 1" (runner_fails.valk) is one check: that it
#     reports failures and exits 1;
#   - each tests/cli/*.sh script;
#   - each "ok: ..." / "FAIL: ..." line of a tests/http/*.sh script (one
#     pass for a script that exits 0 without printing any, one failure for
#     a script that exits non-zero without a FAIL line);
#   - each fuzz_* target of the fuzz build (VALK_FUZZ_SECONDS of libFuzzer).
# A script that cannot run here prints "SKIP: reason" and exits 77: it is
# reported as skipped, with the reason. Helpers (tests/http/lib/, tests/http/client/)
# are not tests. A build is not a test: a failed build ends the run at once,
# reported (and counted) as one failure; a successful one is not counted.
#
#   VALK_TEST_QUICK=1     release build only (no fuzz and sanitizer builds)
#   VALK_TEST_ONLY=fuzz   only the fuzz build and its run
#   VALK_FUZZ_SECONDS=N   seconds of fuzzing per target (default 10)
#   VALK_WERROR=0         warnings do not fail the builds (default: they do)
#   VALK_TEST_TIMEOUT=N   seconds a shell test script may take (default 1200)
#   VALK_SUITE_TIMEOUT=N  seconds a .valk suite may take (default 300)
# Sourced (". scripts/run-tests.sh"), it only defines its functions.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
JOBS=$(nproc)
FUZZ_SECONDS=${VALK_FUZZ_SECONDS:-10}
SCRIPT_TIMEOUT=${VALK_TEST_TIMEOUT:-1200}
SUITE_TIMEOUT=${VALK_SUITE_TIMEOUT:-300}
WERROR=ON
[ "${VALK_WERROR:-1}" = 0 ] && WERROR=OFF

PASSED=0
FAILED=0
SKIPPED=0
FAILURES=()
SKIPS=()

step() { printf '\n== %s\n' "$*"; }
# Output that is not the runner's own is shown behind a "|": no line of it can
# be taken for the closing line.
quote() { cut -c1-300 | sed 's/^/        | /'; }
abs() { case $1 in /*) echo "$1" ;; *) echo "$ROOT/$1" ;; esac; }
fail_one() { FAILED=$((FAILED + 1)); FAILURES+=("$1"); }
skip_one() { SKIPPED=$((SKIPPED + 1)); SKIPS+=("$1"); }

finish() {
  echo
  if [ ${#SKIPS[@]} -gt 0 ]; then echo "skipped:"; printf '  %s\n' "${SKIPS[@]}"; fi
  if [ ${#FAILURES[@]} -gt 0 ]; then echo "failed:"; printf '  %s\n' "${FAILURES[@]}"; fi
  echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
  [ "$FAILED" -eq 0 ]
  exit
}

# build DIR LABEL [cmake args...]: configures and builds; a failure ends the run.
build() {
  local dir=$1 label=$2 t0=$SECONDS
  shift 2
  step "$label build ($dir)"
  mkdir -p "$dir"
  if ! cmake -S . -B "$dir" -DVALK_WERROR="$WERROR" "$@" >"$dir/cmake.log" 2>&1; then
    echo "  FAIL  cmake ($dir/cmake.log):"
    tail -40 "$dir/cmake.log" | quote
    fail_one "$label build: cmake failed"
    finish
  fi
  if ! cmake --build "$dir" -j "$JOBS" >"$dir/build.log" 2>&1; then
    echo "  FAIL  build ($dir/build.log):"
    grep -E -A4 'error|warning|Error' "$dir/build.log" | head -120 | quote
    fail_one "$label build failed"
    finish
  fi
  if grep -q 'warning:' "$dir/build.log"; then
    echo "  warnings (VALK_WERROR=0):"
    grep -E -A2 'warning:' "$dir/build.log" | head -60 | quote
  fi
  echo "  built in $((SECONDS - t0)) s"
}

# unit_tests DIR LABEL: every GoogleTest case counts.
unit_tests() {
  local dir=$1 label=$2 logs st results kind name reason
  local p=0 f=0 s=0
  step "$label: unit tests (GoogleTest)"
  logs=$(abs "$dir")/test-logs
  rm -f "$logs/unit.json"
  timeout -k 10 900 "$dir/valk_unit_tests" --gtest_brief=1 --gtest_output="json:$logs/unit.json" \
    </dev/null >"$logs/unit.log" 2>&1
  st=$?
  if ! results=$(python3 - "$logs/unit.json" 2>&1 <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
for suite in report.get("testsuites", []):
    for case in suite.get("testsuite", []):
        name = suite["name"] + "." + case["name"]
        if case.get("failures"):
            print("fail\t" + name + "\t")
        elif case.get("status") == "NOTRUN":
            print("skip\t" + name + "\tdisabled")
        elif case.get("result") == "SKIPPED":
            print("skip\t" + name + "\tGTEST_SKIP")
        else:
            print("pass\t" + name + "\t")
PY
  ); then
    echo "  FAIL  valk_unit_tests (exit $st) left no readable report:"
    printf '%s\n' "$results" | tail -3 | quote
    tail -30 "$logs/unit.log" | quote
    fail_one "$label unit tests: exit $st, no report"
    return
  fi
  while IFS=$'\t' read -r kind name reason; do
    case $kind in
      pass) p=$((p + 1)) ;;
      fail) f=$((f + 1)); fail_one "$label unit: $name" ;;
      skip) s=$((s + 1)); skip_one "$label unit: $name ($reason)" ;;
    esac
  done <<<"$results"
  PASSED=$((PASSED + p))
  if [ "$f" -eq 0 ] && [ "$st" -eq 0 ]; then
    printf '  ok    %d cases (%d skipped)\n' "$p" "$s"
  else
    printf '  FAIL  %d of %d cases failed (exit %s):\n' "$f" $((p + f + s)) "$st"
    grep -v '^\[  *\(OK\|RUN\) *\]' "$logs/unit.log" | tail -60 | quote
    [ "$f" -eq 0 ] && fail_one "$label unit tests: exit $st with no failing case"
  fi
}

# The test module's output, read from stdout: lines "counts RUNS PASSED FAILED
# SKIPPED OK_MARKS FAIL_MARKS", "case NAME" per failing case, "skipreason R".
# Output captured by a failing test (<<<CAPTURED ... >>>CAPTURED, which may
# hold an inner suite's own lines) is left out.
SUITE_AWK='
/^<<<CAPTURED/ { depth++; next }
/^>>>CAPTURED/ { if (depth > 0) depth--; next }
depth > 0 { next }
/^✅ / { okm++ }
/^⏰ / { failm++; n = $0; sub(/^⏰ /, "", n); sub(/\.*  TIMEOUT : .*$/, "", n); print "case\t" n " (TIMEOUT)" }
/^❌ / { failm++; n = $0; sub(/^❌ /, "", n); sub(/\.*  FAIL : in .*$/, "", n); print "case\t" n }
/^[0-9]+ passed, [0-9]+ failed$/ && prev ~ /^🏁 Test Results:/ { split($0, a, " "); runs++; p += a[1]; f += a[3] }
/^0 passed, 0 failed, [0-9]+ skipped$/ && prev ~ /^🧪 .*\(SKIPPED: / {
  split($0, a, " "); runs++; s += a[5]
  r = prev; sub(/^.*\(SKIPPED: /, "", r); sub(/\)$/, "", r); print "skipreason\t" r
}
{ prev = $0 }
END { printf "counts\t%d\t%d\t%d\t%d\t%d\t%d\n", runs, p, f, s, okm, failm }'

how_it_ended() {  # how_it_ended STATUS TIMEOUT
  if [ "$1" -eq 124 ]; then echo "timed out after $2 s"
  elif [ "$1" -eq 137 ]; then echo "killed by signal 9 (the $2 s timeout, or out of memory)"
  elif [ "$1" -gt 128 ]; then echo "killed by signal $(($1 - 128))"
  else echo "exit status $1"; fi
}

# valk_suite DIR LABEL FILE: one tests/valk suite.
valk_suite() {
  local dir=$1 label=$2 name logs st expect=0 want problem=""
  name=$(basename "$3")
  logs=$(abs "$dir")/test-logs
  grep -q '^; expect-exit: 1' "$3" && expect=1
  (cd "$(dirname "$3")" && timeout -k 5 "$SUITE_TIMEOUT" "$(abs "$dir")/valk" "$name" \
    </dev/null >"$logs/$name.out" 2>"$logs/$name.err")
  st=$?
  local kind a b c d e g runs=0 p=0 f=0 s=0 okm=0 failm=0 cases=() reasons=()
  while IFS=$'\t' read -r kind a b c d e g; do
    case $kind in
      counts) runs=$a p=$b f=$c s=$d okm=$e failm=$g ;;
      case) cases+=("$a") ;;
      skipreason) reasons+=("$a") ;;
    esac
  done < <(awk "$SUITE_AWK" "$logs/$name.out")

  if [ "$expect" -eq 1 ]; then
    # A suite that must fail: one check, that its failures are reported.
    if [ "$st" -eq 1 ] && [ "$runs" -ge 1 ] && [ "$f" -gt 0 ]; then
      PASSED=$((PASSED + 1))
      printf '  ok    %s  (fails as it must: %d of %d cases failed, exit 1)\n' "$name" "$f" $((p + f))
      return
    fi
    problem="expected to report failures and exit 1: $(how_it_ended "$st" "$SUITE_TIMEOUT"), $f failures reported"
    fail_one "$label $name: $problem"
  else
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    local n
    for n in "${cases[@]}"; do FAILURES+=("$label $name: $n"); done
    if [ "$s" -gt 0 ]; then
      SKIPPED=$((SKIPPED + s))
      SKIPS+=("$label $name: $s cases (${reasons[*]})")
    fi
    want=0
    [ "$f" -gt 0 ] && want=1
    if [ "$runs" -eq 0 ]; then
      problem="no test summary ($(how_it_ended "$st" "$SUITE_TIMEOUT"))"
    elif [ "$st" -ne "$want" ]; then
      problem="$(how_it_ended "$st" "$SUITE_TIMEOUT") after reporting $p passed, $f failed"
    elif [ $((okm + failm)) -ne $((p + f)) ] || [ "$failm" -ne "$f" ]; then
      problem="$okm PASS and $failm FAIL lines, but the summary says $p passed, $f failed"
    elif grep -qE 'ERROR: AddressSanitizer|runtime error:' "$logs/$name.err"; then
      problem="sanitizer report on stderr"
    fi
    [ -n "$problem" ] && fail_one "$label $name: $problem"
    if [ -z "$problem" ] && [ "$f" -eq 0 ]; then
      if [ "$s" -gt 0 ]; then
        printf '  ok    %s  (%d cases, %d skipped: %s)\n' "$name" "$p" "$s" "${reasons[*]}"
      else
        printf '  ok    %s  (%d cases)\n' "$name" "$p"
      fi
      return
    fi
  fi
  if [ "$runs" -eq 0 ]; then
    printf '  FAIL  %s  (%s)\n' "$name" "$problem"
  else
    printf '  FAIL  %s  (%d of %d cases failed%s)\n' "$name" "$f" $((p + f)) "${problem:+; the suite: $problem}"
  fi
  grep -vE '^✅' "$logs/$name.out" | tail -40 | quote
  if [ -s "$logs/$name.err" ]; then echo "        stderr:"; tail -20 "$logs/$name.err" | quote; fi
}

# script_test DIR LABEL FILE: one tests/cli or tests/http script.
script_test() {
  local dir=$1 label=$2 t=$3 name log st reason nok nfail
  name=$(basename "$t")
  log=$(abs "$dir")/test-logs/${t//\//_}.log
  VALK="$(abs "$dir")/valk" timeout -k 10 "$SCRIPT_TIMEOUT" bash "$t" </dev/null >"$log" 2>&1
  st=$?
  reason=$(sed -n 's/^SKIP: //p' "$log" | tail -1)
  nfail=$(grep -c '^FAIL: ' "$log")
  if [ "$st" -eq 77 ] && [ -n "$reason" ] && [ "$nfail" -eq 0 ]; then
    printf '  skip  %s (%s)\n' "$name" "$reason"
    skip_one "$label $name ($reason)"
    return
  fi
  case $t in
    tests/http/*)
      # One test per check the script reports ("ok: WHAT", "NAME: ok: WHAT", "FAIL: WHAT").
      nok=$(grep -cE '^([A-Za-z0-9_.-]+: )?ok: ' "$log")
      [ "$st" -eq 0 ] && [ "$nok" -eq 0 ] && [ "$nfail" -eq 0 ] && nok=1
      PASSED=$((PASSED + nok))
      if [ "$st" -eq 0 ] && [ "$nfail" -eq 0 ]; then
        printf '  ok    %s  (%d checks)\n' "$name" "$nok"
        return
      fi
      local line
      while IFS= read -r line; do fail_one "$label $name: ${line:0:200}"; done < <(sed -n 's/^FAIL: //p' "$log")
      [ "$nfail" -eq 0 ] && fail_one "$label $name: $(how_it_ended "$st" "$SCRIPT_TIMEOUT")"
      printf '  FAIL  %s  (%d checks passed, %d failed; %s)\n' "$name" "$nok" "$((nfail > 0 ? nfail : 1))" \
        "$(how_it_ended "$st" "$SCRIPT_TIMEOUT")"
      grep -vE '^([A-Za-z0-9_.-]+: )?ok: ' "$log" | tail -40 | quote
      ;;
    *)
      if [ "$st" -eq 0 ] && [ "$nfail" -eq 0 ]; then
        PASSED=$((PASSED + 1))
        printf '  ok    %s\n' "$name"
        return
      fi
      fail_one "$label $name: $(how_it_ended "$st" "$SCRIPT_TIMEOUT")"
      printf '  FAIL  %s  (%s)\n' "$name" "$(how_it_ended "$st" "$SCRIPT_TIMEOUT")"
      tail -30 "$log" | quote
      ;;
  esac
}

# suite DIR LABEL: the unit tests, the .valk suites, the CLI and HTTP scripts of one build.
suite() {
  local dir=$1 label=$2 t t0
  mkdir -p "$dir/test-logs"
  unit_tests "$dir" "$label"
  step "$label: .valk suites"
  for t in tests/valk/*.valk; do valk_suite "$dir" "$label" "$t"; done
  step "$label: CLI and HTTP scripts"
  for t in tests/cli/*.sh tests/http/*.sh; do
    [ -f "$t" ] || continue
    t0=$SECONDS
    script_test "$dir" "$label" "$t"
    [ $((SECONDS - t0)) -ge 60 ] && printf '        (%s took %d s)\n' "$(basename "$t")" $((SECONDS - t0))
  done
}

# fuzz: every fuzz_* target of the fuzz build, FUZZ_SECONDS each, from its
# seed corpus tests/fuzz/corpus_NAME (fuzz_NAME) when there is one.
fuzz() {
  local dir=build-fuzz targets t short corpus work st runs what
  CXX=clang++-14 build "$dir" "fuzz (clang 14, libFuzzer, ASan + UBSan)" -DVALK_FUZZ=ON -DVALK_TESTS=OFF \
    -DVALK_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
  step "fuzzing (libFuzzer, $FUZZ_SECONDS s per target)"
  # The targets CMake defines now (not stale binaries of removed ones).
  targets=$(cmake --build "$dir" --target help 2>/dev/null | sed -n 's/^\.\.\. \(fuzz_[A-Za-z0-9_]*\)$/\1/p' | sort -u)
  if [ -z "$targets" ]; then
    echo "  FAIL  the fuzz build has no fuzz_* target"
    fail_one "fuzz: no fuzz_* target"
    return
  fi
  mkdir -p "$dir/artifacts"
  for t in $targets; do
    short=${t#fuzz_}
    corpus=tests/fuzz/corpus_$short
    work=$(mktemp -d)
    [ -d "$corpus" ] && cp -R "$corpus"/. "$work"/
    # The collector scans memory conservatively: leak checking does not apply.
    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      timeout -k 10 $((FUZZ_SECONDS + 300)) "$dir/$t" -max_total_time="$FUZZ_SECONDS" -timeout=30 \
      -rss_limit_mb=4096 -artifact_prefix="$ROOT/$dir/artifacts/$t-" "$work" </dev/null >"$dir/$t.log" 2>&1
    st=$?
    rm -rf "$work"
    runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 runs in \2 s/p' "$dir/$t.log" | tail -1)
    what=$(sed -n 's/^SUMMARY: //p' "$dir/$t.log" | tail -1)
    [ -n "$what" ] || what=$(how_it_ended "$st" $((FUZZ_SECONDS + 300)))
    if [ "$st" -eq 0 ]; then
      PASSED=$((PASSED + 1))
      printf '  ok    %s  (%s, seeds: %s)\n' "$t" "${runs:-no run count}" \
        "$([ -d "$corpus" ] && echo "$corpus" || echo none)"
    else
      fail_one "fuzz $t: $what (input in $dir/artifacts/, log $dir/$t.log)"
      printf '  FAIL  %s  (%s; log %s)\n' "$t" "$what" "$dir/$t.log"
      grep -E -A25 'ERROR: |runtime error:|deadly signal|Test unit written' "$dir/$t.log" | head -60 | quote
    fi
  done
}

[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

if [ "${VALK_TEST_ONLY:-}" != fuzz ]; then
  build build "release (gcc)" -DVALK_TESTS=ON -DCMAKE_BUILD_TYPE=Release
  suite build release
fi

if [ -z "${VALK_TEST_QUICK:-}" ]; then
  fuzz
fi

if [ -z "${VALK_TEST_QUICK:-}" ] && [ "${VALK_TEST_ONLY:-}" != fuzz ]; then
  CXX=clang++-14 build build-asan "sanitizer (clang 14, ASan + UBSan)" -DVALK_SANITIZE=ON -DVALK_TESTS=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo
  # The collector scans memory conservatively: leak checking does not apply.
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    suite build-asan asan
fi

finish
