"""``average_symmetries``: ``predict`` searches an observation and its images under the
symmetries together, so its choice moves with the board (equivariance), stays legal, and
is refused where it cannot apply. ``symmetric_targets``: self-play and Reanalyze combine
the orientations the same way for the training targets. ``ensemble_size``: the searches
of several networks are combined the same way, each network trained on its own."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import muzero_gym.envs  # noqa: F401  (registers Traffic-v0)
import numpy as np
import pytest
import torch
from gymnasium import spaces

from muzero_gym import MuZero
from muzero_gym.symmetry import BoardTransform, Symmetry

TINY: dict[str, Any] = dict(
    num_simulations=12, batch_size=16, buffer_size=1_000, learning_starts=40, support_size=3,
    unroll_steps=2, policy_kwargs=dict(hidden_dim=16, net_arch=[32]),
)  # fmt: skip


class GridEnv(gym.Env):
    """A 3 x 3 grid of random numbers; pointing at the largest pays 1. Its rules do not
    change when the grid is turned."""

    observation_space = spaces.Box(0.0, 1.0, (3, 3), np.float32)
    action_space = spaces.Discrete(9)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._grid = self.np_random.random((3, 3), dtype=np.float32)
        self._steps = 0
        return self._grid.copy(), {}

    def step(self, action):
        reward = float(int(action) == int(self._grid.argmax()))
        self._grid = self.np_random.random((3, 3), dtype=np.float32)
        self._steps += 1
        return self._grid.copy(), reward, False, self._steps >= 20, {}


def quarter_turns() -> list[Symmetry]:
    """Turns by 90, 180 and 270 degrees: with the identity, a group, and not made of
    involutions only, so a permutation applied the wrong way round shows."""
    grid = np.arange(9).reshape(3, 3)
    return [
        BoardTransform(False, turns, (-2, -1)).symmetry(grid, f"turn {turns}")
        for turns in (1, 2, 3)
    ]


def random_model(search: str = "gumbel") -> MuZero:
    """A model of the grid whose network gives every move its own prior and value (an
    untrained one starts with a uniform prior, where every search ties)."""
    model = MuZero(
        "MlpPolicy", GridEnv(), seed=0, search=search, symmetries=quarter_turns(),
        average_symmetries=True, **TINY,
    )  # fmt: skip
    return randomized(model)


def randomized(model: MuZero) -> MuZero:
    """``model`` with random weights: an untrained network's uniform prior makes every
    search tie."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.policy.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return model


def observations(count: int) -> np.ndarray:
    return np.random.default_rng(1).random((count, 3, 3), dtype=np.float32)


def mismatches(model: MuZero, obs: np.ndarray, masks: np.ndarray | None = None) -> int:
    """How often the choice for a transformed position is not the transformed choice."""
    chosen, _ = model.predict(obs, deterministic=True, action_masks=masks)
    if masks is not None:
        assert masks[np.arange(len(obs)), chosen].all()
    count = 0
    for symmetry in model.symmetries:
        turned_masks = None
        if masks is not None:  # built here, not by the code under test
            turned_masks = np.empty_like(masks)
            turned_masks[:, symmetry.action_permutation] = masks
        moved, _ = model.predict(
            symmetry.observation(obs), deterministic=True, action_masks=turned_masks
        )
        count += int((moved != symmetry.action_permutation[chosen]).sum())
    return count


@pytest.mark.parametrize("search", ["gumbel", "muzero"])
def test_averaged_choice_turns_with_the_grid(search: str) -> None:
    model = random_model(search)
    obs = observations(32)
    assert mismatches(model, obs) == 0
    # The same untrained network searched on one view only does not turn with the grid:
    # the check above can fail.
    model.average_symmetries = False
    assert mismatches(model, obs) > 0


@pytest.mark.parametrize("search", ["gumbel", "muzero"])
def test_averaged_choice_respects_the_legal_moves(search: str) -> None:
    model = random_model(search)
    obs = observations(32)
    masks = np.random.default_rng(2).random((32, 9)) < 0.4
    masks[np.arange(32), np.random.default_rng(3).integers(9, size=32)] = True
    chosen, _ = model.predict(obs, deterministic=False, action_masks=masks)
    assert masks[np.arange(32), chosen].all()
    assert mismatches(model, obs, masks) == 0  # deterministic choices: legal, and turning


