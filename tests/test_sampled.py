"""Sampled MuZero: candidate actions, the corrected prior, Box and MultiDiscrete actions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from muzero_gym import MuZero
from muzero_gym.actions import (
    BoxActions,
    DiscreteActions,
    FlatMultiDiscreteActions,
    MultiDiscreteActions,
    make_action_spec,
)
from muzero_gym.mcts import RecurrentOutput, RootOutput, SearchConfig, search

TINY: dict[str, Any] = dict(
    num_simulations=6,
    batch_size=16,
    buffer_size=1_000,
    learning_starts=16,
    support_size=5,
    unroll_steps=3,
    td_steps=3,
    num_sampled_actions=4,
    policy_kwargs=dict(hidden_dim=16, net_arch=[16]),
)


class ActionEnv(gym.Env):
    """Observations in [-1, 1]^3; reward -|action|; episodes of ``length`` steps, cut by
    truncation (or ending in termination when ``length`` is 1: a contextual bandit)."""

    observation_space = spaces.Box(-1.0, 1.0, (3,), np.float32)

    def __init__(self, action_space: spaces.Space, length: int = 8) -> None:
        self.action_space = action_space
        self.length = length
        self.steps = 0

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.steps = 0
        return self.np_random.uniform(-1, 1, 3).astype(np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        assert self.action_space.contains(np.asarray(action, dtype=self.action_space.dtype))
        self.steps += 1
        reward = -float(np.abs(np.asarray(action, dtype=np.float64)).sum())
        obs = self.np_random.uniform(-1, 1, 3).astype(np.float32)
        if self.length == 1:
            return obs, reward, True, False, {}
        return obs, reward, False, self.steps >= self.length, {}


def test_duplicates_merge_into_the_corrected_prior() -> None:
    torch.manual_seed(0)
    spec = DiscreteActions(3, num_samples=20)
    params = torch.tensor([[0.0, 2.0, -1.0], [5.0, 0.0, 0.0]])
    candidates, logits, in_use = spec.candidates(params)
    prior = np.exp(logits) * in_use
    np.testing.assert_allclose(prior.sum(axis=1), 1.0)
    for row in range(2):
        used = candidates[row][in_use[row]]
        assert len(set(used.tolist())) == len(used)  # one slot per distinct action
        for slot in np.flatnonzero(in_use[row]):
            count = (candidates[row] == candidates[row, slot]).sum()
            assert prior[row, slot] == pytest.approx(count / 20)  # beta_hat, since beta = pi


def _prior_by_action(candidates: np.ndarray, logits: np.ndarray, in_use: np.ndarray) -> dict:
    """Corrected prior mass of each distinct action of row 0."""
    prior = np.exp(logits[0]) * in_use[0]
    keys = [tuple(np.atleast_1d(a).tolist()) for a in candidates[0]]
    mass: dict = {}
    for key, weight in zip(keys, prior, strict=True):
        mass[key] = mass.get(key, 0.0) + weight
    return mass


@pytest.mark.parametrize("explore", [0.3, 1.0])
def test_uniform_root_sampling_keeps_the_policy_as_prior(explore: float) -> None:
    # beta = (1 - e) pi + e U draws actions the policy rarely plays; the corrected prior
    # beta_hat / beta * pi gives each distinct action about its policy probability again.
    torch.manual_seed(3)
    pi = np.array([0.85, 0.1, 0.03, 0.01, 0.01])
    spec = DiscreteActions(5, num_samples=3000)
    candidates, logits, in_use = spec.candidates(torch.tensor(np.log(pi))[None], explore=explore)
    mass = _prior_by_action(candidates, logits, in_use)
    assert len(mass) == 5
    assert np.exp(logits[0])[in_use[0]].sum() == pytest.approx(1.0, abs=1e-5)
    for action, p in enumerate(pi):
        assert mass[(action,)] == pytest.approx(p, rel=0.25, abs=0.005)
    share = np.isin(candidates[0], [2, 3, 4]).mean()  # the policy alone: 5%
    assert share == pytest.approx((1 - explore) * 0.05 + explore * 0.6, abs=0.04)

    legal = torch.tensor([[True, False, True, True, False]])
    candidates, logits, in_use = spec.candidates(
        torch.tensor(np.log(pi))[None], legal, explore=explore
    )
    mass = _prior_by_action(candidates, logits, in_use)
    assert set(mass) == {(0,), (2,), (3,)}
    for action in (0, 2, 3):
        assert mass[(action,)] == pytest.approx(pi[action] / 0.89, rel=0.25, abs=0.005)


def test_uniform_root_sampling_for_factorised_and_box_actions() -> None:
    torch.manual_seed(4)
    multi = MultiDiscreteActions(np.array([2, 3]), num_samples=3000)
    params = torch.tensor([[3.0, 0.0, 2.0, 0.0, -2.0]])
    first = torch.softmax(params[0, :2], 0).numpy()
    second = torch.softmax(params[0, 2:], 0).numpy()
    candidates, logits, in_use = multi.candidates(params, explore=0.5)
    mass = _prior_by_action(candidates, logits, in_use)
    assert len(mass) == 6
    for (a, b), weight in mass.items():
        assert weight == pytest.approx(first[a] * second[b], rel=0.25, abs=0.005)

    # Continuous samples never coincide: the weights pi / beta are importance weights, so
    # the weighted samples have the policy's mean and spread although half are uniform.
    box = BoxActions(np.array([-1.0]), np.array([1.0]), num_samples=3000)
    params = torch.tensor([[0.5, -1.0]])
    mean, log_std = box._gaussian(params)
    candidates, logits, in_use = box.candidates(params, explore=0.5)
    weights, values = np.exp(logits[0]), candidates[0, :, 0]
    assert in_use.all()
    assert (np.abs(np.tanh(values)) > 0.9).mean() > 0.04  # uniform draws reach the bounds
    assert (weights * values).sum() == pytest.approx(float(mean), abs=0.03)
    spread = np.sqrt((weights * (values - float(mean)) ** 2).sum())
    assert spread == pytest.approx(float(log_std.exp()), rel=0.1)


def test_root_sampling_uniform_in_self_play_only() -> None:
    env = ActionEnv(spaces.MultiDiscrete([3, 3, 3, 3]))
    model = MuZero("MlpPolicy", env, seed=0, root_sampling_uniform=0.5, **TINY)
    model.learn(32)
    with torch.no_grad():  # a policy sure of the joint action (0, 0, 0, 0)
        head = model.policy.prediction_head
        head.weight[:12].zero_()
        head.bias[:12] = torch.tensor([20.0, 0.0, 0.0] * 4)
    obs = np.zeros((8, 3), np.float32)

    def distinct(noise: bool) -> int:
        result = model._search(obs, None, add_exploration_noise=noise)
        return len(set(map(tuple, result.candidates.reshape(-1, 4).tolist())))

    assert distinct(noise=False) == 1  # evaluation: candidates from the policy
    assert distinct(noise=True) > 8  # self-play: about half the 32 slots uniform over 81
    with pytest.raises(ValueError, match="root_sampling_uniform must be in"):
        MuZero("MlpPolicy", env, root_sampling_uniform=1.5, **TINY)
    with pytest.raises(ValueError, match="root_sampling_uniform applies to sampled actions"):
        MuZero("MlpPolicy", ActionEnv(spaces.Discrete(3)), root_sampling_uniform=0.25)


def test_legal_masks_restrict_sampled_candidates() -> None:
    torch.manual_seed(1)
    spec = DiscreteActions(5, num_samples=8)
    legal = torch.tensor([[False, True, False, True, False]] * 50)
    candidates, _, in_use = spec.candidates(torch.zeros(50, 5), legal)
    assert set(candidates[in_use].tolist()) <= {1, 3}


def test_mode_candidate_takes_the_first_slot_of_every_spec() -> None:
    torch.manual_seed(0)
    box = BoxActions(np.full(2, -1.0), np.full(2, 1.0), num_samples=5)
    params = torch.tensor([[0.3, -0.2, 5.0, 5.0]] * 3)  # broad Gaussians around (0.3, -0.2)
    for explore in (0.0, 0.5):
        candidates, logits, in_use = box.candidates(params, None, explore, include_mode=True)
        np.testing.assert_allclose(candidates[:, 0], [[0.3, -0.2]] * 3, rtol=1e-6)
        assert np.abs(candidates[:, 1:] - [0.3, -0.2]).min() > 0  # the others are samples
        assert in_use.all() and np.isfinite(logits).all()
    discrete = DiscreteActions(5, num_samples=3)
    logits = torch.tensor([[9.0, 0.0, 3.0, 0.0, 1.0]])  # action 0 likeliest but illegal
    legal = torch.tensor([[False, True, True, True, True]])
    candidates, _, _ = discrete.candidates(logits, legal, include_mode=True)
    assert candidates[0, 0] == 2
    multi = MultiDiscreteActions(np.array([3, 4]), num_samples=4)
    params = torch.tensor([[0.0, 0.0, 6.0, 0.0, 0.0, 0.0, 6.0]])
    candidates, _, _ = multi.candidates(params, include_mode=True)
    np.testing.assert_array_equal(candidates[0, 0], [2, 3])
    without, _, _ = box.candidates(torch.zeros(200, 4), None)  # policy mean 0
    assert not (without[:, 0] == 0).all(axis=-1).any()  # by default slot 0 is a sample


def test_mode_weight_scales_the_mode_slots_prior() -> None:
    torch.manual_seed(0)
    box = BoxActions(np.full(2, -1.0), np.full(2, 1.0), num_samples=5)
    params = torch.tensor([[0.3, -0.2, 5.0, 5.0]] * 3)
    for explore in (0.0, 0.5):
        torch.manual_seed(1)
        _, plain, _ = box.candidates(params, None, explore, include_mode=True)
        torch.manual_seed(1)
        _, weighted, in_use = box.candidates(params, None, explore, True, mode_weight=4.0)
        assert in_use.all()
        np.testing.assert_allclose(np.exp(weighted).sum(axis=1), 1.0, rtol=1e-5)
        # Slot 0's odds against every other slot grow fourfold; the others' are unchanged.
        np.testing.assert_allclose(
            weighted[:, :1] - weighted[:, 1:], plain[:, :1] - plain[:, 1:] + np.log(4.0),
            rtol=1e-5, atol=1e-5,
        )  # fmt: skip
        np.testing.assert_allclose(
            weighted[:, 1:] - weighted[:, 1:2], plain[:, 1:] - plain[:, 1:2], atol=1e-5
        )
    _, plain_box, _ = box.candidates(params, None)
    np.testing.assert_allclose(np.exp(plain_box), 0.2, rtol=1e-5)  # no mode: no weight
    # Discrete with duplicates: the merged mode slot's count of 3 of the 8 samples is
    # weighted (for example 3 * 2 against 5), the unused duplicate slots stay out of the prior.
    discrete = DiscreteActions(2, num_samples=8)
    logits = torch.tensor([[0.1, 0.0]])  # mode 0; 8 samples of both actions
    torch.manual_seed(3)
    candidates, prior, in_use = discrete.candidates(logits, None, include_mode=True)
    torch.manual_seed(3)
    _, weighted, same_in_use = discrete.candidates(logits, None, include_mode=True, mode_weight=2.0)
    np.testing.assert_array_equal(in_use, same_in_use)
    count = int((candidates[0] == candidates[0, 0]).sum())
    assert 0 < count < 8  # both actions among the samples
    np.testing.assert_allclose(np.exp(prior[0, 0]), count / 8, rtol=1e-5)
    np.testing.assert_allclose(np.exp(weighted[0, 0]), 2 * count / (count + 8), rtol=1e-5)
    np.testing.assert_allclose(np.exp(weighted[in_use]).sum(), 1.0, rtol=1e-5)


def reward_is_minus_abs_action(model: MuZero, best: float = 0.0) -> None:
    """Give the model the true rewards of ActionEnv (-|a|) and zero values: a hand-built
    model whose best action is 0, the policy's mean after :func:`broad_policy_at_zero`
    (or rewards ``-|a - best|``)."""
    learned = model.policy.search_step

    def step(hidden: torch.Tensor, actions: np.ndarray) -> RecurrentOutput:
        out = learned(hidden, actions)
        reward = -np.abs(model.action_spec.to_env(actions) - best).sum(axis=-1)
        return out._replace(reward=reward, value=np.zeros_like(out.value))

    model.policy.search_step = step  # type: ignore[method-assign]


def broad_policy_at_zero(model: MuZero) -> None:
    with torch.no_grad():
        head = model.policy.prediction_head
        head.weight[:4].zero_()
        head.bias[:4] = torch.tensor([0.0, 0.0, 10.0, 10.0])  # mean 0, std e^1


@pytest.mark.parametrize("search_kind", ["muzero", "gumbel"])
def test_mode_candidate_lets_predict_play_the_policy_mean(search_kind: str) -> None:
    """With every sample far from the best action (the mean), only a search that may
    choose the mean plays it; ``"predict"`` leaves self-play's candidates alone."""
    space = spaces.Box(-1.0, 1.0, (2,), np.float32)
    obs = np.random.default_rng(0).uniform(-1, 1, (16, 3)).astype(np.float32)
    played = {}
    for mode_candidate in ("never", "predict", "always"):
        model = MuZero(
            "MlpPolicy",
            ActionEnv(space),
            seed=0,
            search=search_kind,
            mode_candidate=mode_candidate,
            **TINY,
        )
        broad_policy_at_zero(model)
        reward_is_minus_abs_action(model)
        played[mode_candidate], _ = model.predict(obs, deterministic=True)
        self_play = model._search(obs, None, add_exploration_noise=True).candidates
        assert self_play is not None
        assert (self_play[:, 0] == 0).all() == (mode_candidate == "always")
    assert np.abs(played["never"]).sum(axis=1).min() > 0.05
    np.testing.assert_array_equal(played["predict"], 0.0)
    np.testing.assert_array_equal(played["always"], 0.0)


