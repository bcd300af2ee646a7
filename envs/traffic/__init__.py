"""Traffic-v0: signal control on a mesoscopic grid of intersections, and baseline controllers."""

from .controllers import FixedTimeController, MaxPressureController, RandomController
from .network import GridNetwork, build_grid, grid_shape_for
from .traffic_env import TrafficEnv

__all__ = [
    "FixedTimeController",
    "GridNetwork",
    "MaxPressureController",
    "RandomController",
    "TrafficEnv",
    "build_grid",
    "grid_shape_for",
]
