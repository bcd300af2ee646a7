"""Read tuned hyperparameters from ``benchmarks/hyperparams/<algo>.yml`` (rl-zoo layout).

Each file maps an env id to keyword arguments of the algorithm, plus a few keys that
describe the run rather than the algorithm (``n_timesteps``, ``policy``, ``n_envs``);
:func:`load_hyperparams` splits the two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

HYPERPARAMS_DIR = Path(__file__).resolve().parent / "hyperparams"
RUN_KEYS = ("n_timesteps", "policy", "n_envs", "env_wrapper", "eval_threshold")


def load_hyperparams(algo: str, env_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(run settings, algorithm kwargs)`` for ``algo`` on ``env_id``.

    :raises KeyError: the file has no entry for ``env_id``
    """
    path = HYPERPARAMS_DIR / f"{algo}.yml"
    with path.open() as handle:
        table = yaml.safe_load(handle) or {}
    if env_id not in table:
        raise KeyError(f"{path} has no entry for {env_id!r}; it has {sorted(table)}")
    entry = dict(table[env_id])
    run = {key: entry.pop(key) for key in RUN_KEYS if key in entry}
    return run, entry