def test_mode_weight_holds_the_mean_unless_a_sample_is_clearly_better() -> None:
    """The model prefers actions near (0.5, 0.5) over the mean 0: with weight 1 Gumbel's
    search plays the best sample; with a weight larger than sigma's whole range it plays
    the mean."""
    space = spaces.Box(-1.0, 1.0, (2,), np.float32)
    obs = np.random.default_rng(0).uniform(-1, 1, (16, 3)).astype(np.float32)
    played = {}
    for weight in (1.0, 1e5):
        model = MuZero(
            "MlpPolicy",
            ActionEnv(space),
            seed=0,
            search="gumbel",
            mode_candidate="predict",
            mode_weight=weight,
            **{**TINY, "num_sampled_actions": 8},
        )
        broad_policy_at_zero(model)
        reward_is_minus_abs_action(model, best=0.5)
        played[weight], _ = model.predict(obs, deterministic=True)
    moved = np.abs(played[1.0]).sum(axis=1) > 0
    assert moved.mean() > 0.5  # most rows have a sample nearer (0.5, 0.5) than the mean
    assert (np.abs(played[1.0] - 0.5).sum(axis=1)[moved] < 1.0).all()  # and play it
    np.testing.assert_array_equal(played[1e5], 0.0)


def test_mode_candidate_is_checked_and_saved(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode_candidate must be"):
        MuZero("MlpPolicy", ActionEnv(spaces.Box(-1, 1, (2,), np.float32)), mode_candidate="yes")
    with pytest.raises(ValueError, match="mode_candidate applies to sampled actions"):
        MuZero("MlpPolicy", ActionEnv(spaces.Discrete(3)), mode_candidate="predict")
    space = spaces.MultiDiscrete([3, 3, 3, 3])
    box = ActionEnv(spaces.Box(-1, 1, (2,), np.float32))
    for bad in (0.0, -1.0, float("nan"), float("inf"), True, "2"):
        with pytest.raises(ValueError, match="mode_weight must be a finite number > 0"):
            MuZero("MlpPolicy", box, mode_candidate="predict", mode_weight=bad)
    with pytest.raises(ValueError, match="mode_weight=2.0 needs the mode among the"):
        MuZero("MlpPolicy", box, mode_weight=2.0)
    model = MuZero(
        "MlpPolicy", ActionEnv(space), seed=0, mode_candidate="predict", mode_weight=3.0, **TINY
    )
    model.learn(32)
    model.save(tmp_path / "model")
    loaded = MuZero.load(tmp_path / "model", env=ActionEnv(space))
    assert loaded.mode_candidate == "predict"
    assert loaded.mode_weight == 3.0
    actions, _ = loaded.predict(np.zeros((4, 3), np.float32), deterministic=True)
    assert all(space.contains(a) for a in actions)


def test_log_probs_match_torch_distributions() -> None:
    torch.manual_seed(2)
    box = BoxActions(np.array([-1.0, 0.0]), np.array([1.0, 2.0]), num_samples=5)
    params = torch.randn(4, 4)
    actions = box.sample(params, 5)
    mean, log_std = box._gaussian(params)
    expected = torch.distributions.Normal(mean[:, None], log_std.exp()[:, None])
    torch.testing.assert_close(box.log_prob(params, actions), expected.log_prob(actions).sum(-1))

    multi = MultiDiscreteActions(np.array([2, 3]), num_samples=5)
    params = torch.randn(4, 5)
    actions = multi.sample(params, 5)
    first = torch.distributions.Categorical(logits=params[:, None, :2])
    second = torch.distributions.Categorical(logits=params[:, None, 2:])
    expected = first.log_prob(actions[..., 0]) + second.log_prob(actions[..., 1])
    torch.testing.assert_close(multi.log_prob(params, actions), expected)
    torch.testing.assert_close(
        multi.entropy(params), first.entropy()[:, 0] + second.entropy()[:, 0]
    )
    box_params = torch.randn(4, 4)
    mean, log_std = box._gaussian(box_params)
    normal = torch.distributions.Normal(mean, log_std.exp())
    torch.testing.assert_close(box.entropy(box_params), normal.entropy().sum(-1))
    logits = torch.randn(4, 5)
    torch.testing.assert_close(
        DiscreteActions(5).entropy(logits), torch.distributions.Categorical(logits=logits).entropy()
    )


def test_mixture_policy_matches_torch_mixture() -> None:
    torch.manual_seed(3)
    box = BoxActions(np.array([-1.0, 0.0]), np.array([1.0, 2.0]), num_samples=6, components=3)
    assert box.policy_dim == 3 * (2 * 2 + 1)
    params = torch.randn(4, box.policy_dim)
    weights = torch.softmax(params[:, 12:], dim=-1)
    means = params[:, :6].view(4, 3, 2)
    _, _, log_std = box._mixture(params)
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(probs=weights),
        torch.distributions.Independent(torch.distributions.Normal(means, log_std.exp()), 1),
    )
    actions = box.sample(params, 6)  # [4, 6, 2]
    expected = mixture.log_prob(actions.transpose(0, 1)).transpose(0, 1)
    torch.testing.assert_close(box.log_prob(params, actions), expected)
    # The mode is the mean of the most probable component.
    torch.testing.assert_close(box.mode(params), means[torch.arange(4), weights.argmax(-1)])
    # Samples come from the components in proportion to their weights.
    far = params.clone()
    far[:, :6] = torch.tensor([-4.0, -4.0, 0.0, 0.0, 4.0, 4.0])
    far[:, 6:12] = -20.0  # the smallest std: the components do not overlap
    draws = box.sample(far, 20_000)[..., 0]  # [4, 20000]
    share = torch.stack([(draws < -2).float().mean(1), (draws > 2).float().mean(1)], 1)
    torch.testing.assert_close(share, weights[:, [0, 2]], atol=0.015, rtol=0.0)
    # The entropy is an unbiased one-draw-per-component estimate, differentiable.
    params.requires_grad_(True)
    estimates = box.entropy(params.repeat(4_000, 1)).view(4_000, 4)  # 4,000 draws each
    exact = -mixture.log_prob(mixture.sample((200_000,))).mean(0)
    torch.testing.assert_close(estimates.mean(0), exact, atol=0.05, rtol=0.0)
    estimates.mean().backward()
    assert params.grad is not None and torch.isfinite(params.grad).all()
    assert params.grad[:, 12:].abs().sum() > 0  # the mixture weights get a gradient


