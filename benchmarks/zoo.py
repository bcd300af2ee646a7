"""Read tuned hyperparameters from ``benchmarks/hyperparams/<algo>.yml`` (rl-zoo layout).

Each file maps an env id to keyword arguments of the algorithm, plus a few keys that
describe the run rather than the algorithm (``n_timesteps``, ``policy``, ``n_envs``,
``env_kwargs``: arguments of the training envs' ``gym.make``, e.g. the reward to learn from);
:func:`load_hyperparams` splits the two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# LinearSchedule is imported here too: models pickled with its name under this module
# (``benchmarks.zoo.LinearSchedule``) load through it.
from muzero_gym.schedules import LinearSchedule, StepTemperature

HYPERPARAMS_DIR = Path(__file__).resolve().parent / "hyperparams"
RUN_KEYS = (
    "n_timesteps",
    "policy",
    "n_envs",
    "env_wrapper",
    "env_kwargs",
    "eval_threshold",
    "normalize",
)


def parse_schedule(value: Any) -> Any:
    """rl-zoo's ``"lin_0.003"``: a rate decaying linearly from 0.003 to 0 over training;
    ``"step_1.0_0.5_0.25"``: a :class:`StepTemperature` holding each value in turn, the
    next starting half way through what is left (the paper's temperature schedule: 1.0,
    0.5 from half way, 0.25 from three quarters)."""
    if isinstance(value, str) and value.startswith("lin_"):
        return LinearSchedule(float(value[len("lin_") :]))
    if isinstance(value, str) and value.startswith("step_"):
        values = tuple(float(item) for item in value[len("step_") :].split("_"))
        return StepTemperature(values, halving_boundaries(len(values)))
    return value


def halving_boundaries(stages: int) -> tuple[float, ...]:
    """Where each of ``stages`` stages after the first starts: 1/2, 3/4, 7/8, ..."""
    return tuple(1.0 - 0.5**k for k in range(1, stages))


def describe_step(schedule: StepTemperature) -> str | None:
    """``"step_..."`` for a schedule :func:`parse_schedule` can write back, else None."""
    if schedule.boundaries != halving_boundaries(len(schedule.values)):
        return None
    return "step_" + "_".join(str(v) for v in schedule.values)


def load_entry(algo: str, env_id: str) -> dict[str, Any]:
    """The entry of ``algo``'s file for ``env_id`` as written (schedules unparsed).

    :raises KeyError: the file has no entry for ``env_id``
    """
    path = HYPERPARAMS_DIR / f"{algo}.yml"
    with path.open() as handle:
        table = yaml.safe_load(handle) or {}
    if env_id not in table:
        raise KeyError(f"{path} has no entry for {env_id!r}; it has {sorted(table)}")
    return dict(table[env_id])


def split_entry(entry: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(run settings, algorithm kwargs)`` of an entry, both as written."""
    kwargs = dict(entry)
    return {key: kwargs.pop(key) for key in RUN_KEYS if key in kwargs}, kwargs


def load_hyperparams(
    algo: str, env_id: str, override: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(run settings, algorithm kwargs)`` for ``algo`` on ``env_id``, schedules parsed.

    :param override: keys that replace the entry's (rl-zoo's ``--hyperparams``), run
        settings such as ``n_envs`` included
    :raises KeyError: the file has no entry for ``env_id``
    """
    run, kwargs = split_entry({**load_entry(algo, env_id), **(override or {})})
    return run, {key: parse_schedule(value) for key, value in kwargs.items()}
