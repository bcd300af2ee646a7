"""How well MuZero's learned model tells RobotArm-v0's actions apart.

Trains ``MuZero`` with the ``RobotArm-v0`` entry of ``benchmarks/hyperparams/muzero.yml``
(``--override`` changes it) for each of ``--checkpoints`` env steps, and at each one
compares the model with the simulator on states of deterministic evaluation episodes:
from every 10th state, ``--actions`` uniform random actions are played both in the
simulator (MuJoCo state saved and restored) and through the learned dynamics. Prints

- the spread of the true one-step reward across those actions (its standard deviation
  within a state): how much a single decision changes the reward;
- the model's mean absolute reward error, and the correlation of predicted and true
  rewards across the actions of one state (median over states): whether the model
  ranks actions the way the simulator does;
- the policy's state: mean |mean| and mean standard deviation of the pre-squash Gaussian
  (1.0 at initialisation);
- the deterministic evaluation's mean distance and final-step success rate.

    python -m benchmarks.robot_arm_model --checkpoints 8000 30000
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import gymnasium as gym
import mujoco
import muzero_gym.envs  # noqa: F401  (registers RobotArm-v0)
import numpy as np
import torch
from stable_baselines3.common.env_util import make_vec_env

from benchmarks.zoo import load_hyperparams, parse_schedule
from muzero_gym import MuZero
from muzero_gym.support import support_to_scalar

ENV_ID = "RobotArm-v0"


def check(model: MuZero, episodes: int, n_actions: int, seed: int) -> dict[str, Any]:
    """Model-vs-simulator figures on ``episodes`` deterministic evaluation episodes."""
    policy = model.policy
    env = gym.make(ENV_ID)
    arm: Any = env.unwrapped
    rng = np.random.default_rng(seed)
    spreads, errors, correlations, distances, successes = [], [], [], [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done, step, episode_distances, info = False, 0, [], {}
        while not done:
            if step % 10 == 0:
                actions = rng.uniform(-1, 1, (n_actions, arm.action_space.shape[0]))
                qpos, qvel = arm.data.qpos.copy(), arm.data.qvel.copy()
                true = []
                for action in actions:
                    _, reward, *_ = arm.step(action.astype(np.float32))
                    true.append(reward)
                    arm.data.qpos[:], arm.data.qvel[:] = qpos, qvel
                    mujoco.mj_forward(arm.model, arm.data)
                with torch.no_grad():
                    batch = torch.as_tensor(np.repeat(obs[None], n_actions, axis=0))
                    hidden, _, _ = policy.initial_inference(batch)
                    # The tree keeps pre-squash actions; the dynamics sees tanh of them.
                    pre_squash = torch.atanh(torch.as_tensor(actions).clamp(-0.999, 0.999))
                    _, reward_logits, _, _ = policy.recurrent_inference(hidden, pre_squash)
                    predicted = support_to_scalar(reward_logits, policy.support_size).numpy()
                true_rewards, predicted = np.asarray(true), predicted.ravel()
                spreads.append(true_rewards.std())
                errors.append(np.abs(predicted - true_rewards).mean())
                correlations.append(np.corrcoef(predicted, true_rewards)[0, 1])
            action, _ = model.predict(obs, deterministic=True)
            obs, _, terminated, truncated, info = env.step(action)
            episode_distances.append(info["distance"])
            done, step = terminated or truncated, step + 1
        distances.append(np.mean(episode_distances))
        successes.append(bool(info["is_success"]))
    with torch.no_grad():
        starts = np.stack([env.reset(seed=seed + 100 + i)[0] for i in range(32)])
        _, params, _ = policy.initial_inference(torch.as_tensor(starts))
        mean, log_std = model.action_spec._gaussian(params)  # type: ignore[attr-defined]
    env.close()
    return {
        "true_reward_spread": float(np.mean(spreads)),
        "reward_error": float(np.mean(errors)),
        "within_state_correlation": float(np.nanmedian(correlations)),
        "policy_mean_abs": float(mean.abs().mean()),
        "policy_std": float(log_std.exp().mean()),
        "mean_distance": float(np.mean(distances)),
        "success_rate": float(np.mean(successes)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[8_000, 30_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--actions", type=int, default=16)
    parser.add_argument("--override", default="{}", help="JSON of MuZero kwargs to override")
    parser.add_argument("--json", default=None, help="write the rows to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)

    run, hp = load_hyperparams("muzero", ENV_ID)
    hp.update({k: parse_schedule(v) for k, v in json.loads(args.override).items()})
    env = make_vec_env(ENV_ID, n_envs=int(run.get("n_envs", 1)), seed=args.seed)
    model = MuZero(run.get("policy", "MlpPolicy"), env, seed=args.seed, **hp)
    rows = []
    print("env steps  reward spread  model error  corr  policy |mean|  std  distance  success")
    for checkpoint in sorted(args.checkpoints):
        model.learn(checkpoint - model.num_timesteps, reset_num_timesteps=False)
        row = {"env_steps": model.num_timesteps, **check(model, args.episodes, args.actions, 1)}
        rows.append(row)
        print(
            f"{row['env_steps']:9d}  {row['true_reward_spread']:13.4f}  {row['reward_error']:11.4f}"
            f"  {row['within_state_correlation']:4.2f}  {row['policy_mean_abs']:13.3f}"
            f"  {row['policy_std']:4.2f}  {row['mean_distance']:8.3f}  {row['success_rate']:7.2f}",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"override": args.override, "rows": rows}, handle, indent=2)


if __name__ == "__main__":
    main()
