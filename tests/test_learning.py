"""Slow learning tests (``pytest -m slow``): measured returns against thresholds."""

from __future__ import annotations

import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from benchmarks.zoo import load_hyperparams
from muzero_gym import MuZero

# CartPole-v1's classic "solved" level (v0's threshold); the full 475 target is measured by
# benchmarks/cartpole_target.py over three seeds.
CARTPOLE_THRESHOLD = 195.0


@pytest.mark.slow
def test_cartpole_learns_with_shipped_hyperparameters() -> None:
    torch.set_num_threads(1)
    run, hp = load_hyperparams("muzero", "CartPole-v1")
    model = MuZero(run["policy"], "CartPole-v1", seed=0, **hp)
    model.learn(int(run["n_timesteps"]))
    eval_env = make_vec_env("CartPole-v1", n_envs=10, seed=123)
    mean, _ = evaluate_policy(model, eval_env, n_eval_episodes=10, deterministic=True)
    assert mean >= CARTPOLE_THRESHOLD, f"mean return {mean:.1f} < {CARTPOLE_THRESHOLD}"
