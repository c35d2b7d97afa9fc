# Writes SIZE bytes of deterministic English-like text (lower-case words,
# some ending in "ing", punctuation, line breaks) to PATH.
import random, sys
path, size = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
letters = "abcdefghijklmnopqrstuvwxyz"
vocab = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(5000)]
vocab += [w + "ing" for w in vocab[:1500]] + ["ing", "kingdom", "Singing", "thing", "during"]
out, n = [], 0
while n < size:
    w = rng.choice(vocab)
    sep = rng.choice(" " * 12 + ",.;\n")
    piece = w + (sep if sep == " " else sep + " ")
    out.append(piece)
    n += len(piece)
open(path, "w").write("".join(out)[:size])
