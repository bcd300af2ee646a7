"""MuZero on a CUDA device: every action space, search and policy trains there, plays valid
actions, and its checkpoint loads back onto the GPU (same play) and onto the CPU (same
weights).

SB3's ``device="auto"`` picks a GPU whenever there is one, so this is the path most GPU
users take without asking for it. The CPU-only machines of CI have no such device and
skip these; run them on a GPU machine with `python -m pytest tests/test_cuda.py`."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.env_util import make_vec_env

import muzero_gym  # noqa: F401  (registers Traffic-v0)
from muzero_gym import MuZero
from tests.test_api import SideImageEnv
from tests.test_sampled import ActionEnv

DEVICE = "cuda"
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


class LargeImageEnv(SideImageEnv):
    """SideImageEnv at 48x48x3: frames this large go through the downsampling stack."""

    observation_space = spaces.Box(0, 255, (48, 48, 3), np.uint8)

    def _image(self) -> np.ndarray:
        small = super()._image()
        return np.repeat(np.repeat(small, 6, axis=0), 6, axis=1).repeat(3, axis=2)


TINY: dict[str, Any] = dict(
    num_simulations=8, batch_size=16, learning_starts=32, support_size=5, unroll_steps=3,
    td_steps=3, replay_ratio=0.5, buffer_size=2_000,
)  # fmt: skip
CNN = dict(policy_kwargs=dict(channels=8, num_blocks=1, head_hidden=16))

CASES: dict[str, tuple[Callable[[], gym.Env], str, dict[str, Any]]] = {
    "discrete": (lambda: gym.make("CartPole-v1"), "MlpPolicy", {}),
    "discrete-gumbel": (lambda: gym.make("CartPole-v1"), "MlpPolicy", {"search": "gumbel"}),
    "discrete-sampled": (
        lambda: ActionEnv(spaces.Discrete(12)), "MlpPolicy",
        {"num_sampled_actions": 4, "root_sampling_uniform": 0.25},
    ),
    "box-sampled": (
        lambda: ActionEnv(spaces.Box(-1.0, 1.0, (2,), np.float32)), "MlpPolicy",
        {"num_sampled_actions": 6, "root_sampling_uniform": 0.25, "mixture_components": 2,
         "mode_candidate": "always"},
    ),
    "box-sampled-gumbel": (
        lambda: ActionEnv(spaces.Box(-2.0, 2.0, (3,), np.float32)), "MlpPolicy",
        {"num_sampled_actions": 6, "search": "gumbel", "max_considered_actions": 4},
    ),
    "multidiscrete-flat": (
        lambda: ActionEnv(spaces.MultiDiscrete([3, 2])), "MlpPolicy",
        {"multi_discrete": "flatten"},
    ),
    "multidiscrete-factorized": (
        lambda: ActionEnv(spaces.MultiDiscrete([3, 4, 2])), "MlpPolicy",
        {"multi_discrete": "factorized", "num_sampled_actions": 6, "search": "gumbel",
         "root_sampling_uniform": 0.25},
    ),
    "traffic-symmetries": (
        lambda: gym.make("Traffic-v0"), "MlpPolicy",
        {"search": "gumbel", "symmetries": "env", "average_symmetries": True,
         "normalize_observations": True, "consistency_loss_weight": 2.0,
         "observation_loss_weight": 1.0, "target_update_interval": 10,
         "reanalyze_policy": True, "reanalyze_ratio": 0.25},
    ),
    "traffic-ensemble": (
        lambda: gym.make("Traffic-v0"), "MlpPolicy",
        {"search": "gumbel", "ensemble_size": 2, "symmetries": "env",
         "average_symmetries": True, "target_update_interval": 10},
    ),
    "traffic10-entity": (
        lambda: gym.make("Traffic-v0", num_intersections=10), "EntityMlpPolicy",
        {"search": "gumbel", "num_sampled_actions": 8,
         "policy_kwargs": {"hidden_dim": 16, "net_arch": [32]}},
    ),
    "cnn": (SideImageEnv, "CnnPolicy", CNN),
    "cnn-large-bf16": (LargeImageEnv, "CnnPolicy", {**CNN, "mixed_precision": True}),
}  # fmt: skip


def _observations(make_env: Callable[[], gym.Env], n: int) -> np.ndarray:
    env = make_env()
    return np.stack([env.reset(seed=1_000 + i)[0] for i in range(n)])


@pytest.mark.parametrize("case", list(CASES))
def test_trains_plays_saves_and_loads_on_cuda(case: str, tmp_path: Path) -> None:
    make_env, policy, kwargs = CASES[case]
    env = make_vec_env(make_env, n_envs=2, seed=0)
    model = MuZero(policy, env, seed=0, device=DEVICE, **{**TINY, **kwargs})
    assert model.device.type == DEVICE
    model.learn(160)
    assert model._n_updates > 0
    assert all(
        p.device.type == DEVICE and bool(torch.isfinite(p).all())
        for member in model.members
        for p in member.parameters()
    )

    obs = _observations(make_env, 4)
    actions, _ = model.predict(obs, deterministic=True)
    space = env.action_space
    assert all(space.contains(np.asarray(a, dtype=space.dtype)) for a in actions)

    cpu_actions = _reloaded_on_cuda_and_cpu(model, tmp_path / "model.zip", obs, actions)
    assert all(space.contains(np.asarray(a, dtype=space.dtype)) for a in cpu_actions)


def _reloaded_on_cuda_and_cpu(
    model: MuZero, path: Path, obs: np.ndarray, actions: np.ndarray, **predict_kwargs: Any
) -> np.ndarray:
    """Save ``model``; loaded back on the GPU it plays ``actions`` on ``obs`` again, loaded on
    the CPU it has the same weights bit for bit. Returns the CPU model's moves on ``obs``."""
    model.save(path)
    again = MuZero.load(path, device=DEVICE)
    assert again.device.type == DEVICE
    np.testing.assert_array_equal(
        again.predict(obs, deterministic=True, **predict_kwargs)[0], actions
    )

    on_cpu = MuZero.load(path, device="cpu")
    assert on_cpu.device.type == "cpu"
    for member, loaded in zip(model.members, on_cpu.members, strict=True):
        trained = member.state_dict()
        for name, tensor in loaded.state_dict().items():
            torch.testing.assert_close(tensor, trained[name].cpu(), rtol=0, atol=0, msg=name)
    return on_cpu.predict(obs, deterministic=True, **predict_kwargs)[0]


