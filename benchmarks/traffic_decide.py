"""How a trained Traffic model decides: search, search with the policy's mode, the policy.

Loads a saved ``MuZero`` model (``cartpole_target --save-dir``) trained on Traffic-v0 or
Traffic10-v0 and plays deterministic one-hour episodes (seeds ``--first-seed + i``, the
episodes ``benchmarks.traffic_baselines`` plays with the same flags) three ways:

- ``search``: ``predict`` with ``mode_candidate="never"``: with sampled actions the search
  plays one of the K joint actions sampled from the factorised policy (Sampled MuZero as
  the paper);
- ``search+mode``: ``mode_candidate="predict"``: the policy's most probable joint action
  (each intersection's most probable request) is one of the root's candidates, with the
  model's ``mode_weight`` or ``--mode-weight``;
- ``policy mode``: the prediction network's most probable joint action, no search;
- ``model pick``: the joint actions the search would compare at the root, ranked by the
  learned model's one-step action value ``r(s, a) + discount * v(g(s, a))`` alone (no
  search, no prior): the model's ranking as ``benchmarks.traffic_model`` measures it;
- ``simulator pick``: the same joint actions the search would compare at the root (all of
  them on the 2 x 2 grid; the K distinct ones sampled from the policy with sampled
  actions), ranked by the simulator instead of the learned model: each is played on a
  copy of the env, then ``--lookahead`` - 1 steps of max-pressure, and the best
  discounted return is played (``benchmarks.traffic_model``'s action value, one draw
  of the arrivals). Not a controller one could deploy; it shows what a perfect ranking of
  the same candidates is worth, and so whether the candidates or the model's ranking of
  them hold the search back.

For each: the mean waiting time per vehicle (s; each episode's mean over its decisions,
averaged over the episodes, as the harness reports it), the share of requests that
differ from the policy's mode, and the share of intersections asked to change phase at a
decision (with ``RelativePhaseAction``, request 1; with absolute requests, a request for
another phase than the current one).

``--with-models M2 ...`` adds models trained apart: in ``search`` each model searches
with its own settings (both orientations where it has ``average_symmetries``) and the
joint action with the largest summed log improved policy is played, as one model with
``ensemble_size`` combines its networks' searches (Gumbel search, joint actions searched
whole). It measures what combining separately trained models is worth when playing.

``--networks I ...`` plays a model trained with ``ensemble_size`` with some of its
networks only (indices from 0; ``policy mode`` and the picks use the first one named):
what each network plays alone, and what each one adds to the joined search.

``--override`` changes the model's search settings for these episodes only (e.g. more
simulations or sampled actions than in training, or ``{"symmetries": "env",
"average_symmetries": true}`` to search each position and its half-turn together with a
model trained without them).

    python -m benchmarks.traffic_decide --model runs/Traffic10-v0_seed0.zip --episodes 20
    python -m benchmarks.traffic_decide --model M --override '{"num_simulations": 200}'
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from muzero_gym.envs.traffic import MaxPressureController

from benchmarks.protocol import make_envs, mode_among_candidates
from benchmarks.run import write_json
from benchmarks.traffic_model import (
    one_step_values,
    requested_phases,
    root_actions,
    simulator_values,
)
from benchmarks.wrappers import RelativePhaseAction
from benchmarks.zoo import load_hyperparams
from muzero_gym import MuZero
from muzero_gym.numerics import denormals_flushed

VARIANTS = ("search", "search+mode", "policy mode", "model pick", "simulator pick")


def _relative(requests: np.ndarray, obs: np.ndarray, n_phases: int, relative: bool) -> np.ndarray:
    """Whether each intersection is asked to change phase ``[B, N]``."""
    if relative:
        return requests != 0
    blocks = obs.reshape(len(obs), requests.shape[1], -1)
    return requests != blocks[:, :, :n_phases].argmax(axis=2)


def _simulator_pick(
    model: MuZero, env: Any, obs: np.ndarray, relative: bool, lookahead: int
) -> np.ndarray:
    """Per env, the root's candidate joint action with the best simulated value."""
    with torch.inference_mode():
        root = model.policy.search_root(torch.as_tensor(obs))
    picks = []
    for b, sub_env in enumerate(env.envs):
        traffic = sub_env.unwrapped
        _, joint = root_actions(model, root, b)
        _, phases = requested_phases(traffic, obs[b], joint, relative)
        values = simulator_values(
            traffic, phases, MaxPressureController(traffic), lookahead, 1, model.discount
        )
        picks.append(joint[int(values.argmax())])
    return np.stack(picks)


