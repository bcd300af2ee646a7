"""Tests of Gumbel MuZero's search on hand-written models whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from muzero_gym.gumbel import GumbelConfig, considered_visits_table, gumbel_search
from muzero_gym.mcts import RecurrentOutput, RootOutput, SearchConfig

torch.set_num_threads(1)


def bandit_fn(rewards: list[float] | np.ndarray):
    """A one-step bandit: the first action a pays rewards[a], later ones pay 0; values 0.
    The embedding holds the depth."""
    table = np.asarray(rewards, dtype=np.float64)

    def recurrent_fn(embedding: torch.Tensor, actions: np.ndarray) -> RecurrentOutput:
        batch = len(actions)
        reward = np.where(embedding[:, 0].numpy() == 0, table[actions], 0.0)
        return RecurrentOutput(
            reward, np.zeros(batch), np.zeros((batch, len(table))), embedding + 1
        )

    return recurrent_fn


def uniform_root(batch: int, num_actions: int, value: float = 0.0) -> RootOutput:
    return RootOutput(np.full(batch, value), np.zeros((batch, num_actions)), torch.zeros(batch, 1))


def halving_visits(num_considered: int, num_simulations: int) -> list[int]:
    """Follow the table with slot 0 best, slot 1 next, ...; the visits each slot ends with."""
    visits = [0] * num_considered
    for due in considered_visits_table(num_considered, num_simulations)[num_considered]:
        slot = visits.index(due)  # fails if no slot is due
        visits[slot] += 1
    return visits


def test_considered_visits_table_by_hand() -> None:
    # m=4, n=8: log2(4) = 2 phases of n/2 = 4 simulations: 4 slots once, then the best 2
    # twice each.
    assert considered_visits_table(4, 8)[4].tolist() == [0, 0, 0, 0, 1, 1, 2, 2]
    assert halving_visits(4, 8) == [3, 3, 1, 1]
    # m=16, n=50: rounds of max(1, int(50 / (4 k))) for k = 16, 8, 4, 2, 2 considered.
    assert halving_visits(16, 50) == [12, 12, 5, 5, 2, 2, 2, 2] + [1] * 8
    # One slot takes every visit; fewer simulations than slots visit the best ones once.
    assert considered_visits_table(1, 5)[1].tolist() == [0, 1, 2, 3, 4]
    assert halving_visits(16, 5) == [1] * 5 + [0] * 11
    # The table has a row per number of considered slots.
    assert considered_visits_table(3, 7).shape == (4, 7)


@pytest.mark.parametrize("num_considered", [2, 3, 5, 8, 16, 32])
@pytest.mark.parametrize("num_simulations", [1, 7, 16, 50, 200])
def test_sequential_halving_is_balanced(num_considered: int, num_simulations: int) -> None:
    visits = halving_visits(num_considered, num_simulations)
    assert sum(visits) == num_simulations
    assert visits == sorted(visits, reverse=True)  # better slots never get fewer
    # Slots dropped in the same phase end level: only as many distinct counts as phases.
    phases = math.ceil(math.log2(num_considered)) + 1
    assert len(set(visits)) <= phases + 1
    # The two finalists are within one visit of each other.
    assert visits[0] - visits[1] <= 1


def test_search_follows_sequential_halving() -> None:
    # 16 actions with ordered rewards and no noise: the ranking never changes, so the
    # visits are exactly the schedule's.
    rewards = np.random.default_rng(0).permutation(16) / 15.0
    config = SearchConfig(num_simulations=50, discount=1.0)
    result = gumbel_search(
        uniform_root(2, 16), bandit_fn(rewards), config, add_exploration_noise=False
    )
    by_reward = np.argsort(-rewards)
    assert result.visit_counts[0, by_reward].tolist() == halving_visits(16, 50)
    assert (result.visit_counts[1] == result.visit_counts[0]).all()
    assert (result.chosen == by_reward[0]).all()


def test_two_simulations_by_hand() -> None:
    # Sim 0: both unvisited with equal scores -> slot 0, Q = 0. Sim 1: slot 1 is the one
    # with 0 visits, Q = 1. Min-max [0, 1]; sigma = (50 + 1) * 0.1 * [0, 1].
    config = SearchConfig(num_simulations=2, discount=1.0)
    result = gumbel_search(
        uniform_root(1, 2), bandit_fn([0.0, 1.0]), config, add_exploration_noise=False
    )
    np.testing.assert_array_equal(result.visit_counts, [[1, 1]])
    np.testing.assert_allclose(result.q_values, [[0.0, 1.0]])
    np.testing.assert_allclose(result.root_value, [1.0 / 3.0])
    expected = np.exp([0.0, 5.1]) / np.exp([0.0, 5.1]).sum()
    np.testing.assert_allclose(result.policy_target, [expected])
    assert result.chosen.tolist() == [1]


def test_mixed_value_completes_unvisited_actions() -> None:
    # One simulation visits slot 0 (Q = 1). With v_hat = 0.5 at the root, the unvisited
    # slots get v_mix = (0.5 + 1 * (1/3 * 1) / (1/3)) / 2 = 0.75. The completed Q values
    # [1, 0.75, 0.75] are rescaled over the node to [1, 0, 0]; sigma = (50 + 1) * 0.1 * q.
    config = SearchConfig(num_simulations=1, discount=1.0)
    root = uniform_root(1, 3, value=0.5)
    result = gumbel_search(root, bandit_fn([1.0, 0.0, 0.0]), config, add_exploration_noise=False)
    logits = 5.1 * np.array([1.0, 0.0, 0.0])
    np.testing.assert_allclose(result.policy_target, [np.exp(logits) / np.exp(logits).sum()])


def test_chosen_action_is_among_the_most_visited() -> None:
    # An optimistic root value (v_hat = 3) makes the unvisited slots' v_mix = (3 + 2 * 0)
    # / 3 = 1 beat the visited slots' Q = 0, so the improved policy favours them; the
    # action must still come from the slots Sequential Halving visited most.
    config = SearchConfig(num_simulations=2, discount=1.0)
    root = uniform_root(1, 4, value=3.0)
    result = gumbel_search(root, bandit_fn([0.0] * 4), config, add_exploration_noise=False)
    np.testing.assert_array_equal(result.visit_counts, [[1, 1, 0, 0]])
    assert result.policy_target[0, 2] > result.policy_target[0, 0]
    assert result.chosen.tolist() == [0]


def test_only_the_top_considered_slots_are_searched() -> None:
    # Gumbel-top-k without noise keeps the m = 2 slots of highest logits, even though the
    # best reward is elsewhere.
    logits = np.array([[0.0, 2.0, 0.0, 1.5, 0.0, 0.0]])
    root = RootOutput(np.zeros(1), logits, torch.zeros(1, 1))
    rewards = [0.0, 0.1, 0.0, 0.2, 0.0, 1.0]
    result = gumbel_search(
        root, bandit_fn(rewards), SearchConfig(num_simulations=10, discount=1.0),
        GumbelConfig(max_considered_actions=2), add_exploration_noise=False,
    )  # fmt: skip
    np.testing.assert_array_equal(result.visit_counts, [[0, 5, 0, 5, 0, 0]])
    assert result.chosen.tolist() == [3]


@pytest.mark.parametrize("num_simulations", [8, 16])
def test_bandit_best_action_is_chosen(num_simulations: int) -> None:
    rewards = np.array([0.3, 0.1, 0.5, 0.0, 1.0, 0.2, 0.4, 0.6])  # best is slot 4
    config = SearchConfig(num_simulations=num_simulations, discount=1.0)
    gumbel = GumbelConfig(max_considered_actions=8)
    plain = gumbel_search(
        uniform_root(4, 8), bandit_fn(rewards), config, gumbel, add_exploration_noise=False
    )
    assert (plain.chosen == 4).all()
    # With noise, one search over 400 roots is 400 seeds. The chosen action is then a
    # sample that favours the best one (the prior alone picks it 1 time in 8): with each
    # action visited once (n = 8), the runner-up is behind by sigma = 5.1 * 0.4 = 2.04,
    # which the Gumbel difference beats about 1 time in 5 (measured 0.77-0.79 over seeds).
    noisy = gumbel_search(
        uniform_root(400, 8), bandit_fn(rewards), config, gumbel, rng=np.random.default_rng(0)
    )
    assert (noisy.chosen == 4).mean() > 0.7
    # A larger c_scale (the paper's Go setting, 1.0) lets the values outweigh the noise.
    sharp = GumbelConfig(max_considered_actions=8, c_scale=1.0)
    noisy_sharp = gumbel_search(
        uniform_root(400, 8), bandit_fn(rewards), config, sharp, rng=np.random.default_rng(0)
    )
    assert (noisy_sharp.chosen == 4).mean() > 0.98
    assert (noisy.visit_counts.sum(axis=1) == num_simulations).all()


def test_policy_target_improves_on_the_prior() -> None:
    rewards = np.array([0.0, 1.0, 0.5, 0.9])
    legal = np.array([[True, False, True, True]] * 3)  # the best action is illegal
    logits = np.log(np.array([[0.4, 0.1, 0.3, 0.2]] * 3))
    root = RootOutput(np.zeros(3), logits, torch.zeros(3, 1))
    result = gumbel_search(
        root, bandit_fn(rewards), SearchConfig(num_simulations=12, discount=1.0),
        legal_actions=legal, rng=np.random.default_rng(1),
    )  # fmt: skip
    np.testing.assert_allclose(result.policy_target.sum(axis=1), 1.0)
    assert (result.policy_target[:, 1] == 0.0).all()
    assert (result.prior[:, 1] == 0.0).all()
    # Slot 3 is the best legal one: more mass than its prior; slot 0, the worst, less.
    assert (result.policy_target[:, 3] > result.prior[:, 3]).all()
    assert (result.policy_target[:, 0] < result.prior[:, 0]).all()
    assert (result.policy_target.argmax(axis=1) == 3).all()


def random_model(num_actions: int, seed: int, masked: bool, same_rows: bool = False):
    """A deterministic model over action paths: outputs (and a mask of the slots in use,
    if ``masked``) hashed from the root's row and the path, or the path alone if
    ``same_rows``. The embedding holds an id of the path."""
    paths: dict[int, tuple[int, ...]] = {0: ()}  # embedding id -> (root row, *actions)
    masks: dict[tuple[int, ...], np.ndarray] = {}

    def outputs(path: tuple[int, ...]):
        rng = np.random.default_rng(abs(hash((seed, path))) % (2**32))
        reward, value, logits = rng.normal(), rng.normal(), rng.normal(size=num_actions)
        mask = rng.random(num_actions) < 0.6 if masked else np.ones(num_actions, bool)
        mask[rng.integers(num_actions)] = True
        return reward, value, logits, mask

    def recurrent_fn(embedding: torch.Tensor, actions: np.ndarray) -> RecurrentOutput:
        rows = []
        for row, action in enumerate(actions):
            parent = paths[int(embedding[row, 0])] or (0 if same_rows else row,)
            if parent in masks:  # interior parents: only their slots in use are expanded
                assert masks[parent][action], f"illegal slot {action} expanded at {parent}"
            path = (*parent, int(action))
            paths[len(paths)] = path
            reward, value, logits, mask = outputs(path)
            masks[path] = mask
            rows.append((len(paths) - 1, reward, value, logits, mask))
        ids, reward, value, logits, mask = zip(*rows, strict=True)
        return RecurrentOutput(
            np.array(reward), np.array(value), np.array(logits),
            torch.tensor(ids, dtype=torch.float64)[:, None],
            candidate_mask=np.array(mask) if masked else None,
        )  # fmt: skip

    return recurrent_fn, outputs


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_illegal_slots_are_never_visited(seed: int) -> None:
    batch, num_actions = 6, 5
    rng = np.random.default_rng(seed)
    legal = rng.random((batch, num_actions)) < 0.5
    legal[np.arange(batch), rng.integers(num_actions, size=batch)] = True
    recurrent_fn, _ = random_model(num_actions, seed, masked=True)
    root = RootOutput(
        rng.normal(size=batch), rng.normal(size=(batch, num_actions)),
        torch.zeros(batch, 1, dtype=torch.float64),
    )  # fmt: skip
    config = SearchConfig(num_simulations=30, discount=0.9, two_player=bool(seed % 2))
    result = gumbel_search(
        root, recurrent_fn, config, GumbelConfig(max_considered_actions=4),
        legal_actions=legal, rng=rng,
    )  # fmt: skip
    assert (result.visit_counts[~legal] == 0).all()
    assert (result.policy_target[~legal] == 0.0).all()
    assert legal[np.arange(batch), result.chosen].all()
    assert (result.visit_counts.sum(axis=1) == 30).all()
    # The chosen slot is among the most visited.
    chosen_visits = result.visit_counts[np.arange(batch), result.chosen]
    assert (chosen_visits == result.visit_counts.max(axis=1)).all()


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


def test_two_player_sign() -> None:
    # After a=0 the opponent can win (+1 for them); after a=1 every reply loses for them.
    outcomes = np.array([[1.0, -1.0], [-1.0, -1.0]])
    root = RootOutput(np.zeros(1), np.zeros((1, 2)), torch.zeros(1, 2))
    config = SearchConfig(num_simulations=20, discount=1.0, two_player=True)
    two = gumbel_search(root, two_ply_game(outcomes), config, add_exploration_noise=False)
    assert two.chosen.tolist() == [1]
    assert two.q_values[0, 1] > two.q_values[0, 0]
    assert two.policy_target[0, 1] > 0.9
    # The opponent's best reply (b=0 after a=0) is what its deterministic selection
    # prefers, so a=0 looks bad to the root player.
    assert two.q_values[0, 0] < 0.0
    # Treated as a single-player problem, the same model makes a=0 look best.
    one = gumbel_search(
        root, two_ply_game(outcomes), SearchConfig(num_simulations=20, discount=1.0),
        add_exploration_noise=False,
    )  # fmt: skip
    assert one.chosen.tolist() == [0]


def test_batch_is_independent() -> None:
    recurrent_fn, _ = random_model(4, seed=5, masked=True, same_rows=True)
    rng = np.random.default_rng(0)
    value, logits = rng.normal(), rng.normal(size=4)
    root = RootOutput(
        np.full(3, value), np.tile(logits, (3, 1)), torch.zeros(3, 1, dtype=torch.float64)
    )
    config = SearchConfig(num_simulations=25, discount=0.95)
    result = gumbel_search(root, recurrent_fn, config, add_exploration_noise=False)
    for field in ("visit_counts", "q_values", "policy_target", "chosen", "root_value"):
        values = getattr(result, field)
        assert (values == values[0]).all(), field
    # A different root in the batch changes nothing for the others.
    root = root._replace(value=np.array([value, value, -3.0]))
    mixed = gumbel_search(root, recurrent_fn, config, add_exploration_noise=False)
    np.testing.assert_array_equal(mixed.visit_counts[:2], result.visit_counts[:2])
    np.testing.assert_array_equal(mixed.policy_target[:2], result.policy_target[:2])


def test_root_candidates() -> None:
    # Continuous 2-d actions: each root slot holds a candidate; the reward is minus the
    # distance of the first action to the target (0.5, -0.5).
    target = np.array([0.5, -0.5])
    batch, num_slots = 3, 4
    candidates = np.random.default_rng(0).uniform(-1, 1, size=(batch, num_slots, 2))
    received: list[np.ndarray] = []

    def recurrent_fn(embedding: torch.Tensor, actions: np.ndarray) -> RecurrentOutput:
        received.append(actions)
        depth = embedding[:, 0].numpy()
        reward = np.where(depth == 0, -np.linalg.norm(actions - target, axis=1), 0.0)
        new_candidates = np.random.default_rng(len(received)).uniform(-1, 1, (batch, num_slots, 2))
        return RecurrentOutput(
            reward, np.zeros(batch), np.zeros((batch, num_slots)), embedding + 1,
            candidates=new_candidates,
        )  # fmt: skip

    root = RootOutput(
        np.zeros(batch), np.zeros((batch, num_slots)), torch.zeros(batch, 1),
        candidates=candidates, candidate_mask=np.array([[True, True, False, True]] * batch),
    )  # fmt: skip
    config = SearchConfig(num_simulations=12, discount=1.0)
    result = gumbel_search(root, recurrent_fn, config, add_exploration_noise=False)
    assert all(actions.shape == (batch, 2) for actions in received)
    # The first simulations expand root slots: their candidate actions are passed on.
    np.testing.assert_array_equal(received[0], candidates[:, 0])
    distance = np.linalg.norm(candidates - target, axis=2)
    distance[:, 2] = np.inf  # slot out of use
    np.testing.assert_array_equal(result.chosen, distance.argmin(axis=1))
    assert (result.visit_counts[:, 2] == 0).all()
    assert result.candidates is candidates

    def no_candidates_fn(embedding: torch.Tensor, actions: np.ndarray) -> RecurrentOutput:
        return recurrent_fn(embedding, actions)._replace(candidates=None)

    with pytest.raises(ValueError, match="candidates"):
        gumbel_search(root, no_candidates_fn, config, add_exploration_noise=False)


class PythonReference:
    """Node-object Gumbel MuZero following the paper's formulas, with this library's
    conventions (completed Q rescaled to [0, 1] over each node's legal actions, as mctx
    does; v_hat the network value),
    to cross-check the array implementation."""

    def __init__(self, config: SearchConfig, gumbel: GumbelConfig, model) -> None:
        self.config, self.gumbel = config, gumbel
        self.model = model  # (state, action) -> (next_state, reward, value, logits, mask)
        self.sign = -1.0 if config.two_player else 1.0

    def sigma(self, node: dict) -> tuple[np.ndarray, np.ndarray]:
        num = len(node["P"])
        visits = np.array([node["kids"][a]["N"] if a in node["kids"] else 0 for a in range(num)])
        gamma = self.config.discount * self.sign
        q = {a: kid["r"] + gamma * kid["W"] / kid["N"] for a, kid in node["kids"].items()}
        v_mix = node["v"]
        if visits.sum() > 0:
            weights = sum(node["P"][a] for a in q)
            mixed = sum(node["P"][a] * q[a] for a in q) / weights
            v_mix = (node["v"] + visits.sum() * mixed) / (1 + visits.sum())
        completed = np.array([q.get(a, v_mix) for a in range(num)])
        legal = node["legal"]
        low, high = completed[legal].min(), completed[legal].max()
        completed = (completed - low) / max(high - low, 1e-8)
        return (self.gumbel.c_visit + visits.max()) * self.gumbel.c_scale * completed, visits

    def run(self, root_state, root_value, logits, legal, noise):
        c = self.config
        prior = np.where(legal, np.exp(logits - logits[legal].max()), 0.0)
        prior /= prior.sum()
        root = {"N": 1, "W": root_value, "v": root_value, "r": 0.0, "P": prior, "legal": legal,
                "kids": {}, "s": root_state}  # fmt: skip
        scores = np.where(legal, noise + logits, -np.inf)
        order = sorted(np.flatnonzero(legal), key=lambda a: -scores[a])
        considered = order[: min(self.gumbel.max_considered_actions, len(order))]
        schedule = considered_visits_table(len(considered), c.num_simulations)[len(considered)]
        for simulation in range(c.num_simulations):
            sigma, visits = self.sigma(root)
            due = [a for a in considered if visits[a] == schedule[simulation]]
            action = max(due, key=lambda a: (scores[a] + sigma[a], -a))
            node, path = root, [root]
            while action in node["kids"]:
                node = node["kids"][action]
                path.append(node)
                sigma, visits = self.sigma(node)
                mask = node["legal"]
                z = np.where(mask, np.log(np.maximum(node["P"], 1e-300)) + sigma, -np.inf)
                improved = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
                score = np.where(mask, improved - visits / (1 + visits.sum()), -np.inf)
                action = int(score.argmax())
            state, reward, value, kid_logits, mask = self.model(node["s"], action)
            p = np.exp(kid_logits - kid_logits.max()) * mask
            kid = {"N": 0, "W": 0.0, "v": value, "r": reward, "P": p / p.sum(), "legal": mask,
                   "kids": {}, "s": state}  # fmt: skip
            node["kids"][action] = kid
            path.append(kid)
            g = value
            for n in reversed(path):
                n["W"] += g
                n["N"] += 1
                g = n["r"] + c.discount * self.sign * g
        sigma, visits = self.sigma(root)
        z = np.where(legal, logits + sigma, -np.inf)
        policy = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        most = max(visits[a] for a in considered)
        finalists = [a for a in considered if visits[a] == most]
        chosen = max(finalists, key=lambda a: (scores[a] + sigma[a], -a))
        return visits, policy, chosen


@pytest.mark.parametrize("two_player", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_python_reference(two_player: bool, seed: int) -> None:
    batch, num_actions = 3, 6
    recurrent_fn, outputs = random_model(num_actions, seed, masked=True)
    config = SearchConfig(num_simulations=30, discount=0.95, two_player=two_player)
    gumbel = GumbelConfig(max_considered_actions=4, c_visit=10.0, c_scale=0.5)
    rng = np.random.default_rng(seed)
    legal = rng.random((batch, num_actions)) < 0.8
    legal[:, 0] = True
    root_values = rng.normal(size=batch)
    root_logits = rng.normal(size=(batch, num_actions))
    root = RootOutput(root_values, root_logits, torch.zeros(batch, 1, dtype=torch.float64))
    result = gumbel_search(
        root, recurrent_fn, config, gumbel, legal_actions=legal, rng=np.random.default_rng(seed)
    )
    noise = np.random.default_rng(seed).gumbel(size=(batch, num_actions))  # the same draw

    for row in range(batch):

        def model(path, action, row=row):
            new = (*path, action)
            reward, value, logits, mask = outputs((row, *new))
            return new, reward, value, logits, mask

        visits, policy, chosen = PythonReference(config, gumbel, model).run(
            (), root_values[row], root_logits[row], legal[row], noise[row]
        )
        np.testing.assert_array_equal(result.visit_counts[row], visits)
        np.testing.assert_allclose(result.policy_target[row], policy, rtol=1e-9, atol=1e-12)
        assert result.chosen[row] == chosen


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="max_considered_actions"):
        GumbelConfig(max_considered_actions=0)
    with pytest.raises(ValueError, match="c_visit"):
        GumbelConfig(c_visit=-1.0)
    with pytest.raises(ValueError, match="c_scale"):
        GumbelConfig(c_scale=0.0)
    config = SearchConfig(num_simulations=2)
    with pytest.raises(ValueError, match="rng"):
        gumbel_search(uniform_root(1, 2), bandit_fn([0, 0]), config)
    with pytest.raises(ValueError, match="No legal action"):
        gumbel_search(
            uniform_root(1, 2), bandit_fn([0, 0]), config,
            legal_actions=np.zeros((1, 2), bool), add_exploration_noise=False,
        )  # fmt: skip


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_noise_scale_samples_the_improved_policy_at_that_temperature(scale: float) -> None:
    # Every action pays the same, so the completed Q values add the same to each score and
    # Sequential Halving keeps the best g * scale + logits: a Gumbel-max draw of
    # softmax(logits / scale). 20,000 roots in one search are 20,000 draws.
    logits = np.array([0.0, 1.0, 2.0])
    batch = 20_000
    root = RootOutput(np.zeros(batch), np.tile(logits, (batch, 1)), torch.zeros(batch, 1))
    result = gumbel_search(
        root, bandit_fn([0.0, 0.0, 0.0]), SearchConfig(num_simulations=6, discount=1.0),
        GumbelConfig(max_considered_actions=3), rng=np.random.default_rng(0),
        noise_scale=scale,
    )  # fmt: skip
    expected = np.exp(logits / scale) / np.exp(logits / scale).sum()
    frequencies = np.bincount(result.chosen, minlength=3) / batch
    np.testing.assert_allclose(frequencies, expected, atol=0.012)
    # The policy target does not depend on the noise.
    prior = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(result.policy_target, np.tile(prior, (batch, 1)), rtol=1e-6)


def test_zero_noise_scale_plays_the_search_s_best_action() -> None:
    rewards = np.array([0.3, 0.1, 0.5, 0.0, 1.0, 0.2, 0.4, 0.6])
    config = SearchConfig(num_simulations=8, discount=1.0)
    gumbel = GumbelConfig(max_considered_actions=8)
    root = uniform_root(200, 8)
    noisy = gumbel_search(root, bandit_fn(rewards), config, gumbel, rng=np.random.default_rng(0))
    assert (noisy.chosen != 4).any()
    quiet = gumbel_search(
        root, bandit_fn(rewards), config, gumbel, rng=np.random.default_rng(0), noise_scale=0.0
    )
    plain = gumbel_search(root, bandit_fn(rewards), config, gumbel, add_exploration_noise=False)
    np.testing.assert_array_equal(quiet.chosen, plain.chosen)
    for bad in (-0.5, float("nan")):
        with pytest.raises(ValueError, match="noise scale"):
            gumbel_search(
                root, bandit_fn(rewards), config, gumbel,
                rng=np.random.default_rng(0), noise_scale=bad,
            )  # fmt: skip
