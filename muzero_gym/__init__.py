"""muzero-gym: MuZero for PyTorch with the Stable-Baselines3 API.

Importing the package registers the environments ``Traffic-v0`` and ``RobotArm-v0``
with Gymnasium.
"""

import muzero_gym.envs  # noqa: F401  (registers Traffic-v0, RobotArm-v0)
from muzero_gym.muzero import MuZero
from muzero_gym.policies import CnnPolicy, EntityMlpPolicy, MlpPolicy, MuZeroPolicy
from muzero_gym.schedules import ConstantTemperature, LinearSchedule, StepTemperature
from muzero_gym.symmetry import (
    BoardTransform,
    FeatureTransform,
    Symmetry,
    board_symmetries,
    env_symmetries,
)

__version__ = "0.1.0"
__all__ = [
    "BoardTransform",
    "CnnPolicy",
    "ConstantTemperature",
    "EntityMlpPolicy",
    "FeatureTransform",
    "LinearSchedule",
    "MlpPolicy",
    "MuZero",
    "MuZeroPolicy",
    "StepTemperature",
    "Symmetry",
    "board_symmetries",
    "env_symmetries",
    "__version__",
]
