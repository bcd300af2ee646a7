"""Benchmark MuZero against SB3's DQN and PPO: envs x algorithms x seeds -> JSON, table, plot.

    python -m benchmarks                      # quick default: CartPole-v1, muzero dqn ppo, 3 seeds
    python -m benchmarks --envs Traffic-v0 --seeds 0 1 2 3 4 --out bench_out/traffic
    python -m benchmarks.summarize --out bench_out/benchmark    # table and plot again

Every run (env, algorithm, seed) follows :mod:`benchmarks.protocol` and is saved as
``OUT/runs/<env>__<algo>__seed<s>.json`` when it finishes; starting the same command again
skips the runs already saved with the same settings, so an interrupted benchmark resumes.
Pairs that cannot run (an action space the algorithm does not handle, no hyperparameters)
are saved and reported as "not supported". At the end ``OUT/summary.md`` and
``OUT/curves.png`` are written from the saved files.

Runs go in parallel, ``--jobs`` at a time, one process and one torch thread each, the
slowest (MuZero) first.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import sys
import time
import traceback
from datetime import datetime, timezone
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from benchmarks import protocol, summarize
from benchmarks.protocol import CONTROLLERS, ENVS, LEARNERS, RunSpec

DEFAULT_OUT = Path("bench_out/benchmark")
# Slowest first, so that the parallel runs finish together.
ALGO_ORDER = ("muzero", "ppo", "dqn", *CONTROLLERS)


def parse_args(
    argv: list[str] | None = None, prog: str = "python -m benchmarks"
) -> argparse.Namespace:
    budgets = ", ".join(
        f"{env} {d.timesteps:,} (eval every {d.eval_freq:,})" for env, d in ENVS.items()
    )
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Benchmark MuZero against SB3's DQN and PPO with the same budgets and the same "
            "evaluation. The default (CartPole-v1; muzero, dqn, ppo; seeds 0 1 2; "
            "20,000 env steps each) takes about 6-7 minutes on 2 cores."
        ),
    )
    parser.add_argument(
        "--envs",
        nargs="+",
        default=["CartPole-v1"],
        help=f"env ids, or 'all' ({', '.join(ENVS)}); default: CartPole-v1",
    )
    parser.add_argument(
        "--algos",
        nargs="+",
        default=["muzero", "dqn", "ppo", "baselines"],
        help=f"algorithms among {', '.join([*LEARNERS, *CONTROLLERS])}; "
        "'baselines' = the scripted controllers of each env; "
        "default: muzero dqn ppo baselines",
    )
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2], help="one run per seed; default: 0 1 2"
    )
    parser.add_argument(
        "--timesteps",
        type=int,
        default=None,
        help=f"training budget in env steps for every algorithm; per-env "
        f"default: {budgets}. Schedules keep the tuned horizon of the "
        "hyperparameter file when it is longer than the budget",
    )
    parser.add_argument(
        "--eval-freq",
        type=int,
        default=None,
        help="env steps between evaluations (default: per env, see above)",
    )
    parser.add_argument(
        "--eval-episodes",
        type=int,
        default=10,
        help="deterministic episodes per evaluation, one per eval env; default: 10",
    )
    parser.add_argument(
        "--override",
        default="{}",
        help="JSON {algo: {key: value}}: replaces keys of the algorithms' entries in "
        "benchmarks/hyperparams/<algo>.yml, run settings (n_envs, normalize) included, e.g. "
        '\'{"ppo": {"gamma": 0.99}}\'; a saved run with other values is redone',
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder; default: {DEFAULT_OUT}"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="runs in parallel, one process each; default: the CPU count",
    )
    args = parser.parse_args(argv)
    if args.envs == ["all"]:
        args.envs = list(ENVS)
    for env_id in args.envs:
        if env_id not in ENVS:
            parser.error(f"unknown env {env_id!r}; choose from {', '.join(ENVS)} or 'all'")
    for algo in args.algos:
        if algo not in (*LEARNERS, *CONTROLLERS, "baselines"):
            parser.error(f"unknown algorithm {algo!r}")
    try:
        args.override = override = json.loads(args.override)
    except json.JSONDecodeError as error:
        parser.error(f"--override is not JSON ({error}): {args.override!r}")
    if not isinstance(override, dict) or not all(isinstance(v, dict) for v in override.values()):
        parser.error(f"--override must map algorithms to dicts of keys, got {override!r}")
    for algo in override:
        if algo not in LEARNERS:
            parser.error(
                f"--override: {algo!r} has no hyperparameters; choose from {', '.join(LEARNERS)}"
            )
    for name in ("timesteps", "eval_freq", "eval_episodes", "jobs"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    return args


def plan(args: argparse.Namespace) -> tuple[list[RunSpec], list[dict[str, Any]]]:
    """The runs to do (slowest algorithm first) and the pairs that are not supported."""
    runs: list[RunSpec] = []
    unsupported: list[dict[str, Any]] = []
    for env_id in args.envs:
        defaults = ENVS[env_id]
        algos: list[str] = []
        for algo in args.algos:
            if algo == "baselines":  # expands to this env's controllers, if it has any
                algos += [name for name, (homes, _) in CONTROLLERS.items() if env_id in homes]
            elif algo not in algos:
                algos.append(algo)
        for algo in algos:
            refusal = protocol.why_not(env_id, algo, args.override.get(algo))
            if refusal is not None:
                status, reason = refusal
                unsupported.append(
                    {"env_id": env_id, "algo": algo, "status": status, "reason": reason}
                )
                continue
            for seed in args.seeds:
                runs.append(
                    RunSpec(
                        env_id=env_id,
                        algo=algo,
                        seed=seed,
                        timesteps=args.timesteps or defaults.timesteps,
                        eval_freq=args.eval_freq or defaults.eval_freq,
                        eval_episodes=args.eval_episodes,
                        override=dict(args.override.get(algo, {})),
                    )
                )
    runs.sort(key=lambda r: ALGO_ORDER.index(r.algo))  # stable: envs and seeds keep order
    return runs, unsupported


def result_path(out: Path, name: str) -> Path:
    return out / "runs" / f"{name}.json"


def write_json(path: Path, record: Any) -> None:
    """Write atomically, so that an interrupted run never leaves a half file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(record, indent=1))
    partial.replace(path)


