"""``ensemble_search="mean"``: an ensemble's networks search as one model, their mean
(:class:`muzero_gym.ensemble.MeanOfNetworks`): every node holds all the networks' hidden
states, and the tree sees their mean value and reward and the mixture of their priors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from muzero_gym import MuZero
from muzero_gym.ensemble import MeanOfNetworks
from tests.test_average_symmetries import (
    TINY,
    GridEnv,
    ensemble_of,
    mismatches,
    observations,
    quarter_turns,
    single_networks,
)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def test_mean_of_networks_averages_each_networks_own_predictions() -> None:
    members = [single.policy for single in single_networks("gumbel", 2)]
    mean = MeanOfNetworks(members)
    obs = torch.as_tensor(observations(6))
    actions = np.random.default_rng(0).integers(0, 9, size=(2, 6))
    with torch.inference_mode():
        alone = [member.search_root(obs) for member in members]
        root = mean.search_root(obs)
        # The networks disagree, so neither one's figures pass for the mean.
        assert np.abs(alone[0].value - alone[1].value).min() > 1e-3
        np.testing.assert_allclose(root.value, (alone[0].value + alone[1].value) / 2, rtol=1e-6)
        expected_prior = (softmax(alone[0].prior_logits) + softmax(alone[1].prior_logits)) / 2
        np.testing.assert_allclose(softmax(root.prior_logits), expected_prior, rtol=1e-5)
        hidden, own = root.embedding, [a.embedding for a in alone]
        # Two moves down, each network must go on from its own hidden state.
        for move in actions:
            step = mean.search_step(hidden, move)
            steps = [m.search_step(h, move) for m, h in zip(members, own, strict=True)]
            assert np.abs(steps[0].reward - steps[1].reward).min() > 1e-4
            np.testing.assert_allclose(
                step.reward, (steps[0].reward + steps[1].reward) / 2, rtol=1e-5, atol=1e-7
            )
            np.testing.assert_allclose(
                step.value, (steps[0].value + steps[1].value) / 2, rtol=1e-5, atol=1e-7
            )
            np.testing.assert_allclose(
                softmax(step.prior_logits),
                (softmax(steps[0].prior_logits) + softmax(steps[1].prior_logits)) / 2,
                rtol=1e-5,
            )
            hidden, own = step.embedding, [s.embedding for s in steps]
            torch.testing.assert_close(hidden, torch.cat(own, dim=1))


@pytest.mark.parametrize("search", ["gumbel", "muzero"])
def test_the_mean_of_copies_searches_as_the_network_alone(search: str) -> None:
    (single,) = single_networks(search, 1)
    model = ensemble_of([single, single], search, ensemble_targets=True, ensemble_search="mean")
    obs = observations(16)
    alone = single.learner.search_fn(obs, None)
    together = model.learner.search_fn(obs, None)  # Reanalyze's search, ensemble_targets
    np.testing.assert_array_equal(together.visit_counts, alone.visit_counts)
    np.testing.assert_allclose(together.policy_target, alone.policy_target, atol=1e-5)
    np.testing.assert_allclose(together.root_value, alone.root_value, rtol=1e-5)


@pytest.mark.parametrize("search", ["gumbel", "muzero"])
def test_the_mean_search_differs_from_separate_searches(search: str) -> None:
    singles = single_networks(search, 2)
    model = ensemble_of(singles, search, ensemble_targets=True)
    obs = observations(24)
    separate = model.learner.search_fn(obs, None)
    model.ensemble_search = "mean"
    mean = model.learner.search_fn(obs, None)
    # One tree: the visits of one search, not the sum of two.
    assert mean.visit_counts.sum(axis=1).max() <= TINY["num_simulations"]
    assert separate.visit_counts.sum(axis=1).min() > TINY["num_simulations"]
    assert np.abs(mean.policy_target - separate.policy_target).max() > 0.05


def test_the_mean_search_turns_with_the_grid() -> None:
    singles = single_networks("gumbel", 2, symmetries=quarter_turns())
    model = ensemble_of(
        singles, "gumbel", symmetries=quarter_turns(), average_symmetries=True,
        ensemble_search="mean",
    )  # fmt: skip
    obs = observations(32)
    assert mismatches(model, obs) == 0
    model.average_symmetries = False
    assert mismatches(model, obs) > 0


def test_ensemble_search_is_saved_set_at_load_and_checked(tmp_path: Path) -> None:
    singles = single_networks("gumbel", 2)
    model = ensemble_of(singles, "gumbel", ensemble_search="mean")
    obs = observations(12)
    chosen, _ = model.predict(obs, deterministic=True)
    model.save(tmp_path / "mean.zip")
    loaded = MuZero.load(tmp_path / "mean.zip")
    assert loaded.ensemble_search == "mean"
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], chosen)
    separate = MuZero.load(tmp_path / "mean.zip", ensemble_search="separate")
    assert separate.ensemble_search == "separate"
    with pytest.raises(ValueError, match="ensemble_search must be 'separate' or 'mean'"):
        MuZero.load(tmp_path / "mean.zip", ensemble_search="average")
    with pytest.raises(ValueError, match="ensemble_search must be 'separate' or 'mean'"):
        MuZero("MlpPolicy", GridEnv(), ensemble_search="tree", **TINY)


def test_mean_of_networks_refuses_mismatched_hidden_states() -> None:
    small = single_networks("gumbel", 1)[0].policy
    (large,) = [
        s.policy
        for s in single_networks("gumbel", 1, policy_kwargs=dict(hidden_dim=8, net_arch=[32]))
    ]
    with pytest.raises(ValueError, match="hidden states differ in shape"):
        MeanOfNetworks([small, large]).search_root(torch.as_tensor(observations(2)))
