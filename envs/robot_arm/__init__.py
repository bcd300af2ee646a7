"""RobotArm-v0: a six-joint UR5e-like arm reaching a 3-D target in MuJoCo.

Registered as ``RobotArm-v0`` by ``muzero_gym.envs``; never imports the agent.
"""

from .controllers import ReachController
from .robot_arm import RobotArmEnv

__all__ = ["ReachController", "RobotArmEnv"]
