"""How well a trained MuZero's learned model tells Traffic's joint actions apart.

Loads a model saved by ``python -m benchmarks.cartpole_target --env ENV --save-dir DIR``
and plays one deterministic episode with it, on ``--env`` wrapped as its ``muzero.yml``
entry (``RelativePhaseAction`` on Traffic10-v0). At ``--states`` states spread over the
episode it takes the joint actions the search compares at the root: on the 2 x 2 grid all
16 (searched as one ``Discrete``); with sampled actions (Traffic10-v0: 1,024 joint
requests) the K distinct ones the factorised policy draws there. For each such ``a`` it
compares:

- the model's one-step action value ``r(s, a) + discount * v(g(s, a))`` (no search), with
- the simulator's: play ``a``, then ``--horizon`` - 1 steps of max-pressure control, the
  discounted sum of the env's rewards, averaged over ``--repeats`` draws of the arrivals
  (the same draws for every action).

Prints (medians over states):

- the spread of the simulator's values across the actions of a state (standard
  deviation): how much one decision matters;
- the model's error on the values centred within each state (what ranking needs);
- the within-state correlation of model and simulator (over the states where the actions
  differ at all), and how often the model's best action is among the simulator's best
  three there (3 / 16 by chance, more with ties);
- what choosing among these actions is worth: the simulator's best minus their mean
  ("best - mean"), and what the model's choice loses against the best ("model's regret");
- with phase requests, the within-state correlation of the number of intersections an
  action asks to change phase with the model's value and with the simulator's: whether
  the model prefers changing to keeping where the simulator does;
- the entropy of the policy prior over the enumerated actions (uniform over 16:
  2.77 nats), or the number of distinct sampled actions.

    python -m benchmarks.traffic_model --model bench_out/models/Traffic-v0_seed0.zip
    python -m benchmarks.traffic_model --env Traffic10-v0 --model runs/Traffic10-v0_seed0.zip
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

from benchmarks.protocol import wrap
from benchmarks.wrappers import RelativePhaseAction
from benchmarks.zoo import load_hyperparams
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


def _within_state_correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    """Correlation of ``x`` and ``y``, or None where either is constant."""
    if x.std() < 1e-9 or y.std() < 1e-9:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def _relative_requests(env: gym.Env) -> bool:
    """Whether ``env`` is wrapped in ``RelativePhaseAction`` (0 keep, 1 next phase)."""
    while isinstance(env, gym.Wrapper):
        if isinstance(env, RelativePhaseAction):
            return True
        env = env.env
    return False


def root_actions(model: MuZero, root: Any, b: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(searched, joint [n, N])``: the actions root ``b``'s search compares, as the search
    passes them to the model, and as joint actions of the env; all of them when enumerated
    (search slot -> joint action, as the model maps them), else its distinct samples."""
    spec = model.action_spec
    if spec.enumerated:
        searched: np.ndarray = np.arange(spec.num_slots)
    else:
        assert root.candidates is not None and root.candidate_mask is not None
        searched = root.candidates[b][root.candidate_mask[b]]
    return searched, spec.to_env(searched).reshape(len(searched), -1)


