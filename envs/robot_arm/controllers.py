"""Scripted controller for RobotArm-v0: damped least squares on the arm's Jacobian.

It reads only the observation (no access to the env's simulator state), so it runs
anywhere a policy does: ``evaluate_policy``, vectorised envs, the benchmark scripts.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np
from numpy.typing import NDArray

from .robot_arm import HOME_QPOS, NUM_JOINTS, load_model

# Observation layout of RobotArmEnv: cos q [0:6], sin q [6:12], dq [12:18], ee [18:21],
# target [21:24], ee - target [24:27].
_COS = slice(0, NUM_JOINTS)
_SIN = slice(NUM_JOINTS, 2 * NUM_JOINTS)
_TARGET = slice(3 * NUM_JOINTS + 3, 3 * NUM_JOINTS + 6)


class ReachController:
    """Turn the base towards the target and close the gap with damped least squares.

    Each step it recovers the joint angles ``q`` from the observation and, on its own copy
    of the model, the end-effector Jacobian ``J`` [3, 6] (``mujoco.mj_jacSite``). Then:

    - base pan: the angle that puts the target in the arm's plane follows from geometry
      (azimuth minus the plane's sideways offset); the pan turns towards it at
      ``gain * angle error``;
    - the five other joints: with ``v = gain * (target - ee)`` (capped at
      ``max_ee_speed``) the desired end-effector velocity and ``J5`` [3, 5] their
      Jacobian, ``dq5 = J5^T (J5 J5^T + damping^2 I)^-1 (v - J[:, 0] dq_pan)
      + (I - J5^+ J5) posture_gain (q_home - q)``.

    The damping keeps the speeds bounded near singularities (Wampler 1986; Buss 2004,
    "Introduction to inverse kinematics with Jacobian transpose, pseudoinverse and damped
    least squares methods"); the null-space term pulls the redundant joints towards the
    home posture, away from joint limits and the floor. The speeds are then scaled
    (direction kept) so that the action lies in [-1, 1].

    :param max_joint_speed: the env's ``max_joint_speed`` (rad/s for an action of 1)
    :param gain: proportional gain of the Cartesian error, 1/s
    :param max_ee_speed: cap on the commanded end-effector speed, m/s
    :param damping: damped-least-squares damping, metres
    :param posture_gain: gain of the null-space pull towards the home posture, 1/s
    """

    def __init__(
        self,
        max_joint_speed: float = math.pi,
        gain: float = 6.0,
        max_ee_speed: float = 1.0,
        damping: float = 0.05,
        posture_gain: float = 1.0,
    ) -> None:
        for name, value in (
            ("max_joint_speed", max_joint_speed),
            ("gain", gain),
            ("max_ee_speed", max_ee_speed),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        for name, value in (("damping", damping), ("posture_gain", posture_gain)):
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        self.max_joint_speed = max_joint_speed
        self.gain = gain
        self.max_ee_speed = max_ee_speed
        self.damping = damping
        self.posture_gain = posture_gain
        self._model = load_model()
        self._data = mujoco.MjData(self._model)
        self._site = self._model.site("end_effector").id
        self._jacp = np.zeros((3, self._model.nv))
        # Sideways offset of the arm's plane from the base axis (UR5e: about 0.134 m).
        self._data.qpos[:] = HOME_QPOS
        self._data.qpos[0] = 0.0
        mujoco.mj_kinematics(self._model, self._data)
        self._lateral_offset = float(self._data.site_xpos[self._site][1])

    def predict(
        self,
        observation: NDArray[np.floating],
        state: tuple[NDArray[np.floating], ...] | None = None,
        episode_start: NDArray[np.bool_] | None = None,
        deterministic: bool = True,
    ) -> tuple[NDArray[np.float32], tuple[NDArray[np.floating], ...] | None]:
        """Actions for one observation [27] or a batch [B, 27], as SB3's ``predict``.

        :return: actions [6] or [B, 6] in [-1, 1], and ``state`` unchanged (stateless)
        """
        obs = np.asarray(observation, dtype=np.float64)
        if obs.ndim == 1:
            return self._act(obs), state
        return np.stack([self._act(row) for row in obs]), state  # [B, 6]

    def _act(self, obs: NDArray[np.float64]) -> NDArray[np.float32]:
        q = np.arctan2(obs[_SIN], obs[_COS])  # [6], in (-pi, pi]; kinematics is 2 pi periodic
        self._data.qpos[:] = q
        mujoco.mj_kinematics(self._model, self._data)
        mujoco.mj_comPos(self._model, self._data)  # mj_jacSite needs cdof and subtree_com
        mujoco.mj_jacSite(self._model, self._data, self._jacp, None, self._site)
        jac = self._jacp  # [3, 6]

        error = obs[_TARGET] - self._data.site_xpos[self._site]  # [3]
        velocity = self.gain * error
        speed = float(np.linalg.norm(velocity))
        if speed > self.max_ee_speed:
            velocity *= self.max_ee_speed / speed

        # Base yaw from geometry: the arm's plane is offset sideways from the base axis by
        # `lateral_offset`, so the pan angle that puts the target in that plane is
        # azimuth - asin(offset / horizontal distance). Leaving the pan to the Jacobian
        # instead makes the arm lean backwards over its base into the floor.
        target = obs[_TARGET]
        horizontal = max(float(np.hypot(target[0], target[1])), self._lateral_offset + 1e-3)
        pan_goal = math.atan2(target[1], target[0]) - math.asin(self._lateral_offset / horizontal)
        dq = np.zeros(NUM_JOINTS)
        dq[0] = self.gain * _wrap(pan_goal - q[0])

        # Damped least squares for the other five joints, on what the pan leaves to do.
        rest = jac[:, 1:]  # [3, 5]
        jjt = rest @ rest.T + self.damping**2 * np.eye(3)  # [3, 3]
        pinv = rest.T @ np.linalg.inv(jjt)  # [5, 3]
        dq[1:] = pinv @ (velocity - jac[:, 0] * dq[0])
        # Null-space pull towards the home posture: (I - J^+ J) posture_gain (q_home - q).
        null = np.eye(NUM_JOINTS - 1) - pinv @ rest  # [5, 5]
        dq[1:] += null @ (self.posture_gain * _wrap(HOME_QPOS[1:] - q[1:]))

        action = dq / self.max_joint_speed
        largest = float(np.max(np.abs(action)))
        if largest > 1.0:
            action /= largest
        return action.astype(np.float32)


def _wrap(angle: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """Angles wrapped to [-pi, pi)."""
    return np.mod(np.asarray(angle) + math.pi, 2 * math.pi) - math.pi
