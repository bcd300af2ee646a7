"""How well a trained MuZero's learned model tells Traffic-v0's joint actions apart.

Loads a model saved by ``python -m benchmarks.cartpole_target --env Traffic-v0 --save-dir
DIR`` (2 x 2 grid: 16 joint actions, searched as one ``Discrete``) and plays one
deterministic episode with it. At ``--states`` states spread over the episode it compares,
for every joint action ``a``:

- the model's one-step action value ``r(s, a) + discount * v(g(s, a))`` (no search), with
- the simulator's: play ``a``, then ``--horizon`` - 1 steps of max-pressure control, the
  discounted sum of the env's rewards, averaged over ``--repeats`` draws of the arrivals
  (the same draws for every action).

Prints the spread of the simulator's values across the actions of a state (standard
deviation, median over states): how much one decision matters; the model's error on the
values centred within each state (what ranking needs); the within-state correlation of
model and simulator (median over the states where the actions differ at all) and how often,
in those states, the model's best action is among the simulator's best three (3 / 16 by
chance, more with ties); and the entropy of the policy
prior (uniform over 16: 2.77 nats).

    python -m benchmarks.traffic_model --model bench_out/models/Traffic-v0_seed0.zip
    python -m benchmarks.traffic_model --model q.zip --reward-fn queue
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from muzero_gym.envs.traffic import MaxPressureController

from muzero_gym import MuZero

EPISODE_STEPS = 720


def simulator_values(
    env: Any, joint: np.ndarray, controller: MaxPressureController, horizon: int,
    repeats: int, discount: float,
) -> np.ndarray:  # fmt: skip
    """``[A]``: each joint action, then max-pressure; discounted return, mean over draws."""
    values = np.zeros(len(joint))
    for a, action in enumerate(joint):
        for draw in range(repeats):
            sim = copy.deepcopy(env)
            sim.np_random = np.random.default_rng(draw)  # common arrivals for every action
            obs, reward, *_ = sim.step(action)
            total = float(reward)
            for k in range(1, horizon):
                phases, _ = controller.predict(obs)
                obs, reward, *_ = sim.step(phases)
                total += discount**k * float(reward)
            values[a] += total / repeats
    return values


def check(model: MuZero, args: argparse.Namespace) -> dict[str, Any]:
    kwargs = {} if args.reward_fn is None else {"reward_fn": args.reward_fn}
    env = gym.make("Traffic-v0", **kwargs)
    traffic: Any = env.unwrapped
    spec = model.action_spec
    if not spec.enumerated:
        raise ValueError("the model samples its actions: this check needs every joint action")
    # Search slot -> joint action, exactly as the model maps them.
    joint = spec.to_env(np.arange(spec.num_slots)).reshape(spec.num_slots, -1)
    controller = MaxPressureController(traffic)
    policy = model.policy
    every = EPISODE_STEPS // args.states
    spreads, errors, correlations, top3, entropies = [], [], [], [], []
    obs, _ = env.reset(seed=args.seed)
    for step in range(EPISODE_STEPS):
        if step % every == every // 2:
            with torch.inference_mode():
                root = policy.search_root(torch.as_tensor(obs[None]))
                hidden = root.embedding.expand(len(joint), *root.embedding.shape[1:])
                out = policy.search_step(hidden.contiguous(), np.arange(len(joint)))
            predicted = out.reward + model.discount * out.value
            true = simulator_values(
                traffic, joint, controller, args.horizon, args.repeats, model.discount
            )
            spreads.append(float(true.std()))
            errors.append(
                float(np.abs((predicted - predicted.mean()) - (true - true.mean())).mean())
            )
            if true.std() > 1e-9:  # some request is served: the actions differ
                top3.append(bool(true[predicted.argmax()] >= np.sort(true)[-3]))
                if predicted.std() > 1e-9:
                    correlations.append(float(np.corrcoef(predicted, true)[0, 1]))
            logits = np.asarray(root.prior_logits[0], dtype=np.float64)
            prior = np.exp(logits - logits.max())
            prior /= prior.sum()
            entropies.append(float(-(prior * np.log(np.maximum(prior, 1e-12))).sum()))
        action, _ = model.predict(obs[None], deterministic=True)
        obs, *_ = env.step(np.asarray(action).reshape(-1))
    return {
        "states": len(spreads),
        "true_spread": float(np.median(spreads)),
        "model_error": float(np.median(errors)),
        "correlation": float(np.median(correlations)) if correlations else None,
        "states_with_differences": len(correlations),
        "best_in_true_top3": float(np.mean(top3)) if top3 else None,
        "prior_entropy": float(np.mean(entropies)),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The script's arguments (``argv``, or the command line), with their defaults."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a saved Traffic-v0 model")
    parser.add_argument("--reward-fn", default=None, help="the reward it was trained on")
    parser.add_argument("--states", type=int, default=20)
    parser.add_argument("--horizon", type=int, default=60, help="env steps per simulator value")
    parser.add_argument("--repeats", type=int, default=3, help="arrival draws per action")
    parser.add_argument("--seed", type=int, default=10_000)
    parser.add_argument("--json", type=Path, default=None)
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    result = check(MuZero.load(args.model), args)
    correlation, top3 = result["correlation"], result["best_in_true_top3"]
    print(
        f"true spread {result['true_spread']:.3f}  model error {result['model_error']:.3f}  "
        f"correlation {'-' if correlation is None else f'{correlation:.2f}'}  "
        f"({result['states_with_differences']} of "
        f"{result['states']} states)  best in true top 3 {'-' if top3 is None else f'{top3:.2f}'}  "
        f"prior entropy {result['prior_entropy']:.2f}"
    )
    if args.json is not None:
        args.json.write_text(json.dumps({"model": str(args.model), **result}, indent=2))


if __name__ == "__main__":
    main()
