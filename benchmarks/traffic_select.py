"""Pick a Traffic run's model among its checkpoints on validation episodes, then test it.

SB3's ``EvalCallback(best_model_save_path=...)`` keeps the checkpoint with the best
evaluation return; on Traffic the measure is the mean waiting time, and the episodes a
model is chosen on must not be those it is then reported on. So: every model given
(``--models``: the run's checkpoints, ``cartpole_target --checkpoint-freq``, and its final
model) plays ``--episodes`` deterministic episodes from ``--validation-seed`` (default
20,000: episodes no report and no training evaluation plays); the one with the lowest mean
waiting time there plays the test episodes from ``--first-seed`` (default 10,000, the
episodes ``traffic_decide`` and ``traffic_baselines`` play), and so does the last model
given (the run's final one), so that the two pair episode by episode. Ties go to the
later model.

    python -m benchmarks.traffic_select --env Traffic-v0 \\
        --models D/checkpoints/Traffic-v0_seed0_{50000,60000,70000,80000,90000}_steps.zip \\
                 D/Traffic-v0_seed0.zip --json F
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.run import write_json
from benchmarks.traffic_decide import play
from muzero_gym import MuZero


def select(
    paths: list[Path],
    env_id: str,
    episodes: int,
    validation_seed: int,
    first_seed: int,
    override: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Validation figures of every model in ``paths``, the chosen one, and the test
    figures of the chosen and of the last (final) model."""
    if not paths:
        raise ValueError("--models needs at least one saved model")
    if validation_seed < first_seed + episodes and first_seed < validation_seed + episodes:
        raise ValueError(
            f"validation episodes (seeds {validation_seed}...) overlap the test episodes "
            f"(seeds {first_seed}...{first_seed + episodes - 1}): choose another --validation-seed"
        )
    override = override or {}
    validation = []
    for path in paths:
        model = MuZero.load(path, **override)
        row = play(model, env_id, "search", episodes, validation_seed)
        validation.append({"model": str(path), **row})
        print(f"validation {row['mean_waiting_time']:6.3f} s  {path}", flush=True)
    # The lowest mean waiting time; ties to the later model (min keeps the first).
    best = min(
        reversed(range(len(paths))), key=lambda index: validation[index]["mean_waiting_time"]
    )
    test: dict[str, dict[str, Any]] = {}
    for name, index in (("chosen", best), ("final", len(paths) - 1)):
        if name == "final" and index == best:  # the final model chosen: played already
            test[name] = test["chosen"]
        else:
            model = MuZero.load(paths[index], **override)
            row = play(model, env_id, "search", episodes, first_seed)
            test[name] = {"model": str(paths[index]), **row}
        figure = test[name]["mean_waiting_time"]
        print(f"test {name:6s} {figure:6.3f} s  {paths[index]}", flush=True)
    return {
        "env": env_id,
        "episodes": episodes,
        "validation_seed": validation_seed,
        "first_seed": first_seed,
        "override": override,
        "validation": validation,
        "chosen": str(paths[best]),
        "test": test,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="Traffic-v0", help="Traffic-v0 or Traffic10-v0")
    parser.add_argument(
        "--models", type=Path, nargs="+", required=True,
        help="saved models of one run, oldest first; the last is the final model",
    )  # fmt: skip
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--validation-seed", type=int, default=20_000)
    parser.add_argument("--first-seed", type=int, default=10_000)
    parser.add_argument("--override", default="{}", help="JSON of MuZero settings for playing")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    report = select(
        args.models, args.env, args.episodes, args.validation_seed, args.first_seed,
        json.loads(args.override),
    )  # fmt: skip
    if args.json is not None:
        write_json(args.json, report)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
