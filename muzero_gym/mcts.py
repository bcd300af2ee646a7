"""Batched Monte-Carlo tree search of MuZero (Appendix B), as a pure function.

The search runs over a batch of ``B`` roots at once. Each tree is preallocated as arrays
indexed ``[B, N]`` (nodes) and ``[B, N, A]`` (edges), with ``N = num_simulations + 1``:
node 0 is the root and simulation ``s`` creates node ``s + 1`` in every tree, so the
hidden states of all trees can be kept in one tensor ``[N, B, ...]``. A simulation is:

1. ``_select`` (numba): walk each tree from its root by pUCT until an unexpanded edge;
2. one batched ``recurrent_fn(embeddings [B, ...], actions [B])`` for the whole batch;
3. ``_expand_and_backup`` (numba): add the new nodes, back the values up the paths and
   update the per-tree min-max statistics.

Tree bookkeeping is compiled with numba (loops over a path are inherently sequential,
so numpy vectorisation would need a Python loop per depth level); the only per-simulation
Python work is two kernel calls, one network call and a gather of parent hidden states.

Conventions (``two_player=True`` for alternating zero-sum games):

* ``reward`` of a node is the reward received, on the edge into it, by the player who
  chose that edge;
* ``value`` of a node is the expected return of the player to move at that node;
* so ``Q(s, a) = r(s, a) + discount * sign * V(child)`` with ``sign = -1`` when players
  alternate and ``+1`` otherwise.

The search never sees an environment, a device or a network module: the network enters
as ``recurrent_fn`` and the hidden states are opaque tensors that are only indexed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np
import torch

UNVISITED = -1


@dataclass(frozen=True)
class SearchConfig:
    """Constants of the search.

    :param num_simulations: simulations per search (the paper uses 50 for Atari, 800 for
        board games)
    :param discount: discount applied on each edge of the tree
    :param pb_c_base: c2 of pUCT, 19652 in Appendix B
    :param pb_c_init: c1 of pUCT, 1.25 in Appendix B
    :param dirichlet_alpha: concentration of the root noise (0.25 for Atari, 0.3 chess)
    :param root_exploration_fraction: weight of the root noise, 0.25 in Appendix C
    :param two_player: values alternate sign between plies (zero-sum, alternating turns)
    """

    num_simulations: int = 50
    discount: float = 0.997
    pb_c_base: float = 19652.0
    pb_c_init: float = 1.25
    dirichlet_alpha: float = 0.25
    root_exploration_fraction: float = 0.25
    two_player: bool = False

    def __post_init__(self) -> None:
        if self.num_simulations < 1:
            raise ValueError(f"num_simulations must be >= 1, got {self.num_simulations}")
        if not 0.0 < self.discount <= 1.0:
            raise ValueError(f"discount must be in (0, 1], got {self.discount}")
        if self.dirichlet_alpha <= 0.0:
            raise ValueError(f"dirichlet_alpha must be > 0, got {self.dirichlet_alpha}")
        if not 0.0 <= self.root_exploration_fraction <= 1.0:
            raise ValueError(
                f"root_exploration_fraction must be in [0, 1], got {self.root_exploration_fraction}"
            )


class RootOutput(NamedTuple):
    """Initial inference at the roots.

    With sampled actions (Sampled MuZero), the ``A`` edges of a node are slots holding
    the actions sampled there: ``candidates[b, i]`` is the action of slot ``i``,
    ``prior_logits`` the log of the corrected prior over the slots and ``candidate_mask``
    marks the slots in use (duplicates merged). Without candidates, slot ``i`` is action ``i``.
    """

    value: np.ndarray  # [B]
    prior_logits: np.ndarray  # [B, A]
    embedding: torch.Tensor  # [B, ...]
    candidates: np.ndarray | None = None  # [B, A, ...] action of each slot
    candidate_mask: np.ndarray | None = None  # [B, A] bool, slots in use


class RecurrentOutput(NamedTuple):
    """Recurrent inference for one batched step of the model (fields as in RootOutput)."""

    reward: np.ndarray  # [B]
    value: np.ndarray  # [B]
    prior_logits: np.ndarray  # [B, A]
    embedding: torch.Tensor  # [B, ...]
    candidates: np.ndarray | None = None  # [B, A, ...]
    candidate_mask: np.ndarray | None = None  # [B, A] bool


#: ``(embeddings [B, ...], actions) -> RecurrentOutput``; ``actions`` are slot indices
#: ``[B]``, or the candidate actions ``[B, ...]`` of the chosen slots when the roots
#: came with candidates.
RecurrentFn = Callable[[torch.Tensor, np.ndarray], RecurrentOutput]


class SearchResult(NamedTuple):
    """What a search returns for each root."""

    visit_counts: np.ndarray  # [B, A] visits of the root's children
    root_value: np.ndarray  # [B] mean value at the root, from the mover's view
    q_values: np.ndarray  # [B, A] Q of the root's children (0 where unvisited)
    prior: np.ndarray  # [B, A] root prior after masking and noise
    policy_target: np.ndarray  # [B, A] what the policy is trained towards
    candidates: np.ndarray | None = None  # [B, A, ...] actions of the root's slots
    chosen: np.ndarray | None = None  # [B] slot the search itself picks (Gumbel), if any


@numba.njit(cache=True)
def _select(
    children: np.ndarray,  # [B, N, A] int32
    visits: np.ndarray,  # [B, N] int32
    value_sum: np.ndarray,  # [B, N] float64
    rewards: np.ndarray,  # [B, N] float64
    priors: np.ndarray,  # [B, N, A] float64
    legal: np.ndarray,  # [B, N, A] bool
    min_q: np.ndarray,  # [B]
    max_q: np.ndarray,  # [B]
    pb_c_base: float,
    pb_c_init: float,
    discount: float,
    sign: float,
    out_node: np.ndarray,  # [B] int64
    out_action: np.ndarray,  # [B] int64
) -> None:
    batch, _, num_actions = children.shape
    for b in range(batch):
        node = 0
        while True:
            parent_visits = visits[b, node]
            pb_c = (np.log((parent_visits + pb_c_base + 1.0) / pb_c_base) + pb_c_init) * np.sqrt(
                parent_visits
            )
            # Unvisited children are valued at the parent's mean value ("first-play
            # urgency"): neither optimistic nor the pessimism of a normalised 0.
            parent_q = value_sum[b, node] / max(parent_visits, 1)
            spread = max_q[b] - min_q[b]
            best_score = -np.inf
            best_action = -1
            for a in range(num_actions):
                if not legal[b, node, a]:
                    continue
                child = children[b, node, a]
                if child == UNVISITED:
                    q = parent_q
                    child_visits = 0
                else:
                    child_visits = visits[b, child]
                    q = rewards[b, child] + discount * sign * value_sum[b, child] / child_visits
                if spread > 0.0:
                    q = (q - min_q[b]) / spread
                score = q + priors[b, node, a] * pb_c / (1.0 + child_visits)
                if score > best_score:
                    best_score = score
                    best_action = a
            child = children[b, node, best_action]
            if child == UNVISITED:
                out_node[b] = node
                out_action[b] = best_action
                break
            node = child


@numba.njit(cache=True)
def _expand_and_backup(
    children: np.ndarray,  # [B, N, A]
    parents: np.ndarray,  # [B, N]
    visits: np.ndarray,  # [B, N]
    value_sum: np.ndarray,  # [B, N]
    rewards: np.ndarray,  # [B, N]
    priors: np.ndarray,  # [B, N, A]
    min_q: np.ndarray,  # [B]
    max_q: np.ndarray,  # [B]
    new_node: int,
    parent_nodes: np.ndarray,  # [B]
    actions: np.ndarray,  # [B]
    leaf_reward: np.ndarray,  # [B]
    leaf_value: np.ndarray,  # [B]
    leaf_logits: np.ndarray,  # [B, A]
    discount: float,
    sign: float,
) -> None:
    batch, _, num_actions = children.shape
    for b in range(batch):
        parent = parent_nodes[b]
        children[b, parent, actions[b]] = new_node
        parents[b, new_node] = parent
        rewards[b, new_node] = leaf_reward[b]
        top = leaf_logits[b, 0]
        for a in range(1, num_actions):
            top = max(top, leaf_logits[b, a])
        total = 0.0
        for a in range(num_actions):
            p = np.exp(leaf_logits[b, a] - top)
            priors[b, new_node, a] = p
            total += p
        for a in range(num_actions):
            priors[b, new_node, a] /= total
        value = leaf_value[b]
        node = new_node
        while True:
            value_sum[b, node] += value
            visits[b, node] += 1
            if node == 0:
                break
            q = rewards[b, node] + discount * sign * value_sum[b, node] / visits[b, node]
            min_q[b] = min(min_q[b], q)
            max_q[b] = max(max_q[b], q)
            value = rewards[b, node] + discount * sign * value
            node = parents[b, node]


def _masked_softmax(logits: np.ndarray, legal: np.ndarray) -> np.ndarray:
    masked = np.where(legal, logits, -np.inf)
    masked = masked - masked.max(axis=-1, keepdims=True)
    probs = np.exp(masked)
    return probs / probs.sum(axis=-1, keepdims=True)


def root_legal_mask(root: RootOutput, legal_actions: np.ndarray | None) -> np.ndarray:
    """Legal slots ``[B, A]`` at the roots: the given mask, and the slots in use."""
    batch, num_actions = np.shape(root.prior_logits)
    if legal_actions is None:
        legal = np.ones((batch, num_actions), dtype=np.bool_)
    else:
        legal = np.asarray(legal_actions, dtype=np.bool_).reshape(batch, num_actions)
    if root.candidate_mask is not None:
        legal = legal & np.asarray(root.candidate_mask, dtype=np.bool_)
    if not legal.any(axis=1).all():
        empty = np.flatnonzero(~legal.any(axis=1)).tolist()
        raise ValueError(f"No legal action at roots {empty}: every root needs one")
    return legal


class Tree:
    """A batch of ``B`` search trees held in arrays, with their hidden states.

    Node 0 is the root; :meth:`add` creates node ``s + 1`` in every tree at simulation
    ``s``. Searches (pUCT here, Gumbel in :mod:`muzero_gym.gumbel`) differ only in how
    they pick the edge to expand; the storage, expansion and backup are shared.

    :param root: initial inference at the roots
    :param num_simulations: simulations the tree has room for
    :param legal: ``[B, A]`` legal slots at the roots
    :param prior: ``[B, A]`` root prior (after masking and noise)
    :param discount: discount on each edge
    :param two_player: values alternate sign between plies
    """

    def __init__(
        self,
        root: RootOutput,
        num_simulations: int,
        legal: np.ndarray,
        prior: np.ndarray,
        discount: float,
        two_player: bool,
    ) -> None:
        batch, num_actions = prior.shape
        num_nodes = num_simulations + 1
        self.discount = discount
        self.sign = -1.0 if two_player else 1.0
        self.children = np.full((batch, num_nodes, num_actions), UNVISITED, dtype=np.int32)
        self.parents = np.full((batch, num_nodes), UNVISITED, dtype=np.int32)
        self.visits = np.zeros((batch, num_nodes), dtype=np.int32)
        self.value_sum = np.zeros((batch, num_nodes), dtype=np.float64)
        self.rewards = np.zeros((batch, num_nodes), dtype=np.float64)
        self.priors = np.zeros((batch, num_nodes, num_actions), dtype=np.float64)
        self.legal = np.ones((batch, num_nodes, num_actions), dtype=np.bool_)
        self.min_q = np.full(batch, np.inf)
        self.max_q = np.full(batch, -np.inf)
        # The root counts its own network value as one visit (as mctx does), so that the
        # first selection already weighs the prior by sqrt(N) > 0.
        self.visits[:, 0] = 1
        self.value_sum[:, 0] = np.asarray(root.value, dtype=np.float64)
        self.priors[:, 0] = prior
        self.legal[:, 0] = legal
        embedding = root.embedding
        self.storage = embedding.new_empty((num_nodes, batch, *embedding.shape[1:]))
        self.storage[0] = embedding
        self.candidates: np.ndarray | None = None
        if root.candidates is not None:
            cand = np.asarray(root.candidates)
            self.candidates = np.empty((num_nodes, *cand.shape), dtype=cand.dtype)
            self.candidates[0] = cand
        self._batch_index = torch.arange(batch, device=embedding.device)
        self._rows = np.arange(batch)

    def step(
        self,
        simulation: int,
        parent_nodes: np.ndarray,
        slots: np.ndarray,
        recurrent_fn: RecurrentFn,
    ) -> None:
        """Expand edge ``slots`` of ``parent_nodes`` (one per tree) and back the values up."""
        index = torch.from_numpy(parent_nodes).to(self.storage.device)
        parent_embedding = self.storage[index, self._batch_index]
        if self.candidates is None:
            actions = slots
        else:
            actions = self.candidates[parent_nodes, self._rows, slots]
        out = recurrent_fn(parent_embedding, actions)
        new_node = simulation + 1
        self.storage[new_node] = out.embedding
        if self.candidates is not None:
            if out.candidates is None:
                raise ValueError("recurrent_fn must return candidates when the roots have them")
            self.candidates[new_node] = out.candidates
        if out.candidate_mask is not None:
            self.legal[:, new_node] = out.candidate_mask
        _expand_and_backup(
            self.children, self.parents, self.visits, self.value_sum, self.rewards,
            self.priors, self.min_q, self.max_q, new_node, parent_nodes, slots,
            np.asarray(out.reward, dtype=np.float64),
            np.asarray(out.value, dtype=np.float64),
            np.asarray(out.prior_logits, dtype=np.float64),
            self.discount, self.sign,
        )  # fmt: skip
        # A slot out of use at the new node gets no prior (its logit may be anything).
        if out.candidate_mask is not None:
            self.priors[:, new_node] *= out.candidate_mask
            total = self.priors[:, new_node].sum(axis=1, keepdims=True)
            self.priors[:, new_node] /= np.maximum(total, 1e-300)

    def root_statistics(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(visit counts [B, A], Q values [B, A], root value [B])`` of the roots."""
        root_children = self.children[:, 0, :]
        visited = root_children != UNVISITED
        safe = np.where(visited, root_children, 0)
        rows = self._rows[:, None]
        child_visits = self.visits[rows, safe]
        visit_counts = np.where(visited, child_visits, 0)
        q_values = np.where(
            visited,
            self.rewards[rows, safe]
            + self.discount * self.sign * self.value_sum[rows, safe] / np.maximum(child_visits, 1),
            0.0,
        )
        root_value = self.value_sum[:, 0] / self.visits[:, 0]
        return visit_counts, q_values, root_value


