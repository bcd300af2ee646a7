"""MuZero's learning targets: env steps and wall-clock to a deterministic mean return.

Made for CartPole-v1 (mean 475); ``--env`` runs any entry of muzero.yml against its
``eval_threshold``. For each seed: ``MuZero(policy, env, seed=s, **hp)`` with the entry of
``benchmarks/hyperparams/muzero.yml`` (``n_envs`` copies of the env); every
``--eval-freq`` env steps a deterministic evaluation over ``--eval-episodes`` episodes
on separate, seeded envs as registered (an entry's ``env_kwargs`` and ``--env-kwargs``
shape the training envs only; ``--eval-env-kwargs`` the evaluation envs), with the
benchmark protocol's info metric averaged over each episode where the env has one
(Traffic-v0: mean waiting time; RobotArm-v0: distance). Prints, per seed, the env
steps and the training wall-clock (evaluation excluded) at which the mean first reached
the threshold, and the final evaluation; then the medians. Writes a JSON file, with the
versions and CPU each run had (runs repeat to the digit on one machine, not across
machines). ``--save-dir`` keeps the final models, ``--checkpoint-freq`` models on the way.

    python benchmarks/cartpole_target.py --seeds 0 1 2
    python benchmarks/cartpole_target.py --env Pendulum-v1 --seeds 0
    python benchmarks/cartpole_target.py --override '{"search": "gumbel"}'
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, CheckpointCallback
from stable_baselines3.common.utils import get_system_info
from stable_baselines3.common.vec_env import VecEnv

from benchmarks.protocol import ENVS, describe, evaluate, make_envs
from benchmarks.zoo import load_hyperparams, parse_schedule, split_entry
from muzero_gym import MuZero


class ThresholdEval(BaseCallback):
    """Evaluates every ``eval_freq`` steps; keeps training time apart from evaluation time."""

    def __init__(
        self,
        eval_env: Any,
        eval_freq: int,
        n_episodes: int,
        threshold: float,
        info_metric: str | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.eval_env = eval_env
        self.info_metric = info_metric
        self.seed = seed
        self.eval_freq = eval_freq
        self.n_episodes = n_episodes
        self.threshold = threshold
        self.curve: list[dict[str, float]] = []
        self.reached: dict[str, float] | None = None
        self.eval_seconds = 0.0
        self.start = time.perf_counter()
        self.next_eval = eval_freq

    def _on_training_start(self) -> None:
        self.start = time.perf_counter()

    def evaluate(self) -> dict[str, float]:
        began = time.perf_counter()
        train_seconds = began - self.start - self.eval_seconds
        result = evaluate(self.model, self.eval_env, self.seed, self.info_metric)
        self.eval_seconds += time.perf_counter() - began
        point = {"steps": self.num_timesteps, **result, "train_seconds": train_seconds}
        self.curve.append(point)
        if self.reached is None and point["mean"] >= self.threshold:
            self.reached = point
        return point

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.next_eval:
            self.next_eval += self.eval_freq
            point = self.evaluate()
            name = self.info_metric
            metric = (
                f"  {name} {point[name]:.3f} (last step {point[f'final_{name}']:.3f})"
                if name
                else ""
            )
            if "success_rate" in point:
                metric += f"  success {point['success_rate']:.0%}"
            print(
                f"  steps {point['steps']:6d}  eval {point['mean']:6.1f} +- {point['std']:5.1f}"
                f"{metric}  train {point['train_seconds']:6.1f}s",
                flush=True,
            )
        return True


def make_eval_envs(args: argparse.Namespace, seed: int, env_wrapper: Any) -> VecEnv:
    """The evaluation envs of run ``seed``: ``--eval-episodes`` copies seeded from 10,000 + seed."""
    kwargs = json.loads(args.eval_env_kwargs)
    return make_envs(args.env, args.eval_episodes, 10_000 + seed, env_wrapper, kwargs)


def settings(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(run settings, MuZero kwargs)``: the entry of ``--env`` with ``--override``'s keys
    replacing its own, run keys (``policy``, ``n_envs``, ...) included."""
    run, hp = load_hyperparams("muzero", args.env)
    run_override, hp_override = split_entry(json.loads(args.override))
    run.update(run_override)
    hp.update({k: parse_schedule(v) for k, v in hp_override.items()})
    return run, hp


