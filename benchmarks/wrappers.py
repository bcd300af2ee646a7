"""Env wrappers the benchmark hyperparameter files name in ``env_wrapper``.

env_wrapper: benchmarks.wrappers.FlattenMultiDiscreteAction
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

#: Largest joint action space we flatten: a Q-network head of this many outputs is still
#: an ordinary DQN; beyond it, one output per joint action stops making sense.
MAX_JOINT_ACTIONS = 1024


class FlattenMultiDiscreteAction(gym.ActionWrapper):
    """Turn ``MultiDiscrete(nvec)`` into ``Discrete(prod(nvec))``, so that DQN applies.

    Joint action ``k`` is the mixed-radix number whose digits are the sub-actions, the first
    sub-action the most significant (``np.unravel_index`` order). Traffic-v0's default 2x2
    grid with two phases has 2^4 = 16 joint actions.

    :param env: an env with a ``MultiDiscrete`` action space of at most
        ``max_joint_actions`` joint actions
    :param max_joint_actions: refuse larger joint spaces (the Q-head grows as their product)
    """

    def __init__(self, env: gym.Env, max_joint_actions: int = MAX_JOINT_ACTIONS) -> None:
        super().__init__(env)
        if not isinstance(env.action_space, spaces.MultiDiscrete):
            raise TypeError(
                f"FlattenMultiDiscreteAction needs a MultiDiscrete action space, "
                f"got {env.action_space}"
            )
        self.nvec = tuple(int(n) for n in np.asarray(env.action_space.nvec).ravel())
        joint = int(np.prod(self.nvec))
        if joint > max_joint_actions:
            raise ValueError(
                f"{env.action_space} has {joint} joint actions, more than "
                f"max_joint_actions={max_joint_actions}; flattening it is not sensible"
            )
        self.action_space = spaces.Discrete(joint)

    def action(self, action: int | np.integer | np.ndarray) -> np.ndarray:
        """Joint action index -> one sub-action per component, ``[len(nvec)]``."""
        digits = np.unravel_index(int(action), self.nvec)
        return np.array(digits, dtype=np.int64)


class ActionRepeat(gym.Wrapper):
    """Play each action ``repeat`` times (fewer where the episode ends first).

    The agent decides less often, so that one decision changes more (the action repeat of
    DeepMind Control Suite agents). The reward is the sum over the repeats; observation,
    ``terminated``, ``truncated`` and ``info`` are those of the last step played. Wrapped
    outside SB3's ``Monitor`` (as ``make_vec_env``'s ``wrapper_class`` is), episode returns
    and lengths stay in env steps; the agent's own step count is in decisions.

    :param env: any env
    :param repeat: env steps per decision (>= 1)
    """

    def __init__(self, env: gym.Env, repeat: int) -> None:
        super().__init__(env)
        if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
            raise ValueError(f"repeat must be an integer >= 1, got {repeat!r}")
        self.repeat = repeat

    def step(self, action):  # type: ignore[no-untyped-def]
        total = 0.0
        for _ in range(self.repeat):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            if terminated or truncated:
                break
        return obs, total, terminated, truncated, info


class ScaleReward(gym.wrappers.TransformReward):
    """Multiply every reward by ``scale`` (gymnasium's ``TransformReward``, named in JSON).

    For rewards whose returns would leave the value support (Traffic-v0's ``"queue"``
    reward is minus some 25-75 queued vehicles a step). Wrapped outside SB3's ``Monitor``,
    so episode returns in the logs stay in the env's own units.

    :param env: any env
    :param scale: a finite, nonzero factor
    """

    def __init__(self, env: gym.Env, scale: float) -> None:
        if isinstance(scale, bool) or not isinstance(scale, int | float):
            raise ValueError(f"scale must be a number, got {scale!r}")
        if not np.isfinite(scale) or scale == 0:
            raise ValueError(f"scale must be finite and nonzero, got {scale!r}")
        super().__init__(env, lambda reward: float(reward) * scale)
        self.scale = float(scale)


class RelativePhaseAction(gym.Wrapper):
    """Traffic-v0 with each intersection's request relative to its current phase.

    Traffic-v0 asks for the phase each intersection should show (absolute). Here
    sub-action ``k`` asks intersection ``i`` for phase ``(current_i + k) mod n_phases``:
    0 keeps the current phase, 1 moves on to the next. For any state the two label the
    same choices (a bijection given the current phase, which the observation shows), so
    the controllers that can be written are the same; what changes is what an action means
    to a learner that has not yet learned to read the phase: a fixed relative action is a
    fixed-time plan (keep: green until ``max_green``; next: change at every ``min_green``),
    while a fixed absolute one holds one street green to ``max_green`` and gives the cross
    street only ``min_green``, which starves it.

    The current phase is read from the last observation (its documented layout: per
    intersection the one-hot of the current, or during a change the next, phase first).

    :param env: a Traffic-v0 env (``gym.make("Traffic-v0", ...)``)
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        base: Any = env.unwrapped
        if not hasattr(base, "n_phases") or not isinstance(env.action_space, spaces.MultiDiscrete):
            raise TypeError(f"RelativePhaseAction needs a Traffic-v0 env, got {base}")
        self.n_phases = int(base.n_phases)
        self.num_intersections = int(base.num_intersections)
        shape = env.observation_space.shape
        assert shape is not None
        self._block = int(shape[0]) // self.num_intersections
        self._phase = np.zeros(self.num_intersections, dtype=np.int64)

    def _read_phase(self, obs: np.ndarray) -> None:
        blocks = np.asarray(obs).reshape(self.num_intersections, self._block)
        self._phase = blocks[:, : self.n_phases].argmax(axis=1)

    def reset(self, **kwargs):  # type: ignore[no-untyped-def]
        obs, info = self.env.reset(**kwargs)
        self._read_phase(obs)
        return obs, info

    def step(self, action):  # type: ignore[no-untyped-def]
        relative = np.asarray(action, dtype=np.int64).reshape(self.num_intersections)
        obs, reward, terminated, truncated, info = self.env.step(
            (self._phase + relative) % self.n_phases
        )
        self._read_phase(obs)
        return obs, reward, terminated, truncated, info
