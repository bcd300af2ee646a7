"""Replay of self-play trajectories with prioritised sampling and K-step unroll targets.

Transitions are kept in one ring of ``buffer_size`` slots (bounded memory), in the order
they were played. Each slot links to the next position of the same episode, so several
environments can write interleaved and an episode in progress can already be sampled.
Overwriting a slot only ever cuts an episode at its oldest end: every link points forward
in time, to a slot written later.

A slot ``t`` holds ``o_t`` (the observation searched), ``a_t``, ``u_{t+1}`` (the reward for
``a_t``), the search's root value and visit distribution at ``o_t``, the player to move
and the legal moves, and how the episode ends after this step (if it does).

Targets for the K unroll steps from a sampled position ``t`` (Appendix G):

* value at ``t+k``: ``z = sum_{i<n} gamma^i u_{t+k+i+1} + gamma^n v_{t+k+n}`` with
  ``n = td_steps``; no bootstrap past a termination (absorbing states are worth 0); past a
  truncation, or at the end of an episode still being played, the bootstrap moves to the
  last position stored (a shorter n-step return), so truncation is bootstrapped;
* reward at step ``k >= 1``: the reward for ``a_{t+k-1}``, 0 past a termination;
* policy at ``t+k``: the stored search policy (no policy loss beyond the episode): over
  all actions, or, with sampled actions, over the candidate actions stored with it;
* two-player games: rewards and values enter from the point of view of the player to
  move at ``t+k``.

Bootstrap values ``v`` are either the stored search values or, for Reanalyze, fresh
network values of the stored observations: :meth:`ReplayBuffer.sample` returns the
slots to bootstrap from and the learner chooses.
"""

from __future__ import annotations

import io
import pathlib
import zipfile
import zlib
from dataclasses import dataclass

import numba
import numpy as np

from muzero_gym.actions import ActionSpec, DiscreteActions
from muzero_gym.files import existing_file, with_default_suffix, write_atomically

NOT_ENDED, TERMINATED, TRUNCATED = 0, 1, 2

# What a saved buffer holds per slot (``candidates`` too when actions are sampled).
_SLOT_ARRAYS = (
    "observations", "actions", "rewards", "root_values", "policies", "to_play",
    "legal_actions", "next_slot", "end_kind", "priorities",
)  # fmt: skip
_FORMAT = "muzero-gym replay buffer"
_FORMAT_VERSION = 1


@dataclass
class ReplaySample:
    """A sampled batch of ``B`` positions with their K-step targets (numpy arrays)."""

    slots: np.ndarray  # [B] sampled slots, for priority updates
    observations: np.ndarray  # [B, ...] observations at the sampled positions
    actions: np.ndarray  # [B, K, *action_shape] actions to unroll (random past the end)
    target_rewards: np.ndarray  # [B, K] reward for each unrolled action
    reward_mask: np.ndarray  # [B, K] 1 where the reward target is known
    target_policies: np.ndarray  # [B, K+1, S] search policies over the S slots
    policy_mask: np.ndarray  # [B, K+1] 1 where the position exists
    value_prefix: np.ndarray  # [B, K+1] discounted rewards before the bootstrap
    bootstrap_slots: np.ndarray  # [B, K+1] slot to bootstrap from, -1 for none
    bootstrap_scale: np.ndarray  # [B, K+1] gamma^m (times -1 for the opponent's value)
    value_mask: np.ndarray  # [B, K+1] 1 where the value target is known
    unroll_slots: np.ndarray  # [B, K+1] slot of each unrolled position, -1 past the end
    weights: np.ndarray  # [B] importance-sampling weights, max 1
    target_candidates: np.ndarray | None = None  # [B, K+1, S, *action_shape] if sampled