def run_seed(seed: int, args: argparse.Namespace) -> dict[str, Any]:
    if args.checkpoint_freq and args.save_dir is None:
        raise SystemExit("--checkpoint-freq needs --save-dir")
    run, hp = settings(args)
    threshold = float(run.get("eval_threshold", 475))
    total = int(args.timesteps or run["n_timesteps"])
    env_kwargs = {**run.get("env_kwargs", {}), **json.loads(args.env_kwargs)}
    env_wrapper = json.loads(args.env_wrapper) if args.env_wrapper else run.get("env_wrapper")
    eval_env = make_eval_envs(args, seed, env_wrapper)
    env = make_envs(args.env, int(run.get("n_envs", 1)), seed, env_wrapper, env_kwargs)
    model = MuZero(run.get("policy", "MlpPolicy"), env, seed=seed, **hp)
    info_metric = ENVS[args.env].info_metric if args.env in ENVS else None
    callback = ThresholdEval(
        eval_env, args.eval_freq, args.eval_episodes, threshold, info_metric, 10_000 + seed
    )
    callbacks: list[BaseCallback] = [callback]
    if args.checkpoint_freq:
        callbacks.append(
            CheckpointCallback(
                max(args.checkpoint_freq // env.num_envs, 1),
                str(args.save_dir / "checkpoints"),
                name_prefix=f"{args.env}_seed{seed}",
            )
        )
    model.learn(total, callback=CallbackList(callbacks))
    final = callback.evaluate()
    if args.save_dir is not None:
        args.save_dir.mkdir(parents=True, exist_ok=True)
        model.save(args.save_dir / f"{args.env}_seed{seed}.zip")
    return {
        "seed": seed,
        "steps_to_threshold": callback.reached["steps"] if callback.reached else None,
        "seconds_to_threshold": callback.reached["train_seconds"] if callback.reached else None,
        "final_mean": final["mean"],
        "final_std": final["std"],
        "total_train_seconds": final["train_seconds"],
        "curve": callback.curve,
        "hyperparameters": describe(hp),
        "env_kwargs": env_kwargs,
        "eval_env_kwargs": json.loads(args.eval_env_kwargs),
        "env_wrapper": env_wrapper,
        "system": system_info(),
    }


def system_info() -> dict[str, str]:
    """What the run's figures depend on beyond the seed: SB3's record of the versions
    (OS, Python, PyTorch, NumPy, Gymnasium, ...) and the CPU's vector instructions that
    PyTorch uses. Runs repeat to the last digit on one machine but not across machines."""
    info, _ = get_system_info(print_info=False)
    return {**info, "CPU capability": torch.backends.cpu.get_cpu_capability()}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The script's arguments (``argv``, or the command line), with their defaults."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="CartPole-v1", help="an entry of muzero.yml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--timesteps", type=int, default=None, help="default: n_timesteps")
    parser.add_argument("--eval-freq", type=int, default=500)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--override", default="{}", help="JSON of MuZero kwargs to override")
    parser.add_argument(
        "--env-kwargs", default="{}", help="JSON of gym.make kwargs of the training envs"
    )
    parser.add_argument(
        "--eval-env-kwargs",
        default="{}",
        help="JSON of gym.make kwargs of the evaluation envs (default: as registered), "
        "e.g. '{\"num_intersections\": 1}' with --env-kwargs the same to train on a variant",
    )
    parser.add_argument(
        "--env-wrapper",
        default=None,
        help="JSON env_wrapper (as in muzero.yml) for training and evaluation envs; "
        "default: the entry's",
    )
    parser.add_argument("--out", type=Path, default=None, help="default: bench_out/target_ENV.json")
    parser.add_argument(
        "--save-dir", type=Path, default=None, help="save each final model as DIR/ENV_seedS.zip"
    )
    parser.add_argument(
        "--checkpoint-freq",
        type=int,
        default=0,
        help="also save the model every this many env steps, as "
        "DIR/checkpoints/ENV_seedS_STEPS_steps.zip (SB3's CheckpointCallback)",
    )
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = Path(f"bench_out/target_{args.env}.json")
    return args


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    results = []
    for seed in args.seeds:
        print(f"seed {seed}", flush=True)
        results.append(run_seed(seed, args))
    print("\nseed  steps_to_thr  train_s_to_thr  final_mean  total_train_s")
    for r in results:
        steps = r["steps_to_threshold"]
        secs = r["seconds_to_threshold"]
        print(
            f"{r['seed']:4d}  {steps if steps is not None else 'never':>12}  "
            f"{(f'{secs:.1f}' if secs is not None else '-'):>14}  {r['final_mean']:10.1f}  "
            f"{r['total_train_seconds']:13.1f}"
        )
    steps = [
        r["steps_to_threshold"] if r["steps_to_threshold"] is not None else np.inf for r in results
    ]
    print(f"median steps to threshold: {statistics.median(steps)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=repr))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
