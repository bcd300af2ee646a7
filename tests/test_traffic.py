"""Tests of Traffic-v0 and its baseline controllers (fast: a few seconds in all)."""

from __future__ import annotations

import gymnasium as gym
import muzero_gym.envs  # noqa: F401  (registers Traffic-v0)
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from muzero_gym.envs.traffic import (
    FixedTimeController,
    MaxPressureController,
    RandomController,
    TrafficEnv,
    build_grid,
    grid_shape_for,
    half_turn,
)
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy


def rollout(env: gym.Env, actions: np.ndarray, seed: int) -> list:
    obs, info = env.reset(seed=seed)
    trajectory = [(obs, info)]
    for action in actions:
        trajectory.append(env.step(action))
    return trajectory


def episode_mean_waiting(env: gym.Env, controller, seed: int) -> float:
    """Time-average of info["mean_waiting_time"] over one full (TimeLimit) episode."""
    obs, _ = env.reset(seed=seed)
    state, start, waits, done = None, np.ones(1, dtype=bool), [], False
    while not done:
        action, state = controller.predict(obs, state=state, episode_start=start)
        obs, _, terminated, truncated, info = env.step(action)
        start = np.zeros(1, dtype=bool)
        waits.append(info["mean_waiting_time"])
        done = terminated or truncated
    return float(np.mean(waits))


@pytest.mark.parametrize("reward_fn", ["diff-waiting-time", "waiting-time", "queue", "pressure"])
def test_gymnasium_check_env(reward_fn: str) -> None:
    env = gym.make("Traffic-v0", reward_fn=reward_fn, render_mode="ansi").unwrapped
    gym_check_env(env)
    text = TrafficEnv(render_mode="ansi")
    text.reset(seed=0)
    assert "phase 0" in str(text.render())


def test_rgb_array_render_draws_queues_and_lights() -> None:
    env = gym.make("Traffic-v0", render_mode="rgb_array")  # no render-mode warning either
    gym_check_env(env.unwrapped)
    env.reset(seed=0)
    empty = env.render()
    assert empty.shape == (192, 192, 3) and empty.dtype == np.uint8
    orange = np.array([230, 120, 30])

    def lights(image: np.ndarray) -> dict[str, tuple[int, ...]]:
        # Stop-line lights of intersection (0, 0), centre (48, 48): N, E, S, W.
        at = {"N": image[36, 44], "E": image[44, 59], "S": image[59, 51], "W": image[51, 36]}
        return {name: tuple(pixel) for name, pixel in at.items()}

    green, red = (0, 200, 60), (220, 30, 30)
    assert lights(empty) == {"N": green, "E": red, "S": green, "W": red}  # phase 0: N-S
    assert not np.all(empty == orange, axis=2).any()  # nothing queued yet
    for _ in range(10):  # hold N-S green: E-W queues grow
        env.step(np.zeros(4, dtype=np.int64))
    busy = env.render()
    queued = env.unwrapped._held[: env.unwrapped._num_lanes].sum()
    assert queued > 0 and np.all(busy == orange, axis=2).sum() > 0
    env.step(np.ones(4, dtype=np.int64))  # asks for E-W; the change (5 s) is over
    assert lights(env.render()) == {"N": red, "E": green, "S": red, "W": green}
    slow = TrafficEnv(yellow_time=8.0, render_mode="rgb_array")  # a change over 5 s steps
    slow.reset(seed=0)
    for _ in range(2):
        slow.step(np.zeros(4, dtype=np.int64))
    slow.step(np.ones(4, dtype=np.int64))
    assert set(lights(slow.render()).values()) == {(240, 190, 0)}  # amber while changing
    wide = gym.make("Traffic-v0", num_intersections=10, render_mode="rgb_array")
    wide.reset(seed=0)
    assert wide.render().shape == (192, 480, 3)
    with pytest.raises(ValueError, match="render_mode"):
        TrafficEnv(render_mode="human")


@pytest.mark.parametrize("kwargs", [{}, {"phase_plan": "four-phase", "grid_shape": (1, 3)}])
def test_sb3_check_env(kwargs: dict) -> None:
    sb3_check_env(TrafficEnv(**kwargs), warn=True)


def test_same_seed_same_actions_same_rollout() -> None:
    actions = np.random.default_rng(0).integers(0, 2, (300, 4))
    first = rollout(TrafficEnv(), actions, seed=3)
    second = rollout(TrafficEnv(), actions, seed=3)
    for a, b in zip(first, second, strict=True):
        for x, y in zip(a, b, strict=True):
            if isinstance(x, dict):
                assert x == y
            else:
                np.testing.assert_array_equal(x, y)
    other = rollout(TrafficEnv(), actions, seed=4)
    assert not np.array_equal(first[-1][0], other[-1][0])


