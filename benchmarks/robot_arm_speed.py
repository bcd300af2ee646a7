"""RobotArm-v0 speed: env steps per second on one core, median over several runs.

Steps the bare env, then the env as `gym.make` wraps it (TimeLimit, order and passive
checkers), with actions drawn in advance, so the figure is the simulator's cost, not the
random generator's. MuJoCo steps on one thread; `taskset -c 0` pins the process to one core.
Rates are reported per second of process CPU time (steady on a shared machine) and per
second of wall time (what you get when the core is yours alone, or less when it is not).

    taskset -c 0 python benchmarks/robot_arm_speed.py --steps 20000 --runs 5
"""

import argparse
import statistics
import time

import gymnasium as gym
import muzero_gym.envs  # noqa: F401  (registers RobotArm-v0)
import numpy as np
from muzero_gym.envs.robot_arm import RobotArmEnv


def steps_per_second(
    env: gym.Env, actions: np.ndarray, runs: int
) -> tuple[list[float], list[float]]:
    """(CPU-time, wall-time) rates of `runs` runs of len(actions) steps, reset every 100."""
    cpu_rates, wall_rates = [], []
    for run in range(runs):
        env.reset(seed=run)
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        for t, action in enumerate(actions):
            if t % 100 == 99:  # episodes of 100 steps, as RobotArm-v0's TimeLimit
                env.reset()
            env.step(action)
        cpu_rates.append(len(actions) / (time.process_time() - cpu_start))
        wall_rates.append(len(actions) / (time.perf_counter() - wall_start))
    return cpu_rates, wall_rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="env steps per run")
    parser.add_argument("--runs", type=int, default=5, help="runs; the median is reported")
    parser.add_argument("--frame-skip", type=int, default=20, help="physics steps per env step")
    args = parser.parse_args()

    actions = np.random.default_rng(0).uniform(-1, 1, (args.steps, 6)).astype(np.float32)
    envs = {
        "RobotArmEnv (bare)": RobotArmEnv(frame_skip=args.frame_skip),
        'gym.make("RobotArm-v0")': gym.make("RobotArm-v0", frame_skip=args.frame_skip),
    }
    print(f"frame_skip={args.frame_skip}, {args.steps} steps x {args.runs} runs")
    for name, env in envs.items():
        cpu_rates, wall_rates = steps_per_second(env, actions, args.runs)
        env.close()
        print(
            f"{name:24s} median {statistics.median(cpu_rates):8,.0f} steps per CPU second, "
            f"{statistics.median(wall_rates):8,.0f} per wall second "
            f"(wall runs: {', '.join(f'{r:,.0f}' for r in wall_rates)}); target >= 5,000"
        )


if __name__ == "__main__":
    main()
