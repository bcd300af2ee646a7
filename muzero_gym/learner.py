"""The learner: one gradient step on replay, with Reanalyze (MuZero Reanalyze, Appendix H).

A step samples a batch of positions with their K-step targets (:mod:`muzero_gym.replay`),
bootstraps the value targets of a ``reanalyze_ratio`` share of it from the latest (or
target) network instead of the stale search values, optionally re-searches their policy
targets, transforms positions by the game's symmetries if it has any
(:mod:`muzero_gym.symmetry`), computes the loss (:mod:`muzero_gym.losses`), steps the
optimiser and writes the new priorities back. It never touches an environment:
:class:`muzero_gym.MuZero` calls it between self-play steps.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from muzero_gym.losses import TrainingBatch, compute_loss
from muzero_gym.mcts import SearchResult
from muzero_gym.policies import MuZeroPolicy
from muzero_gym.replay import ReplayBuffer, ReplaySample
from muzero_gym.symmetry import Symmetry, augment

#: ``(observations [B, ...], legal actions [B, mask_dim] or None) -> SearchResult``, a
#: search without exploration noise (for Reanalyze of policy targets).
SearchFn = Callable[[np.ndarray, np.ndarray | None], SearchResult]


@dataclass(frozen=True)
class LearnerConfig:
    """Settings of a gradient step (the MuZero arguments of the same names)."""

    batch_size: int
    unroll_steps: int
    td_steps: int
    discount: float
    priority_beta: float
    two_player: bool
    reanalyze_ratio: float
    reanalyze_policy: bool
    value_loss_weight: float
    reward_loss_weight: float
    consistency_loss_weight: float
    entropy_loss_weight: float
    max_grad_norm: float | None
    mixed_precision: bool
    symmetries: tuple[Symmetry, ...]
    use_target_network: bool
    symmetric_bootstrap: bool = False
    observation_loss_weight: float = 0.0


class Learner:
    """Gradient steps of ``policy`` on ``replay_buffer``.

    :param policy: the networks (and their optimiser)
    :param replay_buffer: where positions are sampled and priorities written
    :param config: settings of a step
    :param search_fn: a search without noise, to re-search policy targets
        (``config.reanalyze_policy``)
    :param device: where the batches go
    """

    def __init__(
        self,
        policy: MuZeroPolicy,
        replay_buffer: ReplayBuffer,
        config: LearnerConfig,
        search_fn: SearchFn,
        device: torch.device,
    ) -> None:
        self.policy = policy
        self.replay_buffer = replay_buffer
        self.config = config
        self.search_fn = search_fn
        self.device = device
        # EfficientZero's target network: reanalysed values bootstrap from a copy of the
        # networks refreshed by sync_target(), not from the networks being trained.
        self.target_policy = policy
        if config.use_target_network:
            self.target_policy = copy.deepcopy(policy)
            self.target_policy.set_training_mode(False)

    def sync_target(self) -> None:
        """Copy the trained networks into the target networks (if they are separate)."""
        if self.target_policy is not self.policy:
            self.target_policy.load_state_dict(self.policy.state_dict())

    def step(self, rng: np.random.Generator) -> dict[str, float]:
        """One gradient step; returns the mean of each loss term."""
        config = self.config
        sample = self.replay_buffer.sample(
            config.batch_size,
            config.unroll_steps,
            config.td_steps,
            config.discount,
            rng,
            priority_beta=config.priority_beta,
            two_player=config.two_player,
        )
        self.policy.set_training_mode(False)
        bootstrap = self._reanalyze(sample)
        targets = sample.value_prefix + sample.bootstrap_scale * bootstrap
        next_observations = self._next_observations(sample)
        sample, next_observations = augment(sample, next_observations, config.symmetries, rng)
        batch = self._training_batch(sample, targets, next_observations)
        self.policy.set_training_mode(True)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=config.mixed_precision):
            loss, info, predicted = compute_loss(
                self.policy,
                batch,
                config.value_loss_weight,
                config.consistency_loss_weight,
                config.entropy_loss_weight,
                config.reward_loss_weight,
                config.observation_loss_weight,
            )
        self.policy.optimizer.zero_grad()
        loss.backward()
        if config.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.policy.parameters(), config.max_grad_norm)
        self.policy.optimizer.step()
        errors = np.abs(predicted.cpu().numpy() - targets[:, 0])
        self.replay_buffer.update_priorities(sample.slots, errors)
        return info

    def _reanalyze(self, sample: ReplaySample) -> np.ndarray:
        """Bootstrap values ``[B, K+1]``: fresh network values for a ``reanalyze_ratio``
        share of the batch, stored search values for the rest."""
        values = self.replay_buffer.stored_bootstrap_values(sample)
        rows = int(round(self.config.reanalyze_ratio * len(sample.slots)))
        if rows == 0:
            return values
        slots = sample.bootstrap_slots[:rows]
        has_slot = slots >= 0
        if has_slot.any():
            observations = self.replay_buffer.observations[slots[has_slot]]
            images = [observations]
            if self.config.symmetric_bootstrap:  # the mean over the position's orientations
                images += [s.observation(observations) for s in self.config.symmetries]
            stacked = np.concatenate(images) if len(images) > 1 else observations
            obs = torch.as_tensor(stacked, device=self.device)
            with torch.no_grad():
                fresh = self.target_policy.value_of(obs).cpu().numpy()
            fresh = fresh.reshape(len(images), len(observations)).mean(axis=0)
            head = values[:rows]
            head[has_slot] = fresh
        if self.config.reanalyze_policy:
            self._reanalyze_policies(sample, rows)
        return values

    def _reanalyze_policies(self, sample: ReplaySample, rows: int) -> None:
        """Replace the policy targets of the first ``rows`` positions by a fresh search."""
        slots = sample.unroll_slots[:rows]
        present = slots >= 0
        flat = slots[present]
        if flat.size == 0:
            return
        result = self.search_fn(
            self.replay_buffer.observations[flat], self.replay_buffer.legal_actions[flat]
        )
        head = sample.target_policies[:rows]
        head[present] = result.policy_target
        if sample.target_candidates is not None and result.candidates is not None:
            sample.target_candidates[:rows][present] = result.candidates

    def _next_observations(self, sample: ReplaySample) -> np.ndarray | None:
        """The real observations ``[B, K, ...]`` after each unrolled move, for the
        consistency and observation losses (``None`` without them)."""
        wanted = self.config.consistency_loss_weight > 0 or self.config.observation_loss_weight > 0
        if wanted and self.config.unroll_steps > 0:
            slots = np.maximum(sample.unroll_slots[:, 1:], 0)  # masked where missing
            return self.replay_buffer.observations[slots]
        return None

    def _training_batch(
        self,
        sample: ReplaySample,
        targets: np.ndarray,
        next_observations: np.ndarray | None = None,
    ) -> TrainingBatch:
        """The sample, its value targets and the next observations as tensors on the
        device."""

        def tensor(x: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
            return torch.as_tensor(x, device=self.device).to(dtype)

        discrete = np.issubdtype(self.replay_buffer.action_spec.dtype, np.integer)
        action_dtype = torch.long if discrete else torch.float32
        candidates = None
        if sample.target_candidates is not None:
            candidates = tensor(sample.target_candidates, action_dtype)
        return TrainingBatch(
            observations=torch.as_tensor(sample.observations, device=self.device),
            actions=tensor(sample.actions, action_dtype),
            target_values=tensor(targets),
            value_mask=tensor(sample.value_mask),
            target_rewards=tensor(sample.target_rewards),
            reward_mask=tensor(sample.reward_mask),
            target_policies=tensor(sample.target_policies),
            policy_mask=tensor(sample.policy_mask),
            weights=tensor(sample.weights),
            next_observations=None
            if next_observations is None
            else torch.as_tensor(next_observations, device=self.device),
            target_candidates=candidates,
        )