@contextlib.contextmanager
def networks_only(model: MuZero, networks: Sequence[int] | None) -> Iterator[None]:
    """Within the block, ``model`` searches with the networks ``networks`` of its ensemble
    only (all of them with ``None``), the first named standing as ``model.policy``."""
    if networks is None:
        yield
        return
    count = len(model.members)
    chosen = [int(index) for index in networks]
    if not chosen or len(set(chosen)) != len(chosen) or not all(0 <= i < count for i in chosen):
        raise ValueError(
            f"--networks must name distinct networks of the model's {count} (0 to {count - 1}), "
            f"got {list(networks)}"
        )
    members, policy = model.members, model.policy
    model.members, model.policy = [members[i] for i in chosen], members[chosen[0]]
    try:
        yield
    finally:
        model.members, model.policy = members, policy


def _model_pick(model: MuZero, obs: np.ndarray) -> np.ndarray:
    """Per env, the root's candidate joint action with the best one-step model value."""
    with torch.inference_mode():
        root = model.policy.search_root(torch.as_tensor(obs))
    picks = []
    for b in range(len(obs)):
        joint, values = one_step_values(model, root, b)
        picks.append(joint[int(values.argmax())])
    return np.stack(picks)


def _joint_search(models: list[MuZero], obs: np.ndarray) -> np.ndarray:
    """Each model's own deterministic search of ``obs`` (its orientations combined where
    it has ``average_symmetries``); the joint action with the largest summed log improved
    policy over the models."""
    score = np.zeros((len(obs), models[0].action_spec.num_slots))
    with denormals_flushed():
        for model in models:
            result = model._combined_search(obs, None, False, False, True, model.average_symmetries)
            score += np.log(np.maximum(result.policy_target, 1e-30))
    return models[0].action_spec.to_env(score.argmax(axis=1))


