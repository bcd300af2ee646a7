"""RobotArm-v0 with a perfect model: how well must a search rank its sampled actions?

At every step the search below draws ``K`` actions as Sampled MuZero's untrained policy
does (``tanh(u)``, ``u ~ Normal(0, sigma)`` per joint), scores each by the true return of
playing it for ``H`` env steps (MuJoCo state saved and restored), adds independent noise
of ``noise x`` the scores' spread in that state (so that the scores correlate less with
the truth, as a learned model's do), and plays the best-scored action. One row per
(``H``, noise): the scores' mean correlation with the truth, the pick quality (the
played action's true score above the mean of the K, as a fraction of the best one's;
``benchmarks.robot_arm_model`` prints it for a learned model), the success rate (within
5 cm at the last step), the final and the per-step mean distance.

    python -m benchmarks.robot_arm_oracle --episodes 8 [--noise 0 0.5 1 2 4] [--json F]

It measures what the learned model has to deliver, not MuZero: with noise 0 and ``H`` 1 the
search needs no trained policy and no value at all.
"""

import argparse
from pathlib import Path
from typing import Any

import gymnasium as gym
import muzero_gym.envs  # noqa: F401  (registers RobotArm-v0)
import numpy as np

from benchmarks.robot_arm_model import pick_quality, true_outcomes
from benchmarks.run import write_json


def true_scores(arm: Any, actions: np.ndarray, horizon: int) -> np.ndarray:
    """Return of playing each action ``[K, 6]`` for ``horizon`` steps from the current state."""
    return true_outcomes(arm, actions, horizon)[0]


def run(
    episodes: int, num_samples: int, sigma: float, horizon: int, noise: float, seed: int
) -> dict[str, float]:
    """Episodes with seeds ``seed + 1000 ...`` played by the noisy best-of-K search."""
    env = gym.make("RobotArm-v0")
    arm: Any = env.unwrapped
    rng = np.random.default_rng(seed)
    successes, finals, means, correlations, picks = [], [], [], [], []
    for episode in range(episodes):
        env.reset(seed=seed + 1000 + episode)
        done, distances = False, []
        info: dict[str, Any] = {}
        while not done:
            actions = np.tanh(rng.normal(0.0, sigma, (num_samples, 6)))
            scores = true_scores(arm, actions, horizon)
            noisy = scores + rng.normal(0.0, noise * scores.std() + 1e-12, num_samples)
            if noise > 0:
                correlations.append(np.corrcoef(noisy, scores)[0, 1])
            picks.append(pick_quality(noisy, scores))
            action = actions[int(np.argmax(noisy))].astype(np.float32)
            _, _, terminated, truncated, info = env.step(action)
            distances.append(info["distance"])
            done = terminated or truncated
        successes.append(bool(info["is_success"]))
        finals.append(info["distance"])
        means.append(np.mean(distances))
    env.close()
    return {
        "horizon": horizon,
        "noise": noise,
        "correlation": float(np.mean(correlations)) if correlations else 1.0,
        "pick_quality": float(np.nanmean(picks)),
        "success_rate": float(np.mean(successes)),
        "final_distance_m": float(np.mean(finals)),
        "mean_distance_m": float(np.mean(means)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--num-samples", type=int, default=20, help="K sampled actions")
    parser.add_argument("--sigma", type=float, default=1.0, help="pre-squash std of the samples")
    parser.add_argument("--horizons", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--noise", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0, 4.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    args = parser.parse_args()
    print(
        f"{'H':>2s} {'noise':>6s} {'corr':>5s} {'pick':>5s} {'success':>8s} {'final (m)':>10s}"
        f" {'mean (m)':>9s}"
    )
    rows = []
    for horizon in args.horizons:
        for noise in args.noise:
            row = run(args.episodes, args.num_samples, args.sigma, horizon, noise, args.seed)
            rows.append(row)
            print(
                f"{horizon:2d} {noise:6.2f} {row['correlation']:5.2f} {row['pick_quality']:5.2f} "
                f"{row['success_rate']:8.1%} "
                f"{row['final_distance_m']:10.3f} {row['mean_distance_m']:9.3f}",
                flush=True,
            )
    if args.json:
        write_json(Path(args.json), {"settings": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
