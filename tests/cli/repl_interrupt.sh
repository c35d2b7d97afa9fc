#!/usr/bin/env bash
# Ctrl-C and UTF-8 at the interactive REPL (docs/language.md#the-command-line), driven through
# tmux: Ctrl-C discards a half-typed line (or an unfinished multi-line form) and gives a fresh
# prompt; Ctrl-C during an endless loop or a long awaited sleep returns to the prompt with the
# error value "interrupted", and earlier definitions still work; UTF-8 typed at the prompt arrives
# intact; a form may span lines; Ctrl-D exits 0.
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
if ! command -v tmux >/dev/null 2>&1; then echo "SKIP: tmux not found (it drives the terminal)"; exit 77; fi
tmp=$(mktemp -d)
sock="$tmp/tmux.sock"
tm() { LC_ALL=C.UTF-8 tmux -S "$sock" -f /dev/null "$@"; }
trap 'tm kill-server >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
mkdir "$tmp/home"

# The whole pane, history included, without trailing blanks (so an empty prompt is "valk>").
screen() { tm capture-pane -p -J -S - -t repl | sed -e 's/[[:space:]]*$//'; }
# wait_for WHAT N GREP-ARGS...: until at least N lines of the pane match (10 s at most).
wait_for() {
  local what=$1 n=$2 i
  shift 2
  for i in $(seq 1 100); do
    [ "$(screen | grep -c "$@" || true)" -ge "$n" ] && return 0
    sleep 0.1
  done
  fail "$what: waited 10 s for $n line(s) matching [$*]; the screen:
$(screen | tail -25)"
  return 1
}
type_line() { tm send-keys -t repl -l "$1"; tm send-keys -t repl Enter; }
prompts() { screen | grep -c '^valk>' || true; }
# Waits until the prompt has been shown at least once more than before the last command.
wait_prompt() { wait_for "$1" "$(($2 + 1))" '^valk>'; }

tm new-session -d -s repl -x 160 -y 50 \
  "env HOME='$tmp/home' TERM=screen LANG=C.UTF-8 '$VALK'; echo \"EXIT=\$?\"; sleep 600"
wait_for "first prompt" 1 '^valk>$' || { echo "no REPL prompt"; exit 1; }

type_line '(fun (loop) (loop))'
type_line '(def keep 41)'
wait_for "definitions" 2 -x '()'

# Ctrl-C at a half-typed line: "^C", a fresh prompt, and the text is gone.
p=$(prompts)
tm send-keys -t repl -l '(+ 100 2'
wait_for "half-typed line shown" 1 -F 'valk> (+ 100 2'
tm send-keys -t repl C-c
wait_for "^C after the half-typed line" 1 -Fx 'valk> (+ 100 2^C'
wait_prompt "prompt after Ctrl-C at a line" "$p"
type_line '(* 1111 3)'
wait_for "the line after Ctrl-C is evaluated alone" 1 -x '3333'

# Ctrl-C in the middle of a line (cursor moved left) discards all of it.
tm send-keys -t repl -l '(+ 5 6'
tm send-keys -t repl Left Left
tm send-keys -t repl C-c
wait_for "^C with the cursor inside the line" 1 -Fx 'valk> (+ 5 6^C'
type_line '(* 2222 2)'
wait_for "after Ctrl-C inside a line" 1 -x '4444'

# Ctrl-C on the second line of an unfinished form discards the whole form.
type_line '(+ 7'
wait_for "continuation prompt" 1 '^\.\.\.>$'
tm send-keys -t repl C-c
wait_for "^C at the continuation prompt" 1 -Fx '...> ^C'
type_line '(+ 3000 4)'
wait_for "the unfinished form was discarded" 1 -x '3004'
if screen | grep -qx '3011'; then fail "the unfinished form (+ 7 was kept: [$(screen | tail -8)]"; fi

# Ctrl-C during an endless loop: the error value, the prompt, the definitions kept.
p=$(prompts)
type_line '(loop)'
wait_for "(loop) typed" 1 -Fx 'valk> (loop)'
sleep 0.3
tm send-keys -t repl C-c
wait_for "the loop is interrupted" 1 -Fx 'Error[interrupted]'
wait_prompt "prompt after the loop" "$p"
type_line '(+ keep 1)'
wait_for "a definition made before still works" 1 -x '42'

# Even a loop that catches the error is interrupted.
type_line '(try (loop) (fn (e) (loop)))'
wait_for "(try (loop) ...) typed" 1 -F 'valk> (try (loop)'
sleep 0.3
tm send-keys -t repl C-c
wait_for "try does not keep the loop going" 2 -Fx 'Error[interrupted]'

# Ctrl-C during a long sleep awaited at the REPL (the loop waits in uv_run). The sleep itself
# stays pending; it is cancelled below, or Ctrl-D would wait for it (pending work runs at exit).
type_line '(def nap (aio/sleep 600000))'
wait_for "nap defined" 1 -Fx 'valk> (def nap (aio/sleep 600000))'
p=$(prompts)
type_line '(aio/await nap)'
wait_for "await typed" 1 -Fx 'valk> (aio/await nap)'
sleep 0.3
tm send-keys -t repl C-c
wait_for "the await is interrupted" 3 -Fx 'Error[interrupted]'
wait_prompt "prompt after the await" "$p"
type_line '(* keep 2)'
wait_for "definitions after the await" 1 -x '82'

# UTF-8 typed at the prompt: printed intact, and the string holds the right bytes.
type_line '(print "héllo ✓")'
wait_for "UTF-8 printed intact" 1 -Fx 'héllo ✓'
type_line '(str/len "héllo ✓")'
wait_for "UTF-8 string length in bytes" 1 -x '10'
type_line '(== "héllo ✓" "h\xC3\xA9llo \u{2713}")'
wait_for "UTF-8 bytes as escapes give the same string" 1 -x 'true'

# Multi-line input.
type_line '(list 1'
type_line '  "two"'
type_line '  :three)'
wait_for "multi-line form" 1 -Fx '{1 "two" :three}'
[ "$(screen | grep -c '^\.\.\.> ' || true)" -ge 3 ] || fail "continuation prompts: [$(screen | tail -8)]"

# Ctrl-D exits with status 0 (once the interrupted sleep is cancelled).
type_line '(list (aio/cancel nap) (aio/cancelled? nap))'
wait_for "the interrupted sleep was still pending" 1 -Fx '{true true}'
tm send-keys -t repl C-d
wait_for "Ctrl-D exits 0" 1 -x 'EXIT=0'
[ "$FAILED" -eq 0 ] || exit 1
echo ok
