"""Where a trained RobotArm-v0 model loses the target: the distance at each step.

Loads a saved ``MuZero`` model (``cartpole_target --save-dir``) and plays deterministic
evaluation episodes on the registered env (seeds ``10,000 + i``, as the protocol's
evaluation of seed 0) three ways:

- ``search``: ``predict`` with ``mode_candidate="never"``: the search plays one of the K
  actions sampled from the policy (Sampled MuZero as the paper);
- ``search+mode``: ``mode_candidate="predict"``: the policy's mean is one of the root's
  candidates (with the model's ``mode_weight``, or ``--mode-weight``);
- ``policy mean``: the prediction network's mean action, no search.

For each: the mean distance over the episodes' steps, the distance at the last step, the
success rate (within ``success_threshold`` at the last step), the mean distance at every
``--every``-th step, and the mean |action| there (a sampled action's size is set by the
policy's standard deviation, the mean's by the policy alone).

Each episode's outcome too: ``success``, ``left`` (within the threshold at some step but
not at the last) or ``never`` (never within it), overall and split by where the target
is: ``front`` (azimuth within 90 degrees of the +x axis, the way the arm faces in its home
pose) or ``behind`` (the arm must turn its base by more than 90 degrees, or reach back
over its shoulder); and the success rate in 30-degree bands of the target's |azimuth|.

    python -m benchmarks.robot_arm_drift --model runs/RobotArm-v0_seed0.zip --episodes 24
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any, cast

import muzero_gym.envs  # noqa: F401  (registers RobotArm-v0)
import numpy as np
import torch

from benchmarks.protocol import make_envs, mode_among_candidates
from benchmarks.run import write_json
from muzero_gym import MuZero

VARIANTS = ("search", "search+mode", "policy mean")
OUTCOMES = ("success", "left", "never")
REGIONS = ("front", "behind")
#: Bands of |azimuth| (degrees) for the success rate by direction.
BANDS = (0, 30, 60, 90, 120, 150, 180)
# Observation indices of the target's x and y (envs/robot_arm/robot_arm.py).
_TARGET_X, _TARGET_Y = 21, 22


def _episodes(
    model: MuZero, variant: str, episodes: int, seed: int
) -> tuple[list[list[float]], list[np.ndarray], np.ndarray, np.ndarray]:
    """Per-step distances, |action| and successes ``[T, episodes]``; the targets' azimuths."""
    env = make_envs("RobotArm-v0", episodes, seed)
    obs = cast(np.ndarray, env.reset())  # a Box observation
    azimuth = np.degrees(np.arctan2(obs[:, _TARGET_Y], obs[:, _TARGET_X]))
    distances: list[list[float]] = []
    sizes: list[np.ndarray] = []
    successes: list[list[bool]] = []
    done = np.zeros(episodes, dtype=bool)
    while not done.all():
        if variant == "policy mean":
            actions, _ = model.policy.predict(obs, deterministic=True)
        else:
            actions, _ = model.predict(obs, deterministic=True)
        vec_obs, _, dones, infos = env.step(actions)
        obs = cast(np.ndarray, vec_obs)
        # Every episode has the same length (a TimeLimit, no termination): all end together.
        distances.append([info["distance"] for info in infos])
        sizes.append(np.abs(np.asarray(actions)).mean(axis=1))
        successes.append([bool(info["is_success"]) for info in infos])
        done = np.asarray(dones, dtype=bool)
    env.close()
    return distances, sizes, np.asarray(successes), azimuth


