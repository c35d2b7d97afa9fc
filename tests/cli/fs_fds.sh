#!/usr/bin/env bash
# Files (docs/io.md#files) from the outside: no fd is left open by opening,
# reading, cancelling and closing files many times (counted in the valk
# process's /proc/self/fd); permission errors (skipped, visibly, as root,
# who is never denied); a 20 MB file read line by line and in chunks in
# bounded memory (max RSS about the same as for a file a fifth its size).
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
check_eq() { [ "$2" == "$3" ] || fail "$1: expected [$2], got [$3]"; }
has() { case "$2" in *"$3"*) ;; *) fail "$1: expected to find [$3] in [$2]";; esac; }
tmp=$(mktemp -d)
trap 'chmod -R u+rwx "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

# ---- fd leaks -----------------------------------------------------------------------------
head -c 3000000 /dev/zero | tr '\0' 'z' >"$tmp/big"
printf 'a\nb\nc\n' >"$tmp/small"
cat >"$tmp/leak.valk" <<'EOF'
(= {dir} (head (sys/args)))
(= {big} (str dir "/big"))
(= {small} (str dir "/small"))
(fun (fd-count) (len (aio/await (fs/list "/proc/self/fd"))))
(fun (settle want n)  ; closes run on the thread pool: give them a moment
  (if (or (== n 0) (== (fd-count) want)) (fd-count) (do (aio/await (aio/sleep 5)) (settle want (- n 1)))))
(fun (round i)
  ; a stream read partly, then cancelled
  (= {s} (aio/await (fs/open big)))
  (aio/await (stream/read s 100))
  (stream/cancel s)
  ; a stream closed (not cancelled) with a read ahead in flight
  (= {s1} (aio/await (fs/open big)))
  (aio/await (stream/close s1))
  ; a stream read to its end
  (= {s2} (aio/await (fs/open small)))
  (aio/await (stream/read-all s2))
  ; an open cancelled while pending, a read cancelled while pending
  (aio/cancel (fs/open big))
  (aio/cancel (fs/read big))
  ; a whole read, a write stream closed, one cancelled with data queued
  (aio/await (fs/read small))
  (= {w} (aio/await (fs/open (str dir "/out" (% i 3)) :write)))
  (stream/write w "some bytes")
  (aio/await (stream/close w))
  (= {w2} (aio/await (fs/open (str dir "/out-c") :append)))
  (stream/write w2 "queued")
  (stream/cancel w2)
  ; a scope that ends with a stream open in it
  (aio/await (aio/scope (fn () (aio/then (fs/open big) (fn (s) (stream/read s 10))))))
  ; a line reader closed early, another read to the end
  (= {r} (aio/await (fs/lines big)))
  (fs/close-lines r)
  (= {r2} (aio/await (fs/lines small)))
  (aio/await (aio/all (list (fs/read-line r2) (fs/read-line r2) (fs/read-line r2) (fs/read-line r2))))
  ; errors
  (aio/await (aio/catch (fs/open (str dir "/missing")) (fn (e) nil)))
  (aio/await (aio/catch (fs/open dir) (fn (e) nil)))
  (if (< i 200) (round (+ i 1)) :done))
(= {start} (fd-count))
(print "start" start)
(round 0)
(print "end" (settle start 200))
(print (aio/metrics-prometheus))
EOF
out=$(timeout 120 "$VALK" "$tmp/leak.valk" "$tmp" 2>&1) || fail "leak.valk failed: $out"
start=$(echo "$out" | sed -n 's/^start //p')
end=$(echo "$out" | sed -n 's/^end //p')
[ -n "$start" ] || fail "no start count in [$out]"
check_eq "fds at the end as at the start" "$start" "$end"
has "open files gauge back to 0" "$out" 'valk_io_open{kind="file"} 0'
echo "fds: start $start, end $end (after 200 rounds of opens, reads, cancels and closes)"

# ---- permission denied ------------------------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
  echo "skipped: the permission checks (running as root, which is never denied)"
else
  printf 'secret' >"$tmp/locked"
  chmod 000 "$tmp/locked"
  mkdir "$tmp/ro" && chmod 500 "$tmp/ro"
  mkdir "$tmp/closed" && chmod 000 "$tmp/closed"
  cat >"$tmp/perm.valk" <<'EOF'
