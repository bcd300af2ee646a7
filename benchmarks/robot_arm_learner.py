"""Which of MuZero's losses cost the RobotArm-v0 reward its accuracy, on fixed data.

``benchmarks.robot_arm_model`` measures the learned reward inside training;
``benchmarks.robot_arm_reward_floor`` what the same networks reach trained on the reward
alone. This script isolates MuZero's learner step: the ``RobotArm-v0`` entry's self-play
with untrained networks fills one replay of ``--transitions`` transitions, and then, for
each variant (a JSON object of MuZero kwargs over the entry), a fresh model with the same
initial networks and observation statistics takes ``--steps`` ``Learner.step``s on that
replay at a constant learning rate. At each of ``--report`` steps it prints the reward
error and the within-state correlation on the reward floor's held-out random-play states.

    python -m benchmarks.robot_arm_learner \\
        --variants '[{}, {"value_loss_weight": 0.01}, {"consistency_loss_weight": 0.0}]'
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import muzero_gym.envs  # noqa: F401  (registers RobotArm-v0)
import numpy as np
import torch
from stable_baselines3.common.env_util import make_vec_env

from benchmarks.robot_arm_model import entry_reward_scale, model_predictions
from benchmarks.robot_arm_reward_floor import held_out_states, score
from benchmarks.run import write_json
from benchmarks.zoo import load_hyperparams, parse_schedule
from muzero_gym import MuZero
from muzero_gym.learner import Learner

ENV_ID = "RobotArm-v0"


def ablate(
    variants: list[dict[str, Any]],
    transitions: int,
    steps: int,
    report: list[int],
    learning_rate: float,
    states: list[dict[str, Any]],
    seed: int = 0,
    base: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Rows ``{"variant", "steps", "seconds", reward_error, ...}`` for every variant and report."""
    run, hp = load_hyperparams("muzero", ENV_ID)
    hp.update(base or {})
    n_envs = int(run.get("n_envs", 1))
    env_kwargs = run.get("env_kwargs")  # the entry's training rewards
    env = make_vec_env(ENV_ID, n_envs=n_envs, seed=seed, env_kwargs=env_kwargs)
    reward_scale = entry_reward_scale(env_kwargs)
    # Self-play only: training would start after the buffer is full.
    buffer_size = max(int(hp.get("buffer_size", 0)), transitions + 1)
    collect = {**hp, "learning_starts": transitions, "buffer_size": buffer_size}
    collector = MuZero(run.get("policy", "MlpPolicy"), env, seed=seed, **collect)
    collector.learn(transitions)
    rows = []
    for variant in variants:
        settings = {**hp, **{k: parse_schedule(v) for k, v in variant.items()}}
        settings["buffer_size"] = buffer_size
        model = MuZero(run.get("policy", "MlpPolicy"), env, seed=seed, **settings)
        model.policy.load_state_dict(collector.policy.state_dict())
        learner = Learner(
            model.policy,
            collector.replay_buffer,
            model.learner.config,
            model._search_without_noise,
            model.device,
        )
        for group in model.policy.optimizer.param_groups:
            group["lr"] = learning_rate

        def predict(
            obs: torch.Tensor, actions: torch.Tensor, model: MuZero = model
        ) -> torch.Tensor:
            return model_predictions(model, obs, actions, reward_scale)[0]

        rng = np.random.default_rng(seed)
        start = time.perf_counter()
        for step in range(1, steps + 1):
            learner.step(rng)
            if step in report:
                figures = score(predict, states)
                seconds = time.perf_counter() - start
                rows.append({"variant": variant, "steps": step, "seconds": seconds, **figures})
    env.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="[{}]", help="JSON list of MuZero kwargs objects")
    parser.add_argument("--transitions", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=3_000)
    parser.add_argument("--report", type=int, nargs="+", default=[1_500, 3_000])
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    states = held_out_states(200, 16, args.seed + 1)
    print("variant  steps  seconds  reward spread  reward error  correlation")
    rows = ablate(
        json.loads(args.variants),
        args.transitions,
        args.steps,
        args.report,
        args.learning_rate,
        states,
        args.seed,
    )
    for row in rows:
        print(
            f"{json.dumps(row['variant'])}  {row['steps']}  {row['seconds']:.0f}"
            f"  {row['true_reward_spread']:.4f}  {row['reward_error']:.4f}"
            f"  {row['within_state_correlation']:.2f}"
        )
    if args.json:
        write_json(Path(args.json), rows)


if __name__ == "__main__":
    main()
