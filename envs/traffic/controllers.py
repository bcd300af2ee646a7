"""Baseline signal controllers for Traffic-v0 with a Stable-Baselines3-style ``predict``.

Each controller is built from a :class:`TrafficEnv` (``gym.make(...).unwrapped`` is fine) and
reads only the env's *static* description (grid, phase plan, demand, timings). Everything that
changes during an episode comes in through ``predict(obs, ...)``, so one controller serves a
single observation ``[D]`` or a batch ``[B, D]`` from a vector env, and
``stable_baselines3.common.evaluation.evaluate_policy`` can run it directly.
"""

from __future__ import annotations

import numpy as np

from .network import LANES_PER_INTERSECTION
from .traffic_env import TrafficEnv

# Webster (1958), optimum cycle C0 = (1.5 L + 5) / (1 - Y); practical bounds on the cycle.
MIN_CYCLE = 30.0
MAX_CYCLE = 150.0
MAX_CRITICAL_RATIO = 0.9


def _as_batch(obs: np.ndarray, obs_size: int) -> tuple[np.ndarray, bool]:
    obs = np.asarray(obs)
    single = obs.ndim == 1
    batch = obs.reshape(1, -1) if single else obs
    if batch.ndim != 2 or batch.shape[1] != obs_size:
        raise ValueError(
            f"observation must have shape ({obs_size},) or (B, {obs_size}), got {obs.shape}"
        )
    return batch, single


class RandomController:
    """Uniformly random phase at every intersection and every decision.

    :param env: the Traffic env (its action space is used).
    :param seed: seed of the controller's own generator.
    """

    def __init__(self, env: TrafficEnv, seed: int | None = None) -> None:
        self.n_phases = env.n_phases
        self.num_intersections = env.num_intersections
        self.obs_size = env.num_intersections * env.obs_per_intersection
        self.rng = np.random.default_rng(seed)

    def predict(
        self,
        observation: np.ndarray,
        state: np.ndarray | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, None]:
        """Random phases, ``[N]`` for one observation or ``[B, N]`` for a batch."""
        batch, single = _as_batch(observation, self.obs_size)
        actions = self.rng.integers(0, self.n_phases, (batch.shape[0], self.num_intersections))
        return (actions[0] if single else actions), None


class MaxPressureController:
    """Max-pressure control (Varaiya 2013): each intersection shows the phase whose green
    movements have the largest total pressure.

    The pressure of a lane is its saturation flow times (its density minus the mean density of
    the link it feeds, taken as 0 where the lane leaves the grid), read from the observation.
    Counting all vehicles on the lane rather than only the queued ones (as PressLight, Wei et
    al. 2019) anticipates platoons that are about to arrive and gave lower waiting times here.
    Minimum and maximum green are left to the env, which enforces them.

    :param env: the Traffic env (topology and phase plan are read from it).
    """

    def __init__(self, env: TrafficEnv) -> None:
        self.num_intersections = env.num_intersections
        self.n_phases = env.n_phases
        self.obs_size = env.num_intersections * env.obs_per_intersection
        self.per_intersection = env.obs_per_intersection
        self.num_links = env.network.num_links
        downstream = env.network.lane_downstream_link
        self.lane_downstream = np.where(downstream >= 0, downstream, self.num_links)  # [L]
        # Phase weights per lane: saturation flow when green, else 0.  # [N, P, 12]
        self.weights = np.broadcast_to(
            env.phase_rate, (self.num_intersections, *env.phase_rate.shape)
        )

    def predict(
        self,
        observation: np.ndarray,
        state: np.ndarray | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, None]:
        """Max-pressure phases, ``[N]`` for one observation or ``[B, N]`` for a batch."""
        batch, single = _as_batch(observation, self.obs_size)
        b, n, p = batch.shape[0], self.num_intersections, self.n_phases
        per = batch.reshape(b, n, self.per_intersection)
        density = per[:, :, p + 1 : p + 13].reshape(b, -1)  # [B, L]
        link_occupancy = density.reshape(b, self.num_links, 3).mean(axis=2)  # [B, K]
        link_occupancy = np.concatenate([link_occupancy, np.zeros((b, 1))], axis=1)
        lane_pressure = density - link_occupancy[:, self.lane_downstream]  # [B, L]
        lane_pressure = lane_pressure.reshape(b, n, LANES_PER_INTERSECTION)
        phase_pressure = np.einsum("bnl,npl->bnp", lane_pressure, self.weights)  # [B, N, P]
        actions = phase_pressure.argmax(axis=2)
        return (actions[0] if single else actions), None