def test_mixture_components_are_checked_spread_and_saved(tmp_path: Path) -> None:
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="mixture_components must be an integer >= 1"):
            make_action_spec(spaces.Box(-1, 1, (2,), np.float32), mixture_components=bad)
    with pytest.raises(ValueError, match="applies to Box action spaces only"):
        MuZero("MlpPolicy", ActionEnv(spaces.Discrete(3)), mixture_components=2)
    space = spaces.Box(-1, 1, (2,), np.float32)
    model = MuZero("MlpPolicy", ActionEnv(space), seed=0, mixture_components=3, **TINY)
    with torch.no_grad():
        _, params, _ = model.policy.initial_inference(torch.zeros(5, 3))
    _, means, _ = model.action_spec._mixture(params)  # type: ignore[attr-defined]
    assert means.shape == (5, 3, 2)
    # The untrained components start apart (else they would learn the same forever).
    assert (means[:, :, None] - means[:, None]).abs().sum(-1).add(torch.eye(3)).min() > 0.05
    model.learn(48)
    model.save(tmp_path / "model")
    loaded = MuZero.load(tmp_path / "model", env=ActionEnv(space))
    assert loaded.mixture_components == 3
    obs = np.random.default_rng(1).uniform(-1, 1, (6, 3)).astype(np.float32)
    np.testing.assert_array_equal(
        model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0]
    )


