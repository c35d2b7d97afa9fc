# re.findall of the pattern of findall.valk over the same file (bench/stdlib/run.sh).
import re, sys, time
text = open(sys.argv[1], encoding="utf-8").read()
t0 = time.perf_counter()
ms = re.findall(r"[a-z]+ing\b", text)
t1 = time.perf_counter()
print("op_us=%d" % int((t1 - t0) * 1e6))
print("check=%d %s" % (len(ms), ms[0]))
