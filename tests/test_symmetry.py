"""Board symmetries for data augmentation: they match the games' own rules, transform a
batch consistently, are checked at the boundary and survive save/load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pettingzoo")
pytest.importorskip("pyspiel")

from pettingzoo.classic import connect_four_v3, tictactoe_v3  # noqa: E402

from muzero_gym import BoardTransform, MuZero, Symmetry, board_symmetries  # noqa: E402
from muzero_gym.games import TurnBasedGymEnv, openspiel_env  # noqa: E402
from muzero_gym.replay import ReplaySample  # noqa: E402
from muzero_gym.symmetry import augment  # noqa: E402

GAMES = {
    "openspiel_connect_four": lambda: openspiel_env("connect_four"),
    "connect_four_v3": connect_four_v3.env,
    "openspiel_tic_tac_toe": lambda: openspiel_env("tic_tac_toe"),
    "tictactoe_v3": tictactoe_v3.env,
}


@pytest.mark.parametrize("name", sorted(GAMES))
def test_symmetric_play_gives_the_transformed_observations(name: str) -> None:
    """Play random games, and beside each the game whose every move is the permuted move:
    its observations, legal moves and rewards are the transformed ones, at every step."""
    symmetries = board_symmetries(name)
    assert len(symmetries) == (1 if "connect_four" in name else 7)
    rng = np.random.default_rng(0)
    for symmetry in symmetries:
        permutation = symmetry.action_permutation
        for game in range(3):
            env, mirrored = TurnBasedGymEnv(GAMES[name]()), TurnBasedGymEnv(GAMES[name]())
            obs, info = env.reset(seed=game)
            obs_m, info_m = mirrored.reset(seed=game)
            done = False
            while not done:
                np.testing.assert_array_equal(symmetry.observation(obs[None])[0], obs_m)
                mask = info["action_mask"]
                np.testing.assert_array_equal(info_m["action_mask"][permutation], mask)
                action = int(rng.choice(np.flatnonzero(mask)))
                obs, reward, done, _, info = env.step(action)
                obs_m, reward_m, done_m, _, info_m = mirrored.step(int(permutation[action]))
                assert (reward, done) == (reward_m, done_m)


def test_a_mirror_that_does_not_fit_the_rules_is_caught_by_that_check() -> None:
    # Mirroring the board without permuting the moves is not a symmetry of the game.
    wrong = Symmetry(BoardTransform(True, 0, (-2, -1)), np.arange(7), "mirror, moves kept")
    env, other = (
        TurnBasedGymEnv(openspiel_env("connect_four")),
        TurnBasedGymEnv(openspiel_env("connect_four")),
    )
    env.reset(seed=0)
    other.reset(seed=0)
    obs, *_ = env.step(0)
    obs_m, *_ = other.step(int(wrong.action_permutation[0]))
    assert not np.array_equal(wrong.observation(obs[None])[0], obs_m)


def hand_sample(batch: int, unroll: int = 2, actions: int = 7) -> ReplaySample:
    rng = np.random.default_rng(1)
    policies = rng.dirichlet(np.ones(actions), size=(batch, unroll + 1)).astype(np.float32)
    return ReplaySample(
        slots=np.arange(batch),
        observations=rng.normal(size=(batch, 4, 6, 7)).astype(np.float32),
        actions=rng.integers(actions, size=(batch, unroll)),
        target_rewards=rng.normal(size=(batch, unroll)).astype(np.float32),
        reward_mask=np.ones((batch, unroll), np.float32),
        target_policies=policies,
        policy_mask=np.ones((batch, unroll + 1), np.float32),
        value_prefix=rng.normal(size=(batch, unroll + 1)).astype(np.float32),
        bootstrap_slots=np.zeros((batch, unroll + 1), np.int64),
        bootstrap_scale=np.ones((batch, unroll + 1), np.float32),
        value_mask=np.ones((batch, unroll + 1), np.float32),
        unroll_slots=np.zeros((batch, unroll + 1), np.int64),
        weights=np.ones(batch, np.float32),
    )


def test_augment_transforms_each_position_with_its_unroll_or_leaves_it() -> None:
    sample = hand_sample(400)
    nexts = np.random.default_rng(2).normal(size=(400, 2, 4, 6, 7)).astype(np.float32)
    (mirror,) = board_symmetries("openspiel_connect_four")
    out, out_nexts = augment(sample, nexts, [mirror], np.random.default_rng(3))
    assert out_nexts is not None
    flipped = np.array(
        [
            not np.array_equal(o, s)
            for o, s in zip(out.observations, sample.observations, strict=True)
        ]
    )
    assert 150 < flipped.sum() < 250  # kept or mirrored, equally likely
    kept = ~flipped
    np.testing.assert_array_equal(
        out.observations[flipped], sample.observations[flipped][..., ::-1]
    )
    np.testing.assert_array_equal(out_nexts[flipped], nexts[flipped][..., ::-1])
    np.testing.assert_array_equal(out.actions[flipped], 6 - sample.actions[flipped])
    np.testing.assert_array_equal(
        out.target_policies[flipped], sample.target_policies[flipped][..., ::-1]
    )
    for name in ("observations", "actions", "target_policies"):
        np.testing.assert_array_equal(getattr(out, name)[kept], getattr(sample, name)[kept])
    np.testing.assert_array_equal(out_nexts[kept], nexts[kept])
    for name in ("value_prefix", "target_rewards", "weights", "slots"):  # values stay
        np.testing.assert_array_equal(getattr(out, name), getattr(sample, name))
    assert np.array_equal(sample.actions, hand_sample(400).actions)  # the input is not changed


def test_augment_permutes_sampled_candidates_instead_of_policy_slots() -> None:
    sample = hand_sample(64)
    candidates = np.random.default_rng(4).integers(7, size=(64, 3, 5))
    sample.target_candidates = candidates
    sample.target_policies = np.full((64, 3, 5), 0.2, np.float32)
    (mirror,) = board_symmetries("openspiel_connect_four")
    out, _ = augment(sample, None, [mirror], np.random.default_rng(5))
    flipped = np.array(
        [
            not np.array_equal(o, s)
            for o, s in zip(out.observations, sample.observations, strict=True)
        ]
    )
    assert out.target_candidates is not None
    np.testing.assert_array_equal(out.target_candidates[flipped], 6 - candidates[flipped])
    np.testing.assert_array_equal(out.target_candidates[~flipped], candidates[~flipped])
    np.testing.assert_array_equal(out.target_policies, sample.target_policies)


TINY: dict[str, Any] = dict(
    num_simulations=4, batch_size=16, buffer_size=1_000, learning_starts=40, support_size=3,
    policy_kwargs=dict(channels=8, num_blocks=1, head_hidden=16),
)  # fmt: skip


def test_model_trains_with_board_symmetries_and_keeps_them_when_saved(tmp_path: Path) -> None:
    model = MuZero("CnnPolicy", openspiel_env("connect_four"), seed=0, symmetries="board", **TINY)
    model.learn(120)
    assert model._n_updates > 0
    (mirror,) = model.learner.config.symmetries
    np.testing.assert_array_equal(mirror.action_permutation, np.arange(7)[::-1])
    model.save(tmp_path / "c4")
    loaded = MuZero.load(tmp_path / "c4")  # no env needed
    (kept,) = loaded.learner.config.symmetries
    np.testing.assert_array_equal(kept.action_permutation, mirror.action_permutation)
    obs = np.random.default_rng(0).normal(size=(2, 4, 6, 7)).astype(np.float32)
    np.testing.assert_array_equal(kept.observation(obs), obs[..., ::-1])


def test_symmetries_are_checked_at_the_boundary() -> None:
    env = openspiel_env("connect_four")
    with pytest.raises(ValueError, match="no known board symmetries for 'CartPole-v1'"):
        MuZero("MlpPolicy", "CartPole-v1", symmetries="board")
    with pytest.raises(ValueError, match="Discrete action space"):
        MuZero("MlpPolicy", "Pendulum-v1", symmetries="board")
    with pytest.raises(ValueError, match="must be 'board'"):
        MuZero("CnnPolicy", env, symmetries="mirror", **TINY)
    not_a_permutation = Symmetry(BoardTransform(True, 0, (-2, -1)), np.zeros(7, np.int64))
    with pytest.raises(ValueError, match="permutation of the 7 actions"):
        MuZero("CnnPolicy", env, symmetries=[not_a_permutation], **TINY)
    # A quarter turn of a 6 x 7 board changes the observation's shape.
    turned = Symmetry(BoardTransform(False, 1, (-2, -1)), np.arange(7)[::-1])
    with pytest.raises(ValueError, match="keep their shape"):
        MuZero("CnnPolicy", env, symmetries=[turned], **TINY)
    with pytest.raises(ValueError, match="Symmetry objects"):
        MuZero("CnnPolicy", env, symmetries=[np.flip], **TINY)
    with pytest.raises(ValueError, match="changes the board's shape"):
        BoardTransform(False, 1, (0, 1)).symmetry(np.arange(7).reshape(1, 7), "turn")
