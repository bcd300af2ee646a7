"""Environments shipped with muzero-gym, registered with Gymnasium.

This package installs as ``muzero_gym.envs`` and never imports the agent.
``import muzero_gym`` (or ``import muzero_gym.envs``) registers ``Traffic-v0``
and ``RobotArm-v0``.
"""

from gymnasium.envs.registration import register, registry

if "Traffic-v0" not in registry:
    register(
        id="Traffic-v0",
        entry_point="muzero_gym.envs.traffic:TrafficEnv",
        max_episode_steps=720,
    )
if "RobotArm-v0" not in registry:
    register(
        id="RobotArm-v0",
        entry_point="muzero_gym.envs.robot_arm:RobotArmEnv",
        max_episode_steps=100,
    )
