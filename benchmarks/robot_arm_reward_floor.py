"""How precisely RobotArm-v0's one-step reward can be learned from (observation, action).

``benchmarks.robot_arm_model`` measures the error of MuZero's learned reward inside
training (6.5-10 cm of distance, against 1.5 cm of spread across actions). This script
asks what the same data allows outside MuZero's loop: on ``--transitions`` transitions of
uniform random play, it fits, by supervised learning alone,

- a plain MLP on (standardised observation, action) with a scalar output and squared
  error (``--mlp-arch``);
- MuZero's own representation and dynamics networks (``MlpPolicy`` with the
  ``RobotArm-v0`` entry's ``policy_kwargs`` and ``support_size``, or ``--policy-kwargs``)
  with MuZero's reward loss: cross-entropy against the two-hot h(x)-transformed reward;

then, from held-out states (MuJoCo state saved and restored), plays ``--actions`` random
actions in the simulator and through each learner, and prints the mean absolute reward
error and the median correlation of predicted and true rewards across the actions of one
state, as ``robot_arm_model`` does.

    python -m benchmarks.robot_arm_reward_floor
    python -m benchmarks.robot_arm_reward_floor \
        --policy-kwargs '{"hidden_dim": 128, "net_arch": [256, 256]}'
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import mujoco
import muzero_gym.envs  # noqa: F401  (registers RobotArm-v0)
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.run import write_json
from benchmarks.zoo import load_hyperparams
from muzero_gym.policies import MlpPolicy, mlp
from muzero_gym.support import scalar_to_support, support_to_scalar

ENV_ID = "RobotArm-v0"
#: One prediction: observations [B, 27] and actions in [-1, 1], [B, 6] -> rewards [B].
Predictor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def random_play(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` transitions of uniform random actions: observations, actions, rewards."""
    env = gym.make(ENV_ID)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    observations, actions, rewards = [], [], []
    for _ in range(n):
        action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        observations.append(obs)
        actions.append(action)
        rewards.append(reward)
        obs = env.reset()[0] if terminated or truncated else next_obs
    env.close()
    return np.array(observations), np.array(actions), np.array(rewards, dtype=np.float32)


def held_out_states(n_states: int, n_actions: int, seed: int) -> list[dict[str, np.ndarray]]:
    """States of random play with the true reward of ``n_actions`` random actions from each."""
    env = gym.make(ENV_ID)
    arm: Any = env.unwrapped
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    states: list[dict[str, np.ndarray]] = []
    while len(states) < n_states:
        actions = rng.uniform(-1, 1, (n_actions, 6)).astype(np.float32)
        qpos, qvel = arm.data.qpos.copy(), arm.data.qvel.copy()
        true = []
        for action in actions:
            true.append(arm.step(action)[1])
            arm.data.qpos[:], arm.data.qvel[:] = qpos, qvel
            mujoco.mj_forward(arm.model, arm.data)
        states.append({"obs": obs, "actions": actions, "rewards": np.array(true)})
        # Move on a few random steps so that the states are spread over the episode.
        for _ in range(5):
            obs, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, 6).astype(np.float32))
            if terminated or truncated:
                obs, _ = env.reset()
    env.close()
    return states


