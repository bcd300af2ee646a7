"""Symmetries an env declares itself (``symmetries="env"``): turned into joint-action
permutations that agree with the env's own, checked at the boundary, kept when saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import muzero_gym.envs  # noqa: F401  (registers Traffic-v0)
import numpy as np
import pytest
from gymnasium import spaces

from muzero_gym import MuZero
from muzero_gym.actions import FlatMultiDiscreteActions
from muzero_gym.symmetry import FeatureTransform, env_symmetries

TINY: dict[str, Any] = dict(
    num_simulations=4, batch_size=16, buffer_size=1_000, learning_starts=40, support_size=3,
    unroll_steps=2, policy_kwargs=dict(hidden_dim=16, net_arch=[32]),
)  # fmt: skip


def test_multi_discrete_gather_becomes_a_permutation_of_the_joint_actions() -> None:
    space = spaces.MultiDiscrete([2, 3, 2])
    gather = np.array([2, 1, 0])
    (symmetry,) = env_symmetries([("swap", np.arange(4)[::-1], gather)], space)
    flat = FlatMultiDiscreteActions(space.nvec)
    joint = np.arange(12)
    np.testing.assert_array_equal(
        flat.to_env(symmetry.action_permutation), flat.to_env(joint)[:, gather]
    )
    assert sorted(symmetry.action_permutation.tolist()) == joint.tolist()
    obs = np.arange(8.0).reshape(2, 4)
    np.testing.assert_array_equal(symmetry.observation(obs), obs[:, ::-1])


def test_discrete_gather_becomes_the_permutation_that_moves_each_action() -> None:
    gather = np.array([2, 0, 1])  # transformed action j is action gather[j]
    (symmetry,) = env_symmetries([("cycle", np.arange(3), gather)], spaces.Discrete(3))
    for j in range(3):
        assert symmetry.action_permutation[gather[j]] == j


@pytest.mark.parametrize(
    ("declared", "space", "match"),
    [
        ([("a", np.arange(2), np.array([1, 0]))], spaces.MultiDiscrete([2, 3]), "different"),
        ([("a", np.arange(2), np.array([0, 0]))], spaces.MultiDiscrete([2, 2]), "of range"),
        ([("a", np.array([0, 0]), np.array([1, 0]))], spaces.MultiDiscrete([2, 2]), "observation_"),
        ([("a", np.arange(2), np.arange(2))], spaces.Box(-1, 1, (2,)), "Discrete or MultiDiscrete"),
        ([("a", np.arange(2))], spaces.Discrete(2), "triples"),
    ],
)  # fmt: skip
def test_bad_declarations_are_refused(declared, space, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        env_symmetries(declared, space)


def test_feature_transform_refuses_observations_of_another_size() -> None:
    with pytest.raises(ValueError, match="3 features"):
        FeatureTransform(np.arange(3))(np.zeros((2, 4)))


def test_traffic_half_turn_reaches_the_learner_and_survives_save_load(tmp_path: Path) -> None:
    model = MuZero("MlpPolicy", "Traffic-v0", seed=0, symmetries="env", **TINY)
    ((name, observation_index, action_index),) = model.env.get_attr("unwrapped")[0].symmetries()
    (turn,) = model.learner.config.symmetries
    assert turn.name == name == "half-turn"
    joint = np.arange(16)
    spec = model.action_spec
    # The joint action the learner trains on is the one the env's own map gives.
    np.testing.assert_array_equal(
        spec.to_env(turn.action_permutation), spec.to_env(joint)[:, action_index]
    )
    obs = np.random.default_rng(0).random((3, observation_index.size), dtype=np.float32)
    np.testing.assert_array_equal(turn.observation(obs), obs[:, observation_index])
    model.learn(60)
    assert model._n_updates > 0
    model.save(tmp_path / "traffic")
    loaded = MuZero.load(tmp_path / "traffic")
    (kept,) = loaded.learner.config.symmetries
    np.testing.assert_array_equal(kept.action_permutation, turn.action_permutation)
    np.testing.assert_array_equal(kept.observation(obs), obs[:, observation_index])


def test_env_symmetries_are_checked_at_the_boundary() -> None:
    with pytest.raises(ValueError, match="CartPoleEnv declares no symmetries"):
        MuZero("MlpPolicy", "CartPole-v1", symmetries="env")
    asymmetric = gym.make("Traffic-v0", demand=[600.0] + [400.0] * 7)
    with pytest.raises(ValueError, match="has none with these settings"):
        MuZero("MlpPolicy", asymmetric, symmetries="env")
    with pytest.raises(ValueError, match="searched whole"):
        MuZero("MlpPolicy", "Traffic-v0", symmetries="env", multi_discrete="factorized")