def search(
    root: RootOutput,
    recurrent_fn: RecurrentFn,
    config: SearchConfig,
    *,
    legal_actions: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    add_exploration_noise: bool = True,
) -> SearchResult:
    """Run ``config.num_simulations`` simulations from a batch of roots.

    :param root: values ``[B]``, prior logits ``[B, A]`` and hidden states ``[B, ...]``
        of the roots (and their sampled candidate actions, if any)
    :param recurrent_fn: ``(embeddings [B, ...], actions) -> RecurrentOutput``, one
        batched call per simulation
    :param config: search constants
    :param legal_actions: ``[B, A]`` bool, legal moves at the roots (all legal if None);
        illegal moves get zero prior and are never visited. Interior nodes are not masked
        (the model learns which moves are possible, Appendix B), except for the slots
        out of use of sampled candidates.
    :param rng: source of the Dirichlet root noise
    :param add_exploration_noise: mix Dirichlet noise into the root prior (self-play);
        off for evaluation
    :return: visit counts, root values, root Q values, the root prior used and the
        visit distribution as policy target
    """
    prior_logits = np.asarray(root.prior_logits, dtype=np.float64)
    batch, num_actions = prior_logits.shape
    legal = root_legal_mask(root, legal_actions)
    prior = _masked_softmax(prior_logits, legal)
    if add_exploration_noise and config.root_exploration_fraction > 0.0:
        if rng is None:
            raise ValueError("search needs an rng to add Dirichlet root noise")
        # Dirichlet(alpha) over the legal moves, drawn as normalised Gamma(alpha) samples.
        noise = rng.gamma(config.dirichlet_alpha, size=(batch, num_actions)) * legal
        noise_total = noise.sum(axis=1, keepdims=True)
        noise = np.where(noise_total > 0, noise / np.maximum(noise_total, 1e-300), prior)
        fraction = config.root_exploration_fraction
        prior = (1.0 - fraction) * prior + fraction * noise

    tree = Tree(root, config.num_simulations, legal, prior, config.discount, config.two_player)
    parent_nodes = np.zeros(batch, dtype=np.int64)
    slots = np.zeros(batch, dtype=np.int64)
    for simulation in range(config.num_simulations):
        _select(
            tree.children, tree.visits, tree.value_sum, tree.rewards, tree.priors, tree.legal,
            tree.min_q, tree.max_q, config.pb_c_base, config.pb_c_init, config.discount,
            tree.sign, parent_nodes, slots,
        )  # fmt: skip
        tree.step(simulation, parent_nodes, slots, recurrent_fn)

    visit_counts, q_values, root_value = tree.root_statistics()
    visits = visit_counts.astype(np.float64)
    policy_target = visits / np.maximum(visits.sum(axis=1, keepdims=True), 1.0)
    return SearchResult(
        visit_counts, root_value, q_values, prior, policy_target, root.candidates, None
    )


