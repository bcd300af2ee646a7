"""How much of one phase decision's effect Traffic's observation determines.

Plays ``--episodes`` one-hour episodes of Traffic-v0 (max-pressure control, with a
``--random`` share of uniformly random joint requests to spread the states). Every
``--every`` steps, for each intersection that may change phase now (the observation's
``min_green`` flag), it measures what switching that intersection alone does against
keeping every phase: both are played on copies of the env with the same arrivals, then
``--horizon`` - 1 steps of max-pressure (``benchmarks.traffic_model.simulator_values``),
and the effect is the difference of the discounted sums of the env's rewards
(``--reward-fn``), averaged over ``--draws`` draws of the arrivals. Nothing the
simulator holds is hidden from these effects; with one draw they also carry that draw's
luck, which more draws average out.

It then fits predictors of the effect from what a learner sees (the intersection's block
of the observation, then the whole observation) on 80% of the samples and prints their
R^2 on the other 20%: least squares, and a two-layer MLP. ``--privileged`` adds what the
observation hides: the waiting time summed on each of the intersection's lanes and the
time since its green started.

A held-out R^2 well below 1 says that the observation does not determine what a decision
does. Any learner that ranks actions by a prediction from the observation (MuZero's
``r(s, a) + discount * v(g(s, a))``, a Q function) inherits that ceiling, and has to
average the rest out over many samples.

    python -m benchmarks.traffic_effects
    python -m benchmarks.traffic_effects --reward-fn queue --horizon 12 --privileged
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from muzero_gym.envs.traffic import MaxPressureController

import muzero_gym  # noqa: F401  (registers Traffic-v0)
from benchmarks.traffic_model import simulator_values


def switch_effects(
    reward_fn: str = "diff-waiting-time", episodes: int = 6, every: int = 3, horizon: int = 1,
    random_share: float = 0.3, discount: float = 0.99, privileged: bool = False,
    draws: int = 1, episode_steps: int = 720, seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``(features [n, F], effects [n])``: one row per (state, intersection allowed to change).

    The features are the intersection's observation block then the whole observation (and
    with ``privileged`` its lanes' summed waiting time / 100 and its green's age / 60 s).
    """
    env = gym.make("Traffic-v0", reward_fn=reward_fn)
    traffic: Any = env.unwrapped
    controller = MaxPressureController(traffic)
    n, p = traffic.num_intersections, traffic.n_phases
    lanes = traffic.network.num_lanes // n
    rng = np.random.default_rng(seed)

    features, effects = [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        for step in range(episode_steps):
            blocks = obs.reshape(n, -1)
            phase = blocks[:, :p].argmax(axis=1)
            if step % every == 0 and blocks[:, p].any():
                movable = np.flatnonzero(blocks[:, p] > 0.5)
                joint = np.repeat(phase[None], len(movable) + 1, axis=0)  # keep, then switches
                joint[np.arange(1, len(movable) + 1), movable] = (phase[movable] + 1) % p
                values = simulator_values(traffic, joint, controller, horizon, draws, discount)
                for k, i in enumerate(movable, start=1):
                    row = [blocks[i], obs]
                    if privileged:
                        wait = traffic._held_wait[i * lanes : (i + 1) * lanes] / 100.0
                        age = (traffic._time - traffic._green_start[i]) / 60.0
                        row += [wait, [age]]
                    features.append(np.concatenate(row))
                    effects.append(values[k] - values[0])
            if rng.random() < random_share:
                action = rng.integers(0, p, n)
            else:
                action = controller.predict(obs)[0]
            obs, *_ = env.step(action)
    return np.asarray(features, dtype=np.float64), np.asarray(effects)


def held_out_r2(
    features: np.ndarray, effects: np.ndarray, train_share: float = 0.8,
    mlp_steps: int = 3000, seed: int = 0,
) -> dict[str, float]:  # fmt: skip
    """R^2 on the last ``1 - train_share`` of the samples of a least-squares fit and of a
    two-layer MLP (128 units, Adam, inputs standardised on the training part)."""
    split = int(train_share * len(effects))
    if split < 2 or split == len(effects):
        raise ValueError(f"need more samples to fit and test, got {len(effects)}")
    test_var = float(effects[split:].var())
    if test_var == 0.0:
        raise ValueError("the held-out effects are all equal: nothing to explain")
    with_bias = np.c_[features, np.ones(len(effects))]
    weights = np.linalg.lstsq(with_bias[:split], effects[:split], rcond=None)[0]
    linear = 1.0 - float(((with_bias[split:] @ weights - effects[split:]) ** 2).mean()) / test_var

    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.as_tensor(effects, dtype=torch.float32)
    mean, std = x[:split].mean(0), x[:split].std(0) + 1e-6
    x = (x - mean) / std
    net = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Linear(128, 1),
    )  # fmt: skip
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
    for _ in range(mlp_steps):
        batch = torch.randint(0, split, (256,), generator=generator)
        loss = ((net(x[batch])[:, 0] - y[batch]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        error = float(((net(x[split:])[:, 0] - y[split:]) ** 2).mean())
    return {"linear_r2": linear, "mlp_r2": 1.0 - error / test_var}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reward-fn", default="diff-waiting-time")
    parser.add_argument("--episodes", type=int, default=6)
    parser.add_argument("--every", type=int, default=3, help="env steps between states")
    parser.add_argument("--horizon", type=int, default=1, help="env steps per effect")
    parser.add_argument("--random", type=float, default=0.3, help="share of random requests")
    parser.add_argument("--discount", type=float, default=0.99)
    parser.add_argument("--draws", type=int, default=1, help="arrival draws per effect")
    parser.add_argument("--privileged", action="store_true", help="add what obs hides")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    features, effects = switch_effects(
        args.reward_fn, args.episodes, args.every, args.horizon, args.random, args.discount,
        args.privileged, args.draws, seed=args.seed,
    )  # fmt: skip
    result = {
        **vars(args),
        "json": None,
        "samples": len(effects),
        "effect_mean": float(effects.mean()),
        "effect_std": float(effects.std()),
        "share_zero": float(np.mean(np.abs(effects) < 1e-9)),
        **held_out_r2(features, effects, seed=args.seed),
    }
    print(
        f"{args.reward_fn}, horizon {args.horizon}, {args.draws} draw(s)"
        f"{', privileged' if args.privileged else ''}: "
        f"{result['samples']} switches, effect {result['effect_mean']:.3f} +- "
        f"{result['effect_std']:.3f} ({result['share_zero']:.0%} zero); held-out R^2 "
        f"linear {result['linear_r2']:.2f}, MLP {result['mlp_r2']:.2f}"
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, default=str) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
