#!/usr/bin/env bash
# JSON against Python's json module (docs/language.md#json), with seeded random documents:
#  1. valk parses and re-encodes each document; json.loads of its output must equal
#     json.loads of the original (floats compared exactly: the encoder's text must
#     round-trip; an empty array becomes nil and encodes back as []);
#  2. valk encodes values built in Valkyria (generated as Valkyria source), and Python
#     must parse the output into the expected value.
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 - "$VALK" "$tmp" <<'PY'
import json, math, random, subprocess, sys

valk, tmp = sys.argv[1], sys.argv[2]
rng = random.Random(20240601)
failures = 0

def fail(what):
    global failures
    failures += 1
    print("FAIL: " + what[:400])

ALPHABET = ["a", "z", " ", "\"", "\\", "/", "\n", "\t", "\r", "\b", "\f", "\x00", "\x01", "\x1f",
            "\x7f", "é", "ß", "€", "東", "京", "\u2028", "\ufffd", "😀", "𝄞", "\U0010ffff", "\ud7ff", "\ue000"]

def rand_str():
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))

def rand_int():
    k = rng.random()
    if k < 0.4: return rng.randint(-1000, 1000)
    if k < 0.8: return rng.randint(-2**63, 2**63 - 1)
    if k < 0.9: return rng.choice([2**63 - 1, -2**63, 0, -1, 2**62, -2**62 - 1])
    return rng.choice([2**64, 2**70, -2**80, 2**100])  # past 64 bits: exact as floats

def rand_float():
    k = rng.random()
    if k < 0.3: return rng.uniform(-1e6, 1e6)
    if k < 0.5: return rng.random()
    if k < 0.7: return math.ldexp(rng.random(), rng.randint(-1074, 1023)) * rng.choice([1, -1])
    if k < 0.8: return rng.choice([0.0, -0.0, 1.0, 0.1, 5e-324, 1.7976931348623157e308, 1e16, 1e-7])
    return float(rng.randint(-10**6, 10**6))

def rand_value(depth):
    k = rng.random()
    if depth < 5 and k < 0.25:
        return {rand_str(): rand_value(depth + 1) for _ in range(rng.randint(0, 5))}
    if depth < 5 and k < 0.5:
        return [rand_value(depth + 1) for _ in range(rng.randint(0, 5))]
    k = rng.random()
    if k < 0.25: return rand_str()
    if k < 0.5: return rand_int()
    if k < 0.75: return rand_float()
    return rng.choice([True, False, None])

def same(a, b):
    """Exact equality: floats bit for bit (0.0 vs -0.0 too), ints vs floats by type."""
    if isinstance(a, float) or isinstance(b, float):
        if not (isinstance(a, float) and isinstance(b, float)):
            return False
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if type(a) != type(b): return False
    if isinstance(a, dict):
        return list(a.keys()) == list(b.keys()) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b

def expected_after_valk(v):
    """What a document becomes through valk: integers past 64 bits become floats."""
    if isinstance(v, bool) or v is None: return v
    if isinstance(v, int): return v if -2**63 <= v < 2**63 else float(v)
    if isinstance(v, dict): return {k: expected_after_valk(x) for k, x in v.items()}
    if isinstance(v, list): return [expected_after_valk(x) for x in v]
    return v

# ---- 1. parse and re-encode ----------------------------------------------------------
docs = []
for i in range(300):
    v = rand_value(0)
    style = rng.random()
    if style < 0.4:
        text = json.dumps(v)                       # \u escapes, astral chars as surrogate pairs
    elif style < 0.8:
        text = json.dumps(v, ensure_ascii=False)   # raw UTF-8
    else:
        text = json.dumps(v, ensure_ascii=False, indent=rng.randint(0, 3))
    docs.append((v, text))
for i, (v, text) in enumerate(docs):
    with open(f"{tmp}/in{i}.json", "w", encoding="utf-8") as f:
        f.write(text)
prog = "".join(
    f'(write-file "{tmp}/out{i}.json" (json/encode (json/parse (read-file "{tmp}/in{i}.json"))))\n'
    for i in range(len(docs)))
with open(f"{tmp}/rt.valk", "w") as f:
    f.write(prog)
r = subprocess.run([valk, f"{tmp}/rt.valk"], capture_output=True, text=True)
if r.returncode != 0:
    fail("valk round-trip program exited %d: %s" % (r.returncode, r.stderr))
else:
    bad = 0
    for i, (v, text) in enumerate(docs):
        out = open(f"{tmp}/out{i}.json", encoding="utf-8").read()
        try:
            got = json.loads(out)
        except ValueError as e:
            fail(f"document {i}: Python cannot parse valk's output ({e}): {out[:200]}")
            bad += 1
            continue
        if not same(got, expected_after_valk(json.loads(text))):
            fail(f"document {i}: round trip differs:\n  in:  {text[:300]}\n  out: {out[:300]}")
            bad += 1
    if bad == 0:
        print(f"ok: {len(docs)} documents parsed and re-encoded by valk equal Python's reading")

# ---- 2. valk encodes values written as Valkyria source ------------------------------
def valk_str(s):
    out = '"'
    for ch in s:
        c = ord(ch)
        if ch == '"': out += '\\"'
        elif ch == '\\': out += '\\\\'
        elif c < 0x20 or c == 0x7f: out += '\\x%02x' % c
        else: out += ch
    return out + '"'

def valk_float(x):
    t = repr(x)
    return t if ("." in t or "e" in t) else t + ".0"

def valk_src(v):
    """Source that builds v: objects as (dict ...), arrays as (list ...), null as json/null."""
    if v is None: return "json/null"
    if v is True: return "true"
    if v is False: return "false"
    if isinstance(v, int): return str(v)
    if isinstance(v, float): return valk_float(v)
    if isinstance(v, str): return valk_str(v)
    if isinstance(v, list): return "(list " + " ".join(valk_src(x) for x in v) + ")"
    return "(dict " + " ".join(valk_str(k) + " " + valk_src(x) for k, x in v.items()) + ")"

def int64_only(v):
    if isinstance(v, bool) or v is None: return v
    if isinstance(v, int): return max(-2**63, min(2**63 - 1, v))
    if isinstance(v, dict): return {k: int64_only(x) for k, x in v.items()}
    if isinstance(v, list): return [int64_only(x) for x in v]
    return v

vals = [int64_only(rand_value(0)) for _ in range(300)]
prog = "".join(f'(write-file "{tmp}/enc{i}.json" (json/encode {valk_src(v)}))\n' for i, v in enumerate(vals))
with open(f"{tmp}/enc.valk", "w", encoding="utf-8") as f:
    f.write(prog)
r = subprocess.run([valk, f"{tmp}/enc.valk"], capture_output=True, text=True)
if r.returncode != 0:
    fail("valk encode program exited %d: %s" % (r.returncode, r.stderr))
else:
    bad = 0
    for i, v in enumerate(vals):
        out = open(f"{tmp}/enc{i}.json", encoding="utf-8").read()
        try:
            got = json.loads(out)
        except ValueError as e:
            fail(f"value {i}: Python cannot parse valk's output ({e}): {out[:200]}")
            bad += 1
            continue
        if not same(got, v):
            fail(f"value {i}: differs:\n  src: {valk_src(v)[:300]}\n  out: {out[:300]}")
            bad += 1
    if bad == 0:
        print(f"ok: {len(vals)} values encoded by valk parse in Python to the same value")
sys.exit(1 if failures else 0)
PY
