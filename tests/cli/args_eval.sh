#!/usr/bin/env bash
# Command line (docs/language.md#the-command-line): valk FILE ARGS, valk -e EXPR, --help, --version.
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
check_eq() {  # check_eq WHAT EXPECTED ACTUAL
  [ "$2" == "$3" ] || fail "$1: expected [$2], got [$3]"
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --help and --version exit 0 and print something sensible.
out=$("$VALK" --help) || fail "--help exited $?"
grep -qi usage <<<"$out" || fail "--help does not print a usage: $out"
out=$("$VALK" --version) || fail "--version exited $?"
grep -Eq '[0-9]+\.[0-9]+' <<<"$out" || fail "--version prints no version number: $out"

# valk FILE ARGS: sys/args holds ARGS (strings, in order, without the file).
cat >"$tmp/args.valk" <<'V'
(print (repr sys/args))
(print (len sys/args))
V
out=$("$VALK" "$tmp/args.valk" one "two words" --flag -e 3)
check_eq "sys/args" '{"one" "two words" "--flag" "-e" "3"}
5' "$out"
out=$("$VALK" "$tmp/args.valk")
check_eq "sys/args without ARGS" '()
0' "$out"

# A program's value is not printed; its output is.
echo '(+ 1 2)' >"$tmp/quiet.valk"
out=$("$VALK" "$tmp/quiet.valk")
check_eq "file results are not printed" "" "$out"

# A script may start with a #! line, and may have CRLF line ends.
printf '#!/usr/bin/env valk\n(print "shebang ok")\n' >"$tmp/shebang.valk"
check_eq "#! line" "shebang ok" "$("$VALK" "$tmp/shebang.valk")"
printf '(print "crlf")\r\n(print 2)\r\n' >"$tmp/crlf.valk"
check_eq "CRLF line ends" "crlf
2" "$("$VALK" "$tmp/crlf.valk")"

# valk -e EXPR prints the value in readable form.
check_eq "-e integer" "3" "$("$VALK" -e '(+ 1 2)')"
check_eq "-e string is quoted" '"hi"' "$("$VALK" -e '"hi"')"
check_eq "-e escapes in strings" '"a\nb"' "$("$VALK" -e '"a\nb"')"
check_eq "-e list" '{1 "a" :k}' "$("$VALK" -e '(list 1 "a" :k)')"
check_eq "-e nil" "()" "$("$VALK" -e 'nil')"
check_eq "-e booleans" "true" "$("$VALK" -e '(== 1 1)')"
check_eq "-e false" "false" "$("$VALK" -e '(== 1 2)')"
check_eq "-e keyword" ":completed" "$("$VALK" -e ':completed')"
check_eq "-e float" "2.5" "$("$VALK" -e '(/ 10.0 4)')"
check_eq "-e output then value" 'x
()' "$("$VALK" -e '(print "x")')"
check_eq "-e prelude is loaded" '{2 3}' "$("$VALK" -e '(map inc {1 2})')"
check_eq "--eval long form" "7" "$("$VALK" --eval '(+ 3 4)')"

# -e with an error: exit 1, message on stderr, nothing on stdout.
set +e
out=$("$VALK" -e '(/ 1 0)' 2>"$tmp/err"); st=$?
set -e
check_eq "-e error status" 1 "$st"
check_eq "-e error stdout" "" "$out"
grep -q 'division by zero' "$tmp/err" || fail "-e error: stderr lacks the message: $(cat "$tmp/err")"

# An unknown option is a usage error (non-zero), not a crash.
set +e
"$VALK" --no-such-option >/dev/null 2>&1; st=$?
set -e
[ "$st" -ne 0 ] && [ "$st" -lt 128 ] || fail "unknown option: status $st"
[ "$FAILED" -eq 0 ] || exit 1
echo ok