@pytest.mark.parametrize("search", ["gumbel", "muzero"])
def test_averaged_search_of_a_board_game_turns_with_the_board(search: str) -> None:
    """Tic-tac-toe's eight symmetries, two players, in positions of real games with their
    legal moves."""
    pytest.importorskip("pettingzoo")
    from pettingzoo.classic import tictactoe_v3

    from muzero_gym.games import TurnBasedGymEnv

    model = MuZero(
        "CnnPolicy", tictactoe_v3.env(), seed=0, search=search, symmetries="board",
        average_symmetries=True, num_simulations=4, support_size=3,
        policy_kwargs=dict(channels=8, num_blocks=1, head_hidden=16),
    )  # fmt: skip
    assert model.two_player and len(model.symmetries) == 7
    randomized(model)
    rng = np.random.default_rng(0)
    boards, masks = [], []
    game = 0
    while len(boards) < 6:
        env = TurnBasedGymEnv(tictactoe_v3.env())
        obs, info = env.reset(seed=game)
        game += 1
        for _ in range(int(rng.integers(2, 6))):
            obs, _, _, _, info = env.step(int(rng.choice(np.flatnonzero(info["action_mask"]))))
        # A board that a symmetry leaves as it is ties moves that it swaps: no single move
        # can turn with such a board, so those are left out.
        if not any((s.observation(obs[None])[0] == obs).all() for s in model.symmetries):
            boards.append(obs)
            masks.append(info["action_mask"].astype(bool))
    obs, legal = np.stack(boards), np.stack(masks)
    assert mismatches(model, obs, legal) == 0
    model.average_symmetries = False
    assert mismatches(model, obs, legal) > 0


def test_sampled_choices_follow_the_combined_policy() -> None:
    model = random_model()
    obs = np.repeat(observations(1), 400, axis=0)
    best, _ = model.predict(obs[:1], deterministic=True)
    drawn, _ = model.predict(obs, deterministic=False)
    counts = np.bincount(drawn, minlength=9)
    assert counts.argmax() == best[0]
    assert (counts > 0).sum() > 1  # a sample, not the argmax again


def test_traffic_half_turn_average_is_equivariant_and_loads_on(tmp_path: Path) -> None:
    env = gym.make("Traffic-v0")
    model = MuZero("MlpPolicy", env, seed=0, symmetries="env", **TINY)
    model.learn(60)
    path = tmp_path / "traffic.zip"
    model.save(path)
    loaded = MuZero.load(path, average_symmetries=True)
    assert loaded.average_symmetries is True
    obs = np.stack([env.reset(seed=seed)[0] for seed in range(4)])
    for _ in range(30):  # queues build up
        obs = np.stack([env.step(env.action_space.sample())[0] for _ in range(4)])
    ((_, observation_index, action_index),) = env.unwrapped.symmetries()
    chosen, _ = loaded.predict(obs, deterministic=True)
    turned, _ = loaded.predict(obs[:, observation_index], deterministic=True)
    # The env's own map of the requests: the turned grid gets the turned requests.
    np.testing.assert_array_equal(turned, chosen[:, action_index])
    # Saved with the option on, it loads with it on.
    loaded.save(tmp_path / "averaged.zip")
    assert MuZero.load(tmp_path / "averaged.zip").average_symmetries is True


def test_sampled_candidates_are_drawn_once_and_moved_into_the_turned_grid() -> None:
    """Traffic on the 2 x 5 grid, one request sampled per intersection: the turned grid
    searches the candidates drawn for the grid, each intersection's request moved with
    it, under the same prior; ``predict`` plays one of them."""
    env = gym.make("Traffic-v0", num_intersections=10)
    model = MuZero(
        "MlpPolicy", env, seed=0, symmetries="env", average_symmetries=True,
        multi_discrete="factorized", num_sampled_actions=6, **TINY,
    )  # fmt: skip
    randomized(model)  # a spread policy, so that the samples differ
    obs = np.stack([env.reset(seed=seed)[0] for seed in range(3)])
    (turn,) = model.symmetries
    ((_, observation_index, action_index),) = env.unwrapped.symmetries()
    result = model._search(obs, None, False, symmetries=model.symmetries)
    candidates = result.candidates
    assert candidates is not None and candidates.shape == (6, 6, 10)
    assert len(np.unique(candidates[:3].reshape(-1, 10), axis=0)) > 3
    np.testing.assert_array_equal(candidates[3:], candidates[:3][..., action_index])
    np.testing.assert_array_equal(result.prior[3:], result.prior[:3])
    chosen, _ = model.predict(obs, deterministic=True)
    again, _ = model.predict(obs, deterministic=True)
    np.testing.assert_array_equal(chosen, again)  # a function of the observation
    for row in range(3):
        assert any((chosen[row] == c).all() for c in candidates[row])
    sampled, _ = model.predict(obs, deterministic=False)
    assert sampled.shape == (3, 10) and env.action_space.contains(sampled[0])


