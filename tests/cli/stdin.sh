#!/usr/bin/env bash
# Standard input (docs/language.md#standard-input): (read-line) gives a line without its line end
# ("\n" or "\r\n"), nil at the end; (read-stdin) the rest as one string, "" at the end. Piped
# input and file redirects; bytes (UTF-8) intact; lines of any length.
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
check_eq() { [ "$2" == "$3" ] || fail "$1: expected [$2], got [$3]"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

lines='(list (read-line) (read-line) (read-line) (read-line))'
check_eq "lines, then nil" '{"a" "b c" "" ()}' "$(printf 'a\nb c\n\n' | "$VALK" -e "$lines")"
check_eq "last line without newline" '{"a" "last" () ()}' "$(printf 'a\nlast' | "$VALK" -e "$lines")"
check_eq "CRLF line ends" '{"a" "b" "" ()}' "$(printf 'a\r\nb\r\n\r\n' | "$VALK" -e "$lines")"
check_eq "a lone CR is kept" '{"a\rb" ()}' "$(printf 'a\rb\n' | "$VALK" -e '(list (read-line) (read-line))')"
check_eq "empty input: read-line" '()' "$("$VALK" -e '(read-line)' </dev/null)"
check_eq "empty input: read-stdin" '""' "$("$VALK" -e '(read-stdin)' </dev/null)"
check_eq "nil again after the end" '{"x" () ()}' \
  "$(printf 'x\n' | "$VALK" -e '(list (read-line) (read-line) (read-line))')"

# read-stdin: everything left, after read-line took the first line; "" once all is read.
out=$(printf 'first\nsecond\nthird' | "$VALK" -e '(list (read-line) (read-stdin) (read-stdin) (read-line))')
check_eq "read-stdin after read-line" '{"first" "second\nthird" "" ()}' "$out"

# A file redirect, and a script that filters its input (each line upper-cased).
printf 'one\ntwo\n' >"$tmp/in.txt"
cat >"$tmp/upper.valk" <<'V'
(fun (loop)
  (let ((l (read-line)))
    (when l (print (str/upper l)) (loop))))
(loop)
V
check_eq "filter over a file redirect" "ONE
TWO" "$("$VALK" "$tmp/upper.valk" <"$tmp/in.txt")"
check_eq "filter over a pipe" "ONE
TWO" "$(cat "$tmp/in.txt" | "$VALK" "$tmp/upper.valk")"

# UTF-8 and other bytes arrive intact: the lengths are byte counts.
check_eq "UTF-8 line" '{"héllo ✓" 10}' \
  "$(printf 'héllo ✓\n' | "$VALK" -e '(let ((l (read-line))) (list l (str/len l)))')"
printf 'h\xc3\xa9\xe2\x9c\x93\n' >"$tmp/utf8.txt"
cat >"$tmp/copy.valk" <<V
(write-file "$tmp/copy.txt" (read-stdin))
V
"$VALK" "$tmp/copy.valk" <"$tmp/utf8.txt" || fail "copy.valk exited $?"
cmp -s "$tmp/utf8.txt" "$tmp/copy.txt" || fail "read-stdin changed the bytes: $(od -c "$tmp/copy.txt")"

# A large line (8 MB) and large input (24 MB) have no fixed limit.
head -c 8000000 /dev/zero | tr '\0' x >"$tmp/big.txt"
printf '\nnext\n' >>"$tmp/big.txt"
check_eq "8 MB line" '{8000000 "next" ()}' \
  "$("$VALK" -e '(list (str/len (read-line)) (read-line) (read-line))' <"$tmp/big.txt")"
cat "$tmp/big.txt" "$tmp/big.txt" "$tmp/big.txt" >"$tmp/big3.txt"
check_eq "24 MB read-stdin" "$(stat -c %s "$tmp/big3.txt")" \
  "$("$VALK" -e '(str/len (read-stdin))' <"$tmp/big3.txt")"

# Under a heap limit, a line too big for it is an error value, not a crash (the first heap
# is 32 MB, so the line is larger).
set +e
out=$(head -c 64000000 /dev/zero | VALK_HEAP_LIMIT=16M "$VALK" -e '(read-line)' 2>&1); st=$?
set -e
check_eq "line past the heap limit: status" 1 "$st"
grep -q 'read-line: .*heap limit' <<<"$out" || fail "line past the heap limit: [${out:0:300}]"

# Arguments are checked.
out=$("$VALK" -e '(read-line 1)' 2>&1 || true)
grep -q 'read-line: expected 0 arguments' <<<"$out" || fail "read-line arity: [$out]"

# The piped REPL and read-line share standard input: the line after the form is its input.
out=$(printf '(def l (read-line))\nhello there\n(str/len l)\n' | "$VALK")
check_eq "read-line in the piped REPL" "()
11" "$out"
[ "$FAILED" -eq 0 ] || exit 1
echo ok
