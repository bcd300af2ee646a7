"""Gumbel MuZero's search (Danihelka et al. 2022, "Policy improvement by planning with
Gumbel"), batched over ``B`` trees like :func:`muzero_gym.mcts.search`.

It shares the tree of :mod:`muzero_gym.mcts` (:class:`~muzero_gym.mcts.Tree`: storage,
expansion, backup, min-max statistics) and differs only in how an edge is picked:

* **Root** (Sections 3-4): Gumbel-top-k picks the ``m`` slots with the largest
  ``g + logits`` (``g ~ Gumbel(0, 1)`` in self-play, ``g = 0`` in evaluation), then
  Sequential Halving spreads ``num_simulations`` over them in phases, keeping the better
  half by ``g + logits + sigma(completed_q)`` after each. As in mctx, it is driven by a
  table of "considered visits": at simulation ``s`` the root visits the best considered
  slot whose visit count equals ``table[m][s]`` (:func:`considered_visits_table`).
* **Interior nodes** (Section 5): the deterministic rule
  ``argmax_a pi'(a) - N(a) / (1 + sum_b N(b))`` with the improved policy
  ``pi' = softmax(logits + sigma(completed_q))`` over the node's legal slots.
* **Result**: the improved policy at the root is the policy target, and the action is the
  best of the most visited considered slots by ``g + logits + sigma(completed_q)``.

``sigma(q) = (c_visit + max_b N(b)) * c_scale * q_hat`` (Appendix D, eq. 8), with ``q_hat``
the node's completed Q rescaled to [0, 1] over its legal slots (as mctx's
``qtransform_completed_by_mix_value`` does; a tree-wide min-max, as pUCT uses, let the
spread of values across depths flatten the differences between a node's children). The
completed Q (Appendix D, eq. 10-11) takes the Q of the visited children,
``r + discount * sign * mean value``, and for the unvisited ones the mixed value
``v_mix = (v_hat + sum N / sum_{b visited} pi(b) * sum_{a visited} pi(a) q(a))
/ (1 + sum N)``, where ``pi`` is the node's prior and ``v_hat`` its network value. ``v_hat``
is kept in its own array ``[B, N]``: the root's value, and for a node created at
simulation ``s`` the value backed up into it then (its only visit so far), read right
after the expansion. Values are from the view of the player to move, as in mcts.py.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numba
import numpy as np

from muzero_gym.mcts import (
    UNVISITED,
    RecurrentFn,
    RootOutput,
    SearchConfig,
    SearchResult,
    Tree,
    _masked_softmax,
    root_legal_mask,
)

# Smallest spread of a node's completed Q values that is rescaled (mctx's epsilon).
_RESCALE_EPSILON = 1e-8
# Floor for the prior inside the kernels, so that log() and the v_mix weights stay finite.
_TINY = np.finfo(np.float64).tiny


@dataclass(frozen=True)
class GumbelConfig:
    """Constants of Gumbel MuZero's search.

    :param max_considered_actions: ``m``, slots sampled at the root by Gumbel-top-k
        (16 in the paper's Go and Atari experiments)
    :param c_visit: ``c_visit`` of the transformation ``sigma`` (50, Appendix D)
    :param c_scale: ``c_scale`` of ``sigma`` (0.1 in the paper, 1.0 for Go)
    """

    max_considered_actions: int = 16
    c_visit: float = 50.0
    c_scale: float = 0.1

    def __post_init__(self) -> None:
        if self.max_considered_actions < 1:
            raise ValueError(
                f"max_considered_actions must be >= 1, got {self.max_considered_actions}"
            )
        if self.c_visit < 0.0:
            raise ValueError(f"c_visit must be >= 0, got {self.c_visit}")
        if self.c_scale <= 0.0:
            raise ValueError(f"c_scale must be > 0, got {self.c_scale}")


def _considered_visits(num_considered: int, num_simulations: int) -> list[int]:
    """Visit count each considered slot must have before its next visit, per simulation."""
    if num_considered <= 1:
        return list(range(num_simulations))  # one slot takes every visit
    log2_max = math.ceil(math.log2(num_considered))
    sequence: list[int] = []
    visits = [0] * num_considered
    considered = num_considered
    while len(sequence) < num_simulations:
        # Each of the log2(m) phases gets about n / log2(m) simulations, spread evenly over
        # the slots still considered (at least one round each).
        rounds = max(1, int(num_simulations / (log2_max * considered)))
        for _ in range(rounds):
            sequence.extend(visits[:considered])
            for i in range(considered):
                visits[i] += 1
        considered = max(2, considered // 2)
    return sequence[:num_simulations]


@functools.lru_cache(maxsize=64)
def considered_visits_table(max_considered_actions: int, num_simulations: int) -> np.ndarray:
    """Sequential Halving's schedule ``[m + 1, n]``: row ``k`` is for ``k`` considered slots.

    ``table[k, s]`` is the visit count that the slot visited at simulation ``s`` has just
    before that visit; the root picks the best considered slot with exactly that count.
    Read-only (cached).
    """
    table = np.array(
        [_considered_visits(k, num_simulations) for k in range(max_considered_actions + 1)],
        dtype=np.int64,
    ).reshape(max_considered_actions + 1, num_simulations)
    table.flags.writeable = False
    return table


@numba.njit(cache=True, inline="always")
def _sigma_completed_q(
    children: np.ndarray,  # [B, N, A] int32
    visits: np.ndarray,  # [B, N] int32
    value_sum: np.ndarray,  # [B, N]
    rewards: np.ndarray,  # [B, N]
    priors: np.ndarray,  # [B, N, A]
    legal: np.ndarray,  # [B, N, A] bool
    raw_values: np.ndarray,  # [B, N] v_hat
    discount: float,
    sign: float,
    c_visit: float,
    c_scale: float,
    b: int,
    node: int,
    out_sigma: np.ndarray,  # [A] sigma(completed Q), 0 on illegal slots
    out_visits: np.ndarray,  # [A] child visit counts
) -> int:
    """Fill ``out_sigma`` and ``out_visits`` for one node; return the sum of child visits."""
    num_actions = children.shape[2]
    sum_visits = 0
    max_visits = 0
    visited_prior = 0.0
    weighted_q = 0.0
    for a in range(num_actions):
        out_visits[a] = 0
        out_sigma[a] = 0.0
        if not legal[b, node, a]:
            continue
        child = children[b, node, a]
        if child == UNVISITED:
            continue
        n = visits[b, child]
        q = rewards[b, child] + discount * sign * value_sum[b, child] / n
        out_visits[a] = n
        out_sigma[a] = q
        sum_visits += n
        max_visits = max(max_visits, n)
        p = max(priors[b, node, a], _TINY)
        visited_prior += p
        weighted_q += p * q
    v_mix = raw_values[b, node]
    if sum_visits > 0:
        v_mix = (v_mix + sum_visits * weighted_q / visited_prior) / (1.0 + sum_visits)
    # Completed Q, rescaled to [0, 1] over this node's legal slots (as mctx does).
    low = np.inf
    high = -np.inf
    for a in range(num_actions):
        if not legal[b, node, a]:
            continue
        if out_visits[a] == 0:
            out_sigma[a] = v_mix
        low = min(low, out_sigma[a])
        high = max(high, out_sigma[a])
    spread = max(high - low, _RESCALE_EPSILON)
    scale = (c_visit + max_visits) * c_scale
    for a in range(num_actions):
        if legal[b, node, a]:
            out_sigma[a] = scale * (out_sigma[a] - low) / spread
    return sum_visits


@numba.njit(cache=True)
def _gumbel_select(
    children: np.ndarray,  # [B, N, A] int32
    visits: np.ndarray,  # [B, N] int32
    value_sum: np.ndarray,  # [B, N]
    rewards: np.ndarray,  # [B, N]
    priors: np.ndarray,  # [B, N, A]
    legal: np.ndarray,  # [B, N, A] bool
    raw_values: np.ndarray,  # [B, N]
    root_scores: np.ndarray,  # [B, A] g + logits at the root
    considered: np.ndarray,  # [B, A] bool, the Gumbel-top-m slots
    target_visits: np.ndarray,  # [B] int64, table[m_b, simulation]
    discount: float,
    sign: float,
    c_visit: float,
    c_scale: float,
    out_node: np.ndarray,  # [B] int64
    out_slot: np.ndarray,  # [B] int64
) -> None:
    batch, _, num_actions = children.shape
    sigma = np.empty(num_actions)
    child_visits = np.empty(num_actions, dtype=np.int64)
    for b in range(batch):
        # Root: Sequential Halving, among the considered slots due for a visit.
        _sigma_completed_q(
            children, visits, value_sum, rewards, priors, legal, raw_values,
            discount, sign, c_visit, c_scale, b, 0, sigma, child_visits,
        )  # fmt: skip
        best_score = -np.inf
        best = -1
        fallback = -1  # the table always has a slot due; this only guards against misuse
        for a in range(num_actions):
            if not considered[b, a]:
                continue
            score = root_scores[b, a] + sigma[a]
            if fallback == -1 or child_visits[a] < child_visits[fallback]:
                fallback = a
            if child_visits[a] == target_visits[b] and score > best_score:
                best_score = score
                best = a
        if best == -1:
            best = fallback
        node = 0
        while children[b, node, best] != UNVISITED:
            node = children[b, node, best]
            # Interior: deterministic selection, matching visits to the improved policy.
            sum_visits = _sigma_completed_q(
                children, visits, value_sum, rewards, priors, legal, raw_values,
                discount, sign, c_visit, c_scale, b, node, sigma, child_visits,
            )  # fmt: skip
            # pi' = softmax(log prior + sigma), computed as prior * exp(sigma - max sigma).
            top = -np.inf
            for a in range(num_actions):
                if legal[b, node, a]:
                    top = max(top, sigma[a])
            total = 0.0
            for a in range(num_actions):
                if legal[b, node, a]:
                    sigma[a] = priors[b, node, a] * np.exp(sigma[a] - top)
                    total += sigma[a]
            best_score = -np.inf
            best = -1
            for a in range(num_actions):
                if not legal[b, node, a]:
                    continue
                score = sigma[a] / total - child_visits[a] / (1.0 + sum_visits)
                if score > best_score:
                    best_score = score
                    best = a
        out_node[b] = node
        out_slot[b] = best


@numba.njit(cache=True)
def _root_result(
    children: np.ndarray,  # [B, N, A] int32
    visits: np.ndarray,  # [B, N] int32
    value_sum: np.ndarray,  # [B, N]
    rewards: np.ndarray,  # [B, N]
    priors: np.ndarray,  # [B, N, A]
    legal: np.ndarray,  # [B, N, A] bool
    raw_values: np.ndarray,  # [B, N]
    root_logits: np.ndarray,  # [B, A]
    root_scores: np.ndarray,  # [B, A] g + logits
    considered: np.ndarray,  # [B, A] bool
    discount: float,
    sign: float,
    c_visit: float,
    c_scale: float,
    out_policy: np.ndarray,  # [B, A] improved policy
    out_chosen: np.ndarray,  # [B] int64
) -> None:
    batch, _, num_actions = children.shape
    sigma = np.empty(num_actions)
    child_visits = np.empty(num_actions, dtype=np.int64)
    for b in range(batch):
        _sigma_completed_q(
            children, visits, value_sum, rewards, priors, legal, raw_values,
            discount, sign, c_visit, c_scale, b, 0, sigma, child_visits,
        )  # fmt: skip
        most = -1
        for a in range(num_actions):
            if considered[b, a]:
                most = max(most, child_visits[a])
        best_score = -np.inf
        best = -1
        top = -np.inf
        for a in range(num_actions):
            if not legal[b, 0, a]:
                continue
            if considered[b, a] and child_visits[a] == most:
                score = root_scores[b, a] + sigma[a]
                if best == -1 or score > best_score:
                    best_score = score
                    best = a
            out_policy[b, a] = root_logits[b, a] + sigma[a]
            top = max(top, out_policy[b, a])
        total = 0.0
        for a in range(num_actions):
            if legal[b, 0, a]:
                out_policy[b, a] = np.exp(out_policy[b, a] - top)
                total += out_policy[b, a]
            else:
                out_policy[b, a] = 0.0
        for a in range(num_actions):
            out_policy[b, a] /= total
        out_chosen[b] = best


def gumbel_search(
    root: RootOutput,
    recurrent_fn: RecurrentFn,
    config: SearchConfig,
    gumbel: GumbelConfig = GumbelConfig(),  # noqa: B008 (frozen, so a safe default)
    *,
    legal_actions: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    add_exploration_noise: bool = True,
    noise_scale: float = 1.0,
) -> SearchResult:
    """Run ``config.num_simulations`` simulations of Gumbel MuZero from a batch of roots.

    :param root: values ``[B]``, prior logits ``[B, A]`` and hidden states ``[B, ...]``
        of the roots (and their sampled candidate actions, if any)
    :param recurrent_fn: ``(embeddings [B, ...], actions) -> RecurrentOutput``, one
        batched call per simulation
    :param config: search constants; only ``num_simulations``, ``discount`` and
        ``two_player`` are used (pUCT and Dirichlet constants are not)
    :param gumbel: constants of the Gumbel search
    :param legal_actions: ``[B, A]`` bool, legal moves at the roots (all legal if None);
        interior nodes are masked only by the ``candidate_mask`` of the model's outputs
    :param rng: source of the Gumbel noise at the roots
    :param add_exploration_noise: sample the root actions with Gumbel noise (self-play);
        off, the search is deterministic and ``chosen`` is its best action (evaluation)
    :param noise_scale: the Gumbel noise is multiplied by this (mctx's ``gumbel_scale``):
        ``chosen`` is then a sample of the improved policy at this temperature, 0 its best
        action
    :return: root visit counts, values and Q values, the masked prior, the improved policy
        ``softmax(logits + sigma(completed_q))`` as policy target and ``chosen [B]``, the
        slot Sequential Halving selects
    """
    logits = np.asarray(root.prior_logits, dtype=np.float64)  # [B, A]
    batch, num_actions = logits.shape
    legal = root_legal_mask(root, legal_actions)
    prior = _masked_softmax(logits, legal)
    if not (np.isfinite(noise_scale) and noise_scale >= 0):
        raise ValueError(f"the Gumbel noise scale must be a number >= 0, got {noise_scale}")
    if add_exploration_noise:
        if rng is None:
            raise ValueError("gumbel_search needs an rng to draw the Gumbel noise")
        noise = noise_scale * rng.gumbel(size=(batch, num_actions))
    else:
        noise = np.zeros((batch, num_actions))
    root_logits = np.where(legal, logits, -np.inf)
    root_scores = noise + root_logits
    # Gumbel-top-k: the m_b best slots by g + logits (ties to the lower slot).
    max_considered = min(gumbel.max_considered_actions, num_actions)
    num_considered = np.minimum(max_considered, legal.sum(axis=1))  # [B]
    order = np.argsort(-root_scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(num_actions)[None, :], axis=1)
    considered = (ranks < num_considered[:, None]) & legal
    table = considered_visits_table(max_considered, config.num_simulations)
    due = np.ascontiguousarray(table[num_considered].T)  # [n, B] visits of the slot due

    tree = Tree(root, config.num_simulations, legal, prior, config.discount, config.two_player)
    raw_values = np.zeros(tree.visits.shape)  # [B, N] v_hat of each node
    raw_values[:, 0] = tree.value_sum[:, 0]
    parent_nodes = np.zeros(batch, dtype=np.int64)
    slots = np.zeros(batch, dtype=np.int64)
    constants = (config.discount, tree.sign, gumbel.c_visit, gumbel.c_scale)
    for simulation in range(config.num_simulations):
        _gumbel_select(
            tree.children, tree.visits, tree.value_sum, tree.rewards, tree.priors, tree.legal,
            raw_values, root_scores, considered,
            due[simulation], *constants, parent_nodes, slots,
        )  # fmt: skip
        tree.step(simulation, parent_nodes, slots, recurrent_fn)
        # The new node's only visit so far is its own network value.
        raw_values[:, simulation + 1] = tree.value_sum[:, simulation + 1]

    policy_target = np.empty((batch, num_actions))
    chosen = np.empty(batch, dtype=np.int64)
    _root_result(
        tree.children, tree.visits, tree.value_sum, tree.rewards, tree.priors, tree.legal,
        raw_values, root_logits, root_scores, considered,
        *constants, policy_target, chosen,
    )  # fmt: skip
    visit_counts, q_values, root_value = tree.root_statistics()
    return SearchResult(
        visit_counts, root_value, q_values, prior, policy_target, root.candidates, chosen
    )
