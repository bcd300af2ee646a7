"""RobotArm-v0: a six-joint UR5e-like arm reaching a 3-D target, simulated in MuJoCo."""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

MODEL_PATH = Path(__file__).parent / "assets" / "robot_arm.xml"
NUM_JOINTS = 6
OBS_SIZE = 4 * NUM_JOINTS + 9  # cos q, sin q, dq, (ee, target, ee - target)
HOME_QPOS = np.array([0.0, -math.pi / 2, math.pi / 2, -math.pi / 2, -math.pi / 2, 0.0])
SHOULDER_POS = np.array([0.0, 0.0, 0.163])  # shoulder-lift axis height (UR5e d1)
# Every point of the arm lies within the sum of its link offsets (about 1.47 m) of the
# origin, so 1.5 m bounds the end-effector and target coordinates.
POSITION_BOUND = 1.5


def load_model() -> mujoco.MjModel:
    """Load the arm's MJCF model (``assets/robot_arm.xml``) shipped with the package."""
    return mujoco.MjModel.from_xml_path(str(MODEL_PATH))


class RobotArmEnv(gym.Env[NDArray[np.float32], NDArray[np.float32]]):
    """
    ## Description

    A six-joint industrial arm with the kinematics, joint limits, link masses and torque
    limits of a Universal Robots UR5e, built from capsules in MuJoCo, must bring its tool
    flange (the end effector) to a target point drawn at random in its workspace. The
    arm stands on a floor it collides with; the target is a red sphere that nothing
    collides with. Like the UR controller, the model compensates gravity, so the arm holds
    its pose when commanded zero joint speeds. Orientation is free: the task is
    three-dimensional, the arm redundant.

    The model is ``assets/robot_arm.xml`` (timestep 2 ms, ``implicitfast`` integrator);
    the agent acts every ``frame_skip`` physics steps (default 20, so ``dt`` = 0.04 s and
    an episode of 100 steps lasts 4 s).

    ## Action Space

    ``Box(-1, 1, (6,), float32)``: the joint speed to command, as a fraction of
    ``max_joint_speed`` (default pi rad/s, the UR5e's 180 deg/s), for shoulder pan,
    shoulder lift, elbow, wrist 1, wrist 2, wrist 3. Each joint has a velocity servo
    actuator (torque ``kv * (target - speed)``, clipped to 150 N m for the three large
    joints and 28 N m for the wrists); the arm is never teleported. Actions outside
    [-1, 1] are clipped; an action of the wrong shape or with NaN raises ``ValueError``.

    ## Observation Space

    ``Box(27,)``, float32:

    | index | observation                               | unit  | bounds     |
    |-------|-------------------------------------------|-------|------------|
    | 0-5   | cos of the six joint angles               |       | [-1, 1]    |
    | 6-11  | sin of the six joint angles               |       | [-1, 1]    |
    | 12-17 | joint speeds                              | rad/s | (-inf, inf)|
    | 18-20 | end-effector position x, y, z             | m     | [-1.5, 1.5]|
    | 21-23 | target position x, y, z                   | m     | [-1.5, 1.5]|
    | 24-26 | end effector minus target                 | m     | [-3, 3]    |

    Positions are in the world frame, whose origin is the centre of the arm's base on the
    floor, z up. Joint speeds are left unbounded, as in Gymnasium's MuJoCo suite; the
    servos keep them near ``max_joint_speed`` except in collisions.

    ## Rewards

    ``reward = reward_dist + reward_ctrl`` with
    - ``reward_dist = -reward_dist_weight * ||ee - target||`` (metres),
    - ``reward_ctrl = -reward_control_weight * ||action||^2``.

    Both terms are in ``info``, with ``info["distance"]`` (metres) and
    ``info["is_success"]`` (``distance < success_threshold``).

    ## Starting State

    The UR "home" pose (upper arm vertical, forearm horizontal, tool pointing down),
    each joint angle perturbed by ``uniform(-reset_noise_scale, reset_noise_scale)``,
    joint speeds zero. The target is drawn uniformly from the workspace: horizontal
    distance from the base axis 0.3-0.7 m (uniform over the annulus area), any azimuth,
    height 0.1-0.7 m above the floor, and at most 0.75 m from the shoulder (the UR5e's
    reach is 0.85 m), by rejection sampling. ``reset(options={"target": xyz})`` places
    the target explicitly instead.

    ## Episode End

    There is no terminal state (``terminated`` is always ``False``); the episode is
    truncated after 100 steps by the ``TimeLimit`` of ``gym.make("RobotArm-v0")``.

    ## Arguments

    ```python
    import gymnasium as gym
    import muzero_gym  # registers the envs
    env = gym.make("RobotArm-v0", reward_control_weight=0.05, render_mode="rgb_array")
    ```

    | argument                | default  | meaning                                          |
    |-------------------------|----------|--------------------------------------------------|
    | `reward_dist_weight`    | 1.0      | weight of the distance penalty (>= 0)            |
    | `reward_control_weight` | 0.01     | weight of the squared-action penalty (>= 0)      |
    | `success_threshold`     | 0.05     | distance in metres below which `is_success` (>0) |
    | `max_joint_speed`       | pi       | joint speed in rad/s for an action of 1 (> 0)    |
    | `frame_skip`            | 20       | physics steps of 2 ms per env step (>= 1)        |
    | `reset_noise_scale`     | 0.1      | half-width in rad of the start-pose noise (>= 0) |
    | `render_mode`           | None     | None or "rgb_array"                              |
    | `width`, `height`       | 480, 480 | image size for "rgb_array" (1-1280)              |

    Rendering needs an OpenGL backend: set ``MUJOCO_GL=egl`` (GPU or headless) or
    ``MUJOCO_GL=osmesa`` (software) before importing ``mujoco``.

    ## Version History

    - v0: initial version.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(
        self,
        reward_dist_weight: float = 1.0,
        reward_control_weight: float = 0.01,
        success_threshold: float = 0.05,
        max_joint_speed: float = math.pi,
        frame_skip: int = 20,
        reset_noise_scale: float = 0.1,
        render_mode: str | None = None,
        width: int = 480,
        height: int = 480,
    ) -> None:
        _check_non_negative("reward_dist_weight", reward_dist_weight)
        _check_non_negative("reward_control_weight", reward_control_weight)
        _check_non_negative("reset_noise_scale", reset_noise_scale)
        _check_positive("success_threshold", success_threshold)
        _check_positive("max_joint_speed", max_joint_speed)
        if isinstance(frame_skip, bool) or not isinstance(frame_skip, int) or frame_skip < 1:
            raise ValueError(f"frame_skip must be an integer >= 1, got {frame_skip!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, "
                f"got {render_mode!r}"
            )
        for name, size in (("width", width), ("height", height)):
            if not isinstance(size, int) or not 1 <= size <= 1280:
                raise ValueError(f"{name} must be an integer in [1, 1280], got {size!r}")

        self.reward_dist_weight = float(reward_dist_weight)
        self.reward_control_weight = float(reward_control_weight)
        self.success_threshold = float(success_threshold)
        self.max_joint_speed = float(max_joint_speed)
        self.frame_skip = frame_skip
        self.reset_noise_scale = float(reset_noise_scale)
        self.render_mode = render_mode
        self.width = width
        self.height = height

        self.model = load_model()
        self.data = mujoco.MjData(self.model)
        self.model.actuator_ctrlrange[:] = [-self.max_joint_speed, self.max_joint_speed]
        self._ee_site = self.model.site("end_effector").id
        self._target_site = self.model.site("target").id
        self._renderer: Any = None
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self.dt)}

        self.action_space = spaces.Box(-1.0, 1.0, shape=(NUM_JOINTS,), dtype=np.float32)
        n = NUM_JOINTS
        high = np.concatenate(
            [
                np.ones(2 * n),  # cos, sin
                np.full(n, np.inf),  # joint speeds
                np.full(6, POSITION_BOUND),  # end effector, target
                np.full(3, 2 * POSITION_BOUND),  # end effector - target
            ]
        ).astype(np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)

    @property
    def dt(self) -> float:
        """Seconds of simulated time per env step."""
        return float(self.model.opt.timestep) * self.frame_skip

    @property
    def target(self) -> NDArray[np.float64]:
        """Target position in the world frame, shape [3] (a copy)."""
        return np.array(self.model.site_pos[self._target_site])

    @property
    def end_effector(self) -> NDArray[np.float64]:
        """End-effector (tool flange) position in the world frame, shape [3] (a copy)."""
        return np.array(self.data.site_xpos[self._ee_site])

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        noise = self.reset_noise_scale
        self.data.qpos[:] = HOME_QPOS + self.np_random.uniform(-noise, noise, NUM_JOINTS)
        options = options or {}
        if "target" in options:
            target = np.asarray(options["target"], dtype=np.float64)
            if target.shape != (3,) or not np.all(np.abs(target) <= POSITION_BOUND):
                raise ValueError(
                    f"options['target'] must be 3 coordinates within +-{POSITION_BOUND} m, "
                    f"got {options['target']!r}"
                )
        else:
            target = self._sample_target()
        self.model.site_pos[self._target_site] = target
        mujoco.mj_forward(self.model, self.data)
        distance = float(np.linalg.norm(self.end_effector - target))
        info = {"distance": distance, "is_success": distance < self.success_threshold}
        return self._get_obs(), info

    def step(
        self, action: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (NUM_JOINTS,):
            raise ValueError(f"action must have shape ({NUM_JOINTS},), got {action.shape}")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action must be finite, got {action}")
        action = np.clip(action, -1.0, 1.0)
        self.data.ctrl[:] = action * self.max_joint_speed
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        # mj_step leaves site positions at the start of its last substep; refresh them.
        mujoco.mj_kinematics(self.model, self.data)

        distance = float(np.linalg.norm(self.end_effector - self.target))
        reward_dist = -self.reward_dist_weight * distance
        reward_ctrl = -self.reward_control_weight * float(np.dot(action, action))
        info = {
            "reward_dist": reward_dist,
            "reward_ctrl": reward_ctrl,
            "distance": distance,
            "is_success": distance < self.success_threshold,
        }
        return self._get_obs(), reward_dist + reward_ctrl, False, False, info

    def render(self) -> NDArray[np.uint8] | None:
        if self.render_mode != "rgb_array":
            return None
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, self.height, self.width)
        self._renderer.update_scene(self.data, camera="overview")
        return self._renderer.render()  # [height, width, 3]

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def _get_obs(self) -> NDArray[np.float32]:
        qpos = self.data.qpos
        ee = self.data.site_xpos[self._ee_site]
        target = self.model.site_pos[self._target_site]
        obs = np.concatenate([np.cos(qpos), np.sin(qpos), self.data.qvel, ee, target, ee - target])
        return obs.astype(np.float32)  # [27]

    def _sample_target(self) -> NDArray[np.float64]:
        # Rejection sampling: about 89 % of draws are accepted, so 1,000 tries never run out.
        for _ in range(1000):
            radius = math.sqrt(self.np_random.uniform(0.3**2, 0.7**2))
            azimuth = self.np_random.uniform(-math.pi, math.pi)
            height = self.np_random.uniform(0.1, 0.7)
            point = np.array([radius * math.cos(azimuth), radius * math.sin(azimuth), height])
            if np.linalg.norm(point - SHOULDER_POS) <= 0.75:
                return point
        raise RuntimeError("target sampling failed")  # unreachable in practice


def _check_non_negative(name: str, value: float) -> None:
    if not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _check_positive(name: str, value: float) -> None:
    if not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
