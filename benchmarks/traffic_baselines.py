"""Traffic-v0 baselines: fixed-time (Webster), max-pressure, next-phase and random controllers.

Runs each controller for full one-hour episodes (720 decisions, TimeLimit) on the default
demand of the default 2x2 grid, one episode per seed, and prints mean +- std over seeds of:

* mean waiting time: time-average over the episode of info["mean_waiting_time"] (s);
* mean queue: time-average of vehicles queued at stop lines plus waiting outside the grid;
* throughput: vehicles that left the grid during the hour (info["throughput"] at the end);
* mean travel time: info["mean_travel_time"] at the end (s, vehicles that left).

    python benchmarks/traffic_baselines.py --seeds 5 --out traffic_baselines.csv

"next-phase" asks every intersection for its next phase at every decision, so each changes
as soon as ``min_green`` allows: the shortest cycle the signal timing permits, and what a
learner acting through ``benchmarks.wrappers.RelativePhaseAction`` plays when it always
chooses 1. (``--first-seed 10000 --seeds 4``: the evaluation episodes of
``benchmarks.cartpole_target``.)
"""

import argparse
import csv
import statistics
from typing import cast

import gymnasium as gym
import muzero_gym.envs  # noqa: F401  (registers Traffic-v0)
import numpy as np
from muzero_gym.envs.traffic import (
    FixedTimeController,
    MaxPressureController,
    RandomController,
    TrafficEnv,
)

METRICS = ("mean_waiting_time", "mean_queue", "throughput", "mean_travel_time")


class NextPhaseController:
    """Ask each intersection for the phase after its current one (read from the observation)."""

    def __init__(self, env: gym.Env) -> None:
        base = cast(TrafficEnv, env.unwrapped)
        self.n_phases, self.num_intersections = base.n_phases, base.num_intersections

    def predict(self, obs, state=None, episode_start=None, deterministic=True):  # type: ignore[no-untyped-def]
        blocks = np.asarray(obs).reshape(self.num_intersections, -1)
        phase = blocks[:, : self.n_phases].argmax(axis=1)
        return (phase + 1) % self.n_phases, state


def run_episode(env: gym.Env, controller, seed: int) -> dict[str, float]:
    """One TimeLimit episode; the controller's state (fixed-time's clock) is threaded through."""
    obs, _ = env.reset(seed=seed)
    state, episode_start = None, np.ones(1, dtype=bool)
    waiting, queue = [], []
    done = False
    while not done:
        action, state = controller.predict(obs, state=state, episode_start=episode_start)
        obs, _, terminated, truncated, info = env.step(action)
        episode_start = np.zeros(1, dtype=bool)
        waiting.append(info["mean_waiting_time"])
        queue.append(info["total_queue"] + info["entry_backlog"])
        done = terminated or truncated
    return {
        "mean_waiting_time": float(np.mean(waiting)),
        "mean_queue": float(np.mean(queue)),
        "throughput": info["throughput"],
        "mean_travel_time": info["mean_travel_time"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="episodes (seeds 0..n-1)")
    parser.add_argument("--first-seed", type=int, default=0, help="seed of the first episode")
    parser.add_argument("--num-intersections", type=int, default=4)
    parser.add_argument("--out", default=None, help="CSV file for per-episode results")
    args = parser.parse_args()

    env = gym.make("Traffic-v0", num_intersections=args.num_intersections)
    base = cast(TrafficEnv, env.unwrapped)
    controllers = {
        "fixed-time": FixedTimeController(base),
        "max-pressure": MaxPressureController(base),
        "next-phase": NextPhaseController(base),
        "random": RandomController(base, seed=0),
    }
    fixed = controllers["fixed-time"]
    print(
        f"Traffic-v0 {base.network.rows}x{base.network.cols}, default demand, "
        f"{args.seeds} one-hour episodes per controller"
    )
    print(
        f"fixed-time plan: Webster cycle {fixed.cycle[0]:.1f} s, greens "
        f"{np.round(fixed.green[0], 1).tolist()} s -> {fixed.steps_per_phase[0].tolist()} "
        f"decisions per phase"
    )
    rows = []
    header = (
        f"{'controller':14s}{'waiting time (s)':>20s}{'queue (veh)':>18s}"
        f"{'throughput (veh/h)':>22s}{'travel time (s)':>20s}"
    )
    print(header)
    for name, controller in controllers.items():
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        episodes = [run_episode(env, controller, seed) for seed in seeds]
        rows += [
            {"controller": name, "seed": seed, **ep}
            for seed, ep in zip(seeds, episodes, strict=True)
        ]
        cells = []
        for metric, width in zip(METRICS, (20, 18, 22, 20), strict=True):
            values = [ep[metric] for ep in episodes]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.2f} +- {spread:.2f}".rjust(width))
        print(f"{name:14s}" + "".join(cells))
    if args.out:
        with open(args.out, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["controller", "seed", *METRICS])
            writer.writeheader()
            writer.writerows(rows)
        print(f"per-episode results written to {args.out}")


if __name__ == "__main__":
    main()