@pytest.mark.parametrize("option", ["average_symmetries", "symmetric_targets"])
@pytest.mark.parametrize(
    ("env_id", "kwargs", "match"),
    [
        ("CartPole-v1", {}, "needs symmetries"),
        ("Traffic-v0", {"symmetries": "env", "value": 1}, "True or False"),
    ],
)  # fmt: skip
def test_symmetry_averaging_is_refused_where_it_cannot_apply(
    option: str, env_id: str, kwargs: dict, match: str
) -> None:
    settings = {"symmetries": kwargs.get("symmetries"), option: kwargs.get("value", True)}
    with pytest.raises(ValueError, match=f"{option}.*{match}"):
        MuZero("MlpPolicy", gym.make(env_id), **settings, **TINY)


def each_orientation(model: MuZero, obs: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The policy targets of a plain search of ``obs`` and of each image, moved back onto
    ``obs``'s actions here (not by the code under test), and the mean root value."""
    model.symmetric_targets = False
    views = [(obs, np.arange(9))]
    views += [(s.observation(obs), s.action_permutation) for s in model.symmetries]
    targets, values = [], []
    for image, permutation in views:
        result = model.learner.search_fn(image, None)
        targets.append(np.asarray(result.policy_target)[:, permutation])
        values.append(result.root_value)
    model.symmetric_targets = True
    return targets, np.mean(values, axis=0)


def combined_target(search: str, targets: list[np.ndarray]) -> np.ndarray:
    if search == "muzero":  # the mean visit distribution
        return np.mean(targets, axis=0)
    # Gumbel: the normalised geometric mean of the improved policies
    mean_log = np.mean([np.log(np.maximum(t, 1e-30)) for t in targets], axis=0)
    combined = np.exp(mean_log - mean_log.max(axis=1, keepdims=True))
    return combined / combined.sum(axis=1, keepdims=True)


def grid_model(search: str, **kwargs: Any) -> MuZero:
    settings = {**TINY, "learning_starts": 500, **kwargs}  # no gradient step: fixed networks
    model = MuZero(
        "MlpPolicy", GridEnv(), seed=0, search=search, symmetries=quarter_turns(),
        symmetric_targets=True, **settings,
    )  # fmt: skip
    return randomized(model)


@pytest.mark.parametrize("search", ["gumbel", "muzero"])
def test_reanalyze_search_combines_every_orientation(search: str) -> None:
    model = grid_model(search)
    obs = observations(16)
    combined = model.learner.search_fn(obs, None)
    targets, value = each_orientation(model, obs)
    np.testing.assert_allclose(combined.policy_target, combined_target(search, targets), atol=1e-5)
    np.testing.assert_allclose(combined.root_value, value, rtol=1e-5, atol=1e-6)
    # The orientations disagree, so a single search would fail the check above.
    assert np.abs(targets[0] - combined.policy_target).max() > 0.05


def test_self_play_stores_the_combined_search() -> None:
    """pUCT without root noise: self-play's search is a function of the position, so the
    stored targets can be recomputed from each orientation."""
    model = grid_model("muzero", root_exploration_fraction=0.0)
    model.learn(30)
    buffer = model.replay_buffer
    assert len(buffer) == 30
    obs = buffer.observations[:30]
    targets, value = each_orientation(model, obs)
    np.testing.assert_allclose(buffer.policies[:30], combined_target("muzero", targets), atol=1e-5)
    np.testing.assert_allclose(buffer.root_values[:30], value, rtol=1e-5, atol=1e-6)
    assert np.abs(buffer.policies[:30] - targets[0]).max() > 0.05


def test_reanalyze_bootstraps_from_the_mean_value_of_every_orientation() -> None:
    model = grid_model("gumbel", reanalyze_ratio=1.0)
    model.learn(60)
    buffer = model.replay_buffer
    sample = buffer.sample(16, 2, 3, 0.997, np.random.default_rng(1))
    values = model.learner._reanalyze(sample)
    images = [buffer.observations] + [s.observation(buffer.observations) for s in model.symmetries]
    with torch.no_grad():
        fresh = [model.policy.value_of(torch.as_tensor(image)).numpy() for image in images]
    slots = sample.bootstrap_slots
    assert (slots >= 0).any()

    def expected(value: np.ndarray) -> np.ndarray:
        return np.where(slots >= 0, value[np.maximum(slots, 0)], 0.0)

    np.testing.assert_allclose(values, expected(np.mean(fresh, axis=0)), rtol=1e-5, atol=1e-6)
    assert not np.allclose(values, expected(fresh[0]), atol=1e-3)  # one view differs
    # Without the option, the observation's own value
    model.learner.config = replace(model.learner.config, symmetric_bootstrap=False)
    np.testing.assert_allclose(
        model.learner._reanalyze(sample), expected(fresh[0]), rtol=1e-5, atol=1e-6
    )


# ------------------------------------------------------------------ ensemble_size


def single_networks(search: str, count: int, **kwargs: Any) -> list[MuZero]:
    """``count`` one-network grid models with different random weights."""
    models = []
    for seed in range(count):
        model = MuZero(
            "MlpPolicy", GridEnv(), seed=seed, search=search, **{**TINY, **kwargs}
        )  # fmt: skip
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for parameter in model.policy.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
        models.append(model)
    return models


def ensemble_of(singles: list[MuZero], search: str, **kwargs: Any) -> MuZero:
    """An ensemble model whose networks are copies of ``singles``' networks."""
    model = MuZero(
        "MlpPolicy", GridEnv(), seed=0, search=search, ensemble_size=len(singles),
        **{**TINY, **kwargs},
    )  # fmt: skip
    for member, single in zip(model.members, singles, strict=True):
        member.load_state_dict(single.policy.state_dict())
    return model


@pytest.mark.parametrize("search", ["gumbel", "muzero"])
def test_ensemble_combines_each_networks_own_search(search: str) -> None:
    singles = single_networks(search, 3)
    model = ensemble_of(singles, search, ensemble_targets=True)
    obs = observations(24)
    results = [single.learner.search_fn(obs, None) for single in singles]
    targets = [np.asarray(r.policy_target) for r in results]
    combined = model.learner.search_fn(obs, None)  # Reanalyze's search, ensemble_targets
    np.testing.assert_allclose(combined.policy_target, combined_target(search, targets), atol=1e-5)
    np.testing.assert_allclose(
        combined.root_value, np.mean([r.root_value for r in results], axis=0), rtol=1e-5
    )
    chosen, _ = model.predict(obs, deterministic=True)
    if search == "gumbel":  # the best by the mean log improved policy
        expected = np.mean([np.log(np.maximum(t, 1e-30)) for t in targets], axis=0).argmax(1)
    else:  # the most visited over all searches
        expected = np.sum([r.visit_counts for r in results], axis=0).argmax(1)
    # (pUCT: ties in the summed counts go to the larger summed prior)
    assert (chosen == expected).mean() >= (1.0 if search == "gumbel" else 0.9)
    # The networks disagree, so no single network's search passes the checks above.
    for target in targets:
        assert np.abs(target - combined.policy_target).max() > 0.05
    # Without ensemble_targets, each network's Reanalyze searches with that network alone;
    # predict still combines them.
    model.ensemble_targets = False
    for learner, target in zip(model.learners, targets, strict=True):
        np.testing.assert_allclose(learner.search_fn(obs, None).policy_target, target, atol=1e-6)
    np.testing.assert_array_equal(model.predict(obs, deterministic=True)[0], chosen)


def test_ensemble_self_play_stores_the_combined_search() -> None:
    singles = single_networks("muzero", 2, root_exploration_fraction=0.0, learning_starts=500)
    model = ensemble_of(
        singles, "muzero", root_exploration_fraction=0.0, learning_starts=500,
        ensemble_targets=True,
    )  # fmt: skip
    model.learn(30)
    buffer = model.replay_buffer
    obs = buffer.observations[:30]
    targets = [np.asarray(s.learner.search_fn(obs, None).policy_target) for s in singles]
    np.testing.assert_allclose(buffer.policies[:30], np.mean(targets, axis=0), atol=1e-5)
    assert np.abs(buffer.policies[:30] - targets[0]).max() > 0.05


def test_ensemble_self_play_episodes_take_the_networks_in_turn() -> None:
    """Without ``ensemble_targets`` each episode (20 moves of the grid) is played by one
    network from its own search, the networks in turn; its targets are that search's."""
    singles = single_networks("muzero", 2, root_exploration_fraction=0.0, learning_starts=500)
    model = ensemble_of(singles, "muzero", root_exploration_fraction=0.0, learning_starts=500)
    model.learn(60)
    buffer = model.replay_buffer
    for episode, network in enumerate([0, 1, 0]):
        rows = slice(20 * episode, 20 * (episode + 1))
        obs = buffer.observations[rows]
        own = singles[network].learner.search_fn(obs, None)
        other = singles[1 - network].learner.search_fn(obs, None)
        # (one position at a time there, twenty here: float sums differ in the last bits)
        np.testing.assert_allclose(buffer.policies[rows], own.policy_target, atol=1e-4)
        np.testing.assert_allclose(buffer.root_values[rows], own.root_value, atol=1e-3)
        assert np.abs(buffer.policies[rows] - other.policy_target).max() > 0.05


def test_ensemble_with_average_symmetries_turns_with_the_grid() -> None:
    singles = single_networks("gumbel", 2, symmetries=quarter_turns())
    model = ensemble_of(singles, "gumbel", symmetries=quarter_turns(), average_symmetries=True)
    obs = observations(32)
    assert mismatches(model, obs) == 0
    model.average_symmetries = False  # the two networks, one orientation each
    assert mismatches(model, obs) > 0


def test_ensemble_networks_train_apart_and_save_together(tmp_path: Path) -> None:
    model = MuZero(
        "MlpPolicy", GridEnv(), seed=0, ensemble_size=2, **{**TINY, "learning_starts": 20}
    )  # fmt: skip
    first, second = model.members
    assert first is model.policy and second is model.policy_1  # type: ignore[attr-defined]
    assert first.optimizer is not second.optimizer
    start = [[p.detach().clone() for p in m.parameters()] for m in model.members]
    assert any(not torch.equal(a, b) for a, b in zip(start[0], start[1], strict=True))
    model.learn(60)
    assert model._n_updates > 0
    for member, before in zip(model.members, start, strict=True):
        assert any(not torch.equal(p, b) for p, b in zip(member.parameters(), before, strict=True))
    model.save(tmp_path / "ensemble.zip")
    loaded = MuZero.load(tmp_path / "ensemble.zip")
    assert loaded.ensemble_size == 2 and len(loaded.members) == 2
    for saved, restored in zip(model.members, loaded.members, strict=True):
        for a, b in zip(saved.state_dict().values(), restored.state_dict().values(), strict=True):
            assert torch.equal(a, b)
    obs = observations(8)
    np.testing.assert_array_equal(
        model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0]
    )
    with pytest.raises(ValueError, match="holds 2 network.*ensemble_size 1"):
        MuZero.load(tmp_path / "ensemble.zip", ensemble_size=1)
    single = MuZero("MlpPolicy", GridEnv(), seed=0, **TINY)
    single.save(tmp_path / "single.zip")
    with pytest.raises(ValueError, match="holds 1 network.*ensemble_size 3"):
        MuZero.load(tmp_path / "single.zip", ensemble_size=3)


@pytest.mark.parametrize(
    ("env_id", "value", "match"),
    [
        ("CartPole-v1", 0, "integer >= 1"),
        ("CartPole-v1", 1.5, "integer >= 1"),
        ("CartPole-v1", True, "integer >= 1"),
        ("Pendulum-v1", 2, "Box.*sampled"),
    ],
)  # fmt: skip
def test_ensemble_size_is_refused_where_it_cannot_apply(
    env_id: str, value: Any, match: str
) -> None:
    with pytest.raises(ValueError, match=f"ensemble_size.*{match}"):
        MuZero("MlpPolicy", gym.make(env_id), ensemble_size=value, **TINY)