class FixedTimeController:
    """Pre-timed plan with Webster's cycle length and green splits, computed from the demand.

    For every intersection the critical flow ratio of phase ``p`` is ``y_p = max`` over its
    green lanes of (mean arrival rate / saturation flow), with lane arrival rates from
    :meth:`TrafficEnv.lane_arrival_rates`. With ``Y = sum_p y_p`` and lost time per cycle
    ``L = n_phases * (yellow + all-red + start-up lost time)``, the cycle is Webster's
    ``C = (1.5 L + 5) / (1 - Y)`` (clipped to [30, 150] s) and effective greens are
    ``(C - L) * y_p / Y``. Each phase is then requested for a whole number of decisions,
    at least ``min_green`` and at most ``max_green`` of green. All intersections start their
    cycle together (no offsets / green wave).

    The plan depends on the time since the episode began, which the observation does not
    carry, so, as for SB3's recurrent policies, the clock is the ``state``: pass the returned
    state back in (``evaluate_policy`` does), with ``episode_start`` marking new episodes.

    :param env: the Traffic env (demand, timings and phase plan are read from it).
    """

    def __init__(self, env: TrafficEnv) -> None:
        self.num_intersections = env.num_intersections
        self.obs_size = env.num_intersections * env.obs_per_intersection
        n, p = env.num_intersections, env.n_phases
        dt = env.delta_time
        change = env.yellow_time + env.all_red_time
        lost_per_cycle = p * (change + env.startup_lost_time)

        flows = env.lane_arrival_rates().reshape(n, 1, LANES_PER_INTERSECTION)  # [N, 1, 12]
        rate = env.phase_rate[None, :, :]  # [1, P, 12]
        ratio = np.where(rate > 0, flows / np.where(rate > 0, rate, 1.0), 0.0)
        critical = ratio.max(axis=2)  # [N, P]
        total = np.minimum(critical.sum(axis=1, keepdims=True), MAX_CRITICAL_RATIO)  # [N, 1]
        cycle = np.clip((1.5 * lost_per_cycle + 5.0) / (1.0 - total), MIN_CYCLE, MAX_CYCLE)
        shares = np.where(
            critical.sum(1, keepdims=True) > 0,
            critical / np.maximum(critical.sum(1, keepdims=True), 1e-12),
            1.0 / p,
        )
        effective_green = (cycle - lost_per_cycle) * shares  # [N, P]
        green = np.clip(effective_green + env.startup_lost_time, env.min_green, env.max_green)
        # Decisions per phase: its change interval plus its green, rounded to whole steps.
        steps = np.maximum(np.round((change + green) / dt), np.ceil((change + env.min_green) / dt))
        steps = np.minimum(steps, np.floor((change + env.max_green) / dt)).astype(np.int64)

        self.cycle = cycle[:, 0]  # [N] s, Webster's cycle before rounding
        self.green = green  # [N, P] s
        self.steps_per_phase = steps  # [N, P]
        self.cycle_steps = steps.sum(axis=1)  # [N]
        # schedule[i, k] = phase requested at decision k of intersection i's cycle.
        longest = int(self.cycle_steps.max())
        self.schedule = np.zeros((n, longest), dtype=np.int64)
        for i in range(n):
            self.schedule[i, : self.cycle_steps[i]] = np.repeat(np.arange(p), steps[i])

    def predict(
        self,
        observation: np.ndarray,
        state: np.ndarray | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Phases of the plan at the current decision; returns ``(actions, next_state)``.

        ``state``: decisions since the episode began, ``[B]`` (None = all at 0).
        """
        batch, single = _as_batch(observation, self.obs_size)
        b = batch.shape[0]
        clock = np.zeros(b, dtype=np.int64) if state is None else np.array(state, np.int64)
        clock = clock.reshape(b)
        if episode_start is not None:
            clock[np.asarray(episode_start, dtype=bool).reshape(b)] = 0
        position = clock[:, None] % self.cycle_steps[None, :]  # [B, N]
        actions = self.schedule[np.arange(self.num_intersections)[None, :], position]
        next_state = clock + 1
        return (actions[0] if single else actions), next_state
