"""Tests of RobotArm-v0 (envs/robot_arm): API checks, determinism, physics, solvability."""

from __future__ import annotations

import ast
import functools
import math
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import muzero_gym.envs  # noqa: F401  (registers RobotArm-v0)
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

pytest.importorskip("mujoco", reason="RobotArm-v0 needs the `envs` extra (mujoco)")
from muzero_gym.envs.robot_arm import ReachController, RobotArmEnv  # noqa: E402

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "envs" / "robot_arm"


@functools.lru_cache(maxsize=1)
def gl_available() -> bool:
    """Whether MuJoCo can render offscreen here, probed in a child process.

    MuJoCo picks its OpenGL backend from MUJOCO_GL when it is first imported, and a
    failing backend can abort the process, so the probe must not run in this one.
    """
    probe = (
        "import mujoco\n"
        "m = mujoco.MjModel.from_xml_string('<mujoco><worldbody/></mujoco>')\n"
        "r = mujoco.Renderer(m, 16, 16)\n"
        "r.update_scene(mujoco.MjData(m))\n"
        "assert r.render().shape == (16, 16, 3)\n"
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, timeout=60, env=os.environ.copy()
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


needs_gl = pytest.mark.skipif(
    "not gl_available()",
    reason="no OpenGL backend for MuJoCo; set MUJOCO_GL=egl or MUJOCO_GL=osmesa to render",
)


def rollout(env: gym.Env, seed: int, actions: np.ndarray) -> tuple[list, list, list]:
    obs, info = env.reset(seed=seed)
    observations, rewards, infos = [obs], [], [info]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        observations.append(obs)
        rewards.append(reward)
        infos.append(info)
    return observations, rewards, infos


# Joint speeds are unbounded in the observation space, as in Gymnasium's MuJoCo suite.
@pytest.mark.filterwarnings("ignore:.*Box observation space (minimum|maximum) value is")
def test_gymnasium_check_env() -> None:
    env = gym.make("RobotArm-v0").unwrapped  # unwrapped but with its spec
    gym_check_env(env, skip_render_check=True)
    env.close()


def test_sb3_check_env() -> None:
    env = RobotArmEnv()
    sb3_check_env(env, warn=True)
    env.close()


def test_make_passes_kwargs_and_truncates_at_100_steps() -> None:
    env = gym.make("RobotArm-v0", success_threshold=0.1, reward_control_weight=0.0)
    assert env.unwrapped.success_threshold == 0.1
    assert env.unwrapped.reward_control_weight == 0.0
    env.reset(seed=0)
    zero = np.zeros(6, dtype=np.float32)
    for step in range(1, 101):
        _, _, terminated, truncated, _ = env.step(zero)
        assert not terminated
        assert truncated == (step == 100)
    env.close()


def test_same_seed_same_actions_give_identical_rollouts() -> None:
    actions = np.random.default_rng(1).uniform(-1, 1, (200, 6)).astype(np.float32)
    first = rollout(RobotArmEnv(), seed=7, actions=actions)
    second = rollout(RobotArmEnv(), seed=7, actions=actions)
    for obs_a, obs_b in zip(first[0], second[0], strict=True):
        np.testing.assert_array_equal(obs_a, obs_b)
    assert first[1] == second[1]
    assert first[2] == second[2]
    other = rollout(RobotArmEnv(), seed=8, actions=actions[:1])
    assert not np.array_equal(first[0][0], other[0][0])  # another seed, another episode


def test_observations_stay_in_space_over_long_random_rollouts() -> None:
    env = gym.make("RobotArm-v0")
    env.action_space.seed(0)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    for step in range(3000):
        # Alternate uniform actions with bang-bang ones, which throw the arm into the floor
        # and its joint limits.
        if (step // 100) % 2:
            action = rng.choice([-1.0, 1.0], size=6).astype(np.float32)
        else:
            action = env.action_space.sample()
        obs, reward, terminated, truncated, info = env.step(action)
        assert env.observation_space.contains(obs), (step, obs)
        assert np.isfinite(reward)
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()


def test_observation_layout_and_reward_terms() -> None:
    env = RobotArmEnv(reward_dist_weight=2.0, reward_control_weight=0.5)
    obs, info = env.reset(seed=3)
    action = np.full(6, 0.5, dtype=np.float32)
    obs, reward, _, _, info = env.step(action)
    np.testing.assert_allclose(obs[0:6], np.cos(env.data.qpos), atol=1e-6)
    np.testing.assert_allclose(obs[6:12], np.sin(env.data.qpos), atol=1e-6)
    np.testing.assert_allclose(obs[12:18], env.data.qvel, atol=1e-5)
    np.testing.assert_allclose(obs[18:21], env.end_effector, atol=1e-6)
    np.testing.assert_allclose(obs[21:24], env.target, atol=1e-6)
    np.testing.assert_allclose(obs[24:27], env.end_effector - env.target, atol=1e-6)
    distance = float(np.linalg.norm(env.end_effector - env.target))
    assert info["distance"] == pytest.approx(distance)
    assert info["reward_dist"] == pytest.approx(-2.0 * distance)
    assert info["reward_ctrl"] == pytest.approx(-0.5 * 6 * 0.25)
    assert reward == pytest.approx(info["reward_dist"] + info["reward_ctrl"])
    assert info["is_success"] == (distance < 0.05)


def test_targets_lie_in_the_workspace_above_the_floor() -> None:
    env = RobotArmEnv()
    for seed in range(300):
        env.reset(seed=seed)
        x, y, z = env.target
        assert 0.3 - 1e-9 <= math.hypot(x, y) <= 0.7 + 1e-9
        assert 0.1 <= z <= 0.7
        assert np.linalg.norm(env.target - np.array([0, 0, 0.163])) <= 0.75 + 1e-9
    env.reset(seed=0, options={"target": [0.4, -0.2, 0.3]})
    np.testing.assert_array_equal(env.target, [0.4, -0.2, 0.3])


def test_actuators_drive_joint_speeds_and_gravity_is_compensated() -> None:
    env = RobotArmEnv()
    env.reset(seed=0)
    start = env.data.qpos.copy()
    for _ in range(50):  # a zero command holds the pose: gravity is compensated
        env.step(np.zeros(6, dtype=np.float32))
    np.testing.assert_allclose(env.data.qpos, start, atol=1e-3)

    # Full speed on the base: it turns at max_joint_speed (after a short servo lag),
    # never faster, so the action moves the arm through its actuator, not by teleport.
    before = env.data.qpos[0]
    env.step(np.array([1, 0, 0, 0, 0, 0], dtype=np.float32))
    turned = env.data.qpos[0] - before
    assert 0.5 * math.pi * env.dt < turned <= 1.02 * math.pi * env.dt
    assert env.data.qvel[0] == pytest.approx(math.pi, rel=0.05)


def test_arm_collides_with_the_floor() -> None:
    env = RobotArmEnv()
    env.reset(seed=0)
    contacts = 0
    for _ in range(100):  # swing the shoulder down into the floor
        env.step(np.array([0, 1, 0, 0, 0, 0], dtype=np.float32))
        contacts = max(contacts, env.data.ncon)
        assert env.end_effector[2] > -0.02  # resting on the floor, not through it
    assert contacts > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"reward_dist_weight": -1.0}, "reward_dist_weight"),
        ({"reward_control_weight": float("nan")}, "reward_control_weight"),
        ({"success_threshold": 0.0}, "success_threshold"),
        ({"max_joint_speed": -1.0}, "max_joint_speed"),
        ({"frame_skip": 0}, "frame_skip"),
        ({"frame_skip": 2.5}, "frame_skip"),
        ({"reset_noise_scale": -0.1}, "reset_noise_scale"),
        ({"render_mode": "human"}, "render_mode"),
        ({"width": 0}, "width"),
        ({"height": 5000}, "height"),
    ],
)
def test_invalid_arguments_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RobotArmEnv(**kwargs)


