#!/usr/bin/env bash
# make install (README.md#install): DESTDIR and PREFIX are honoured, the binary and its manual
# page are installed, and the installed valk runs a #!/usr/bin/env valk script from anywhere
# (the standard library is inside the binary). --help and the manual page name every option
# that src/cli/main.cpp accepts.
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
check_eq() { [ "$2" == "$3" ] || fail "$1: expected [$2], got [$3]"; }
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$(dirname "$VALK")" && pwd)
for tool in make cmake; do
  command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not found"; exit 77; }
done
[ -f "$build/CMakeCache.txt" ] || { echo "SKIP: $VALK is not in a CMake build directory"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest="$tmp/dest"

# The build directory of $VALK is installed as it is (make's deps step, apt, is not run).
make -s -C "$root" -o deps install BUILD="$build" DESTDIR="$dest" PREFIX=/usr >"$tmp/make.log" 2>&1 ||
  { fail "make install exited $?: $(tail -20 "$tmp/make.log")"; exit 1; }
[ -x "$dest/usr/bin/valk" ] || fail "no executable $dest/usr/bin/valk"
[ -f "$dest/usr/share/man/man1/valk.1" ] || fail "no manual page in $dest/usr/share/man/man1"
extra=$(cd "$dest" && find . -type f | sort | grep -vx -e ./usr/bin/valk -e ./usr/share/man/man1/valk.1 || true)
check_eq "only the binary and the manual page are installed" "" "$extra"
cmp -s "$root/docs/valk.1" "$dest/usr/share/man/man1/valk.1" || fail "the installed manual page differs from docs/valk.1"
# PREFIX defaults to /usr/local.
make -s -n -C "$root" -o deps install BUILD="$build" | grep -q -- '--prefix "/usr/local"' ||
  fail "PREFIX does not default to /usr/local: $(make -s -n -C "$root" -o deps install BUILD="$build" | tail -3)"

# A script that uses the prelude, the test module and the async runtime, run through PATH from
# another directory, with upstream's (load "src/prelude.valk") line.
mkdir -p "$tmp/work" "$tmp/scripts"
cat >"$tmp/scripts/tool" <<'V'
#!/usr/bin/env valk
(load "src/prelude.valk")
(print "sum" (foldl + 0 (map inc {1 2 3})))
(print "args" (str/join sys/args " "))
(print "line" (read-line))
(print "await" (aio/await (aio/then (aio/sleep 5) (lambda (_) :done))))
V
chmod +x "$tmp/scripts/tool"
out=$(cd "$tmp/work" && printf 'input\n' | env -i HOME="$tmp" PATH="$dest/usr/bin:/usr/bin:/bin" ../scripts/tool x y) ||
  fail "the installed valk running a #! script exited $?"
check_eq "installed valk runs a #! script" "sum 9
args x y
line input
await :done" "$out"
# Which valk ran: the installed one (PATH has no other build).
out=$(env -i PATH="$dest/usr/bin:/usr/bin:/bin" sh -c 'command -v valk')
check_eq "valk on PATH" "$dest/usr/bin/valk" "$out"
# The binary names no file of the source tree.
if grep -qaF "$root/lib" "$dest/usr/bin/valk"; then fail "the binary refers to $root/lib"; fi

# --help and the manual page name every option main.cpp accepts; the versions agree.
help=$("$dest/usr/bin/valk" --help)
man_text=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$root/docs/valk.1")
opts=$(grep -o 'a == "-[^"]*"' "$root/src/cli/main.cpp" | sed 's/a == "\(.*\)"/\1/' | sort -u)
[ -n "$opts" ] || fail "no options found in src/cli/main.cpp"
for o in $opts; do
  # on a line of its own that begins with it (or its short form)
  grep -qE -- "^  (-[a-z], )?$o([ ,]|$)" <<<"$help" || fail "--help does not list $o on its own line"
  grep -qE -- "(^|[ ,])$o([ ,]|$)" <<<"$man_text" || fail "docs/valk.1 does not list $o"
done
version=$("$dest/usr/bin/valk" --version | awk '{print $2}')
grep -q "^\.TH VALK 1 .*\"Valkyria $version\"" "$root/docs/valk.1" || fail "docs/valk.1 does not name version $version"
[ "$FAILED" -eq 0 ] || exit 1
echo ok
