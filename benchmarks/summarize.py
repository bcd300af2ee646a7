"""Summary table (Markdown) and learning curves (PNG) from a benchmark's saved run files.

    python -m benchmarks.summarize --out bench_out/benchmark

Reads every ``OUT/runs/*.json`` written by :mod:`benchmarks.run`; writes ``OUT/summary.md``
and ``OUT/curves.png``. Numbers are per env and algorithm, over seeds:

* reached: seeds whose evaluation mean reached the env's threshold at some evaluation;
* env steps / training seconds to threshold: median over seeds, a seed that never reached
  it counting as infinite (so "not reached" when half or more never did);
* final return: mean over seeds of the last evaluation's mean, +- the std over seeds;
* training steps/s: env steps per second of training wall-clock (evaluation excluded).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

METRIC_LABELS = {
    "mean_waiting_time": "mean waiting time (s)",
    "distance": "mean distance (m)",
    "final_distance": "distance at the last step (m)",
    "success_rate": "success rate (last step)",
}
COLORS = {"muzero": "C0", "dqn": "C1", "ppo": "C2"}
ALGO_ORDER = ("muzero", "dqn", "ppo")  # then the others (controllers) by name


def load_runs(out: Path) -> list[dict[str, Any]]:
    """All saved records, in a stable order."""
    return [json.loads(path.read_text()) for path in sorted((out / "runs").glob("*.json"))]


def group(records: list[dict[str, Any]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """``{env_id: {algo: [records]}}``: envs by name, MuZero, DQN, PPO, then the others."""
    groups: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for record in sorted(
        records,
        key=lambda r: (
            r["env_id"],
            ALGO_ORDER.index(r["algo"]) if r["algo"] in ALGO_ORDER else 99,
            r["algo"],
            r.get("seed", 0),
        ),
    ):
        groups[record["env_id"]][record["algo"]].append(record)
    return groups


def _median_or_none(values: list[float]) -> float | None:
    middle = statistics.median(values)
    return None if math.isinf(middle) else middle


def _fmt(value: float | None, digits: int = 0) -> str:
    return "not reached" if value is None else f"{value:,.{digits}f}"


def _plus_minus(values: list[float], digits: int = 1) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):,.{digits}f} ± {spread:,.{digits}f}"


def env_table(env_id: str, by_algo: dict[str, list[dict[str, Any]]]) -> str:
    """The Markdown section of one env."""
    done = [r for runs in by_algo.values() for r in runs if r["status"] == "done"]
    threshold = next((r["threshold"] for r in done if r["threshold"] is not None), None)
    metrics = sorted({key for r in done for key in r["final"] if key in METRIC_LABELS})
    opponent = next((r["final"]["opponent"] for r in done if "opponent" in r["final"]), None)
    lines = [f"### {env_id}", ""]
    if done:
        budgets = sorted({r["settings"]["timesteps"] for r in done if r["env_steps"]})
        freqs = sorted({r["settings"]["eval_freq"] for r in done if r["env_steps"]})
        episodes = sorted({r["settings"]["eval_episodes"] for r in done})
        lines += [
            f"Budget {' / '.join(f'{b:,}' for b in budgets) or '-'} env steps; deterministic "
            f"evaluation over {' / '.join(map(str, episodes))} episodes every "
            f"{' / '.join(f'{f:,}' for f in freqs) or '-'} env steps; threshold "
            f"{f'{threshold:g}' if threshold is not None else 'none'}.",
            "",
        ]
    goal = f"{threshold:g}" if threshold is not None else ""
    to_goal = (
        [f"reached {goal}", f"env steps to {goal} (median)", f"training s to {goal} (median)"]
        if threshold is not None
        else []
    )
    header = [
        "algorithm",
        "seeds",
        *to_goal,
        "final return",
        "training steps/s",
        *(METRIC_LABELS[m] for m in metrics),
    ]
    if opponent is not None:  # a game: the last match of every seed, added up
        header.append(f"wins / draws / losses vs {opponent}")
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for algo, runs in by_algo.items():
        if runs[0]["status"] != "done":  # one record for the pair, no seeds
            cells = [algo, f"{runs[0]['status']}: {runs[0]['reason']}"]
            lines.append("| " + " | ".join(cells + ["-"] * (len(header) - 2)) + " |")
            continue
        trained = runs[0]["env_steps"] > 0  # controllers are evaluated, not trained
        cells = [algo, str(len(runs))]
        if threshold is not None and trained:
            steps = [r["steps_to_threshold"] for r in runs]
            seconds = [r["seconds_to_threshold"] for r in runs]
            cells += [
                f"{sum(s is not None for s in steps)}/{len(runs)}",
                _fmt(_median_or_none([math.inf if s is None else s for s in steps])),
                _fmt(_median_or_none([math.inf if s is None else s for s in seconds]), 1),
            ]
        elif threshold is not None:
            cells += ["-", "-", "-"]
        cells += [
            _plus_minus([r["final"]["mean"] for r in runs]),
            f"{statistics.mean(r['throughput'] for r in runs):,.0f}" if trained else "-",
            *(_plus_minus([r["final"][m] for r in runs], 2) for m in metrics),
        ]
        if opponent is not None:
            cells.append(
                " / ".join(
                    str(sum(r["final"][k] for r in runs)) for k in ("wins", "draws", "losses")
                )
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def provenance(done: list[dict[str, Any]]) -> str:
    """When and with what the runs were made (from the run files)."""
    if not done:
        return ""
    started = sorted(r["started"] for r in done if "started" in r)
    machines = {json.dumps(r["machine"], sort_keys=True) for r in done if "machine" in r}
    lines = ["", f"Runs started {started[0]} to {started[-1]} (UTC)." if started else ""]
    for machine in map(json.loads, sorted(machines)):
        lines.append(
            f"Measured with muzero_gym {machine['muzero_gym']}, stable-baselines3 "
            f"{machine['stable_baselines3']}, torch {machine['torch']}, Python "
            f"{machine['python']}, on {machine['cpu_count']} CPUs ({machine['processor']}), "
            "one torch thread per run."
        )
    return "\n".join(lines) + "\n"


def _mean_band(
    curves: list[tuple[np.ndarray, np.ndarray]], grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over seeds of curves ``(x, y)`` interpolated onto ``grid``."""
    ys = np.stack([np.interp(grid, x, y) for x, y in curves])
    return ys.mean(axis=0), ys.std(axis=0)


