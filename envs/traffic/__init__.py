"""Traffic-v0: signal control on a mesoscopic grid of intersections, and baseline controllers."""

from .controllers import FixedTimeController, MaxPressureController, RandomController
from .network import GridMap, GridNetwork, build_grid, grid_shape_for, half_turn
from .traffic_env import TrafficEnv

__all__ = [
    "FixedTimeController",
    "GridMap",
    "GridNetwork",
    "MaxPressureController",
    "RandomController",
    "TrafficEnv",
    "build_grid",
    "grid_shape_for",
    "half_turn",
]