def test_cuda_replay_buffer_and_training_resume_on_the_cpu(tmp_path: Path) -> None:
    # A run started on a GPU machine and carried on where there is none (a laptop, CI).
    model = MuZero("MlpPolicy", "CartPole-v1", seed=0, device=DEVICE, **TINY)
    model.learn(120)
    model.save(tmp_path / "model.zip")
    model.save_replay_buffer(tmp_path / "buffer.pkl")
    resumed = MuZero.load(tmp_path / "model.zip", env=gym.make("CartPole-v1"), device="cpu")
    resumed.load_replay_buffer(tmp_path / "buffer.pkl")
    updates = resumed._n_updates
    resumed.learn(80, reset_num_timesteps=False)
    assert resumed._n_updates > updates
    assert all(not p.is_cuda for p in resumed.policy.parameters())


GAMES: dict[str, tuple[str, dict[str, Any]]] = {
    "tic_tac_toe": ("MlpPolicy", {"discount": 1.0, "td_steps": 9}),
    "connect_four": (
        "CnnPolicy",
        {**CNN, "discount": 1.0, "td_steps": 42, "symmetries": "board", "priority_alpha": 0.5,
         "priority_beta": 0.5, "num_sampling_moves": 15},
    ),
}  # fmt: skip


def _positions(game: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` positions a few random legal moves into a game, with their legal-move masks."""
    from muzero_gym.games import TurnBasedGymEnv, openspiel_env

    env = TurnBasedGymEnv(openspiel_env(game))
    rng = np.random.default_rng(0)
    observations: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    while len(observations) < n:
        obs, info = env.reset(seed=int(rng.integers(1 << 31)))
        for _ in range(int(rng.integers(0, 5))):
            legal = np.flatnonzero(info["action_mask"])
            obs, _, terminated, _, info = env.step(int(rng.choice(legal)))
            if terminated:
                break
        else:
            observations.append(obs)
            masks.append(info["action_mask"])
    return np.stack(observations), np.stack(masks).astype(bool)


@pytest.mark.parametrize("game", list(GAMES))
def test_board_game_self_play_on_cuda_plays_legal_moves_and_loads_back(
    game: str, tmp_path: Path
) -> None:
    pytest.importorskip("pyspiel")
    from stable_baselines3.common.vec_env import DummyVecEnv

    from muzero_gym.games import TurnBasedGymEnv, openspiel_env

    policy, kwargs = GAMES[game]
    env = DummyVecEnv([lambda: TurnBasedGymEnv(openspiel_env(game))] * 2)
    model = MuZero(policy, env, seed=0, device=DEVICE, **{**TINY, **kwargs})
    assert model.two_player
    model.learn(160)
    assert model._n_updates > 0
    assert all(bool(torch.isfinite(p).all()) for p in model.policy.parameters())

    obs, masks = _positions(game, 16)
    rows = np.arange(len(masks))
    sampled, _ = model.predict(obs, action_masks=masks, deterministic=False)
    assert masks[rows, sampled].all()
    actions, _ = model.predict(obs, action_masks=masks, deterministic=True)
    assert masks[rows, actions].all()

    cpu_actions = _reloaded_on_cuda_and_cpu(
        model, tmp_path / "model.zip", obs, actions, action_masks=masks
    )
    assert masks[rows, cpu_actions].all()