def test_observations_stay_in_space_and_links_respect_storage() -> None:
    # Heavy demand so queues spill back, links fill up and vehicles wait outside the grid.
    env = TrafficEnv(grid_shape=(2, 3), demand=1500.0, demand_profile=(0.5, 1.5, 1.0))
    env.action_space.seed(0)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    backlog = 0.0
    for _ in range(5000):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
        assert np.isfinite(reward) and not terminated and not truncated
        on_link = (env._held[: env.network.num_lanes] + env._moving_lane).reshape(-1, 3).sum(1)
        assert np.all(on_link <= env.link_storage + 1e-9)
        assert np.all(env._held >= 0) and np.all(env._moving_lane >= 0)
        backlog = max(backlog, info["entry_backlog"])
    assert backlog > 0  # spillback reached the boundary
    assert obs.max() == 1.0  # some lane full


class CountingGenerator:
    """Stands in for env.np_random and counts the vehicles the env draws at the boundary."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng, self.generated = rng, 0

    def poisson(self, lam: np.ndarray) -> np.ndarray:
        arrivals = self.rng.poisson(lam)
        self.generated += int(arrivals.sum())
        return arrivals

    def multinomial(self, n: np.ndarray, pvals: np.ndarray) -> np.ndarray:
        return self.rng.multinomial(n, pvals)


def test_vehicles_are_conserved() -> None:
    env = TrafficEnv(demand=1200.0)
    env.reset(seed=1)
    counter = CountingGenerator(env.np_random)
    env.np_random = counter  # type: ignore[assignment]
    rng = np.random.default_rng(0)
    for _ in range(400):
        _, _, _, _, info = env.step(rng.integers(0, 2, 4))
        in_system = env._held.sum() + env._moving_lane.sum()
        assert in_system + info["throughput"] == counter.generated
        assert np.all(env._held == np.round(env._held))  # whole vehicles
    assert info["throughput"] > 0
    # Nobody leaves faster than driving one link at the speed limit.
    assert info["mean_travel_time"] >= 200 / 13.89


def test_signal_timing_min_green_change_interval_and_max_green() -> None:
    env = TrafficEnv(grid_shape=(1, 1), min_green=10.0, max_green=30.0)
    obs, _ = env.reset(seed=0)
    phases = []
    for _ in range(12):
        obs, *_ = env.step(np.array([1]))
        phases.append(int(np.argmax(obs[:2])))
    # Held on phase 0 for min green (decisions at t = 0, 5), switch requested at t = 10.
    assert phases[:2] == [0, 0] and phases[2] == 1
    # Green of phase 1 starts after yellow + all-red (t = 15); no discharge before 17 s.
    env.reset(seed=0)
    env.step(np.array([0]))
    env.step(np.array([0]))
    assert env._switch_signals(np.array([1]))[0] == 0.0
    # Asking to stay forever: max green forces phase 1 after 30 s of green.
    obs, _ = env.reset(seed=0)
    phases = []
    for _ in range(10):
        obs, *_ = env.step(np.array([0]))
        phases.append(int(np.argmax(obs[:2])))
    assert phases[:6] == [0] * 6 and phases[6] == 1


def test_demand_profile_scales_arrivals() -> None:
    env = TrafficEnv(demand=3600.0, demand_profile=(0.0, 1.0), profile_period=100.0)
    env.reset(seed=0)
    for _ in range(10):  # first 50 s: multiplier 0
        _, _, _, _, info = env.step(np.zeros(4, dtype=np.int64))
    assert env._held.sum() + env._moving_lane.sum() == 0
    for _ in range(10):
        _, _, _, _, info = env.step(np.zeros(4, dtype=np.int64))
    assert env._held.sum() + env._moving_lane.sum() + info["throughput"] > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"demand": -1.0}, "demand"),
        ({"demand": (600.0, -5.0)}, "demand"),
        ({"demand": (1.0, 2.0, 3.0)}, "demand"),
        ({"num_intersections": 0}, "num_intersections"),
        ({"grid_shape": (0, 2)}, "grid_shape"),
        ({"num_intersections": 5, "grid_shape": (2, 2)}, "does not match"),
        ({"reward_fn": "speed"}, "reward_fn"),
        ({"phase_plan": "three-phase"}, "phase_plan"),
        ({"turning_ratios": (0.5, 0.5)}, "turning_ratios"),
        ({"min_green": 30.0, "max_green": 20.0}, "max_green"),
        ({"delta_time": 0.0}, "delta_time"),
        ({"demand_profile": (1.0, -1.0)}, "demand_profile"),
    ],
)
def test_bad_arguments_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TrafficEnv(**kwargs)


@pytest.mark.parametrize(
    "action",
    [
        np.zeros(3, dtype=np.int64),
        np.zeros((2, 2)),
        0,
        np.array([0, 1, 2, 0]),
        np.array([0, -1, 0, 0]),
    ],
)
def test_bad_actions_raise(action) -> None:
    env = TrafficEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(action)


def test_grid_shapes() -> None:
    assert grid_shape_for(4) == (2, 2)
    assert grid_shape_for(10) == (2, 5)
    assert grid_shape_for(12) == (3, 4)
    assert grid_shape_for(7) == (1, 7)


def test_gym_make_with_kwargs_and_time_limit() -> None:
    env = gym.make("Traffic-v0", num_intersections=10)
    assert env.unwrapped.network.rows == 2 and env.unwrapped.network.cols == 5
    assert env.action_space == gym.spaces.MultiDiscrete([2] * 10)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (10 * (2 + 1 + 24),)
    steps, truncated = 0, False
    while not truncated:
        obs, _, terminated, truncated, info = env.step(env.action_space.sample())
        assert not terminated
        steps += 1
    assert steps == 720 and info["time"] == 3600.0


def test_controllers_accept_single_and_batched_observations() -> None:
    env = TrafficEnv(grid_shape=(2, 3), phase_plan="four-phase")
    obs, _ = env.reset(seed=0)
    batch = np.stack([obs, obs, obs])
    for controller in (
        FixedTimeController(env),
        MaxPressureController(env),
        RandomController(env, seed=0),
    ):
        single, _ = controller.predict(obs)
        many, _ = controller.predict(batch)
        assert single.shape == (6,) and env.action_space.contains(single)
        assert many.shape == (3, 6) and np.all((many >= 0) & (many < 4))
    with pytest.raises(ValueError, match="observation"):
        MaxPressureController(env).predict(obs[:-1])


def test_fixed_time_plan_follows_webster_and_respects_green_limits() -> None:
    env = TrafficEnv()
    controller = FixedTimeController(env)
    assert np.all(controller.green >= env.min_green) and np.all(controller.green <= env.max_green)
    # Heavier N-S demand -> longer N-S green; the cycle grows with demand.
    assert np.all(controller.green[:, 0] > controller.green[:, 1])
    busier = FixedTimeController(TrafficEnv(demand=(900.0, 600.0)))
    assert np.all(busier.cycle > controller.cycle)
    # The clock lives in the state, as for SB3 recurrent policies.
    obs, _ = env.reset(seed=0)
    state = None
    actions = []
    for k in range(int(controller.cycle_steps[0]) * 2):
        action, state = controller.predict(obs, state=state, episode_start=np.array([k == 0]))
        actions.append(int(action[0]))
    steps = controller.steps_per_phase[0]
    assert actions[: steps[0]] == [0] * steps[0] and actions[steps[0]] == 1


def test_evaluate_policy_runs_the_controllers() -> None:
    vec_env = make_vec_env("Traffic-v0", n_envs=2, seed=0, env_kwargs={"render_mode": None})
    env = vec_env.envs[0].unwrapped
    for controller in (
        FixedTimeController(env),
        MaxPressureController(env),
        RandomController(env, seed=0),
    ):
        # evaluate_policy only calls predict(obs, state, episode_start, deterministic).
        mean_reward, _ = evaluate_policy(controller, vec_env, n_eval_episodes=2)  # type: ignore
        assert np.isfinite(mean_reward)


def test_max_pressure_beats_fixed_time_beats_random_on_default_demand() -> None:
    env = gym.make("Traffic-v0")
    base = env.unwrapped
    waits = {}
    for name, controller in [
        ("max-pressure", MaxPressureController(base)),
        ("fixed-time", FixedTimeController(base)),
        ("random", RandomController(base, seed=0)),
    ]:
        waits[name] = np.mean([episode_mean_waiting(env, controller, seed) for seed in (0, 1)])
    assert waits["max-pressure"] < waits["fixed-time"] < waits["random"], waits


def test_waiting_time_reward_is_the_default_without_its_shaping() -> None:
    """The default reward is the change of ``-W / 100``: each step's default reward is the
    waiting-time reward of that step minus that of the step before."""
    env = TrafficEnv(reward_fn="waiting-time", demand=900.0)
    env.reset(seed=3)
    previous = 0.0
    rng = np.random.default_rng(0)
    for _ in range(200):
        _, reward, _, _, info = env.step(rng.integers(0, 2, size=4))
        assert reward <= 0
        assert info["reward_diff_waiting_time"] == pytest.approx(reward - previous, abs=1e-9)
        previous = reward
    assert previous < -1.0  # demand 900 veh/h keeps queues: the test sees a real signal


@pytest.mark.parametrize(
    "reward_fn, key",
    [
        ("diff-waiting-time", "reward_diff_waiting_time"),
        ("waiting-time", "reward_waiting_time"),
        ("queue", "reward_queue"),
        ("pressure", "reward_pressure"),
    ],
)
def test_reward_matches_its_info_term(reward_fn: str, key: str) -> None:
    env = TrafficEnv(reward_fn=reward_fn, demand=900.0)
    env.reset(seed=0)
    for _ in range(100):
        _, reward, _, _, info = env.step(np.array([0, 1, 1, 0]))
        assert reward == info[key]
        assert info["reward_queue"] == -(info["total_queue"] + info["entry_backlog"])
        assert info["reward_pressure"] <= 0


def _turned_copy(env: TrafficEnv, lane: np.ndarray, entry: np.ndarray, junction: np.ndarray):
    """A copy of ``env`` whose whole state is ``env``'s moved by a map of the grid."""
    turned = TrafficEnv(grid_shape=(env.network.rows, env.network.cols))
    turned.reset(seed=0)
    supplier = np.concatenate([lane, lane.size + entry])  # lanes, then entry sources
    for name in ("_held", "_held_arrival", "_held_wait", "_credit"):
        moved = np.empty_like(getattr(env, name))
        moved[supplier] = getattr(env, name)
        setattr(turned, name, moved)
    for name in ("_moving", "_moving_arrival"):
        moved = np.empty_like(getattr(env, name))
        moved[:, lane] = getattr(env, name)
        setattr(turned, name, moved)
    turned._moving_lane = np.empty_like(env._moving_lane)
    turned._moving_lane[lane] = env._moving_lane
    for name in ("_phase", "_green_start"):
        moved = np.empty_like(getattr(env, name))
        moved[junction] = getattr(env, name)
        setattr(turned, name, moved)
    for name in ("_time", "_step_count", "_throughput", "_travel_time_sum", "_total_wait"):
        setattr(turned, name, getattr(env, name))
    return turned