def test_action_spec_choice() -> None:
    assert isinstance(make_action_spec(spaces.MultiDiscrete([2] * 4)), FlatMultiDiscreteActions)
    assert isinstance(make_action_spec(spaces.MultiDiscrete([2] * 10)), MultiDiscreteActions)
    factorized = make_action_spec(spaces.MultiDiscrete([2] * 4), multi_discrete="factorized")
    assert isinstance(factorized, MultiDiscreteActions)
    assert make_action_spec(spaces.Discrete(4)).enumerated
    assert not make_action_spec(spaces.Discrete(4), num_sampled_actions=2).enumerated
    flat = make_action_spec(spaces.MultiDiscrete([2, 3]))
    joint = np.arange(6)
    np.testing.assert_array_equal(
        flat.to_env(joint), [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]
    )
    with pytest.raises(ValueError, match="multi_discrete"):
        make_action_spec(spaces.MultiDiscrete([2]), multi_discrete="joint")


def continuous_bandit(target: float):
    """A one-step model over 1-D actions: reward -(a - target)^2, values 0."""

    def recurrent_fn(embedding: torch.Tensor, actions: np.ndarray) -> RecurrentOutput:
        actions = np.asarray(actions)
        assert actions.shape == (len(embedding), 1)  # the candidate actions, not slots
        batch = len(actions)
        return RecurrentOutput(
            reward=-((actions[:, 0] - target) ** 2),
            value=np.zeros(batch),
            prior_logits=np.zeros((batch, 4)),
            embedding=embedding,
            candidates=np.zeros((batch, 4, 1), np.float32),
            candidate_mask=np.ones((batch, 4), bool),
        )

    return recurrent_fn