def plot(groups: dict[str, dict[str, list[dict[str, Any]]]], path: Path) -> None:
    """Per env: return against env steps and against training seconds, mean +- std."""
    envs = [
        env
        for env, by_algo in groups.items()
        if any(r["status"] == "done" for runs in by_algo.values() for r in runs)
    ]
    fig, axes = plt.subplots(
        max(len(envs), 1), 2, figsize=(12, 4 * max(len(envs), 1)), squeeze=False
    )
    for row, env_id in zip(axes, envs, strict=False):
        threshold = None
        for index, (algo, runs) in enumerate(groups[env_id].items()):
            runs = [r for r in runs if r["status"] == "done"]
            if not runs:
                continue
            threshold = runs[0]["threshold"]
            if runs[0]["env_steps"] == 0:  # a controller: one level, drawn across the plot
                level = statistics.mean(r["final"]["mean"] for r in runs)
                for ax in row:
                    ax.axhline(level, color=f"C{3 + index}", linestyle="--", label=algo)
                continue
            color = COLORS.get(algo, f"C{3 + index}")
            for ax, x_key in zip(row, ("steps", "train_seconds"), strict=True):
                curves = [
                    (
                        np.array([p[x_key] for p in r["curve"]]),
                        np.array([p["mean"] for p in r["curve"]]),
                    )
                    for r in runs
                ]
                # Over the range where every seed has data, so the band is over all seeds.
                start = max(x[0] for x, _ in curves)
                stop = min(x[-1] for x, _ in curves)
                grid = np.linspace(start, stop, 200) if stop > start else np.array([start])
                mean, std = _mean_band(curves, grid)
                ax.plot(
                    grid,
                    mean,
                    color=color,
                    label=f"{algo} ({len(runs)} seeds)",
                    marker="o" if len(grid) == 1 else None,
                )
                ax.fill_between(grid, mean - std, mean + std, color=color, alpha=0.2)
        for ax, xlabel in zip(
            row, ("env steps", "training wall-clock (s, evaluation excluded)"), strict=True
        ):
            if threshold is not None:
                ax.axhline(threshold, color="gray", linestyle=":", linewidth=1)
            ax.set_xlabel(xlabel)
            if xlabel.startswith("training"):  # speeds differ by orders of magnitude
                ax.set_xscale("log")
            ax.set_ylabel("evaluation return")
            ax.set_title(env_id)
            ax.grid(alpha=0.3)
        row[0].legend(loc="best", fontsize="small")
    fig.suptitle("Deterministic evaluation return: mean over seeds, band ± one std")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_summary(out: Path) -> tuple[str, Path]:
    """Write ``OUT/summary.md`` and ``OUT/curves.png``; returns the table and the PNG path."""
    records = load_runs(out)
    groups = group(records)
    if not groups:
        raise FileNotFoundError(f"no run files in {out / 'runs'}")
    table = "\n".join(env_table(env_id, by_algo) for env_id, by_algo in groups.items())
    table += provenance([r for r in records if r["status"] == "done"])
    (out / "summary.md").write_text(table)
    figure = out / "curves.png"
    plot(groups, figure)
    return table, figure


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.summarize", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("bench_out/benchmark"),
        help="the benchmark's output folder (with runs/)",
    )
    args = parser.parse_args(argv)
    table, figure = write_summary(args.out)
    print(table)
    print(f"wrote {args.out / 'summary.md'} and {figure}")


if __name__ == "__main__":
    main()