@pytest.mark.parametrize("grid_shape", [(2, 2), (2, 5), (3, 3)])
def test_half_turn_symmetry_commutes_with_the_dynamics(grid_shape) -> None:
    """From a loaded state, the turned grid with turned actions gives the turned
    observations and the same rewards, step after step. Arrivals and turning choices are
    made deterministic (no new demand, every vehicle goes straight) so that the two runs
    can be compared draw for draw; the rest of the dynamics is the env's own."""
    env = TrafficEnv(grid_shape=grid_shape)
    (name, observation_index, action_index), *others = env.symmetries()
    assert name == "half-turn" and others == []
    grid_map = half_turn(env.network)
    rng = np.random.default_rng(0)
    env.reset(seed=1)
    for _ in range(120):  # queues on every approach, mid-green and mid-change signals
        env.step(rng.integers(0, 2, env.num_intersections))
    turned = _turned_copy(env, grid_map.lane, grid_map.entry, grid_map.intersection)
    for sim in (env, turned):
        sim.entry_rates = np.zeros_like(sim.entry_rates)
        sim.turning_ratios = np.array([0.0, 1.0, 0.0])
    queues = []
    for _ in range(40):
        action = rng.integers(0, 2, env.num_intersections)
        obs, reward, *_, info = env.step(action)
        turned_obs, turned_reward, *_, turned_info = turned.step(action[action_index])
        np.testing.assert_allclose(turned_obs, obs[observation_index], atol=1e-6)
        assert turned_reward == pytest.approx(reward, abs=1e-9)
        assert turned_info["total_queue"] == pytest.approx(info["total_queue"])
        queues.append(info["total_queue"])
    assert min(queues[:10]) > 10  # the comparison was made on a loaded grid


def test_no_symmetry_when_the_demand_is_not_turned_onto_itself() -> None:
    entries = build_grid(2, 2).entry_links.size
    assert TrafficEnv(demand=[600.0] * entries).symmetries() != []
    assert TrafficEnv(demand=[600.0] + [400.0] * (entries - 1)).symmetries() == []
