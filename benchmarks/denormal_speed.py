"""Gradient-step speed as training goes on, with and without flushing float32 denormals.

Adam's L2 penalty (``weight_decay``) leaves the weights of units that get no gradient in
the float32 denormal range, where CPU arithmetic is many times slower; ``MuZero.learn`` and
``predict`` flush denormals to zero (:mod:`muzero_gym.numerics`). This script trains a
``muzero.yml`` entry (default Traffic-v0) from scratch twice on one torch thread, once as
shipped and once with the flushing switched off, and prints the seconds each block of
``--block`` env steps takes after ``learning_starts``, and how many of the weights are
denormal at the end:

    python -m benchmarks.denormal_speed                  # Traffic-v0, to 8,000 env steps
    python -m benchmarks.denormal_speed --env Pendulum-v1 --steps 6000
    python -m benchmarks.denormal_speed --override '{"weight_decay": 0.0}'
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from typing import Any
from unittest import mock

import torch

from benchmarks.protocol import make_envs
from benchmarks.zoo import load_hyperparams
from muzero_gym import MuZero


def denormal_weights(model: MuZero) -> int:
    tiny = torch.finfo(torch.float32).tiny
    return sum(int(((p.abs() < tiny) & (p != 0)).sum()) for p in model.policy.parameters())


def measure(
    env_id: str,
    steps: int,
    block: int,
    flush: bool,
    seed: int,
    override: dict[str, Any] | None = None,
) -> list[float]:
    """Seconds per block of ``block`` env steps from ``learning_starts`` to ``steps``."""
    run, hyperparameters = load_hyperparams("muzero", env_id, override)
    env = make_envs(env_id, int(run.get("n_envs", 1)), seed, run.get("env_wrapper"))
    model = MuZero(run.get("policy", "MlpPolicy"), env, seed=seed, device="cpu", **hyperparameters)
    context = (
        contextlib.nullcontext()
        if flush
        else mock.patch("muzero_gym.muzero.denormals_flushed", contextlib.nullcontext)
    )
    times = []
    with context:
        model.learn(model.learning_starts)
        while model.num_timesteps < steps:
            began = time.perf_counter()
            model.learn(block, reset_num_timesteps=False)
            times.append(time.perf_counter() - began)
            print(f"  {'flushed' if flush else 'kept   '} to {model.num_timesteps:>6} env steps: "
                  f"{times[-1]:6.1f} s", flush=True)  # fmt: skip
    print(f"  denormal weights at the end: {denormal_weights(model)}")
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="Traffic-v0")
    parser.add_argument("--steps", type=int, default=8_000)
    parser.add_argument("--block", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--override", default="{}", help="JSON of entry keys to replace")
    args = parser.parse_args(argv)
    override = json.loads(args.override)
    torch.set_num_threads(1)
    kept, flushed = (
        measure(args.env, args.steps, args.block, flush=flush, seed=args.seed, override=override)
        for flush in (False, True)
    )
    print(f"{args.env}: the last block took {kept[-1]:.1f} s with denormals kept, "
          f"{flushed[-1]:.1f} s flushed ({kept[-1] / flushed[-1]:.2f} times); "
          f"the first {kept[0]:.1f} and {flushed[0]:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