def one_step_values(model: MuZero, root: Any, b: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(joint [n, N], values [n])``: root ``b``'s candidates (``root_actions``) and the
    model's one-step action value ``r(s, a) + discount * v(g(s, a))`` of each, no search."""
    searched, joint = root_actions(model, root, b)
    embedding = root.embedding[b : b + 1]
    hidden = embedding.expand(len(joint), *embedding.shape[1:]).contiguous()
    with torch.inference_mode():
        out = model.policy.search_step(hidden, searched)
    return joint, np.asarray(out.reward + model.discount * out.value)


def requested_phases(
    traffic: Any, obs: np.ndarray, joint: np.ndarray, relative: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``(phase [N], phases [n, N])``: each intersection's phase as ``obs`` shows it (during
    a change, the next), and the phases joint requests ``[n, N]`` ask for."""
    blocks = np.asarray(obs).reshape(traffic.num_intersections, -1)
    phase = blocks[:, : traffic.n_phases].argmax(axis=1)
    return phase, (phase + joint) % traffic.n_phases if relative else joint


def check(model: MuZero, args: argparse.Namespace) -> dict[str, Any]:
    """Play one episode with ``model``, comparing its action values with the simulator's."""
    kwargs = {} if args.reward_fn is None else {"reward_fn": args.reward_fn}
    run, _ = load_hyperparams("muzero", args.env)
    env = wrap(gym.make(args.env, **kwargs), run.get("env_wrapper"))
    if env.observation_space != model.observation_space:
        raise ValueError(
            f"the model observes {model.observation_space}, {args.env} gives "
            f"{env.observation_space}: pass the env it was trained on (--env)"
        )
    traffic: Any = env.unwrapped
    relative = _relative_requests(env)
    spec = model.action_spec
    controller = MaxPressureController(traffic)
    policy = model.policy
    every = EPISODE_STEPS // args.states
    spreads, errors, correlations, top3, entropies = [], [], [], [], []
    gains: list[float] = []
    regrets: list[float] = []
    change_model: list[float] = []
    change_true: list[float] = []
    distinct: list[int] = []
    obs, _ = env.reset(seed=args.seed)
    for step in range(EPISODE_STEPS):
        if step % every == every // 2:
            with torch.inference_mode():
                root = policy.search_root(torch.as_tensor(obs[None]))
            joint, predicted = one_step_values(model, root)
            phase, phases = requested_phases(traffic, obs, joint, relative)
            true = simulator_values(
                traffic, phases, controller, args.horizon, args.repeats, model.discount
            )
            spreads.append(float(true.std()))
            errors.append(
                float(np.abs((predicted - predicted.mean()) - (true - true.mean())).mean())
            )
            if true.std() > 1e-9:  # some request is served: the actions differ
                top3.append(bool(true[predicted.argmax()] >= np.sort(true)[-min(3, len(true))]))
                correlation = _within_state_correlation(predicted, true)
                if correlation is not None:
                    correlations.append(correlation)
                gains.append(float(true.max() - true.mean()))
                regrets.append(float(true.max() - true[predicted.argmax()]))
                changes = (phases != phase[None]).sum(axis=1).astype(np.float64)
                for into, values in ((change_model, predicted), (change_true, true)):
                    correlation = _within_state_correlation(changes, values)
                    if correlation is not None:
                        into.append(correlation)
            if spec.enumerated:
                logits = np.asarray(root.prior_logits[0], dtype=np.float64)
                prior = np.exp(logits - logits.max())
                prior /= prior.sum()
                entropies.append(float(-(prior * np.log(np.maximum(prior, 1e-12))).sum()))
            distinct.append(len(joint))
        action, _ = model.predict(obs[None], deterministic=True)
        obs, *_ = env.step(np.asarray(action).reshape(-1))
    env.close()
    return {
        "env": args.env,
        "states": len(spreads),
        "actions_compared": float(np.mean(distinct)),
        "true_spread": float(np.median(spreads)),
        "model_error": float(np.median(errors)),
        "correlation": _median(correlations),
        "states_with_differences": len(top3),
        "best_in_true_top3": float(np.mean(top3)) if top3 else None,
        "best_minus_mean": _median(gains),
        "model_regret": _median(regrets),
        "changes_vs_model_value": _median(change_model),
        "changes_vs_true_value": _median(change_true),
        "prior_entropy": float(np.mean(entropies)) if entropies else None,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The script's arguments (``argv``, or the command line), with their defaults."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a saved Traffic model")
    parser.add_argument("--env", default="Traffic-v0", help="Traffic-v0 or Traffic10-v0")
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
    for key, value in result.items():
        shown = value if value is None or isinstance(value, str | int) else f"{value:.3f}"
        print(f"{key:>24}  {'-' if shown is None else shown}")
    if args.json is not None:
        args.json.write_text(json.dumps({"model": str(args.model), **result}, indent=2))


if __name__ == "__main__":
    main()
