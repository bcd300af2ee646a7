"""Schedules for self-play temperatures and learning rates (functions of progress remaining,
1 -> 0, the Stable-Baselines3 convention for schedules). Classes rather than lambdas, so that
saved models can pickle them, and in the installed package, so that a model trained with one
loads wherever muzero-gym is installed."""

from __future__ import annotations


class StepTemperature:
    """Visit-count temperature that steps down as training progresses.

    The paper's Atari schedule (pseudocode ``visit_softmax_temperature``): 1.0 for the first
    half of training, 0.5 until three quarters, then 0.25.

    :param values: temperatures, one per stage
    :param boundaries: fractions of training (0..1) where the next stage starts
    """

    def __init__(
        self,
        values: tuple[float, ...] = (1.0, 0.5, 0.25),
        boundaries: tuple[float, ...] = (0.5, 0.75),
    ) -> None:
        if len(values) != len(boundaries) + 1:
            raise ValueError("StepTemperature needs exactly one more value than boundaries")
        if any(v < 0 for v in values):
            raise ValueError(f"temperatures must be >= 0, got {values}")
        self.values = tuple(float(v) for v in values)
        self.boundaries = tuple(float(b) for b in boundaries)

    def __call__(self, progress_remaining: float) -> float:
        progress = 1.0 - progress_remaining
        stage = sum(progress >= b for b in self.boundaries)
        return self.values[stage]

    def __repr__(self) -> str:
        return f"StepTemperature(values={self.values}, boundaries={self.boundaries})"


class ConstantTemperature:
    """A fixed visit-count temperature (picklable, unlike a lambda)."""

    def __init__(self, value: float) -> None:
        if value < 0:
            raise ValueError(f"temperature must be >= 0, got {value}")
        self.value = float(value)

    def __call__(self, progress_remaining: float) -> float:
        return self.value

    def __repr__(self) -> str:
        return f"ConstantTemperature({self.value})"


class LinearSchedule:
    """``start * progress_remaining``: rl-zoo's ``"lin_<start>"``, e.g. a learning rate
    falling linearly from ``start`` to 0 over training.

    :param start: the value at the start of training
    """

    def __init__(self, start: float) -> None:
        self.start = float(start)

    def __call__(self, progress_remaining: float) -> float:
        return self.start * progress_remaining

    def __repr__(self) -> str:
        return f"lin_{self.start}"