def play(
    model: MuZero,
    variant: str,
    episodes: int,
    seed: int = 10_000,
    mode_weight: float | None = None,
) -> dict[str, Any]:
    """Play ``episodes`` deterministic episodes at once; per-step distances and |action|.

    :param mode_weight: ``search+mode``'s ``mode_weight``; None: the model's own
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    with mode_among_candidates(model, variant == "search+mode", mode_weight):
        distances, sizes, successes, azimuth = _episodes(model, variant, episodes, seed)
    dist = np.asarray(distances)  # [T, episodes]
    outcome = np.where(successes[-1], "success", np.where(successes.any(axis=0), "left", "never"))
    behind = np.abs(azimuth) > 90.0
    by_region = {}
    for region, rows in (("front", ~behind), ("behind", behind)):
        by_region[region] = {
            "episodes": int(rows.sum()),
            **{
                name: float((outcome[rows] == name).mean()) if rows.any() else None
                for name in OUTCOMES
            },
        }
    band = np.clip(np.digitize(np.abs(azimuth), BANDS[1:-1]), 0, len(BANDS) - 2)
    by_azimuth = {
        f"{lo}-{hi}": {
            "episodes": int((band == i).sum()),
            "success": float(successes[-1][band == i].mean()) if (band == i).any() else None,
        }
        for i, (lo, hi) in enumerate(itertools.pairwise(BANDS))
    }
    return {
        "variant": variant,
        "distance": float(dist.mean()),
        "final_distance": float(dist[-1].mean()),
        "success_rate": float(successes[-1].mean()),
        "outcomes": {name: float((outcome == name).mean()) for name in OUTCOMES},
        "by_region": by_region,
        "by_azimuth": by_azimuth,
        "target_azimuth": azimuth.tolist(),
        "outcome_by_episode": outcome.tolist(),
        "distance_by_step": dist.mean(axis=1).tolist(),
        "action_size_by_step": np.asarray(sizes).mean(axis=1).tolist(),
    }


def _shares(shares: dict[str, float | None]) -> str:
    return " / ".join("-" if shares[n] is None else f"{shares[n]:.0%}" for n in OUTCOMES)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a saved RobotArm-v0 MuZero")
    parser.add_argument("--episodes", type=int, default=24)
    parser.add_argument("--every", type=int, default=10, help="print every N-th step")
    parser.add_argument(
        "--mode-weight", type=float, default=None, help="search+mode's (default: the model's)"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model = MuZero.load(args.model)
    rows = [play(model, v, args.episodes, mode_weight=args.mode_weight) for v in VARIANTS]
    weight = model.mode_weight if args.mode_weight is None else args.mode_weight
    print(f"{args.model}, {args.episodes} episodes, search+mode's mode_weight {weight:g}")
    print(f"{'':12s} {'distance':>8s} {'last step':>9s} {'success':>7s}")
    for row in rows:
        print(
            f"{row['variant']:12s} {row['distance']:8.3f} {row['final_distance']:9.3f} "
            f"{row['success_rate']:7.0%}"
        )
    print("\noutcomes: success / within the threshold once, then left / never within it")
    for row in rows:
        cells = [f"all {_shares(row['outcomes'])}"]
        for region in REGIONS:
            part = row["by_region"][region]
            cells.append(f"{region} ({part['episodes']}) {_shares(part)}")
        print(f"{row['variant']:12s} " + "   ".join(cells))
    print("\nsuccess by the target's |azimuth| (degrees; episodes in brackets)")
    heads = [f"{band} ({part['episodes']})" for band, part in rows[0]["by_azimuth"].items()]
    print(f"{'':12s} " + " ".join(f"{head:>13s}" for head in heads))
    for row in rows:
        parts = row["by_azimuth"].values()
        cells = ["-" if p["success"] is None else f"{p['success']:.0%}" for p in parts]
        print(f"{row['variant']:12s} " + " ".join(f"{cell:>13s}" for cell in cells))
    print("\nmean distance (m) / mean |action| at step")
    steps = range(0, len(rows[0]["distance_by_step"]), args.every)
    print(f"{'step':>4s} " + " ".join(f"{row['variant']:>17s}" for row in rows))
    for t in sorted({*steps, len(rows[0]["distance_by_step"]) - 1}):
        cells = [
            f"{row['distance_by_step'][t]:8.3f} / {row['action_size_by_step'][t]:5.2f}"
            for row in rows
        ]
        print(f"{t + 1:4d} " + " ".join(f"{c:>17s}" for c in cells))
    if args.json is not None:
        meta = {"model": str(args.model), "episodes": args.episodes, "mode_weight": weight}
        write_json(args.json, {**meta, "rows": rows})
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