def score(predict: Predictor, states: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """Mean absolute reward error and median within-state correlation over ``states``."""
    errors, correlations = [], []
    with torch.no_grad():
        for state in states:
            n = len(state["actions"])
            obs = torch.as_tensor(np.repeat(state["obs"][None], n, axis=0))
            predicted = predict(obs, torch.as_tensor(state["actions"])).numpy()
            errors.append(np.abs(predicted - state["rewards"]).mean())
            correlations.append(np.corrcoef(predicted, state["rewards"])[0, 1])
    spread = float(np.mean([s["rewards"].std() for s in states]))
    return {
        "true_reward_spread": spread,
        "reward_error": float(np.mean(errors)),
        "within_state_correlation": float(np.nanmedian(correlations)),
    }


def fit(
    parameters: Any, loss_fn: Callable[[torch.Tensor], torch.Tensor], n: int, steps: int
) -> None:
    """``steps`` Adam steps (lr 1e-3) of ``loss_fn`` on random batches of 256 of ``n``."""
    optimizer = torch.optim.Adam(parameters, lr=1e-3)
    for _ in range(steps):
        loss = loss_fn(torch.randint(0, n, (256,)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def plain_mlp(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], arch: list[int], steps: int
) -> Predictor:
    """A scalar-output MLP on standardised observation and action, trained on squared error."""
    obs, actions, rewards = (torch.as_tensor(x) for x in data)
    mean, std = obs.mean(0), obs.std(0) + 1e-6
    net = nn.Sequential(
        mlp([obs.shape[1] + actions.shape[1], *arch], nn.ReLU), nn.Linear(arch[-1], 1)
    )
    inputs = torch.cat([(obs - mean) / std, actions], 1)
    fit(
        net.parameters(),
        lambda i: F.mse_loss(net(inputs[i]).squeeze(1), rewards[i]),
        len(obs),
        steps,
    )

    def predict(o: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return net(torch.cat([(o - mean) / std, a], 1)).squeeze(1)

    return predict


def muzero_networks(
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
    policy_kwargs: dict[str, Any],
    support_size: int,
    steps: int,
) -> Predictor:
    """MuZero's h and g with its categorical reward loss (the actions enter pre-squash)."""
    env = gym.make(ENV_ID)
    policy = MlpPolicy(
        env.observation_space,
        env.action_space,
        lambda _: 1e-3,
        support_size=support_size,
        normalize_observations=True,
        **policy_kwargs,
    )
    env.close()
    obs, actions, rewards = (torch.as_tensor(x) for x in data)
    policy.update_observation_statistics(obs)
    # The search keeps pre-squash actions and the dynamics sees tanh of them.
    pre_squash = torch.atanh(actions.clamp(-0.999, 0.999))
    target = scalar_to_support(rewards, support_size)

    def loss(i: torch.Tensor) -> torch.Tensor:
        _, logits = policy.dynamics(policy.represent(policy.preprocess(obs[i])), pre_squash[i])
        return -(target[i] * F.log_softmax(logits, dim=1)).sum(1).mean()

    fit(policy.parameters(), loss, len(obs), steps)

    def predict(o: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        hidden = policy.represent(policy.preprocess(o))
        _, logits = policy.dynamics(hidden, torch.atanh(a.clamp(-0.999, 0.999)))
        return support_to_scalar(logits, support_size).squeeze(-1)

    return predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=30_000)
    parser.add_argument("--steps", type=int, default=20_000, help="gradient steps per learner")
    parser.add_argument("--states", type=int, default=200, help="held-out states")
    parser.add_argument("--actions", type=int, default=16, help="actions tried per state")
    parser.add_argument("--mlp-arch", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--policy-kwargs", default=None, help="JSON; default: the entry's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)

    _, hp = load_hyperparams("muzero", ENV_ID)
    policy_kwargs = (
        json.loads(args.policy_kwargs) if args.policy_kwargs else hp.get("policy_kwargs", {})
    )
    data = random_play(args.transitions, args.seed)
    states = held_out_states(args.states, args.actions, args.seed + 1)
    learners: dict[str, Callable[[], Predictor]] = {
        f"MLP {args.mlp_arch}, squared error": lambda: plain_mlp(data, args.mlp_arch, args.steps),
        f"MuZero h+g {policy_kwargs}, support {hp['support_size']}": lambda: muzero_networks(
            data, policy_kwargs, int(hp["support_size"]), args.steps
        ),
    }
    rows = []
    print(f"{'learner':<70} reward spread  error   corr  seconds")
    for name, build in learners.items():
        start = time.perf_counter()
        row = {"learner": name, **score(build(), states)}
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
        print(
            f"{name:<70} {row['true_reward_spread']:13.4f}  {row['reward_error']:.4f}"
            f"  {row['within_state_correlation']:5.2f}  {row['seconds']:7.0f}",
            flush=True,
        )
    if args.json:
        write_json(Path(args.json), {"args": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
