#!/usr/bin/env bash
# Start-up from any directory; upstream programs that begin with
# (load "src/prelude.valk") run from anywhere; load resolves paths relative
# to the working directory, then to the loading file (docs/language.md#forms).
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
case "$VALK" in /*) ;; *) VALK="$PWD/$VALK" ;; esac
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
check_eq() { [ "$2" == "$3" ] || fail "$1: expected [$2], got [$3]"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Start-up from several directories, prelude and test module built in.
for dir in / "$tmp" "$HOME" /usr; do
  [ -d "$dir" ] || continue
  out=$(cd "$dir" && "$VALK" -e '(foldl + 0 (map inc {1 2 3}))') || fail "start-up in $dir failed"
  check_eq "start-up in $dir" 9 "$out"
done

# An upstream-style test program, run from a directory that has no src/.
mkdir -p "$tmp/proj/test" "$tmp/elsewhere"
cat >"$tmp/proj/test/test_upstream.valk" <<'V'
(load "src/prelude.valk")
(load "src/modules/test.valk")
(load "src/async_handles.valk")
(load "src/http_api.valk")

(def {tests} (list
  (test "prelude works" {== (nth 2 {10 20 30}) 20})
  (test "fun works" {do (fun {sq x} {* x x}) (== (sq 4) 16)})))
(test/run tests {:suite-name "upstream style"})
V
out=$(cd "$tmp/elsewhere" && "$VALK" ../proj/test/test_upstream.valk) || fail "upstream program exited $?: $out"
grep -q '2 passed, 0 failed' <<<"$out" || fail "upstream program output: [$out]"
out=$(cd / && "$VALK" "$tmp/proj/test/test_upstream.valk") || fail "upstream program from / exited $?"
grep -q '2 passed, 0 failed' <<<"$out" || fail "upstream program output from /: [$out]"

# load relative to the loading file: main.valk loads lib/helper.valk, which
# loads util.valk sitting next to it. Run from an unrelated directory.
mkdir -p "$tmp/app/lib"
printf '(load "lib/helper.valk")\n(print (helper 1))\n' >"$tmp/app/main.valk"
printf '(load "util.valk")\n(fun (helper x) (+ x util-value))\n' >"$tmp/app/lib/helper.valk"
printf '(def util-value 41)\n' >"$tmp/app/lib/util.valk"
out=$(cd "$tmp/elsewhere" && "$VALK" "$tmp/app/main.valk") || fail "relative loads exited $?: $out"
check_eq "load relative to the loading file" 42 "$out"

# After a nested load returns, paths resolve relative to the outer file again.
printf '(load "lib/helper.valk")\n(load "second.valk")\n(print (+ (helper 0) second-value))\n' >"$tmp/app/main2.valk"
printf '(def second-value 100)\n' >"$tmp/app/second.valk"
out=$(cd "$tmp/elsewhere" && "$VALK" "$tmp/app/main2.valk" 2>&1) || fail "sibling load after nested load: $out"
check_eq "sibling load after nested load" 141 "$out"

# The working directory wins over the loading file's directory.
mkdir -p "$tmp/cwd/lib"
printf '(def util-value 1000)\n' >"$tmp/cwd/util.valk"
printf '(load "util.valk")\n(print util-value)\n' >"$tmp/app/lib/which.valk"
out=$(cd "$tmp/cwd" && "$VALK" "$tmp/app/lib/which.valk")
check_eq "working directory first" 1000 "$out"
out=$(cd "$tmp/elsewhere" && "$VALK" "$tmp/app/lib/which.valk")
check_eq "then the loading file" 41 "$out"

# A script loading a relative path, run by a relative path.
out=$(cd "$tmp" && "$VALK" app/main.valk)
check_eq "relative script path" 42 "$out"

# -e can load relative to the working directory.
out=$(cd "$tmp/app/lib" && "$VALK" -e '(do (load "util.valk") util-value)')
check_eq "-e load" 41 "$out"
[ "$FAILED" -eq 0 ] || exit 1
echo ok
