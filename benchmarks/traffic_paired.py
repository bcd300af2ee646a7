"""Two Traffic controllers compared episode by episode on the same episodes.

Each side is a ``benchmarks.traffic_decide --json`` file with one of its variants
(``FILE:search``, the default, or ``FILE:policy mode``) or a
``benchmarks.traffic_baselines --out`` CSV with one of its controllers
(``FILE:max-pressure``). Both must hold the same episodes (the same seeds); the script
prints the mean of the per-episode differences in mean waiting time (first minus
second), its standard error, and how many episodes the first side waits less. The
arrivals of an episode are the same for both sides, so the paired difference is much
more precise than the difference of the two means.

    python -m benchmarks.traffic_paired decide_seed0.json baselines.csv:max-pressure
    python -m benchmarks.traffic_paired new.json old.json "new.json:policy mode"
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import numpy as np


def load_side(spec: str) -> tuple[str, dict[int, float]]:
    """``FILE[:NAME]`` -> (label, {episode seed: mean waiting time})."""
    path_text, _, name = spec.partition(":")
    path = Path(path_text)
    if not path.is_file():
        raise SystemExit(f"{path}: no such file")
    if path.suffix == ".csv":
        name = name or "max-pressure"
        with path.open(newline="") as f:
            rows = [row for row in csv.DictReader(f) if row["controller"] == name]
        if not rows:
            raise SystemExit(f"{path}: no rows for controller {name!r}")
        return f"{path.name}:{name}", {int(r["seed"]): float(r["mean_waiting_time"]) for r in rows}
    data = json.loads(path.read_text())
    name = name or "search"
    found = [row for row in data.get("rows", []) if row.get("variant") == name]
    if not found:
        variants = [row.get("variant") for row in data.get("rows", [])]
        raise SystemExit(f"{path}: no variant {name!r} (it has {variants})")
    by_episode = found[0]["waiting_time_by_episode"]
    first = int(data["first_seed"])
    return f"{path.name}:{name}", {first + i: float(v) for i, v in enumerate(by_episode)}


def paired(a: dict[int, float], b: dict[int, float]) -> dict[str, float]:
    """Mean and standard error of ``a - b`` over the episodes both hold."""
    if set(a) != set(b):
        raise SystemExit(
            f"the two sides hold different episodes ({min(a)}-{max(a)}, {len(a)} and "
            f"{min(b)}-{max(b)}, {len(b)}): play the same seeds"
        )
    seeds = sorted(a)
    diff = np.array([a[s] - b[s] for s in seeds])
    se = float(diff.std(ddof=1) / math.sqrt(diff.size)) if diff.size > 1 else float("nan")
    return {
        "episodes": float(diff.size),
        "mean_first": float(np.mean([a[s] for s in seeds])),
        "mean_second": float(np.mean([b[s] for s in seeds])),
        "difference": float(diff.mean()),
        "standard_error": se,
        "first_better": float((diff < 0).sum()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("first", help="FILE[:variant or controller], compared with each other")
    parser.add_argument("others", nargs="+", help="FILE[:variant or controller]")
    args = parser.parse_args(argv)
    label, first = load_side(args.first)
    print(f"{label} minus each (s), per episode")
    print(f"{'second':<44}{'first':>7}{'second':>8}{'diff':>8}{'se':>7}  first better")
    for spec in args.others:
        other_label, other = load_side(spec)
        r = paired(first, other)
        print(
            f"{other_label:<44}{r['mean_first']:>7.2f}{r['mean_second']:>8.2f}"
            f"{r['difference']:>+8.2f}{r['standard_error']:>7.2f}  "
            f"{int(r['first_better'])} / {int(r['episodes'])}"
        )


if __name__ == "__main__":
    main()