@numba.njit(cache=True)
def _unroll_targets(
    chain: np.ndarray,  # [B, L] slots t, t+1, ... (-1 past the stored end), L = K + n + 1
    rewards: np.ndarray,  # [cap]
    end_kind: np.ndarray,  # [cap]
    to_play: np.ndarray,  # [cap]
    unroll_steps: int,
    td_steps: int,
    discount: float,
    two_player: bool,
    target_rewards: np.ndarray,  # [B, K]
    reward_mask: np.ndarray,  # [B, K]
    value_prefix: np.ndarray,  # [B, K+1]
    bootstrap_slots: np.ndarray,  # [B, K+1]
    bootstrap_scale: np.ndarray,  # [B, K+1]
    value_mask: np.ndarray,  # [B, K+1]
) -> None:
    batch, length = chain.shape
    for b in range(batch):
        # Last stored position of this window and how the episode goes on after it.
        last = 0
        while last + 1 < length and chain[b, last + 1] >= 0:
            last += 1
        last_kind = end_kind[chain[b, last]]
        terminated = last_kind == TERMINATED
        for k in range(unroll_steps + 1):
            if k >= 1:
                if k - 1 <= last:
                    target_rewards[b, k - 1] = rewards[chain[b, k - 1]]
                    reward_mask[b, k - 1] = 1.0
                elif terminated:
                    reward_mask[b, k - 1] = 1.0  # absorbing: reward 0
            if k > last:
                if terminated:
                    value_mask[b, k] = 1.0  # absorbing: value 0
                bootstrap_slots[b, k] = -1
                continue
            mover = to_play[chain[b, k]]
            horizon = k + td_steps
            if horizon <= last:
                boot = horizon
            elif terminated:
                boot = -1  # the episode ends inside the window: no bootstrap
            else:
                boot = last  # truncated or still running: bootstrap at the last position
            stop = boot if boot >= 0 else last + 1
            total = 0.0
            scale = 1.0
            for i in range(k, stop):
                slot = chain[b, i]
                sign = 1.0
                if two_player and to_play[slot] != mover:
                    sign = -1.0
                total += scale * sign * rewards[slot]
                scale *= discount
            value_prefix[b, k] = total
            value_mask[b, k] = 1.0
            if boot >= 0:
                slot = chain[b, boot]
                sign = 1.0
                if two_player and to_play[slot] != mover:
                    sign = -1.0
                bootstrap_slots[b, k] = slot
                bootstrap_scale[b, k] = scale * sign
            else:
                bootstrap_slots[b, k] = -1