(= {dir} (head (sys/args)))
(fun (err h) (error-message (aio/await (aio/catch h (fn (e) e)))))
(print (err (fs/read (str dir "/locked"))))
(print (err (fs/open (str dir "/locked"))))
(print (err (fs/write (str dir "/ro/new") "x")))
(print (err (fs/list (str dir "/closed"))))
(print (err (fs/exists? (str dir "/closed/x"))))
EOF
  out=$("$VALK" "$tmp/perm.valk" "$tmp" 2>&1)
  check_eq "permission errors" "fs/read $tmp/locked: permission denied (EACCES)
fs/open $tmp/locked: permission denied (EACCES)
fs/write $tmp/ro/new: permission denied (EACCES)
fs/list $tmp/closed: permission denied (EACCES)
fs/exists? $tmp/closed/x: permission denied (EACCES)" "$out"
fi

# ---- symlinks; a file bigger than the heap ----------------------------------------------------
printf 'x' >"$tmp/target" && ln -s "$tmp/target" "$tmp/link" && ln -s "$tmp/nowhere" "$tmp/dangling"
out=$("$VALK" -e "(list (get (aio/await (fs/lstat \"$tmp/link\")) :type) (get (aio/await (fs/stat \"$tmp/link\")) :type) (aio/await (fs/exists? \"$tmp/dangling\")) (get (aio/await (fs/lstat \"$tmp/dangling\")) :type))")
check_eq "fs/lstat sees links, fs/stat and fs/exists? follow them" '{:symlink :file false :symlink}' "$out"
"$VALK" -e "(aio/await (fs/remove \"$tmp/link\"))" >/dev/null
check_eq "fs/remove of a link leaves its target" "x" "$(cat "$tmp/target")"
truncate -s 4G "$tmp/sparse"
out=$(VALK_HEAP_LIMIT=64m "$VALK" -e "(error-message (aio/await (aio/catch (fs/read \"$tmp/sparse\") (fn (e) e))))")
check_eq "fs/read refuses what the heap cannot hold, before reading it" "\"fs/read $tmp/sparse: file too large (EFBIG)\"" "$out"

# ---- bounded memory -----------------------------------------------------------------------------
seq 1 500000 | awk '{print "line number " $1 " of a generated file, padded to forty"}' >"$tmp/lines20"
head -c 4000000 "$tmp/lines20" >"$tmp/lines4"
cat >"$tmp/count.valk" <<'EOF'
(fun (count r n last)
  (= {l} (aio/await (fs/read-line r)))
  (if (nil? l) (list n last) (count r (+ n 1) l)))
(print (count (aio/await (fs/lines (head (sys/args)))) 0 nil))
EOF
cat >"$tmp/chunks.valk" <<'EOF'
(fun (drain s n) (= {c} (aio/await (stream/read s))) (if (nil? c) n (drain s (+ n (len c)))))
(print (drain (aio/await (fs/open (head (sys/args)))) 0))
EOF
rss() {  # rss PROGRAM FILE: prints the output, sets kb
  /usr/bin/time -f "%M" -o "$tmp/rss" "$VALK" "$1" "$2"
  kb=$(tail -1 "$tmp/rss")
}
out=$(rss "$tmp/count.valk" "$tmp/lines20"); kb20=$(tail -1 "$tmp/rss")
check_eq "every line of 20 MB" '{500000 line number 500000 of a generated file, padded to forty}' "$out"
out=$(rss "$tmp/count.valk" "$tmp/lines4"); kb4=$(tail -1 "$tmp/rss")
out=$(rss "$tmp/chunks.valk" "$tmp/lines20"); kbc=$(tail -1 "$tmp/rss")
check_eq "every byte of 20 MB" "$(stat -c %s "$tmp/lines20")" "$out"
echo "max RSS: fs/lines over 4 MB $((kb4 / 1024)) MB, over 20 MB $((kb20 / 1024)) MB; stream/read over 20 MB $((kbc / 1024)) MB"
case "$VALK" in
  *asan*) echo "note: the memory bounds are not checked under the sanitizers" ;;
  *)
    [ "$kb20" -lt 81920 ] || fail "fs/lines over 20 MB: ${kb20} KB resident"
    [ "$kbc" -lt 81920 ] || fail "stream/read over 20 MB: ${kbc} KB resident"
    # Not proportional to the file: five times the lines, about the same memory.
    [ "$kb20" -lt $((kb4 * 2)) ] || fail "fs/lines memory grows with the file: $kb4 KB -> $kb20 KB"
    ;;
esac

exit $FAILED
