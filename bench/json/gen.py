#!/usr/bin/env python3
"""Writes a realistic JSON document of about SIZE bytes (default 10 MB) to PATH:
an array of user-like objects with strings (some non-ASCII), integers, floats,
booleans, nulls and nested arrays. Seeded: the same document every run."""
import json, random, sys

def main():
    path = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 10 * 1000 * 1000
    rng = random.Random(42)
    words = ["alpha", "beta", "gamma", "delta", "café", "naïve", "東京", "emoji 😀", "line\nbreak",
             "quote \"x\"", "path/to/file", "lorem", "ipsum", "dolor", "sit", "amet"]
    items, total, i = [], 2, 0
    while total < size:
        item = {
            "id": i,
            "name": " ".join(rng.choice(words) for _ in range(rng.randint(1, 4))),
            "email": "user%d@example.com" % i,
            "active": rng.random() < 0.5,
            "score": round(rng.uniform(0, 1000), rng.randint(0, 6)),
            "balance": rng.randint(-10**12, 10**12),
            "ratio": rng.random(),
            "tags": [rng.choice(words) for _ in range(rng.randint(0, 5))],
            "history": [[rng.randint(0, 10**6), round(rng.uniform(-1, 1), 4)] for _ in range(rng.randint(0, 4))],
            "address": {"street": "%d Main St" % rng.randint(1, 9999), "city": rng.choice(words),
                        "zip": "%05d" % rng.randint(0, 99999), "geo": [rng.uniform(-90, 90), rng.uniform(-180, 180)]},
            "parent": None if rng.random() < 0.7 else rng.randint(0, i + 1),
        }
        text = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        total += len(text.encode()) + 1
        items.append(item)
        i += 1
    with open(path, "w", encoding="utf-8") as f:
        json.dump(items, f, ensure_ascii=False, separators=(",", ":"))

main()
