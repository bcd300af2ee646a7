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
    """Initial inference at the roots."""

    value: np.ndarray  # [B]
    prior_logits: np.ndarray  # [B, A]
    embedding: torch.Tensor  # [B, ...]


class RecurrentOutput(NamedTuple):
    """Recurrent inference for one batched step of the model."""

    reward: np.ndarray  # [B]
    value: np.ndarray  # [B]
    prior_logits: np.ndarray  # [B, A]
    embedding: torch.Tensor  # [B, ...]


RecurrentFn = Callable[[torch.Tensor, np.ndarray], RecurrentOutput]


class SearchResult(NamedTuple):
    """What a search returns for each root."""

    visit_counts: np.ndarray  # [B, A] visits of the root's children
    root_value: np.ndarray  # [B] mean value at the root, from the mover's view
    q_values: np.ndarray  # [B, A] Q of the root's children (0 where unvisited)
    prior: np.ndarray  # [B, A] root prior after masking and noise


@numba.njit(cache=True)
def _select(
    children: np.ndarray,  # [B, N, A] int32
    visits: np.ndarray,  # [B, N] int32
    value_sum: np.ndarray,  # [B, N] float64
    rewards: np.ndarray,  # [B, N] float64
    priors: np.ndarray,  # [B, N, A] float64
    root_legal: np.ndarray,  # [B, A] bool
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
                if node == 0 and not root_legal[b, a]:
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
        of the roots
    :param recurrent_fn: ``(embeddings [B, ...], actions [B]) -> RecurrentOutput``, one
        batched call per simulation
    :param config: search constants
    :param legal_actions: ``[B, A]`` bool, legal moves at the roots (all legal if None);
        illegal moves get zero prior and are never visited. Interior nodes are not masked:
        the model learns which moves are possible (Appendix B).
    :param rng: source of the Dirichlet root noise
    :param add_exploration_noise: mix Dirichlet noise into the root prior (self-play);
        off for evaluation
    :return: visit counts, root values, root Q values and the root prior used
    """
    prior_logits = np.asarray(root.prior_logits, dtype=np.float64)
    batch, num_actions = prior_logits.shape
    if legal_actions is None:
        legal = np.ones((batch, num_actions), dtype=np.bool_)
    else:
        legal = np.asarray(legal_actions, dtype=np.bool_).reshape(batch, num_actions)
        if not legal.any(axis=1).all():
            empty = np.flatnonzero(~legal.any(axis=1)).tolist()
            raise ValueError(f"No legal action at roots {empty}: every root needs one")
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

    num_nodes = config.num_simulations + 1
    children = np.full((batch, num_nodes, num_actions), UNVISITED, dtype=np.int32)
    parents = np.full((batch, num_nodes), UNVISITED, dtype=np.int32)
    visits = np.zeros((batch, num_nodes), dtype=np.int32)
    value_sum = np.zeros((batch, num_nodes), dtype=np.float64)
    rewards = np.zeros((batch, num_nodes), dtype=np.float64)
    priors = np.zeros((batch, num_nodes, num_actions), dtype=np.float64)
    min_q = np.full(batch, np.inf)
    max_q = np.full(batch, -np.inf)
    # The root counts its own network value as one visit (as mctx does), so that the
    # first selection already weighs the prior by sqrt(N) > 0.
    visits[:, 0] = 1
    value_sum[:, 0] = np.asarray(root.value, dtype=np.float64)
    priors[:, 0] = prior

    embedding = root.embedding
    storage = embedding.new_empty((num_nodes, batch, *embedding.shape[1:]))  # [N, B, ...]
    storage[0] = embedding
    batch_index = torch.arange(batch, device=embedding.device)
    parent_nodes = np.zeros(batch, dtype=np.int64)
    actions = np.zeros(batch, dtype=np.int64)
    sign = -1.0 if config.two_player else 1.0
    for simulation in range(config.num_simulations):
        _select(
            children, visits, value_sum, rewards, priors, legal, min_q, max_q,
            config.pb_c_base, config.pb_c_init, config.discount, sign, parent_nodes, actions,
        )  # fmt: skip
        parent_embedding = storage[torch.from_numpy(parent_nodes).to(embedding.device), batch_index]
        out = recurrent_fn(parent_embedding, actions)
        new_node = simulation + 1
        storage[new_node] = out.embedding
        _expand_and_backup(
            children, parents, visits, value_sum, rewards, priors, min_q, max_q, new_node,
            parent_nodes, actions,
            np.asarray(out.reward, dtype=np.float64),
            np.asarray(out.value, dtype=np.float64),
            np.asarray(out.prior_logits, dtype=np.float64),
            config.discount, sign,
        )  # fmt: skip

    root_children = children[:, 0, :]  # [B, A]
    visited = root_children != UNVISITED
    safe = np.where(visited, root_children, 0)
    rows = np.arange(batch)[:, None]
    child_visits = visits[rows, safe]
    visit_counts = np.where(visited, child_visits, 0)
    q_values = np.where(
        visited,
        rewards[rows, safe]
        + config.discount * sign * value_sum[rows, safe] / np.maximum(child_visits, 1),
        0.0,
    )
    root_value = value_sum[:, 0] / visits[:, 0]
    return SearchResult(visit_counts, root_value, q_values, prior)


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
