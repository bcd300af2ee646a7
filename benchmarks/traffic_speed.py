"""Traffic-v0 speed: env steps per second on one core, median over several runs.

Steps the env as `gym.make` wraps it (TimeLimit, order and passive checkers) for the default
2x2 grid and for 10 intersections (a 2x5 grid), with random phases drawn in advance so the
figure is the simulator's cost, not the random generator's. The simulator is plain numpy on
small arrays (one thread); `taskset -c 0` pins the process to one core.

    taskset -c 0 python benchmarks/traffic_speed.py --steps 10000 --runs 5
"""

import argparse
import statistics
import time
from typing import cast

import gymnasium as gym
import muzero_gym.envs  # noqa: F401  (registers Traffic-v0)
import numpy as np
from muzero_gym.envs.traffic import TrafficEnv

TARGETS = {4: 10_000, 10: 2_000}  # env steps/s asked for by issue 3


def steps_per_second(env: gym.Env, actions: np.ndarray, runs: int) -> list[float]:
    """Rates of `runs` runs of len(actions) steps, resetting when TimeLimit truncates."""
    rates = []
    for run in range(runs):
        env.reset(seed=run)
        start = time.perf_counter()
        for action in actions:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        rates.append(len(actions) / (time.perf_counter() - start))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000, help="env steps per run")
    parser.add_argument("--runs", type=int, default=5, help="runs; the median is reported")
    args = parser.parse_args()

    print(f"{args.steps} steps x {args.runs} runs")
    for num_intersections, target in TARGETS.items():
        env = gym.make("Traffic-v0", num_intersections=num_intersections)
        network = cast(TrafficEnv, env.unwrapped).network
        rows, cols = network.rows, network.cols
        actions = np.random.default_rng(0).integers(0, 2, (args.steps, num_intersections))
        rates = steps_per_second(env, actions, args.runs)
        print(
            f"Traffic-v0 {rows}x{cols} ({num_intersections:2d} intersections) "
            f"median {statistics.median(rates):8,.0f} env steps/s "
            f"(runs: {', '.join(f'{r:,.0f}' for r in rates)}; target >= {target:,})"
        )


if __name__ == "__main__":
    main()