def visit_policy(visit_counts: np.ndarray, temperature: float) -> np.ndarray:
    """Visit counts ``[B, A]`` turned into action probabilities at ``temperature``.

    Temperature 0 puts all mass on the most visited action (ties split evenly).
    """
    counts = np.asarray(visit_counts, dtype=np.float64)
    if temperature <= 0.0:
        best = counts == counts.max(axis=1, keepdims=True)
        return best / best.sum(axis=1, keepdims=True)
    # Normalise before the power so that large counts at small temperature don't overflow.
    scaled = (counts / np.maximum(counts.max(axis=1, keepdims=True), 1.0)) ** (1.0 / temperature)
    total = scaled.sum(axis=1, keepdims=True)
    return np.where(total > 0, scaled / np.maximum(total, 1e-300), 1.0 / counts.shape[1])


def select_actions(
    visit_counts: np.ndarray,
    temperature: float,
    rng: np.random.Generator,
    deterministic: bool = False,
) -> np.ndarray:
    """Actions ``[B]``: the most visited child, or a sample from the visit distribution."""
    if deterministic:
        return np.asarray(visit_counts).argmax(axis=1)
    probs = visit_policy(visit_counts, temperature)
    cumulative = probs.cumsum(axis=1)
    draws = rng.random((probs.shape[0], 1)) * cumulative[:, -1:]
    return np.minimum((cumulative <= draws).sum(axis=1), probs.shape[1] - 1)