def test_sampled_search_visits_the_best_sampled_action_most() -> None:
    candidates = np.array([[[-0.9], [-0.2], [0.3], [0.8]]] * 2, np.float32)
    root = RootOutput(
        value=np.zeros(2),
        prior_logits=np.full((2, 4), np.log(0.25)),
        embedding=torch.zeros(2, 1),
        candidates=candidates,
        candidate_mask=np.ones((2, 4), bool),
    )
    config = SearchConfig(num_simulations=40, discount=1.0)
    result = search(root, continuous_bandit(0.35), config, add_exploration_noise=False)
    assert (result.visit_counts.argmax(axis=1) == 2).all()
    np.testing.assert_array_equal(result.candidates, candidates)
    np.testing.assert_allclose(result.policy_target.sum(axis=1), 1.0)


def test_corrected_prior_weights_merged_duplicates() -> None:
    # Slots 0 and 3 hold the distinct actions of the samples [a, a, a, b]: prior 3/4, 1/4.
    prior = np.array([[0.75, 0.0, 0.0, 0.25]])
    root = RootOutput(
        value=np.zeros(1),
        prior_logits=np.log(np.maximum(prior, 1e-30)),
        embedding=torch.zeros(1, 1),
        candidates=np.array([[[0.0], [0.0], [0.0], [1.0]]], np.float32),
        candidate_mask=prior > 0,
    )
    config = SearchConfig(num_simulations=40, discount=1.0)

    def flat(embedding: torch.Tensor, actions: np.ndarray) -> RecurrentOutput:
        batch = len(actions)
        return RecurrentOutput(
            np.zeros(batch), np.zeros(batch), np.zeros((batch, 4)), embedding,
            np.zeros((batch, 4, 1), np.float32), np.ones((batch, 4), bool),
        )  # fmt: skip

    result = search(root, flat, config, add_exploration_noise=False)
    visits = result.visit_counts[0]
    assert visits[1] == visits[2] == 0  # merged duplicates are never searched
    assert visits[0] > 2 * visits[3] > 0  # equal values: visits follow the prior