def play(
    model: MuZero,
    env_id: str,
    variant: str,
    episodes: int,
    first_seed: int,
    mode_weight: float | None = None,
    lookahead: int = 12,
    env_wrapper: dict[str, Any] | None = None,
    with_models: tuple[MuZero, ...] = (),
    networks: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Play ``episodes`` deterministic episodes at once, one per env, with ``variant``;
    ``env_wrapper`` (rl-zoo form, ``{}`` for none) replaces the entry's wrapper for a model
    trained with another (``cartpole_target --env-wrapper``); ``with_models`` join the
    model's search (``--with-models``)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    for other in (model, *with_models) if with_models else ():
        if other.search != "gumbel" or not other.action_spec.enumerated:
            raise ValueError("--with-models needs Gumbel search over joint actions searched whole")
        if other.action_space != model.action_space:
            raise ValueError(f"--with-models: {other.action_space} is not {model.action_space}")
    run, _ = load_hyperparams("muzero", env_id)
    wrapper = run.get("env_wrapper") if env_wrapper is None else (env_wrapper or None)
    env = make_envs(env_id, episodes, first_seed, wrapper)
    if env.observation_space != model.observation_space:
        env.close()
        raise ValueError(
            f"the model observes {model.observation_space}, {env_id} gives "
            f"{env.observation_space}: pass the env it was trained on (--env)"
        )
    relative = bool(env.env_is_wrapped(RelativePhaseAction)[0])
    n_phases = int(env.get_attr("n_phases")[0])
    waiting: list[list[float]] = []
    off_mode: list[float] = []
    changes: list[float] = []
    with (
        networks_only(model, networks),
        mode_among_candidates(model, variant == "search+mode", mode_weight),
    ):
        obs = cast(np.ndarray, env.reset())  # a Box observation
        done = np.zeros(episodes, dtype=bool)
        while not done.all():
            mode, _ = model.policy.predict(obs, deterministic=True)
            if variant == "policy mode":
                actions = mode
            elif variant == "model pick":
                actions = _model_pick(model, obs)
            elif variant == "simulator pick":
                actions = _simulator_pick(model, env, obs, relative, lookahead)
            elif with_models:
                actions = _joint_search([model, *with_models], obs)
            else:
                actions, _ = model.predict(obs, deterministic=True)
            requests = np.asarray(actions).reshape(episodes, -1)
            off_mode.append(float((requests != np.asarray(mode).reshape(episodes, -1)).mean()))
            changes.append(float(_relative(requests, obs, n_phases, relative).mean()))
            vec_obs, _, dones, infos = env.step(actions)
            obs = cast(np.ndarray, vec_obs)
            # Every episode has the same length (a TimeLimit): all end together.
            waiting.append([float(info["mean_waiting_time"]) for info in infos])
            done = np.asarray(dones, dtype=bool)
    env.close()
    per_episode = np.asarray(waiting).mean(axis=0)
    return {
        "variant": variant,
        "mean_waiting_time": float(per_episode.mean()),
        "std_waiting_time": float(per_episode.std()),
        "waiting_time_by_episode": per_episode.tolist(),
        "off_mode": float(np.mean(off_mode)),
        "changes": float(np.mean(changes)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a saved Traffic MuZero")
    parser.add_argument("--env", default="Traffic10-v0", help="Traffic-v0 or Traffic10-v0")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=10_000)
    parser.add_argument(
        "--mode-weight", type=float, default=None, help="search+mode's (default: the model's)"
    )
    parser.add_argument(
        "--variants", nargs="+", choices=VARIANTS, default=["search", "search+mode", "policy mode"]
    )
    parser.add_argument(
        "--lookahead", type=int, default=12, help="simulator pick's env steps per candidate"
    )
    parser.add_argument(
        "--override", default="{}", help="JSON of MuZero settings for evaluation, e.g. search's"
    )
    parser.add_argument(
        "--env-wrapper", default=None,
        help="JSON rl-zoo wrapper the model was trained with, if not its entry's ('{}': none)",
    )  # fmt: skip
    parser.add_argument(
        "--with-models", type=Path, nargs="+", default=[],
        help="models trained apart whose searches join the model's in 'search'",
    )  # fmt: skip
    parser.add_argument(
        "--networks", type=int, nargs="+", default=None,
        help="with ensemble_size: the networks that play (indices from 0; default all)",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    env_wrapper = None if args.env_wrapper is None else json.loads(args.env_wrapper)
    torch.set_num_threads(1)
    override = json.loads(args.override)
    env = None
    if "symmetries" in override:  # symmetries "env" are read from the env
        run, _ = load_hyperparams("muzero", args.env)
        wrapper = run.get("env_wrapper") if env_wrapper is None else (env_wrapper or None)
        env = make_envs(args.env, 1, args.first_seed, wrapper)
    model = MuZero.load(args.model, env=env, **override)
    with_models = tuple(MuZero.load(path, env=env, **override) for path in args.with_models)
    weight = model.mode_weight if args.mode_weight is None else args.mode_weight
    print(f"{args.model} on {args.env}, {args.episodes} episodes from seed {args.first_seed}")
    if override:
        print(f"settings changed for evaluation: {override}")
    print(f"{'':12s} {'waiting (s)':>11s} {'std':>6s} {'off mode':>8s} {'changes':>7s}")
    rows = []
    for variant in args.variants:
        row = play(
            model, args.env, variant, args.episodes, args.first_seed, args.mode_weight,
            args.lookahead, env_wrapper, with_models, args.networks,
        )  # fmt: skip
        rows.append(row)
        print(
            f"{variant:12s} {row['mean_waiting_time']:11.2f} {row['std_waiting_time']:6.2f} "
            f"{row['off_mode']:8.1%} {row['changes']:7.1%}",
            flush=True,
        )
    if args.json is not None:
        meta = {"model": str(args.model), "env": args.env, "episodes": args.episodes,
                "override": override, "lookahead": args.lookahead,
                "env_wrapper": env_wrapper,
                "with_models": [str(path) for path in args.with_models],
                "networks": args.networks}  # fmt: skip
        write_json(args.json, {**meta, "first_seed": args.first_seed, "mode_weight": weight,
                               "rows": rows})  # fmt: skip
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
