"""Gumbel MuZero against pUCT MuZero on CartPole-v1 with only 4 simulations per move.

Gumbel MuZero (Danihelka et al. 2022) is meant to keep improving the policy when the
search is tiny, where pUCT with few simulations does not. For each search in
(muzero, gumbel) and each seed: the CartPole-v1 entry of ``benchmarks/hyperparams/muzero.yml``
with ``num_simulations=4`` (and ``search="gumbel"``; CartPole's 2 actions are fewer than the
default ``max_considered_actions``, so Gumbel considers both), trained for ``--timesteps``
env steps with a deterministic evaluation every ``--eval-freq`` steps
(:func:`benchmarks.cartpole_target.run_seed`). One JSON per run in ``--out`` (a run whose
file exists is skipped, so an interrupted benchmark resumes); then ``summary.md`` and
``curves.png`` from all the files.

    python -m benchmarks.gumbel_cartpole --out benchmarks/results/gumbel_cartpole
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.cartpole_target import parse_args as target_parse_args  # noqa: E402
from benchmarks.cartpole_target import run_seed  # noqa: E402
from benchmarks.zoo import load_hyperparams  # noqa: E402

ENV_ID = "CartPole-v1"
THRESHOLD = 475  # CartPole-v1's eval_threshold in muzero.yml
NUM_SIMULATIONS = 4
SEARCHES = ("muzero", "gumbel")
# The target script's arguments kept with each run.
SETTINGS = ("env", "timesteps", "eval_freq", "eval_episodes", "env_kwargs", "env_wrapper")
COLORS = {"muzero": "C0", "gumbel": "C3"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gumbel_cartpole", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--searches", nargs="+", choices=SEARCHES, default=list(SEARCHES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--timesteps", type=int, default=None, help="default: n_timesteps")
    parser.add_argument("--eval-freq", type=int, default=1000)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("bench_out/gumbel_cartpole"))
    return parser.parse_args(argv)


def run_one(search: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """One training run, as cartpole_target does it, with 4 simulations and ``search``."""
    override = {"num_simulations": NUM_SIMULATIONS, "search": search}
    timesteps = args.timesteps or load_hyperparams("muzero", ENV_ID)[0]["n_timesteps"]
    target_args = target_parse_args(
        [
            "--env", ENV_ID, "--timesteps", str(timesteps), "--eval-freq", str(args.eval_freq),
            "--eval-episodes", str(args.eval_episodes), "--override", json.dumps(override),
        ]
    )  # fmt: skip
    record = run_seed(seed, target_args)
    settings = {key: getattr(target_args, key) for key in SETTINGS}
    return {"search": search, **record, "settings": settings, "override": override}


def load_records(out: Path) -> dict[str, list[dict[str, Any]]]:
    """``{search: [records by seed]}`` from every run file in ``out``."""
    by_search: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(out.glob("*__seed*.json")):
        record = json.loads(path.read_text())
        by_search.setdefault(record["search"], []).append(record)
    return {s: sorted(by_search[s], key=lambda r: r["seed"]) for s in SEARCHES if s in by_search}


def summary_table(by_search: dict[str, list[dict[str, Any]]]) -> str:
    """Per search: steps to 475 and final evaluation per seed, median, training seconds."""
    lines = [
        f"| search | seeds | env steps to {THRESHOLD} per seed | median | "
        "final eval mean per seed | training s per seed |",
        "|---|---|---|---|---|---|",
    ]
    for search, runs in by_search.items():
        steps = [r["steps_to_threshold"] for r in runs]
        # A seed that never reached the threshold counts as infinite in the median.
        median = statistics.median([math.inf if s is None else s for s in steps])
        cells = [
            search,
            " ".join(str(r["seed"]) for r in runs),
            " / ".join("never" if s is None else f"{s:,}" for s in steps),
            "not reached" if math.isinf(median) else f"{median:,.0f}",
            " / ".join(f"{r['final_mean']:.1f}" for r in runs),
            " / ".join(f"{r['total_train_seconds']:.0f}" for r in runs),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_curves(by_search: dict[str, list[dict[str, Any]]], path: Path) -> None:
    """Evaluation mean against env steps: mean over seeds, band from min to max."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for search, runs in by_search.items():
        # {steps: mean} per seed (the final evaluation repeats the last step: keep it);
        # drawn at the steps every seed was evaluated at, so the band covers all seeds.
        curves = [{p["steps"]: p["mean"] for p in r["curve"]} for r in runs]
        steps = sorted(set.intersection(*(set(c) for c in curves)))
        returns = np.array([[c[s] for s in steps] for c in curves])  # [seeds, points]
        color = COLORS.get(search, "C2")
        label = f"{search} ({len(runs)} seeds)"
        ax.plot(steps, returns.mean(axis=0), color=color, marker="o", label=label)
        ax.fill_between(steps, returns.min(axis=0), returns.max(axis=0), color=color, alpha=0.2)
    ax.axhline(THRESHOLD, color="gray", linestyle=":", linewidth=1)
    ax.set_xlabel("env steps")
    ax.set_ylabel("deterministic evaluation return")
    ax.set_title(f"{ENV_ID}, {NUM_SIMULATIONS} simulations: mean over seeds, band min-max")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    torch.set_num_threads(1)  # one core per run; the benchmark runs one run at a time
    args.out.mkdir(parents=True, exist_ok=True)
    for search in args.searches:
        for seed in args.seeds:
            path = args.out / f"{search}__seed{seed}.json"
            if path.exists():
                print(f"{search} seed {seed}: {path} exists, skipped", flush=True)
                continue
            print(f"{search} seed {seed}", flush=True)
            record = run_one(search, seed, args)
            path.write_text(json.dumps(record, indent=1, default=repr))

    by_search = load_records(args.out)
    table = summary_table(by_search)
    settings = next(iter(by_search.values()))[0]["settings"]
    header = (
        f"# Gumbel vs pUCT MuZero on {ENV_ID} with {NUM_SIMULATIONS} simulations\n\n"
        f"    python -m benchmarks.gumbel_cartpole {' '.join(argv)}\n\n"
        f"Written {datetime.date.today().isoformat()}. "
        f"muzero.yml's {ENV_ID} entry with num_simulations={NUM_SIMULATIONS}; "
        f"{settings['timesteps']:,} env steps per run; deterministic evaluation over "
        f"{settings['eval_episodes']} episodes every "
        f"{settings['eval_freq']:,} env steps; training seconds exclude evaluation.\n\n"
    )
    (args.out / "summary.md").write_text(header + table)
    plot_curves(by_search, args.out / "curves.png")
    print("\n" + table + f"\nwrote {args.out / 'summary.md'} and {args.out / 'curves.png'}")


if __name__ == "__main__":
    main()
