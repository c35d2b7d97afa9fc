#!/usr/bin/env bash
# The interactive REPL on a terminal (docs/language.md#the-command-line): a prompt, line editing
# (backspace, arrows) and history (up-arrow recalls earlier lines, also from
# an earlier session). Drives the REPL through a pseudo-terminal.
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
# Skipped (exit 77 with a SKIP line, reported as skipped by scripts/run-tests.sh) without python3.
if ! command -v python3 >/dev/null 2>&1; then echo "SKIP: python3 not found (it drives the pseudo-terminal)"; exit 77; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/drive.py" <<'PY'
import os, pty, select, sys, time
valk, home, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.environ["HOME"] = home
    os.environ["TERM"] = "xterm"
    os.execv(valk, [valk])
def drain(t):
    out, end = b"", time.time() + t
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                d = os.read(fd, 4096)
            except OSError:
                break
            if not d:
                break
            out += d
    return out
out = drain(1.0)
for k in keys:
    os.write(fd, k.encode().decode("unicode_escape").encode("latin-1"))
    out += drain(0.7)
os.write(fd, b"\x04")
out += drain(1.0)
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace").replace("\r", ""))
sys.exit(os.waitstatus_to_exitcode(status))
PY

drive() { python3 "$tmp/drive.py" "$VALK" "$tmp/home" "$@"; }
mkdir -p "$tmp/home"

# Session 1: prompt, evaluation, up-arrow recall, backspace.
out=$(drive '(+ 40 2)\r' '\x1b[A\r' '(* 2 3\x7f4)\r' '"s"\r') || fail "session 1 exit status $?"
n=$(grep -c '^42$' <<<"$out" || true)
[ "$n" -ge 2 ] || fail "up-arrow did not recall (+ 40 2): [$out]"
grep -q '^8$' <<<"$out" || fail "backspace editing: (* 2 3<BS>4) should give 8: [$out]"
grep -q '^"s"$' <<<"$out" || fail "strings are shown quoted: [$out]"
grep -q '> ' <<<"$out" || fail "no prompt shown: [$out]"

# Left arrow editing: type (+ 1 ), move left, insert 2 -> (+ 12 ) ... = 12
out=$(drive '(+ 1 )\x1b[D\x1b[D2\r') || fail "session 2 exit status $?"
grep -q '^12$' <<<"$out" || fail "left-arrow insertion: [$out]"

# Session 3: history from earlier sessions.
out=$(drive '\x1b[A\r') || fail "session 3 exit status $?"
grep -q '^12$' <<<"$out" || fail "history does not persist across sessions (up-arrow should recall (+ 12 )): [$out]"
[ "$FAILED" -eq 0 ] || exit 1
echo ok
