"""muzero-gym: MuZero for PyTorch with the Stable-Baselines3 API."""

from muzero_gym import envs as _envs  # noqa: F401  (registers Traffic-v0, RobotArm-v0)

__version__ = "0.1.0"
__all__ = ["__version__"]
