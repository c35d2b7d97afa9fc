#!/usr/bin/env bash
# Child processes leave nothing behind (docs/io.md#processes): a program
# that starts ~50 processes and cancels, kills, times out or abandons them
# (some in scopes that end) is left with no zombie child, no child at all,
# no leaked file descriptor and no process open in the metrics; its
# processes' groups are gone. Checked from inside (through proc/run) and
# from outside (/proc, while the program sleeps).
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
check_eq() { [ "$2" == "$3" ] || fail "$1: expected [$2], got [$3]"; }
tmp=$(mktemp -d)
vpid=""
cleanup() {
  [ -n "$vpid" ] && kill "$vpid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"

# Children of pid $1 as "state pid" lines, from /proc (the comm field may
# hold spaces: the fields after its closing parenthesis are read).
children_of() {
  awk -v P="$1" '{ s = $0; sub(/^.*\) /, "", s); split(s, a, " "); if (a[2] == P) print a[1], FILENAME }' \
    /proc/[0-9]*/stat 2>/dev/null || true
}

cat >churn.valk <<'EOF'
(fun (sh script) (aio/await (proc/run "sh" (list "-c" script))))
(fun (open-processes)
  (let ((lines (filter (fn (l) (str/starts-with? l "valk_io_open{kind=\"process\"}"))
                       (str/split (aio/metrics-prometheus) "\n"))))
    (if (nil? lines) 0 (str->num (last (str/split (head lines) " "))))))
(fun (wait-until-none n)
  (if (or (== 0 (open-processes)) (<= n 0)) (open-processes)
      (do (aio/await (aio/sleep 20)) (wait-until-none (- n 1)))))
; What a child shell sees of its parent (this program): its pid, its fds.
(def me (str/trim (get (sh "echo $PPID") :stdout)))
(fun (fd-list) (str/trim (get (sh "cd /proc/$PPID/fd && for f in *; do l=$(readlink $f) && printf '%s=%s,' $f $l; done") :stdout)))
(def fds-before (fd-list))

; 10 proc/run cancelled while running (a shell with a child of its own).
(def runs (map (fn (i) (proc/run "sh" (list "-c" "sleep 30.123 & wait"))) (range 0 10)))
(aio/await (aio/sleep 100))
(map aio/cancel runs)
; 10 proc/run timed out.
(def timed (map (fn (i) (proc/run "sleep" (list "30.123") {:timeout-ms 50})) (range 0 10)))
; 10 spawned in scopes that end (stdout unread, stdin left open).
(map (fn (i) (aio/scope (fn () (aio/then (proc/spawn "cat" nil)
                                          (fn (p) (stream/write (proc/stdin p) "unread\n") :done)))))
     (range 0 10))
(map (fn (i) (aio/scope (fn () (aio/then (proc/spawn "sleep" (list "30.123")) (fn (p) (aio/sleep 30))))))
     (range 0 5))
; 10 spawned and killed with SIGKILL, 5 with SIGTERM.
(def killed (map (fn (i) (aio/await (proc/spawn "sleep" (list "30.123")))) (range 0 15)))
(map (fn (p) (proc/kill p :kill)) (take 10 killed))
(map (fn (p) (proc/kill p)) (drop 10 killed))
(map (fn (p) (aio/await (proc/wait p))) killed)
(map (fn (h) (aio/await h)) timed)
(def left (wait-until-none 500))
(def fds-after (fd-list))
(def zombies (str/trim (get (sh "ps --ppid $PPID -o stat= | grep -c '^Z' || true") :stdout)))
(def others (str/trim (get (sh "ps --ppid $PPID -o pid= | grep -vc \"^ *$$\\$\" || true") :stdout)))
(print (str "pid " me))
(print (str "open " left))
(print (str "fds " fds-before " " fds-after))
(print (str "zombies " zombies))
(print (str "other-children " others))
(print "ready")
(aio/await (aio/sleep 1500))
(print "bye")
EOF

timeout 60 "$VALK" churn.valk >out.txt 2>err.txt &
vpid=$!
for _ in $(seq 1 300); do
  grep -q '^ready' out.txt 2>/dev/null && break
  sleep 0.05
done
grep -q '^ready' out.txt || fail "the program did not get ready: $(cat out.txt err.txt)"

# From outside, while it sleeps: no children at all (zombie or not).
me=$(awk '$1 == "pid" { print $2 }' out.txt)
[ -n "$me" ] && [ -d "/proc/$me" ] || fail "the program's pid: [$me]"
kids=$(children_of "$me")
check_eq "children of the valk process (from /proc)" "" "$kids"
# (Descriptors the process opens and closes at once, as the collector's
# reading of /proc/self/maps, vanish before readlink: not counted.)
fds_outside=$(for f in /proc/"$me"/fd/*; do readlink "$f" >/dev/null && echo; done | wc -l)

set +e
wait "$vpid"; st=$?
set -e
vpid=""
check_eq "exit status" 0 "$st"
check_eq "stderr" "" "$(cat err.txt)"
out=$(cat out.txt)
line() { printf '%s\n' "$out" | awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }'; }
check_eq "processes open at the end" "0" "$(line open)"
read -r before_list after_list <<<"$(line fds)"
count() { printf '%s' "$1" | tr ',' '\n' | grep -c . || true; }
before=$(count "$before_list"); after=$(count "$after_list")
check_eq "fds: as many after the churn as before ($before_list / $after_list)" "$before" "$after"
[ "$before" -gt 2 ] || fail "fd count looks wrong: [$before_list]"
# From outside, the fds of the idle program: the ones seen from inside
# minus the pipes of the shell that looked (stdout, stderr).
check_eq "fds seen from outside" "$((before - 2))" "$fds_outside"
check_eq "zombie children (seen by ps from inside)" "0" "$(line zombies)"
check_eq "other children (seen by ps from inside)" "0" "$(line other-children)"
check_eq "the program's end" "bye" "$(printf '%s\n' "$out" | tail -1)"
# No process of the program's survives it (a shell's children included:
# their groups were killed). Zombies reparented to an init that does not
# reap would have no arguments left, so they do not match.
sleep 0.2
survivors=$(ps -eo stat=,args= | awk '$1 !~ /^Z/ && $2 == "sleep" && $3 == "30.123"' | wc -l)
check_eq "sleep 30.123 processes left" "0" "$survivors"

# :stdout :inherit: what valk printed before comes first (its buffer is
# flushed before the spawn), though its stdout is a pipe here.
printf '%s\n' '(print "first")' '(aio/await (proc/run "echo" (list "second") {:stdout :inherit}))' \
  '(print "third")' >inherit.valk
check_eq "inherited stdout, in order" "first
second
third" "$(timeout 10 "$VALK" inherit.valk | cat)"

if [ "$FAILED" -ne 0 ]; then exit 1; fi
echo "proc_zombies: ok"