class ReplayBuffer:
    """Ring buffer of self-play transitions from ``n_envs`` environments.

    :param buffer_size: capacity in transitions
    :param observation_shape: shape of one observation
    :param observation_dtype: dtype to store observations in (uint8 frames stay uint8)
    :param actions: the :class:`~muzero_gym.actions.ActionSpec` of the actions stored, or
        the size of a ``Discrete`` space whose actions are all searched
    :param n_envs: number of environments writing one transition each per step
    :param priority_alpha: priority exponent (0: uniform sampling)
    :param priority_epsilon: added to priorities so none is zero
    """

    def __init__(
        self,
        buffer_size: int,
        observation_shape: tuple[int, ...],
        observation_dtype: np.dtype,
        actions: ActionSpec | int,
        n_envs: int = 1,
        priority_alpha: float = 1.0,
        priority_epsilon: float = 1e-6,
    ) -> None:
        if buffer_size < n_envs:
            raise ValueError(f"buffer_size ({buffer_size}) must be at least n_envs ({n_envs})")
        spec = DiscreteActions(actions) if isinstance(actions, (int, np.integer)) else actions
        self.buffer_size = buffer_size
        self.action_spec = spec
        self.n_envs = n_envs
        self.priority_alpha = priority_alpha
        self.priority_epsilon = priority_epsilon
        cap = buffer_size
        self.observations = np.zeros((cap, *observation_shape), dtype=observation_dtype)
        self.actions = np.zeros((cap, *spec.shape), dtype=spec.dtype)
        self.rewards = np.zeros(cap, dtype=np.float64)
        self.root_values = np.zeros(cap, dtype=np.float64)
        self.policies = np.zeros((cap, spec.num_slots), dtype=np.float32)
        # Sampled actions: the candidates the stored policy is over.
        self.candidates: np.ndarray | None = None
        if not spec.enumerated:
            self.candidates = np.zeros((cap, spec.num_slots, *spec.shape), dtype=spec.dtype)
        self.to_play = np.zeros(cap, dtype=np.int8)
        self.legal_actions = np.zeros((cap, spec.mask_dim), dtype=np.bool_)
        self.next_slot = np.full(cap, -1, dtype=np.int64)
        self.end_kind = np.zeros(cap, dtype=np.int8)
        self.priorities = np.zeros(cap, dtype=np.float64)
        self.stamps = np.full(cap, -1, dtype=np.int64)  # insertion counter of each slot
        self.pos = 0
        self.num_added = 0
        self.max_priority = 1.0
        self._last_slot = np.full(n_envs, -1, dtype=np.int64)
        self._last_stamp = np.full(n_envs, -1, dtype=np.int64)

    def __len__(self) -> int:
        return min(self.num_added, self.buffer_size)

    def add(
        self,
        observations: np.ndarray,  # [n_envs, ...]
        actions: np.ndarray,  # [n_envs, *action_shape]
        rewards: np.ndarray,  # [n_envs]
        root_values: np.ndarray,  # [n_envs]
        policies: np.ndarray,  # [n_envs, S]
        to_play: np.ndarray,  # [n_envs]
        legal_actions: np.ndarray | None,  # [n_envs, mask_dim]
        terminated: np.ndarray,  # [n_envs] bool
        truncated: np.ndarray,  # [n_envs] bool
        candidates: np.ndarray | None = None,  # [n_envs, S, *action_shape] if sampled
    ) -> None:
        """Store one step of every environment and link it to its episode."""
        n = self.n_envs
        slots = (self.pos + np.arange(n)) % self.buffer_size
        stamps = self.num_added + np.arange(n)
        self.observations[slots] = observations
        self.actions[slots] = actions
        self.rewards[slots] = rewards
        self.root_values[slots] = root_values
        self.policies[slots] = policies
        if self.candidates is not None:
            if candidates is None:
                raise ValueError("this buffer stores sampled actions: pass their candidates")
            self.candidates[slots] = candidates
        self.to_play[slots] = to_play
        if legal_actions is not None:
            self.legal_actions[slots] = legal_actions
        else:
            self.legal_actions[slots] = True
        self.next_slot[slots] = -1
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool) & ~terminated
        self.end_kind[slots] = np.where(terminated, TERMINATED, np.where(truncated, TRUNCATED, 0))
        # New positions get the largest priority seen, so each is sampled soon (PER).
        self.priorities[slots] = self.max_priority
        self.stamps[slots] = stamps
        # Link each env's previous slot to the new one, unless it was overwritten since.
        prev = self._last_slot
        alive = (prev >= 0) & (self.stamps[np.maximum(prev, 0)] == self._last_stamp)
        self.next_slot[prev[alive]] = slots[alive]
        done = terminated | truncated
        self._last_slot = np.where(done, -1, slots)
        self._last_stamp = np.where(done, -1, stamps)
        self.pos = (self.pos + n) % self.buffer_size
        self.num_added += n

    def set_n_envs(self, n_envs: int) -> None:
        """Write from a different number of envs from now on (open episodes are cut)."""
        if self.buffer_size < n_envs:
            raise ValueError(f"buffer_size ({self.buffer_size}) must be at least n_envs ({n_envs})")
        self.n_envs = n_envs
        self._last_slot = np.full(n_envs, -1, dtype=np.int64)
        self._last_stamp = np.full(n_envs, -1, dtype=np.int64)

    def end_episodes(self, env_indices: np.ndarray) -> None:
        """Cut the open episode of these envs (e.g. after an external reset)."""
        self._last_slot[env_indices] = -1
        self._last_stamp[env_indices] = -1

    def sample(
        self,
        batch_size: int,
        unroll_steps: int,
        td_steps: int,
        discount: float,
        rng: np.random.Generator,
        priority_beta: float = 1.0,
        two_player: bool = False,
    ) -> ReplaySample:
        """Sample positions by priority and build their unroll targets."""
        size = len(self)
        if size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        if self.priority_alpha == 0.0:
            # Uniform replay: no O(buffer) pass over the priorities on every batch.
            slots = rng.integers(0, size, size=batch_size)
            return self.targets_for(
                slots, unroll_steps, td_steps, discount, rng, two_player=two_player
            )
        probs = self.priorities[:size] ** self.priority_alpha
        total = probs.sum()
        if not np.isfinite(total) or total <= 0:
            probs = np.full(size, 1.0 / size)
        else:
            probs /= total
        cumulative = np.cumsum(probs)
        slots = np.searchsorted(cumulative, rng.random(batch_size) * cumulative[-1], side="right")
        slots = np.minimum(slots, size - 1)
        # Importance weights (N P(i))^-beta, normalised by their maximum (Schaul et al. 2016).
        weights = (size * probs[slots]) ** (-priority_beta)
        weights = (weights / weights.max()).astype(np.float32)
        return self.targets_for(
            slots, unroll_steps, td_steps, discount, rng, weights=weights, two_player=two_player
        )

    def targets_for(
        self,
        slots: np.ndarray,
        unroll_steps: int,
        td_steps: int,
        discount: float,
        rng: np.random.Generator,
        weights: np.ndarray | None = None,
        two_player: bool = False,
    ) -> ReplaySample:
        """Unroll targets for the given slots (what :meth:`sample` returns, without sampling)."""
        slots = np.asarray(slots, dtype=np.int64)
        batch_size = len(slots)
        if weights is None:
            weights = np.ones(batch_size, dtype=np.float32)
        length = unroll_steps + td_steps + 1
        chain = np.full((batch_size, length), -1, dtype=np.int64)
        chain[:, 0] = slots
        for j in range(1, length):
            prev = chain[:, j - 1]
            chain[:, j] = np.where(prev >= 0, self.next_slot[np.maximum(prev, 0)], -1)

        k1 = unroll_steps + 1
        target_rewards = np.zeros((batch_size, unroll_steps), dtype=np.float64)
        reward_mask = np.zeros((batch_size, unroll_steps), dtype=np.float32)
        value_prefix = np.zeros((batch_size, k1), dtype=np.float64)
        bootstrap_slots = np.full((batch_size, k1), -1, dtype=np.int64)
        bootstrap_scale = np.zeros((batch_size, k1), dtype=np.float64)
        value_mask = np.zeros((batch_size, k1), dtype=np.float32)
        _unroll_targets(
            chain, self.rewards, self.end_kind, self.to_play, unroll_steps, td_steps,
            discount, two_player, target_rewards, reward_mask, value_prefix,
            bootstrap_slots, bootstrap_scale, value_mask,
        )  # fmt: skip

        unroll_slots = chain[:, :k1]
        present = unroll_slots >= 0
        safe = np.maximum(unroll_slots, 0)
        # Past the end of an episode the unrolled actions are random (Appendix G).
        random_actions = self.action_spec.random(rng, (batch_size, unroll_steps))
        trailing = (1,) * len(self.action_spec.shape)
        played = present[:, :-1].reshape(*present[:, :-1].shape, *trailing)
        actions = np.where(played, self.actions[safe[:, :-1]], random_actions)
        actions = actions.astype(self.action_spec.dtype)
        target_policies = np.where(present[..., None], self.policies[safe], 0.0).astype(np.float32)
        target_candidates = None
        if self.candidates is not None:
            target_candidates = self.candidates[safe]  # policy_mask hides the missing ones
        return ReplaySample(
            slots=slots,
            observations=self.observations[slots],
            actions=actions,
            target_rewards=target_rewards.astype(np.float32),
            reward_mask=reward_mask,
            target_policies=target_policies,
            policy_mask=present.astype(np.float32),
            value_prefix=value_prefix,
            bootstrap_slots=bootstrap_slots,
            bootstrap_scale=bootstrap_scale,
            value_mask=value_mask,
            unroll_slots=unroll_slots,
            weights=weights,
            target_candidates=target_candidates,
        )

    def stored_bootstrap_values(self, sample: ReplaySample) -> np.ndarray:
        """Bootstrap values ``[B, K+1]`` from the search values stored at self-play time."""
        return np.where(
            sample.bootstrap_slots >= 0,
            self.root_values[np.maximum(sample.bootstrap_slots, 0)],
            0.0,
        )

    def update_priorities(self, slots: np.ndarray, priorities: np.ndarray) -> None:
        """Set new priorities (e.g. the value error) for sampled slots."""
        priorities = np.abs(np.asarray(priorities, dtype=np.float64)) + self.priority_epsilon
        self.priorities[slots] = priorities
        self.max_priority = max(self.max_priority, float(priorities.max()))

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | pathlib.Path | io.BufferedIOBase) -> None:
        """Write the stored transitions (a NumPy ``.npz`` archive; ``.npz`` is added to a
        path without a suffix). A file is written in full before it replaces one already
        at ``path``. Episodes still being played are saved as they stand."""
        size = len(self)
        # Oldest first, so a buffer of any capacity can take them back in order.
        order = np.argsort(self.stamps[:size], kind="stable")
        new_slot = np.full(self.buffer_size, -1, dtype=np.int64)
        new_slot[order] = np.arange(size)
        arrays = {name: getattr(self, name)[order] for name in _SLOT_ARRAYS}
        if self.candidates is not None:
            arrays["candidates"] = self.candidates[order]
        links = arrays["next_slot"]
        arrays["next_slot"] = np.where(links >= 0, new_slot[np.maximum(links, 0)], -1)
        arrays["format"] = np.array(_FORMAT)
        arrays["format_version"] = np.array(_FORMAT_VERSION)
        arrays["max_priority"] = np.array(self.max_priority)
        data = io.BytesIO()
        np.savez_compressed(data, **arrays)  # type: ignore[arg-type]
        if isinstance(path, io.BufferedIOBase):
            path.write(data.getvalue())
        else:
            write_atomically(with_default_suffix(path, ".npz"), data.getvalue())

    def load(self, path: str | pathlib.Path | io.BufferedIOBase) -> None:
        """Replace the contents with transitions written by :meth:`save`, from a buffer
        of the same observation and action shapes (its capacity may differ: when it held
        more than this one can, the newest are kept). Open episodes are closed: their
        targets bootstrap from their last stored position, as for a truncation.

        :raises ValueError: the file is not a saved replay buffer, is damaged, or holds
            other observations or actions than this buffer
        """
        if isinstance(path, (str, pathlib.Path)):
            path = existing_file(path, ".npz", "saved replay buffer")
        try:
            with np.load(path, allow_pickle=False) as archive:  # type: ignore[arg-type]
                arrays = {name: archive[name] for name in archive.files}
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, KeyError) as error:
            raise ValueError(f"{path} is not a readable replay buffer file: {error}") from error
        header = ("format_version", "max_priority")
        if str(arrays.get("format", "")) != _FORMAT or any(key not in arrays for key in header):
            raise ValueError(f"{path} is not a muzero-gym replay buffer")
        if int(arrays["format_version"]) != _FORMAT_VERSION:
            raise ValueError(
                f"{path} is a replay buffer of format {int(arrays['format_version'])}; "
                f"this version reads format {_FORMAT_VERSION}"
            )
        expected = [*_SLOT_ARRAYS, *(["candidates"] if self.candidates is not None else [])]
        missing = [name for name in expected if name not in arrays]
        if missing or "candidates" in arrays and self.candidates is None:
            detail = f"missing {missing}" if missing else "sampled-action candidates"
            raise ValueError(f"{path} does not match this model's replay buffer ({detail})")
        for name in expected:
            mine, theirs = getattr(self, name), arrays[name]
            if theirs.ndim != mine.ndim:
                raise ValueError(f"{path} is damaged: {name} has {theirs.ndim} dimensions")
            if theirs.shape[1:] != mine.shape[1:] or theirs.dtype != mine.dtype:
                raise ValueError(
                    f"{path} does not match this model's replay buffer: {name} of shape "
                    f"{theirs.shape[1:]} and dtype {theirs.dtype}, expected {mine.shape[1:]} "
                    f"and {mine.dtype}"
                )
        size = len(arrays["rewards"])
        if any(len(arrays[name]) != size for name in expected):
            raise ValueError(f"{path} is damaged: its arrays differ in length")
        links = arrays["next_slot"]
        if np.any((links != -1) & ((links <= np.arange(size)) | (links >= size))):
            raise ValueError(f"{path} is damaged: episode links point outside the buffer")
        # Keep the newest transitions that fit; links only point forward in time, so an
        # episode loses at most its oldest end.
        keep = min(size, self.buffer_size)
        start = size - keep
        for name in expected:
            getattr(self, name)[:keep] = arrays[name][start:]
        kept_links = self.next_slot[:keep]
        self.next_slot[:keep] = np.where(kept_links >= 0, kept_links - start, -1)
        self.next_slot[keep:] = -1
        self.priorities[keep:] = 0.0
        self.stamps[:] = -1
        self.stamps[:keep] = np.arange(keep)
        self.pos = keep % self.buffer_size
        self.num_added = keep
        self.max_priority = float(arrays["max_priority"])
        self.set_n_envs(self.n_envs)  # no open episode continues into the loaded ones
