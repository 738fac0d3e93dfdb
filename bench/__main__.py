"""Run every bench_*.py module of this package, one after another, with the same arguments."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    status = 0
    for path in sorted(Path(__file__).resolve().parent.glob("bench_*.py")):
        module = importlib.import_module(f"bench.{path.stem}")
        if getattr(module, "STANDALONE", False):
            print(f"== {path.stem}: skipped (run `python -m bench.{path.stem}` on its own)")
            continue
        print(f"== {path.stem}", flush=True)
        status = max(status, int(module.main(argv)))
        print()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
