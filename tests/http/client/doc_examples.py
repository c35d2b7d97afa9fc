#!/usr/bin/env python3
"""Runs the examples of docs/http-client.md (tests/http/client_docs.sh).

The page marks its blocks with HTML comments (invisible when rendered):

  <!-- demo-server -->   the next ```lisp block is the server the examples talk to
  <!-- run -->           the next ```lisp block is a program to run; when a
                         ```text block follows it (after an "Output:" line),
                         that is its exact output, except that "[...]" in
                         it stands for any text (a time, for instance)

  doc_examples.py server DOC PORT       prints the server program, port 8443 -> PORT
  doc_examples.py run DOC PORT VALK DIR runs every example from DIR (where
                         cert.pem is) with SSL_CERT_FILE=cert.pem, 8443 -> PORT
                         in the program and PORT -> 8443 in its output; prints
                         "ok: ..." / "FAIL: ..." lines, exits 1 on a failure
  doc_examples.py show DOC PORT VALK DIR  prints every example's actual output
"""
import os
import re
import subprocess
import sys


def blocks(doc):
    """(kind, heading, code, expected-or-None) for each marked block."""
    lines = open(doc, encoding="utf-8").read().split("\n")
    out, heading, i = [], "", 0

    def fenced(j, lang):
        # the fenced block starting at or after j (blank lines skipped): (text, next index)
        while j < len(lines) and (not lines[j].strip() or (lang == "text" and lines[j].strip() == "Output:")):
            j += 1
        if j >= len(lines) or lines[j].strip() != "```" + lang:
            return None, j
        k = j + 1
        while k < len(lines) and lines[k].strip() != "```":
            k += 1
        return "\n".join(lines[j + 1:k]) + "\n", k + 1

    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        m = re.match(r"<!-- (demo-server|run) -->", line.strip())
        if m:
            code, j = fenced(i + 1, "lisp")
            if code is None:
                out.append(("broken", heading, "", "marker on line %d without a ```lisp block" % (i + 1)))
                i += 1
                continue
            expected = None
            if m.group(1) == "run":
                expected, k = fenced(j, "text")
                if expected is not None:
                    j = k
            out.append((m.group(1), heading, code, expected))
            i = j
            continue
        i += 1
    return out


def matches(expected, out):
    """out equals expected, where "[...]" in expected matches any text within a line."""
    el, ol = expected.split("\n"), out.split("\n")
    if len(el) != len(ol):
        return False
    for e, o in zip(el, ol):
        if "[...]" in e:
            if not re.fullmatch(".*".join(re.escape(part) for part in e.split("[...]")), o):
                return False
        elif e != o:
            return False
    return True


def run_one(code, port, valk, d, n):
    path = os.path.join(d, "doc_example_%d.valk" % n)
    with open(path, "w", encoding="utf-8") as f:
        f.write(code.replace("8443", str(port)))
    env = dict(os.environ, SSL_CERT_FILE=os.path.join(d, "cert.pem"))
    try:
        p = subprocess.run([valk, path], cwd=d, env=env, capture_output=True, timeout=30)
        out, err, rc = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"), p.returncode
    except subprocess.TimeoutExpired:
        out, err, rc = "", "timed out after 30 s", -1
    return out.replace(str(port), "8443"), err.replace(str(port), "8443"), rc


def main():
    mode, doc, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    bs = blocks(doc)
    if mode == "server":
        servers = [b for b in bs if b[0] == "demo-server"]
        if len(servers) != 1:
            sys.exit("expected one demo-server block, found %d" % len(servers))
        sys.stdout.write(servers[0][2].replace("8443", str(port)))
        return
    valk, d = sys.argv[4], sys.argv[5]
    failed = 0
    runs = [b for b in bs if b[0] in ("run", "broken")]
    for n, (kind, heading, code, expected) in enumerate(runs, 1):
        what = "example %d (%s)" % (n, heading)
        if kind == "broken":
            print("FAIL: %s: %s" % (what, expected))
            failed = 1
            continue
        out, err, rc = run_one(code, port, valk, d, n)
        if mode == "show":
            print("=== %s (exit %d)\n%s%s" % (what, rc, out, ("--- stderr\n" + err) if err else ""))
            continue
        problems = []
        if rc != 0:
            problems.append("exit status %d" % rc)
        if err.strip():
            problems.append("stderr: " + err.strip()[:400])
        if expected is not None and not matches(expected, out):
            problems.append("output differs:\n--- expected\n%s--- got\n%s" % (expected, out))
        if problems:
            failed = 1
            print("FAIL: %s: %s" % (what, "; ".join(problems)))
        else:
            print("ok: %s%s" % (what, "" if expected is not None else " runs (no output shown)"))
    if mode == "run":
        print("ok: %d examples" % len(runs) if not failed else "FAIL: some examples differ")
    sys.exit(failed)


if __name__ == "__main__":
    main()
