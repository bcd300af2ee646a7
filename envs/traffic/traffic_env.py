"""Traffic-v0: adaptive signal control on a grid of intersections (mesoscopic, no SUMO)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .network import (
    LANES_PER_INTERSECTION,
    NUM_MOVEMENTS,
    build_grid,
    grid_shape_for,
    half_turn,
    lane_flows,
    phase_green_lanes,
)

REWARD_FNS = ("diff-waiting-time", "waiting-time", "queue", "pressure")

# Direct ufunc reductions: a few microseconds cheaper per call than ndarray.sum/min/max,
# which matters at ~15 such calls per step.
_sum = np.add.reduce
_min = np.minimum.reduce
_max = np.maximum.reduce


class TrafficEnv(gym.Env[np.ndarray, np.ndarray]):
    """
    ## Description

    Adaptive traffic-signal control on a ``rows x cols`` grid of signalised intersections,
    simulated mesoscopically (queues and counts of whole vehicles, no car following), in the
    spirit of sumo-rl / RESCO but without SUMO.

    Every intersection has four approaches (from N, E, S, W), each with one left, one
    through and one right lane (12 incoming lanes). Vehicles:

    * arrive at every approach on the grid boundary by a Poisson process (``demand`` veh/h,
      optionally scaled over time by ``demand_profile``) and wait outside the grid while the
      entry link is full;
    * choose their next movement (left / through / right, ``turning_ratios``) when they enter
      a link, and travel its length at ``speed_limit`` to the stop line of that movement's lane;
    * queue there and discharge at ``saturation_flow`` veh/s per lane only while their lane is
      green, after a ``startup_lost_time`` at the start of each green (left turns in the
      two-phase plan are permitted and discharge at ``permitted_left_factor`` of that rate);
    * cross only if the downstream link has room: every link stores
      ``3 * link_length / vehicle_spacing`` vehicles, so queues spill back and block upstream
      discharge (space is shared in proportion to demand when it is short);
    * leave the network when their movement exits the grid.

    Time advances in steps of ``delta_time`` seconds (default 5 s), one decision per step;
    link travel times are rounded to whole steps (200 m at 13.89 m/s: 3 steps, 15 s).

    ## Action Space

    ``MultiDiscrete([n_phases] * num_intersections)``: the phase each intersection should
    show next. Phases (``phase_plan``): ``"two-phase"`` (default) 0 = N-S green,
    1 = E-W green; ``"four-phase"`` 0 = N-S through + right, 1 = N-S left,
    2 = E-W through + right, 3 = E-W left. Asking for another phase starts a change: yellow
    (``yellow_time``) then all-red (``all_red_time``), during which nothing discharges.
    Requests are ignored until the current green has lasted ``min_green`` seconds (and during
    a change); after ``max_green`` seconds of green the intersection moves on to the next
    phase even if asked to stay.

    ## Observation Space

    ``Box(0, 1, (num_intersections * (n_phases + 1 + 24),), float32)``, laid out as in
    sumo-rl, intersection after intersection:

    | slice                    | meaning                                                   |
    |--------------------------|-----------------------------------------------------------|
    | ``n_phases``             | one-hot of the current (or, during a change, next) phase  |
    | 1                        | 1 if the green has lasted ``min_green`` (may change now)  |
    | 12                       | per incoming lane: vehicles on it / lane storage (density) |
    | 12                       | per incoming lane: queued vehicles / lane storage (queue) |

    Lane order: approach N, E, S, W, each left, through, right. Lane storage is
    ``link_length / vehicle_spacing``; values are clipped at 1.

    ## Rewards

    Set by ``reward_fn``; the value of every variant is in ``info`` as well:

    * ``"diff-waiting-time"`` (default, as sumo-rl): decrease of the total waiting time
      accumulated by the vehicles now queued (each vehicle counts the time it has waited at its
      current stop line, or outside the grid), divided by 100: ``(W_{t-1} - W_t) / 100``;
    * ``"waiting-time"``: minus that total waiting time, divided by 100: ``-W_t / 100``. At
      any discount ``gamma`` the default's return is ``W_{t-1} / 100 + (1 - gamma)`` times
      this one's, so both rank actions alike; but in the default the part that an action
      changes is scaled by ``1 - gamma`` beside a term that none changes (and that the
      observation does not show), while this one keeps only the part an action changes.
      The sum over an episode of ``W_t`` is what ``mean_waiting_time`` averages;
    * ``"queue"``: minus the number of queued vehicles (stop lines and outside the grid);
    * ``"pressure"``: minus the absolute pressure summed over intersections (as PressLight):
      ``-sum_i |vehicles on links into i - vehicles on links out of i|``, where vehicles that
      left the grid count as on no link.

    ## Starting State

    An empty network at time 0, every intersection at the start of phase 0's green. Arrivals
    and turning choices are drawn from ``self.np_random`` (seeded by ``reset(seed=...)``).

    ## Episode End

    Never terminates. Registered with ``max_episode_steps=720`` (one hour at 5 s steps), so
    ``TimeLimit`` truncates; pass ``max_episode_steps`` to ``gym.make`` if you change
    ``delta_time``.

    ## Info

    * ``mean_waiting_time``: mean over vehicles now in the system (on links, queued, or waiting
      outside the grid) of the time each has waited at its current stop line (0 for moving
      vehicles, as SUMO's ``getWaitingTime``; since arrival for those outside), seconds;
    * ``total_queue``: vehicles queued at stop lines; ``entry_backlog``: vehicles waiting
      outside the grid for room on an entry link;
    * ``throughput``: vehicles that have left the grid since ``reset``;
    * ``mean_travel_time``: over the vehicles that have left the grid since ``reset``, the mean
      of (end of the step in which they crossed their last stop line - start of the step in
      which they arrived at the boundary), seconds (0 before the first one leaves). Vehicles
      are counted, not tracked one by one: a group leaving a queue carries the mean boundary
      arrival time (and mean waiting time) of that queue, i.e. queues are well mixed rather
      than FIFO, so totals are exact and individual vehicles' times are not;
    * ``time``: simulated seconds; ``reward_diff_waiting_time``, ``reward_waiting_time``,
      ``reward_queue``, ``reward_pressure``: the four reward terms.

    ## Arguments

    ```python
    gym.make("Traffic-v0", num_intersections=10)          # a 2 x 5 grid
    gym.make("Traffic-v0", grid_shape=(3, 3), demand=500.0, reward_fn="queue")
    ```

    * ``render_mode``: ``"ansi"`` returns a text summary (phase and queues per intersection),
      ``"rgb_array"`` an image of the grid (queues as bars, a light at every stop line;
      ``gymnasium.wrappers.RecordVideo`` takes it). Other modes are refused.
    * ``num_intersections`` / ``grid_shape``: size of the grid (default 2 x 2); a count is laid
      out as the most square grid (10 -> 2 x 5).
    * ``demand``: veh/h per boundary approach: a float, ``(north_south, east_west)``, or one
      value per entry link (order of ``network.entry_links``). Default ``(600, 400)``.
    * ``demand_profile``: multipliers applied in equal consecutive slices of
      ``profile_period`` seconds (cyclic), e.g. ``(0.5, 1.0, 1.5, 1.0)``; None = constant.
    * ``turning_ratios``: (left, through, right) probabilities, default (0.2, 0.6, 0.2).
    * ``phase_plan``, ``reward_fn``, ``delta_time``, ``yellow_time``, ``all_red_time``,
      ``min_green``, ``max_green``, ``startup_lost_time``, ``saturation_flow``,
      ``permitted_left_factor``, ``link_length``, ``speed_limit``, ``vehicle_spacing``: see
      the signature for defaults; times in s, ``saturation_flow`` in veh/s per lane, lengths
      in m, ``speed_limit`` in m/s.

    ## Version History

    * v0: initial version.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        num_intersections: int | None = None,
        grid_shape: tuple[int, int] | None = None,
        demand: float | Sequence[float] = (600.0, 400.0),
        demand_profile: Sequence[float] | None = None,
        profile_period: float = 3600.0,
        turning_ratios: Sequence[float] = (0.2, 0.6, 0.2),
        phase_plan: str = "two-phase",
        reward_fn: str = "diff-waiting-time",
        delta_time: float = 5.0,
        yellow_time: float = 3.0,
        all_red_time: float = 2.0,
        min_green: float = 10.0,
        max_green: float = 60.0,
        startup_lost_time: float = 2.0,
        saturation_flow: float = 0.5,
        permitted_left_factor: float = 0.5,
        link_length: float = 200.0,
        speed_limit: float = 13.89,
        vehicle_spacing: float = 7.5,
        render_mode: str | None = None,
    ) -> None:
        rows, cols = self._validate_grid(num_intersections, grid_shape)
        if reward_fn not in REWARD_FNS:
            raise ValueError(f"reward_fn must be one of {REWARD_FNS}, got {reward_fn!r}")
        positive = {
            "delta_time": delta_time,
            "saturation_flow": saturation_flow,
            "link_length": link_length,
            "speed_limit": speed_limit,
            "vehicle_spacing": vehicle_spacing,
            "profile_period": profile_period,
            "max_green": max_green,
        }
        non_negative = {
            "yellow_time": yellow_time,
            "all_red_time": all_red_time,
            "min_green": min_green,
            "startup_lost_time": startup_lost_time,
            "permitted_left_factor": permitted_left_factor,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        for name, value in non_negative.items():
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if max_green < min_green:
            raise ValueError(f"max_green ({max_green}) must be >= min_green ({min_green})")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )
        self.render_mode = render_mode

        self.network = build_grid(rows, cols)
        self.num_intersections = rows * cols
        self.phase_plan = phase_plan
        self.reward_fn = reward_fn
        self.delta_time = float(delta_time)
        self.yellow_time = float(yellow_time)
        self.all_red_time = float(all_red_time)
        self.min_green = float(min_green)
        self.max_green = float(max_green)
        self.startup_lost_time = float(startup_lost_time)

        ratios = np.asarray(turning_ratios, dtype=np.float64)
        if ratios.shape != (NUM_MOVEMENTS,) or np.any(ratios < 0) or not ratios.sum() > 0:
            raise ValueError(
                f"turning_ratios must be 3 non-negative numbers (left, through, "
                f"right) with a positive sum, got {turning_ratios!r}"
            )
        self.turning_ratios = ratios / ratios.sum()  # [3]
        self.entry_rates = self._validate_demand(demand)  # [E] veh/s
        if demand_profile is None:
            self.demand_profile = np.ones(1)
        else:
            self.demand_profile = np.asarray(demand_profile, dtype=np.float64).ravel()
            if (
                self.demand_profile.size == 0
                or np.any(self.demand_profile < 0)
                or np.any(~np.isfinite(self.demand_profile))
            ):
                raise ValueError(
                    "demand_profile must be a non-empty sequence of finite "
                    f"non-negative multipliers, got {demand_profile!r}"
                )
        self.profile_period = float(profile_period)

        # Signal plan: green lanes and discharge rate per phase.  # [P, 12]
        self.phase_green = phase_green_lanes(phase_plan)
        self.n_phases = self.phase_green.shape[0]
        movement = np.arange(LANES_PER_INTERSECTION) % NUM_MOVEMENTS
        lane_rate = np.full(LANES_PER_INTERSECTION, float(saturation_flow))
        if phase_plan == "two-phase":
            lane_rate[movement == 0] *= permitted_left_factor  # left turns yield to oncoming
        self.phase_rate = self.phase_green * lane_rate[None, :]  # [P, 12] veh/s when green

        # Links and the pipeline of vehicles travelling along them.
        self.lane_storage = link_length / vehicle_spacing  # vehicles per lane
        self.link_storage = NUM_MOVEMENTS * self.lane_storage
        self.travel_steps = max(1, int(round(link_length / speed_limit / self.delta_time)))

        n, n_lanes, n_links = self.num_intersections, self.network.num_lanes, self.network.num_links
        n_entries = self.network.entry_links.size
        # Suppliers: every lane (its stop line) then every entry source; each feeds one link,
        # or the sink (index n_links) for lanes that leave the grid.
        downstream = self.network.lane_downstream_link
        self._supplier_dest = np.concatenate(
            [np.where(downstream >= 0, downstream, n_links), self.network.entry_links]
        )
        self._num_lanes, self._num_links, self._num_entries = n_lanes, n_links, n_entries
        # Pressure of intersection i = vehicles on links into i - vehicles on links out of i,
        # as a matrix over lanes: +1 for i's incoming lanes, -1 for lanes of links leaving i.
        link_upstream = np.full(n_links, -1, dtype=np.int64)  # [K], -1 for entry links
        internal = downstream >= 0
        link_upstream[downstream[internal]] = np.arange(n_lanes)[internal] // LANES_PER_INTERSECTION
        lane_link = np.arange(n_lanes) // NUM_MOVEMENTS
        self._pressure_matrix = np.zeros((n_lanes, n))  # [L, N]
        self._pressure_matrix[np.arange(n_lanes), lane_link // 4] += 1.0
        upstream = link_upstream[lane_link]
        has_upstream = upstream >= 0
        self._pressure_matrix[np.flatnonzero(has_upstream), upstream[has_upstream]] -= 1.0
        self._eye = np.eye(self.n_phases, dtype=np.float32)

        self.action_space = spaces.MultiDiscrete([self.n_phases] * n)
        self.obs_per_intersection = self.n_phases + 1 + 2 * LANES_PER_INTERSECTION
        self.observation_space = spaces.Box(
            0.0, 1.0, (n * self.obs_per_intersection,), dtype=np.float32
        )
        self._alloc_state()

    # ------------------------------------------------------------------ validation
    @staticmethod
    def _validate_grid(
        num_intersections: int | None, grid_shape: tuple[int, int] | None
    ) -> tuple[int, int]:
        if grid_shape is not None:
            if len(grid_shape) != 2 or any(int(s) != s or s < 1 for s in grid_shape):
                raise ValueError(f"grid_shape must be two positive ints, got {grid_shape!r}")
            rows, cols = int(grid_shape[0]), int(grid_shape[1])
            if num_intersections is not None and num_intersections != rows * cols:
                raise ValueError(
                    f"num_intersections={num_intersections} does not match grid_shape={grid_shape}"
                )
            return rows, cols
        if num_intersections is None:
            return 2, 2
        if int(num_intersections) != num_intersections or num_intersections < 1:
            raise ValueError(f"num_intersections must be a positive int, got {num_intersections!r}")
        return grid_shape_for(int(num_intersections))

    def _validate_demand(self, demand: float | Sequence[float]) -> np.ndarray:
        values = np.asarray(demand, dtype=np.float64).ravel()
        n_entries = self.network.entry_links.size
        if np.any(values < 0) or np.any(~np.isfinite(values)):
            raise ValueError(f"demand must be finite and non-negative (veh/h), got {demand!r}")
        if values.size == 1:
            per_entry = np.full(n_entries, values[0])
        elif values.size == 2:
            per_entry = np.where(self.network.entry_is_north_south, values[0], values[1])
        elif values.size == n_entries:
            per_entry = values
        else:
            raise ValueError(
                f"demand must be a float, (north_south, east_west) or {n_entries} "
                f"values (one per entry link), got {values.size} values"
            )
        return per_entry / 3600.0

    # ------------------------------------------------------------------ state
    def _alloc_state(self) -> None:
        n_sup = self._num_lanes + self._num_entries
        # Held vehicles: queued at each lane's stop line, then waiting outside each entry.
        self._held = np.zeros(n_sup)  # [L + E] vehicle counts (whole numbers)
        self._held_arrival = np.zeros(n_sup)  # [L + E] sum of boundary-arrival times
        self._held_wait = np.zeros(n_sup)  # [L + E] sum of waiting time at current stop
        # Discharge credit (vehicles); sources have unlimited credit, only space limits them.
        self._credit = np.zeros(n_sup)
        self._credit[self._num_lanes :] = np.inf
        self._space = np.full(self._num_links + 1, np.inf)  # [K + 1] scratch, sink = inf
        self._lane_features = np.zeros((2, self._num_lanes))  # [2, L] scratch for observations
        # Vehicles travelling to lane stop lines, by arrival slot (ring buffer).  # [T, L]
        self._moving = np.zeros((self.travel_steps, self._num_lanes))
        self._moving_arrival = np.zeros((self.travel_steps, self._num_lanes))
        self._moving_lane = np.zeros(self._num_lanes)  # [L] moving vehicles per lane
        self._phase = np.zeros(self.num_intersections, dtype=np.int64)  # [N]
        self._green_start = np.zeros(self.num_intersections)  # [N] s; future while changing
        self._time = 0.0
        self._step_count = 0
        self._throughput = 0.0
        self._travel_time_sum = 0.0
        self._total_wait = 0.0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._alloc_state()
        on_lane = np.zeros(self._num_lanes)
        return self._observation(on_lane), self._info(dict.fromkeys(REWARD_FNS, 0.0), 0.0)

    # ------------------------------------------------------------------ dynamics
    def _switch_signals(self, action: np.ndarray) -> np.ndarray:
        """Apply the requested phases; return effective green seconds in this step.  # [N]"""
        t, dt = self._time, self.delta_time
        elapsed = t - self._green_start  # [N], negative while a change is in progress
        forced = elapsed >= self.max_green
        if _max(forced):  # rare: move on to the next phase if asked to stay
            action = np.where(
                forced & (action == self._phase), (self._phase + 1) % self.n_phases, action
            )
        switch = (elapsed >= self.min_green) & (action != self._phase)
        if _max(switch):
            self._phase = np.where(switch, action, self._phase)
            self._green_start = np.where(
                switch, t + self.yellow_time + self.all_red_time, self._green_start
            )
        # Discharge starts startup_lost_time after the green starts.
        ready = t + dt - self.startup_lost_time - self._green_start
        return np.maximum(np.minimum(ready, dt), 0.0)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        action = np.asarray(action)
        if action.shape != (self.num_intersections,):
            raise ValueError(
                f"action must have shape ({self.num_intersections},), got {action.shape}"
            )
        if _min(action) < 0 or _max(action) >= self.n_phases:
            raise ValueError(f"action entries must be phases in [0, {self.n_phases}), got {action}")
        n_lanes, n_links = self._num_lanes, self._num_links
        dt, t = self.delta_time, self._time
        green_seconds = self._switch_signals(action)  # [N]

        # 1. Vehicles reaching stop lines; new arrivals at the boundary.
        slot = self._step_count % self.travel_steps
        arriving = self._moving[slot]
        held, held_arrival, held_wait = self._held, self._held_arrival, self._held_wait
        queued = held[:n_lanes]  # view  # [L]
        queued += arriving
        held_arrival[:n_lanes] += self._moving_arrival[slot]
        self._moving_lane -= arriving
        multiplier = self._demand_multiplier(t)
        new = self.np_random.poisson(self.entry_rates * (dt * multiplier))  # [E]
        held[n_lanes:] += new
        held_arrival[n_lanes:] += new * t

        # 2. Discharge capacity on green (after start-up lost time); none banked on red.
        rate = (self.phase_rate[self._phase] * green_seconds[:, None]).ravel()  # [L] vehicles
        lane_credit = self._credit[:n_lanes]  # view
        lane_credit += rate
        lane_credit *= rate > 0
        want = np.minimum(held, np.floor(self._credit))  # [L + E]

        # 3. Room on the downstream links (spillback); shared in proportion to demand.
        dest = self._supplier_dest
        occupancy = _sum((queued + self._moving_lane).reshape(n_links, NUM_MOVEMENTS), 1)
        space = self._space  # [K + 1], the sink (last) has infinite room
        np.subtract(self.link_storage, occupancy, out=space[:n_links])
        np.maximum(space[:n_links], 0.0, out=space[:n_links])
        asked = np.bincount(dest, want, minlength=n_links + 1)
        share = np.minimum(space / np.maximum(asked, 1.0), 1.0)
        leaving = np.floor(want * share[dest])  # [L + E]

        # 4. Remove them from their queues, carrying their share of the group sums.
        fraction = leaving / np.maximum(held, 1.0)
        leaving_arrival = held_arrival * fraction
        held -= leaving
        held_arrival -= leaving_arrival
        held_wait -= held_wait * fraction
        lane_credit -= leaving[:n_lanes]
        np.minimum(lane_credit, 1.0, out=lane_credit)

        # 5. Exits and link entries; entering vehicles pick their next movement.
        count = np.bincount(dest, leaving, minlength=n_links + 1)
        arrival = np.bincount(dest, leaving_arrival, minlength=n_links + 1)
        t_end = t + dt
        exits = float(count[n_links])
        self._throughput += exits
        self._travel_time_sum += exits * t_end - float(arrival[n_links])
        entering = count[:n_links]
        turned = self.np_random.multinomial(
            entering.astype(np.int64), self.turning_ratios
        )  # [K, 3]
        mean_arrival = arrival[:n_links] / np.maximum(entering, 1.0)
        moving = self._moving[slot]  # view  # [L]
        moving[:] = turned.ravel()
        self._moving_arrival[slot] = (turned * mean_arrival[:, None]).ravel()
        self._moving_lane += moving

        # 6. Whoever is still held waited this whole step.
        held_wait += held * dt
        self._time = t_end
        self._step_count += 1

        total_wait = float(_sum(held_wait))
        diff_wait = (self._total_wait - total_wait) / 100.0
        self._total_wait = total_wait
        total_held = float(_sum(held))
        on_lane = queued + self._moving_lane  # [L]
        pressure = self._pressure_reward(on_lane)
        rewards = {
            "diff-waiting-time": diff_wait,
            "waiting-time": -total_wait / 100.0,
            "queue": -total_held,
            "pressure": pressure,
        }
        reward = rewards[self.reward_fn]
        in_system = total_held + float(_sum(self._moving_lane))
        info = self._info(rewards, in_system)
        return self._observation(on_lane), reward, False, False, info

    def _demand_multiplier(self, t: float) -> float:
        profile = self.demand_profile
        if profile.size == 1:
            return float(profile[0])
        index = int((t % self.profile_period) / self.profile_period * profile.size)
        return float(profile[min(index, profile.size - 1)])

    def _pressure_reward(self, on_lane: np.ndarray) -> float:
        # PressLight-style: minus |vehicles on incoming links - vehicles on outgoing links|,
        # summed over intersections (a plain sum would cancel on internal links).
        return -float(_sum(np.abs(on_lane @ self._pressure_matrix)))

    # ------------------------------------------------------------------ outputs
    def _observation(self, on_lane: np.ndarray) -> np.ndarray:
        n, p = self.num_intersections, self.n_phases
        obs = np.empty((n, self.obs_per_intersection), dtype=np.float32)
        obs[:, :p] = self._eye[self._phase]
        obs[:, p] = (self._time - self._green_start) >= self.min_green
        lanes = self._lane_features  # [2, L] scratch: density, queue
        np.multiply(on_lane, 1.0 / self.lane_storage, out=lanes[0])
        np.multiply(self._held[: self._num_lanes], 1.0 / self.lane_storage, out=lanes[1])
        np.minimum(lanes, 1.0, out=lanes)
        obs[:, p + 1 :] = (
            lanes.reshape(2, n, LANES_PER_INTERSECTION)
            .transpose(1, 0, 2)
            .reshape(n, 2 * LANES_PER_INTERSECTION)
        )
        return obs.ravel()

    def _info(self, rewards: dict[str, float], in_system: float) -> dict[str, Any]:
        total_queue = float(_sum(self._held[: self._num_lanes]))
        return {
            "mean_waiting_time": self._total_wait / in_system if in_system else 0.0,
            "total_queue": total_queue,
            "entry_backlog": -rewards["queue"] - total_queue,
            "throughput": self._throughput,
            "mean_travel_time": (
                self._travel_time_sum / self._throughput if self._throughput else 0.0
            ),
            "time": self._time,
            "reward_diff_waiting_time": rewards["diff-waiting-time"],
            "reward_waiting_time": rewards["waiting-time"],
            "reward_queue": rewards["queue"],
            "reward_pressure": rewards["pressure"],
        }

    def render(self) -> str | np.ndarray | None:  # type: ignore[override]
        """``"ansi"``: one line per intersection with its phase and queued vehicles per approach.

        ``"rgb_array"``: a ``(rows * 96, cols * 96, 3)`` uint8 image of the grid, north up:
        each approach's queue as a bar along its incoming lane, from the stop line back
        (full length = the link's storage), and a light at each stop line: green while the
        approach has a green lane, amber during a change, red otherwise.
        """
        if self.render_mode == "rgb_array":
            return self._render_rgb()
        if self.render_mode != "ansi":
            return None
        queued = self._queued_by_approach()  # [N, 4]
        lines = [
            f"t={self._time:.0f}s  throughput={self._throughput:.0f}  "
            f"outside={self._held[self._num_lanes :].sum():.0f}"
        ]
        for i in range(self.num_intersections):
            row, col = divmod(i, self.network.cols)
            changing = " (changing)" if self._green_start[i] > self._time else ""
            counts = "  ".join(
                f"{name}:{q:3.0f}" for name, q in zip("NESW", queued[i], strict=True)
            )
            lines.append(f"({row},{col}) phase {self._phase[i]}{changing:11s} queued {counts}")
        return "\n".join(lines)

    def _queued_by_approach(self) -> np.ndarray:
        """Vehicles queued at each stop line, summed over an approach's lanes.  # [N, 4]"""
        return self._held[: self._num_lanes].reshape(self.num_intersections, 4, 3).sum(2)

    def _render_rgb(self) -> np.ndarray:
        cell, road, box = 96, 16, 10  # pixels: per intersection, road width, half a box
        rows, cols = self.network.rows, self.network.cols
        image = np.empty((rows * cell, cols * cell, 3), dtype=np.uint8)
        image[:] = (196, 214, 180)
        half = road // 2
        for row in range(rows):
            y = row * cell + cell // 2
            image[y - half : y + half, :] = (90, 90, 90)
        for col in range(cols):
            x = col * cell + cell // 2
            image[:, x - half : x + half] = (90, 90, 90)
        queued = self._queued_by_approach()  # [N, 4]
        fill = np.clip(queued / (NUM_MOVEMENTS * self.lane_storage), 0.0, 1.0)
        reach = cell // 2 - box  # pixels from a stop line to the cell's edge
        green = np.any(self.phase_green.reshape(self.n_phases, 4, 3), axis=2)  # [P, 4]
        for i in range(self.num_intersections):
            row, col = divmod(i, cols)
            y, x = row * cell + cell // 2, col * cell + cell // 2
            image[y - box : y + box, x - box : x + box] = (60, 60, 60)
            changing = self._green_start[i] > self._time
            n, e, s, w = np.rint(fill[i] * reach).astype(int)  # bar lengths, N E S W
            # (stop line, queue bar) per approach. Incoming lanes keep to the right: from
            # the north (heading south) on the west half of the road, and so on.
            shapes = [
                ((slice(y - box - 3, y - box), slice(x - half, x)),
                 (slice(y - box - 3 - n, y - box - 3), slice(x - half + 2, x - 2))),
                ((slice(y - half, y), slice(x + box, x + box + 3)),
                 (slice(y - half + 2, y - 2), slice(x + box + 3, x + box + 3 + e))),
                ((slice(y + box, y + box + 3), slice(x, x + half)),
                 (slice(y + box + 3, y + box + 3 + s), slice(x + 2, x + half - 2))),
                ((slice(y, y + half), slice(x - box - 3, x - box)),
                 (slice(y + 2, y + half - 2), slice(x - box - 3 - w, x - box - 3))),
            ]  # fmt: skip
            for approach, (stop, bar) in enumerate(shapes):
                image[bar] = (230, 120, 30)
                if changing:
                    image[stop] = (240, 190, 0)
                elif green[self._phase[i], approach]:
                    image[stop] = (0, 200, 60)
                else:
                    image[stop] = (220, 30, 30)
        return image

    # ------------------------------------------------------------------ for controllers
    def symmetries(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """The transformations of the grid that leave these dynamics unchanged, for data
        augmentation (``MuZero(..., symmetries="env")``): ``(name, observation_index,
        action_index)`` triples, where the transformed observation is
        ``obs[..., observation_index]`` and the transformed action ``action[action_index]``.

        Offered: the half-turn (180 degrees), when every entry link has the demand of the
        one opposite it (the default ``(north_south, east_west)`` demand does). A quarter
        turn swaps north-south with east-west demand (600 and 400 veh/h by default) and the
        phases; a mirror makes left turns right turns, which discharge at a different rate
        (``permitted_left_factor``) or in another phase: neither is offered.
        """
        found = []
        for grid_map in (half_turn(self.network),):
            if not np.allclose(self.entry_rates[grid_map.entry], self.entry_rates):
                continue
            # Observation block of intersection i: phases and "may change" as they are,
            # then density and queue of its 12 lanes, each moved with its lane.
            n, block, p = self.num_intersections, self.obs_per_intersection, self.n_phases
            lane_gather = np.empty_like(grid_map.lane)
            lane_gather[grid_map.lane] = np.arange(grid_map.lane.size)
            intersection_gather = np.empty_like(grid_map.intersection)
            intersection_gather[grid_map.intersection] = np.arange(n)
            source = np.arange(n * block).reshape(n, block)[intersection_gather]
            lanes = lane_gather.reshape(n, LANES_PER_INTERSECTION)
            lane_feature = (
                lanes // LANES_PER_INTERSECTION
            ) * block + lanes % LANES_PER_INTERSECTION
            for feature in range(2):
                start = p + 1 + feature * LANES_PER_INTERSECTION
                source[:, start : start + LANES_PER_INTERSECTION] = lane_feature + start
            source = source.ravel()
            found.append((grid_map.name, source, intersection_gather))
        return found

    def lane_arrival_rates(self) -> np.ndarray:
        """Mean demand at every lane's stop line, time-averaged over the profile.  # [L] veh/s"""
        mean_multiplier = float(self.demand_profile.mean())
        return lane_flows(self.network, self.entry_rates * mean_multiplier, self.turning_ratios)
