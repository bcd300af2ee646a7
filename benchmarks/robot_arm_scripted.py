"""RobotArm-v0 scripted controller: success rate and final distance over N episodes.

Runs the damped-least-squares `ReachController` (and, for scale, a uniform random policy)
on `gym.make("RobotArm-v0")` with seeds 0..N-1, and prints one row per policy. A success
is `info["is_success"]` on the last step (end effector within 5 cm of the target);
"steps to success" is the median, over episodes that ever succeeded, of the first such step.

    python benchmarks/robot_arm_scripted.py --episodes 100 [--json results.json]
"""

import argparse
import statistics
from pathlib import Path
from typing import Any

import gymnasium as gym
import muzero_gym.envs  # noqa: F401  (registers RobotArm-v0)
import numpy as np
from muzero_gym.envs.robot_arm import ReachController

from benchmarks.run import write_json


class RandomPolicy:
    """Uniform random actions, with the same `predict` as the controller."""

    def __init__(self, action_space: gym.spaces.Space, seed: int) -> None:
        self.action_space = action_space
        self.action_space.seed(seed)

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        return self.action_space.sample(), state


def evaluate(env: gym.Env, policy, episodes: int) -> dict[str, float]:
    """Run `episodes` episodes with seeds 0..episodes-1; summary statistics."""
    successes, distances, returns, first_success_steps = [], [], [], []
    for seed in range(episodes):
        obs, info = env.reset(seed=seed)
        episode_return, step, first = 0.0, 0, None
        done = False
        while not done:
            action, _ = policy.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, info = env.step(action)
            episode_return += float(reward)
            step += 1
            if info["is_success"] and first is None:
                first = step
            done = terminated or truncated
        successes.append(bool(info["is_success"]))
        distances.append(info["distance"])
        returns.append(episode_return)
        if first is not None:
            first_success_steps.append(first)
    return {
        "episodes": episodes,
        "success_rate": float(np.mean(successes)),
        "final_distance_mean_m": float(np.mean(distances)),
        "final_distance_median_m": float(statistics.median(distances)),
        "return_mean": float(np.mean(returns)),
        "steps_to_first_success_median": (
            float(statistics.median(first_success_steps)) if first_success_steps else float("nan")
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()

    env = gym.make("RobotArm-v0")
    arm: Any = env.unwrapped
    policies = {
        "scripted (DLS)": ReachController(max_joint_speed=arm.max_joint_speed),
        "random": RandomPolicy(env.action_space, seed=0),
    }
    results = {name: evaluate(env, policy, args.episodes) for name, policy in policies.items()}
    env.close()

    print(
        f"{'policy':16s} {'episodes':>8s} {'success':>8s} {'final dist (m)':>15s} "
        f"{'median (m)':>11s} {'return':>8s} {'steps to success':>17s}"
    )
    for name, r in results.items():
        print(
            f"{name:16s} {r['episodes']:8d} {r['success_rate']:8.1%} "
            f"{r['final_distance_mean_m']:15.4f} {r['final_distance_median_m']:11.4f} "
            f"{r['return_mean']:8.2f} {r['steps_to_first_success_median']:17.1f}"
        )
    if args.json:
        write_json(Path(args.json), results)


if __name__ == "__main__":
    main()
