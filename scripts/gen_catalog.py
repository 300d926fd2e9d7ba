#!/usr/bin/env python3
"""Write a synthetic skills root of N skills (for start-up and routing benchmarks).

Usage: scripts/gen_catalog.py DIR [N]   (default 10000)

Manifests are valid (`skillos validate --root DIR --no-entrypoints`) and deterministic: the
same N gives the same root.
"""

import random
import sys
from pathlib import Path

WORDS = (
    "invoice payment currency flight hotel booking report summary tender contract supplier "
    "shipping delivery price quote margin weather calendar meeting email document translate "
    "search archive customer order refund ticket support inventory warehouse forecast budget "
    "expense salary employee vacation schedule reminder alert"
).split()


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) == 3 else 10_000
    rng = random.Random(7)

    def word() -> str:
        base = rng.choice(WORDS)
        return base + str(rng.randrange(500)) if rng.random() < 0.25 else base

    for i in range(count):
        domain, name = f"domain{i % 97}", f"skill_{i}"
        folder = root / "metadata" / domain
        folder.mkdir(parents=True, exist_ok=True)
        description = " ".join(word() for _ in range(30))
        tags = ", ".join(word() for _ in range(6))
        (folder / f"{name}.yaml").write_text(
            f"id: {domain}/{name}\nname: {name.replace('_', ' ')}\ndescription: {description}\n"
            f"version: 1.0.0\nentrypoint: implementations.{domain}.{name}:run\ntags: [{tags}]\n",
            encoding="utf-8",
        )
    print(f"{count} skills written under {root}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
