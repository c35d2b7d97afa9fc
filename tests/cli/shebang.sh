#!/usr/bin/env bash
# Scripts with a #! line (docs/language.md#reading): run directly with valk on PATH; the line is
# skipped only at the start of a file, and later line numbers in error messages stay right.
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
check_eq() { [ "$2" == "$3" ] || fail "$1: expected [$2], got [$3]"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin" "$tmp/elsewhere"
ln -s "$VALK" "$tmp/bin/valk"

cat >"$tmp/hello" <<'V'
#!/usr/bin/env valk
(print "hello from" (len sys/args) "args:" (str/join sys/args ","))
V
chmod +x "$tmp/hello"
out=$(cd "$tmp/elsewhere" && PATH="$tmp/bin:/usr/bin:/bin" ../hello a b) || fail "hello exited $?"
check_eq "#!/usr/bin/env valk script run directly" "hello from 2 args: a,b" "$out"

# A filter script: stdin to stdout.
cat >"$tmp/rev" <<'V'
#!/usr/bin/env valk
(fun (loop)
  (let ((l (read-line)))
    (when l (print (str/join (reverse (str/split l " ")) " ")) (loop))))
(loop)
V
chmod +x "$tmp/rev"
out=$(printf 'a b c\nd e\n' | PATH="$tmp/bin:/usr/bin:/bin" "$tmp/rev") || fail "rev exited $?"
check_eq "filter script" "c b a
e d" "$out"

# Error locations after the #! line: file:line:col counts it as line 1.
cat >"$tmp/bad" <<'V'
#!/usr/bin/env valk
(print "before")

  (head nil)
V
chmod +x "$tmp/bad"
set +e
out=$(PATH="$tmp/bin:/usr/bin:/bin" "$tmp/bad" 2>"$tmp/err"); st=$?
set -e
check_eq "output before the error" "before" "$out"
check_eq "status after the error" 1 "$st"
grep -q "^$tmp/bad:4:3: head:" "$tmp/err" || fail "runtime error location: [$(cat "$tmp/err")]"

printf '#!/usr/bin/env valk\n(print 1)\n(+ 1\n' >"$tmp/unclosed.valk"
set +e
"$VALK" "$tmp/unclosed.valk" >/dev/null 2>"$tmp/err"; st=$?
set -e
check_eq "read error status" 1 "$st"
grep -q "unclosed.valk:3:1: unexpected end of input" "$tmp/err" || fail "read error location: [$(cat "$tmp/err")]"

# A #! line with a BOM before it, and CRLF line ends.
printf '\xef\xbb\xbf#!/usr/bin/env valk\r\n(print "bom")\r\n' >"$tmp/bom.valk"
check_eq "BOM then #!" "bom" "$("$VALK" "$tmp/bom.valk")"

# A loaded file may start with #! too; its errors are located the same way.
printf '#!/usr/bin/env valk\n(def loaded 7)\n  (head nil)\n' >"$tmp/lib.valk"
out=$("$VALK" -e "(load \"$tmp/lib.valk\")" 2>&1 || true)
grep -q "lib.valk:3:3: head:" <<<"$out" || fail "load: error location after #!: [$out]"
printf '#!/usr/bin/env valk\n(def loaded 7)\n' >"$tmp/lib2.valk"
check_eq "load of a #! file" "7" "$("$VALK" -e "(load \"$tmp/lib2.valk\")" -e 'loaded' | tail -1)"

# Only a file's first line: elsewhere #! is an ordinary read error.
out=$("$VALK" -e '#!x' 2>&1 || true)
grep -q "unexpected character '#'" <<<"$out" || fail "-e '#!x' should be a read error: [$out]"
printf '(print 1)\n#!/usr/bin/env valk\n' >"$tmp/late.valk"
set +e
"$VALK" "$tmp/late.valk" >/dev/null 2>"$tmp/err"; st=$?
set -e
check_eq "#! on line 2 status" 1 "$st"
grep -q "late.valk:2:1: unexpected character '#'" "$tmp/err" || fail "#! on line 2: [$(cat "$tmp/err")]"
[ "$FAILED" -eq 0 ] || exit 1
echo ok