def is_finished(out: Path, spec: RunSpec) -> bool:
    """A saved, completed run with the same settings (budget, evaluation, hyperparameters)."""
    path = result_path(out, spec.name)
    if not path.exists():
        return False
    saved = json.loads(path.read_text())
    return saved.get("status") == "done" and saved.get("settings") == protocol.settings(spec)


def execute(spec: RunSpec, out: Path, updates: Any) -> str:
    """Worker: one run, saved to its JSON file. Returns the run's name."""
    import torch

    torch.set_num_threads(1)  # one core per run; parallelism comes from --jobs

    def report(steps: int) -> None:
        updates.put((spec.name, steps))

    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if spec.algo in LEARNERS:
        result = protocol.train_learner(spec, report)
    else:
        result = protocol.evaluate_controller(spec)
    record = {
        "env_id": spec.env_id,
        "algo": spec.algo,
        "seed": spec.seed,
        "status": "done",
        "started": started,
        "machine": protocol.machine(),
        "settings": protocol.settings(spec),
        **result,
    }
    write_json(result_path(out, spec.name), record)
    return spec.name


def ignore_ctrl_c() -> None:
    """Workers leave Ctrl-C to the parent, which stops them all (no traceback per worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def label(spec: RunSpec, steps: int) -> str:
    """What the progress bar shows of a run in flight."""
    text = f"{spec.algo} {spec.env_id} seed {spec.seed}"
    return text + (f" ({steps:,}/{spec.timesteps:,} steps)" if spec.algo in LEARNERS else "")


def run_all(runs: list[RunSpec], out: Path, jobs: int) -> list[str]:
    """Run ``runs`` in ``jobs`` processes with a progress bar; returns the failures."""
    context = multiprocessing.get_context("spawn")  # clean processes: no forked torch state
    failures: list[str] = []
    columns = (TextColumn("[bold]runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with context.Manager() as manager, Progress(*columns, TextColumn("{task.description}")) as bar:
        updates = manager.Queue()  # (run name, env steps done) from the workers
        task = bar.add_task("", total=len(runs))
        pending = list(runs)
        running: dict[str, tuple[RunSpec, AsyncResult[str]]] = {}
        steps: dict[str, int] = {}
        pool = context.Pool(processes=jobs, initializer=ignore_ctrl_c)
        try:
            while pending or running:
                while pending and len(running) < jobs:  # as many in flight as workers
                    spec = pending.pop(0)
                    running[spec.name] = spec, pool.apply_async(execute, (spec, out, updates))
                    steps[spec.name] = 0
                time.sleep(0.5)
                for name, (_, result) in list(running.items()):
                    if not result.ready():
                        continue
                    del running[name]
                    try:
                        result.get()
                    except Exception:  # a failed run is reported, the others go on
                        failures.append(f"{name}:\n{traceback.format_exc()}")
                        bar.console.print(f"[red]failed[/red] {name}")
                    bar.advance(task)
                while not updates.empty():
                    name, count = updates.get()
                    steps[name] = count
                now = [label(spec, steps[name]) for name, (spec, _) in running.items()]
                bar.update(task, description="running: " + ", ".join(now))
            pool.close()
        finally:
            pool.terminate()  # on Ctrl-C: stop the runs in flight (their files are not written)
            pool.join()
    return failures


def main(argv: list[str] | None = None, prog: str = "python -m benchmarks") -> int:
    args = parse_args(argv, prog)
    runs, unsupported = plan(args)
    for record in unsupported:
        write_json(result_path(args.out, f"{record['env_id']}__{record['algo']}"), record)
        print(f"{record['status']}: {record['algo']} on {record['env_id']}: {record['reason']}")
    todo = [spec for spec in runs if not is_finished(args.out, spec)]
    if len(todo) < len(runs):
        print(
            f"resuming: {len(runs) - len(todo)} of {len(runs)} runs already saved in "
            f"{args.out / 'runs'}"
        )
    began = time.perf_counter()
    try:
        failures = run_all(todo, args.out, args.jobs) if todo else []
    except KeyboardInterrupt:
        print(
            f"interrupted: finished runs are saved in {args.out / 'runs'}; "
            "the same command resumes from there",
            file=sys.stderr,
        )
        return 130
    print(f"{len(todo) - len(failures)} runs done in {time.perf_counter() - began:.0f} s")
    for failure in failures:
        print(failure, file=sys.stderr)
    table, figure = summarize.write_summary(args.out)
    print(table)
    print(f"wrote {args.out / 'summary.md'} and {figure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