@pytest.mark.parametrize(
    ("space", "kwargs"),
    [
        (spaces.Box(np.array([-2, 0], np.float32), np.array([1, 5], np.float32)), {}),
        (spaces.Box(-2.0, 3.0, (2,), np.float32), {"mixture_components": 3}),
        (spaces.MultiDiscrete([3, 2, 4]), {"multi_discrete": "factorized"}),
        (spaces.MultiDiscrete([3, 2]), {"multi_discrete": "flatten", "num_sampled_actions": None}),
        (spaces.Discrete(5), {}),
    ],
    ids=[
        "box",
        "box-mixture",
        "multidiscrete-factorized",
        "multidiscrete-flat",
        "discrete-sampled",
    ],
)
def test_predictions_are_valid_and_survive_save_load(
    space: spaces.Space, kwargs: dict[str, Any], tmp_path: Path
) -> None:
    env = ActionEnv(space)
    model = MuZero("MlpPolicy", env, seed=0, **{**TINY, **kwargs})
    model.learn(48)
    obs = np.random.default_rng(0).uniform(-1, 1, (20, 3)).astype(np.float32)
    for deterministic in (True, False):
        actions, _ = model.predict(obs, deterministic=deterministic)
        assert len(actions) == 20
        assert all(space.contains(np.asarray(a, dtype=space.dtype)) for a in actions)
    single, _ = model.predict(obs[0], deterministic=True)
    assert space.contains(np.asarray(single, dtype=space.dtype))
    before, _ = model.predict(obs, deterministic=True)
    again, _ = model.predict(obs, deterministic=True)
    np.testing.assert_array_equal(before, again)  # deterministic despite sampled candidates
    model.save(tmp_path / "model")
    loaded = MuZero.load(tmp_path / "model", env=ActionEnv(space))
    after, _ = loaded.predict(obs, deterministic=True)
    np.testing.assert_array_equal(before, after)
    loaded.learn(16)  # training goes on after a load


