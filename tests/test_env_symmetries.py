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

from muzero_gym import MuZero, Symmetry
from muzero_gym.actions import FlatMultiDiscreteActions
from muzero_gym.replay import ReplaySample
from muzero_gym.symmetry import FeatureTransform, augment, env_symmetries

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
    flattened = gym.wrappers.TransformObservation(
        gym.make("Traffic-v0"),
        lambda obs: obs[:100],
        gym.spaces.Box(0.0, 1.0, (100,), np.float32),
    )
    with pytest.raises(ValueError, match="a wrapper changes the spaces of TrafficEnv"):
        MuZero("MlpPolicy", flattened, symmetries="env")
    MuZero("MlpPolicy", "Pendulum-v1", symmetries=[])  # none: nothing to check
    with pytest.raises(ValueError, match="Discrete or MultiDiscrete action space"):
        MuZero("MlpPolicy", "Pendulum-v1", symmetries="env")
    joint = Symmetry(FeatureTransform(np.arange(108)), np.arange(16)[::-1], "joint")
    with pytest.raises(ValueError, match="need action_dims"):
        MuZero("MlpPolicy", "Traffic-v0", symmetries=[joint], multi_discrete="factorized")
    dims = Symmetry(FeatureTransform(np.arange(108)), np.arange(0), "dims", np.arange(4))
    with pytest.raises(ValueError, match="apply to MultiDiscrete actions sampled"):
        MuZero("MlpPolicy", "Traffic-v0", symmetries=[dims])


def test_factorized_actions_move_their_dimensions_in_the_unroll_and_the_candidates() -> None:
    """Traffic10-v0's entry samples one request per intersection: the half-turn must move
    the requests with the intersections in the unrolled actions and the candidates the
    search policy is over, and leave that policy's weights where they are."""
    model = MuZero(
        "MlpPolicy", gym.make("Traffic-v0", num_intersections=10), seed=0,
        symmetries="env", num_sampled_actions=6, **TINY,
    )  # fmt: skip
    (turn,) = model.learner.config.symmetries
    np.testing.assert_array_equal(turn.action_dims, np.arange(10)[::-1])
    rng = np.random.default_rng(0)
    batch, unroll = 300, 2
    sample = ReplaySample(
        slots=np.arange(batch),
        observations=rng.random((batch, 270), dtype=np.float32),
        actions=rng.integers(2, size=(batch, unroll, 10)),
        target_rewards=np.zeros((batch, unroll), np.float32),
        reward_mask=np.ones((batch, unroll), np.float32),
        target_policies=rng.dirichlet(np.ones(6), size=(batch, unroll + 1)).astype(np.float32),
        policy_mask=np.ones((batch, unroll + 1), np.float32),
        value_prefix=np.zeros((batch, unroll + 1), np.float32),
        bootstrap_slots=np.zeros((batch, unroll + 1), np.int64),
        bootstrap_scale=np.ones((batch, unroll + 1), np.float32),
        value_mask=np.ones((batch, unroll + 1), np.float32),
        unroll_slots=np.zeros((batch, unroll + 1), np.int64),
        weights=np.ones(batch, np.float32),
        target_candidates=rng.integers(2, size=(batch, unroll + 1, 6, 10)),
    )
    out, _ = augment(sample, None, [turn], np.random.default_rng(1))
    assert out.target_candidates is not None and sample.target_candidates is not None
    turned = np.array(
        [
            not np.array_equal(o, s)
            for o, s in zip(out.observations, sample.observations, strict=True)
        ]
    )
    assert 100 < turned.sum() < 200
    index = turn.observation.index  # type: ignore[attr-defined]
    np.testing.assert_array_equal(out.observations[turned], sample.observations[turned][:, index])
    np.testing.assert_array_equal(out.actions[turned], sample.actions[turned][..., ::-1])
    np.testing.assert_array_equal(
        out.target_candidates[turned], sample.target_candidates[turned][..., ::-1]
    )
    np.testing.assert_array_equal(out.actions[~turned], sample.actions[~turned])
    np.testing.assert_array_equal(out.target_policies, sample.target_policies)
    model.learn(60)
    assert model._n_updates > 0
