"""Tests of the batched search on hand-written models whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from muzero_gym.mcts import (
    RecurrentOutput,
    RootOutput,
    SearchConfig,
    search,
    select_actions,
    visit_policy,
)


def pb_c(parent_visits: int, base: float = 19652.0, init: float = 1.25) -> float:
    return (math.log((parent_visits + base + 1) / base) + init) * math.sqrt(parent_visits)


def bandit_fn(rewards: list[float]):
    """A one-step model: action a gives reward rewards[a], every value is 0."""
    table = np.asarray(rewards, dtype=np.float64)

    def recurrent_fn(embedding: torch.Tensor, actions: np.ndarray) -> RecurrentOutput:
        batch = len(actions)
        return RecurrentOutput(
            reward=table[actions],
            value=np.zeros(batch),
            prior_logits=np.zeros((batch, len(table))),
            embedding=embedding,
        )

    return recurrent_fn


def uniform_root(batch: int, num_actions: int, value: float = 0.0) -> RootOutput:
    return RootOutput(
        value=np.full(batch, value),
        prior_logits=np.zeros((batch, num_actions)),
        embedding=torch.zeros(batch, 1),
    )


def test_three_simulations_by_hand() -> None:
    # Root N=1 (its own value 0). Sim 1: both children unvisited, scores tie -> action 0,
    # Q(0) = 0. Sim 2: a0 scores 0 + 0.5 pb_c(2)/2, a1 (FPU 0) 0.5 pb_c(2)/1 -> a1, Q(1) = 1.
    # Sim 3: min-max = [0, 1]; a1 scores 1 + 0.5 pb_c(3)/2 > a0's 0 + 0.5 pb_c(3)/2 -> a1.
    config = SearchConfig(num_simulations=3, discount=1.0)
    result = search(uniform_root(1, 2), bandit_fn([0.0, 1.0]), config, add_exploration_noise=False)
    np.testing.assert_array_equal(result.visit_counts, [[1, 2]])
    np.testing.assert_allclose(result.q_values, [[0.0, 1.0]])
    # Root value: (0 + 0 + 1 + 1) / 4 visits.
    np.testing.assert_allclose(result.root_value, [0.5])
    assert pb_c(3) / 4 < 1.0  # the exploitation term decides sim 3


def test_visits_concentrate_on_best_action_and_batch_is_independent() -> None:
    config = SearchConfig(num_simulations=50, discount=0.9)
    root = uniform_root(3, 3)
    result = search(root, bandit_fn([0.1, 0.5, 0.2]), config, add_exploration_noise=False)
    assert (result.visit_counts.argmax(axis=1) == 1).all()
    assert (result.visit_counts.sum(axis=1) == 50).all()
    # Every tree in the batch saw the same inputs, so they agree exactly.
    assert (result.visit_counts == result.visit_counts[0]).all()


class PythonReference:
    """Straightforward node-object MCTS of the paper's pseudocode, with this library's
    conventions (root counts its own value as one visit; unvisited children valued at
    the parent's mean), to cross-check the array implementation."""

    def __init__(self, config: SearchConfig, model) -> None:
        self.config = config
        self.model = model  # (state, action) -> (next_state, reward, value, logits)

    def run(self, root_state, root_value, root_logits, legal):
        c = self.config
        sign = -1.0 if c.two_player else 1.0
        prior = np.where(legal, np.exp(root_logits - root_logits[legal].max()), 0.0)
        prior /= prior.sum()
        root = {"N": 1, "W": root_value, "r": 0.0, "P": prior, "kids": {}, "s": root_state}
        lo, hi = math.inf, -math.inf
        for _ in range(c.num_simulations):
            node, path = root, [root]
            while True:
                best, best_a = -math.inf, None
                parent_q = node["W"] / node["N"]
                for a in range(len(node["P"])):
                    if node is root and not legal[a]:
                        continue
                    kid = node["kids"].get(a)
                    if kid is None:
                        q, n = parent_q, 0
                    else:
                        q, n = kid["r"] + c.discount * sign * kid["W"] / kid["N"], kid["N"]
                    if hi > lo:
                        q = (q - lo) / (hi - lo)
                    score = q + node["P"][a] * pb_c(node["N"], c.pb_c_base, c.pb_c_init) / (1 + n)
                    if score > best:
                        best, best_a = score, a
                if best_a in node["kids"]:
                    node = node["kids"][best_a]
                    path.append(node)
                    continue
                state, reward, value, logits = self.model(node["s"], best_a)
                p = np.exp(logits - logits.max())
                kid = {"N": 0, "W": 0.0, "r": reward, "P": p / p.sum(), "kids": {}, "s": state}
                node["kids"][best_a] = kid
                path.append(kid)
                break
            g = value
            for n in reversed(path):
                n["W"] += g
                n["N"] += 1
                if n is not root:
                    q = n["r"] + c.discount * sign * n["W"] / n["N"]
                    lo, hi = min(lo, q), max(hi, q)
                g = n["r"] + c.discount * sign * g
        counts = np.array(
            [root["kids"][a]["N"] if a in root["kids"] else 0 for a in range(len(prior))]
        )
        return counts, root["W"] / root["N"]


def random_model(num_actions: int, seed: int):
    """A deterministic model: state is a path of actions; outputs hashed from it."""

    def outputs(path: tuple[int, ...]):
        rng = np.random.default_rng(abs(hash((seed, path))) % (2**32))
        return rng.normal(), rng.normal(), rng.normal(size=num_actions)

    return outputs


@pytest.mark.parametrize("two_player", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_python_reference(two_player: bool, seed: int) -> None:
    num_actions, batch = 4, 3
    outputs = random_model(num_actions, seed)
    config = SearchConfig(num_simulations=40, discount=0.95, two_player=two_player)
    rng = np.random.default_rng(seed)
    legal = rng.random((batch, num_actions)) < 0.7
    legal[:, 0] = True
    paths: dict[int, tuple[int, ...]] = {}  # embedding id -> action path

    def recurrent_fn(embedding: torch.Tensor, actions: np.ndarray) -> RecurrentOutput:
        new_ids, rewards, values, logits = [], [], [], []
        for row, action in enumerate(actions):
            path = (row, *paths[int(embedding[row, 0])], int(action))
            new_id = len(paths)
            paths[new_id] = path[1:]
            reward, value, logit = outputs(path)
            new_ids.append(new_id)
            rewards.append(reward)
            values.append(value)
            logits.append(logit)
        return RecurrentOutput(
            np.array(rewards), np.array(values), np.array(logits),
            torch.tensor(new_ids, dtype=torch.float64)[:, None],
        )  # fmt: skip

    root_values = rng.normal(size=batch)
    root_logits = rng.normal(size=(batch, num_actions))
    paths[0] = ()
    root = RootOutput(root_values, root_logits, torch.zeros(batch, 1, dtype=torch.float64))
    result = search(root, recurrent_fn, config, legal_actions=legal, add_exploration_noise=False)

    for row in range(batch):

        def model(path, action, row=row):
            new = (*path, action)
            reward, value, logits = outputs((row, *new))
            return new, reward, value, logits

        counts, value = PythonReference(config, model).run(
            (), root_values[row], root_logits[row], legal[row]
        )
        np.testing.assert_array_equal(result.visit_counts[row], counts)
        np.testing.assert_allclose(result.root_value[row], value, rtol=1e-9)


def test_illegal_root_actions_are_never_visited() -> None:
    config = SearchConfig(num_simulations=30, discount=1.0)
    legal = np.array([[True, False, True], [False, True, True]])
    # Action 1 would be best, but is illegal in the first root.
    result = search(
        uniform_root(2, 3), bandit_fn([0.0, 5.0, 1.0]), config,
        legal_actions=legal, rng=np.random.default_rng(0),
    )  # fmt: skip
    assert result.visit_counts[0, 1] == 0
    assert result.visit_counts[1, 0] == 0
    assert result.visit_counts[0].argmax() == 2
    assert result.visit_counts[1].argmax() == 1
    assert result.prior[0, 1] == 0.0 and result.prior[1, 0] == 0.0
    np.testing.assert_allclose(result.prior.sum(axis=1), 1.0)


def test_no_legal_action_is_an_error() -> None:
    with pytest.raises(ValueError, match="No legal action"):
        search(
            uniform_root(1, 2), bandit_fn([0, 0]), SearchConfig(num_simulations=2),
            legal_actions=np.zeros((1, 2), bool), add_exploration_noise=False,
        )  # fmt: skip


def two_ply_game(outcomes: np.ndarray):
    """Root player picks a, opponent picks b, opponent then gets outcomes[a, b]
    (zero-sum: the root player gets minus that). Embedding = (depth, first action)."""

    def recurrent_fn(embedding: torch.Tensor, actions: np.ndarray) -> RecurrentOutput:
        depth = embedding[:, 0].long().numpy()
        first = embedding[:, 1].long().numpy()
        reward = np.where(depth == 1, outcomes[first, actions], 0.0)
        new_first = np.where(depth == 0, actions, first)
        new = torch.tensor(np.stack([depth + 1, new_first], axis=1), dtype=torch.float32)
        batch = len(actions)
        return RecurrentOutput(reward, np.zeros(batch), np.zeros((batch, 2)), new)

    return recurrent_fn


def test_two_player_sign_flips_values() -> None:
    # After a=0 the opponent can win (+1 for them); after a=1 every reply loses for them.
    outcomes = np.array([[1.0, -1.0], [-1.0, -1.0]])
    root = RootOutput(np.zeros(1), np.zeros((1, 2)), torch.zeros(1, 2))
    config = SearchConfig(num_simulations=60, discount=1.0, two_player=True)
    two = search(root, two_ply_game(outcomes), config, add_exploration_noise=False)
    assert two.visit_counts[0].argmax() == 1
    # From the root player's view a=1 is worth about +1: the opponent's -1 with the sign
    # flipped (averaged with the child's own first estimate, 0).
    assert two.q_values[0, 1] > 0.9
    assert two.q_values[0, 0] < two.q_values[0, 1]
    # Treated as a single-player problem, the same model makes a=0 look best.
    one = search(
        root, two_ply_game(outcomes), SearchConfig(num_simulations=60, discount=1.0),
        add_exploration_noise=False,
    )  # fmt: skip
    assert one.visit_counts[0].argmax() == 0


def test_dirichlet_noise_changes_prior_only_on_legal_moves() -> None:
    config = SearchConfig(num_simulations=1, root_exploration_fraction=0.25, dirichlet_alpha=0.3)
    legal = np.array([[True, True, False, True]] * 64)
    result = search(
        uniform_root(64, 4), bandit_fn([0, 0, 0, 0]), config,
        legal_actions=legal, rng=np.random.default_rng(3),
    )  # fmt: skip
    assert (result.prior[:, 2] == 0).all()
    np.testing.assert_allclose(result.prior.sum(axis=1), 1.0)
    # The noise makes roots differ and keeps at least 75% of the uniform prior.
    assert result.prior[:, 0].std() > 0.01
    assert (result.prior[legal] >= 0.75 / 3 - 1e-12).all()


def test_discount_in_backup() -> None:
    # Always reward 1, leaf values 0, single action: depth-d chain. Root value is the mean
    # of the discounted returns of the paths: (v0 + sum_d sum_{i<d} gamma^i) / (N + 1).
    gamma, sims = 0.5, 4
    result = search(
        uniform_root(1, 1), bandit_fn([1.0]), SearchConfig(num_simulations=sims, discount=gamma),
        add_exploration_noise=False,
    )  # fmt: skip
    returns = [sum(gamma**i for i in range(d)) for d in range(1, sims + 1)]
    assert result.root_value[0] == pytest.approx(sum(returns) / (sims + 1))


def test_visit_policy_and_action_selection() -> None:
    counts = np.array([[1, 3, 0], [2, 2, 0]])
    np.testing.assert_allclose(visit_policy(counts, 1.0), [[0.25, 0.75, 0], [0.5, 0.5, 0]])
    np.testing.assert_allclose(visit_policy(counts, 0.0), [[0, 1, 0], [0.5, 0.5, 0]])
    np.testing.assert_allclose(visit_policy(counts, 0.5)[0], [0.1, 0.9, 0])
    rng = np.random.default_rng(0)
    assert select_actions(counts, 1.0, rng, deterministic=True).tolist() == [1, 0]
    draws = np.stack([select_actions(counts, 1.0, rng) for _ in range(4000)])
    assert abs((draws[:, 0] == 1).mean() - 0.75) < 0.03
    assert (draws != 2).all()


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="num_simulations"):
        SearchConfig(num_simulations=0)
    with pytest.raises(ValueError, match="discount"):
        SearchConfig(discount=1.5)