def test_action_masks_are_refused_for_continuous_actions() -> None:
    model = MuZero("MlpPolicy", ActionEnv(spaces.Box(-1, 1, (2,), np.float32)), seed=0, **TINY)
    with pytest.raises(ValueError, match="Discrete"):
        model.predict(np.zeros(3, np.float32), action_masks=np.ones(2, bool))


def test_sampled_discrete_predictions_respect_masks() -> None:
    model = MuZero("MlpPolicy", ActionEnv(spaces.Discrete(6)), seed=0, **TINY)
    rng = np.random.default_rng(3)
    for _ in range(10):
        masks = rng.random((8, 6)) < 0.4
        masks[np.arange(8), rng.integers(0, 6, 8)] = True
        obs = rng.uniform(-1, 1, (8, 3)).astype(np.float32)
        for deterministic in (True, False):
            actions, _ = model.predict(obs, deterministic=deterministic, action_masks=masks)
            assert masks[np.arange(8), actions].all()


class ShiftedBandit(ActionEnv):
    """One step, reward -|a - 0.5|: the best action is off the untrained policy's mean 0."""

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        obs, _, terminated, truncated, info = super().step(action)
        return obs, -float(np.abs(np.asarray(action) - 0.5).sum()), terminated, truncated, info


@pytest.mark.parametrize("components", [1, 2])
def test_box_policy_learns_a_one_step_target(components: int) -> None:
    """The search finds the best action and the Gaussian policy (or mixture) moves towards
    it."""
    env = ShiftedBandit(spaces.Box(-1.0, 1.0, (1,), np.float32), length=1)
    settings = {
        **TINY,
        "num_simulations": 16,
        "num_sampled_actions": 6,
        "batch_size": 64,
        "learning_starts": 32,
        "learning_rate": 3e-3,
        "replay_ratio": 1.0,
        "discount": 0.9,
        "mixture_components": components,
        "policy_kwargs": dict(hidden_dim=32, net_arch=[32]),
    }
    model = MuZero("MlpPolicy", env, seed=0, **settings)
    obs = np.random.default_rng(0).uniform(-1, 1, (32, 3)).astype(np.float32)
    untrained, _ = model.predict(obs, deterministic=True)
    assert np.abs(untrained - 0.5).mean() > 0.4
    model.learn(1_500)
    actions, _ = model.predict(obs, deterministic=True)
    assert np.abs(actions - 0.5).mean() < 0.15, np.abs(actions - 0.5).mean()
    with torch.no_grad():
        _, params, _ = model.policy.initial_inference(torch.as_tensor(obs))
    mean = np.tanh(model.action_spec.mode(params)[:, 0].numpy())  # the policy's own action
    assert mean.mean() > 0.3, mean.mean()