def test_invalid_actions_and_options_raise() -> None:
    env = RobotArmEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        env.step(np.zeros(5, dtype=np.float32))
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        env.step(np.zeros((1, 6), dtype=np.float32))
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array([np.nan, 0, 0, 0, 0, 0], dtype=np.float32))
    with pytest.raises(ValueError, match="target"):
        env.reset(options={"target": [0.1, 0.2]})


def test_scripted_controller_reaches_targets() -> None:
    """Evidence that the task is solvable and the reward meaningful."""
    env = gym.make("RobotArm-v0")
    controller = ReachController()
    successes, returns = [], []
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        episode_return, done = 0.0, False
        while not done:
            action, _ = controller.predict(obs, deterministic=True)
            assert env.action_space.contains(action)
            obs, reward, terminated, truncated, info = env.step(action)
            episode_return += float(reward)
            done = terminated or truncated
        successes.append(info["is_success"])
        returns.append(episode_return)
    assert np.mean(successes) >= 0.9

    # A policy that stays put scores worse: the reward ranks reaching above idling.
    idle_returns = []
    for seed in range(5):
        env.reset(seed=seed)
        idle = sum(float(env.step(np.zeros(6, np.float32))[1]) for _ in range(100))
        idle_returns.append(idle)
    assert np.mean(returns[:5]) > np.mean(idle_returns)
    env.close()


def test_scripted_controller_predicts_batches() -> None:
    env = RobotArmEnv()
    observations = np.stack([env.reset(seed=seed)[0] for seed in range(3)])  # [3, 27]
    controller = ReachController()
    actions, state = controller.predict(observations)
    assert actions.shape == (3, 6) and state is None
    np.testing.assert_array_equal(actions[1], controller.predict(observations[1])[0])
    with pytest.raises(ValueError, match="gain"):
        ReachController(gain=0.0)


def test_env_package_does_not_import_the_agent() -> None:
    allowed = {"__future__", "math", "numbers", "pathlib", "typing"}
    allowed |= {"gymnasium", "mujoco", "numpy"}
    for path in PACKAGE_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert roots <= allowed, f"{path.name} imports {roots - allowed}"


def test_render_without_render_mode_returns_none() -> None:
    env = RobotArmEnv()
    env.reset(seed=0)
    assert env.render() is None


@needs_gl
def test_render_rgb_array() -> None:
    env = RobotArmEnv(render_mode="rgb_array", width=96, height=64)
    env.reset(seed=0)
    frame = env.render()
    assert frame is not None
    assert frame.shape == (64, 96, 3) and frame.dtype == np.uint8
    assert frame.std() > 0  # not a blank image
    env.close()


@needs_gl
@pytest.mark.filterwarnings("ignore:.*Box observation space (minimum|maximum) value is")
def test_gymnasium_check_env_with_render() -> None:
    env = gym.make("RobotArm-v0", render_mode="rgb_array", width=64, height=64).unwrapped
    gym_check_env(env)
    env.close()