@pytest.mark.parametrize("search_kind", ["muzero", "gumbel"])
def test_sampled_actions_with_both_searches_and_policy_reanalyze(search_kind: str) -> None:
    space = spaces.Box(-1.0, 1.0, (2,), np.float32)
    model = MuZero(
        "MlpPolicy", ActionEnv(space), seed=0, search=search_kind, reanalyze_policy=True, **TINY
    )
    model.learn(48)
    sample = model.replay_buffer.sample(8, 3, 3, 0.9, np.random.default_rng(0))
    assert sample.target_candidates is not None
    assert sample.target_candidates.shape == (8, 4, 4, 2)  # [B, K+1, slots, action dim]
    weights = sample.target_policies[sample.policy_mask > 0]
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)
    actions, _ = model.predict(np.zeros((5, 3), np.float32))
    assert all(space.contains(a) for a in actions)


@pytest.mark.parametrize("components", [1, 2])
def test_cnn_policy_with_continuous_actions(components: int) -> None:
    class ImageEnv(ActionEnv):
        observation_space = spaces.Box(0, 255, (8, 8, 1), np.uint8)

        def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[Any, dict]:
            super().reset(seed=seed)
            return np.zeros((8, 8, 1), np.uint8), {}

        def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
            _, reward, terminated, truncated, info = super().step(action)
            return np.zeros((8, 8, 1), np.uint8), reward, terminated, truncated, info

    space = spaces.Box(-1.0, 1.0, (2,), np.float32)
    settings = {**TINY, "policy_kwargs": dict(channels=4, head_hidden=8)}
    model = MuZero("CnnPolicy", ImageEnv(space), seed=0, mixture_components=components, **settings)
    with torch.no_grad():
        _, params, _ = model.policy.initial_inference(torch.zeros(1, 1, 8, 8))
    means = model.action_spec._mixture(params)[1][0]  # type: ignore[attr-defined]
    assert len(torch.unique(means, dim=0)) == components  # a mixture's means start apart
    model.learn(32)
    action, _ = model.predict(np.zeros((8, 8, 1), np.uint8), deterministic=True)
    assert space.contains(action)


def test_box_replay_pairs_each_action_with_the_reward_it_earned() -> None:
    """RobotArm's reward is a function of the next observation and the squashed action:
    every stored (observation, action, reward) must agree with the next stored observation."""
    pytest.importorskip("mujoco")
    import muzero_gym.envs  # noqa: F401  (registers RobotArm-v0)
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env("RobotArm-v0", n_envs=2, seed=0)
    model = MuZero(
        "MlpPolicy", env, seed=0, num_simulations=4, num_sampled_actions=4,
        learning_starts=1_000, buffer_size=2_000, policy_kwargs=dict(hidden_dim=8, net_arch=[16]),
    )  # fmt: skip
    model.learn(300)  # self-play only: 150 steps of each env, one episode end each
    buffer = model.replay_buffer
    slots = [s for s in range(len(buffer)) if buffer.next_slot[s] >= 0]
    assert len(slots) >= 250
    for s in slots:
        distance = np.linalg.norm(buffer.observations[buffer.next_slot[s]][24:27])
        squashed = np.tanh(buffer.actions[s].astype(np.float64))
        expected = -distance - 0.01 * np.sum(squashed**2)
        assert buffer.rewards[s] == pytest.approx(expected, abs=1e-5)
