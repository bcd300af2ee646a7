"""A Gymnasium view of a two-player, zero-sum, turn-based PettingZoo AEC game, for self-play."""

from __future__ import annotations

import sys
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

# Rewards of the two players at one step must cancel to within this (float round-off).
ZERO_SUM_TOLERANCE = 1e-6


def is_aec_env(obj: Any) -> bool:
    """True if ``obj`` is a PettingZoo AEC env (wrapped or not); False without PettingZoo."""
    pettingzoo = sys.modules.get("pettingzoo")
    if pettingzoo is None:  # nothing can be an AECEnv if PettingZoo was never imported
        return False
    return isinstance(obj, pettingzoo.AECEnv)


def is_pettingzoo_env(obj: Any) -> bool:
    """True for a PettingZoo AEC *or* parallel env.

    Route these to ``TurnBasedGymEnv``: it wraps the AEC ones and refuses the parallel ones
    with an error that says why, where a plain ``is_aec_env`` check would let a parallel
    env through to a confusing failure elsewhere.
    """
    pettingzoo = sys.modules.get("pettingzoo")
    if pettingzoo is None:
        return False
    return isinstance(obj, (pettingzoo.AECEnv, pettingzoo.ParallelEnv))


class TurnBasedGymEnv(gym.Env):
    """A two-player, zero-sum, alternating-turn PettingZoo AEC game as one Gymnasium env.

    One agent plays both seats (self-play): every observation is that of the player to move,
    from that player's perspective as PettingZoo gives it, and every reward is that of the
    player who just moved.

    ## Seats
    Seat ``i`` is ``aec_env.possible_agents[i]``; ``info["to_play"]`` is the seat to move.
    In PettingZoo classic and OpenSpiel games seat 0 moves first. The seat to move is read
    from the env after every move, so a game where a player may move twice in a row (a
    multi-jump, say) reports it as such rather than assuming strict alternation.

    ## Action space
    The game's ``Discrete`` action space. ``info["action_mask"]`` (``np.int8 [A]``, also
    ``action_masks()``, the sb3-contrib convention) marks the legal moves; an illegal move
    raises ``ValueError`` and leaves the game unchanged.

    ## Observation space
    The per-agent ``Box``: ``observation_space(agent)["observation"]`` when the game puts
    the mask in the observation dict (PettingZoo classic, ``openspiel_env``), else the
    observation space itself with the mask in ``info["action_mask"]`` (shimmy).

    ## Rewards
    The mover's reward for its move (+1 win, -1 loss, 0 otherwise in board games). The
    opponent's reward at that step must be its negation; otherwise ``step`` raises
    ``ValueError`` (the game is not zero-sum).

    ## Episode end
    ``terminated`` when the game ends, ``truncated`` when the game itself truncates. The
    last observation is the other seat's view of the final position, ``to_play`` that
    seat, and the mask all zeros (no moves remain).

    :param aec_env: a PettingZoo AEC env, e.g. ``tictactoe_v3.env()`` or
        ``openspiel_env("connect_four")``
    """

    def __init__(self, aec_env: Any) -> None:
        _check_pettingzoo_env(aec_env)
        self.aec_env = aec_env
        self.seats: list[str] = list(aec_env.possible_agents)
        first, second = (aec_env.observation_space(agent) for agent in self.seats)
        self._mask_in_observation = _mask_in_observation(first)
        observation_space = first["observation"] if self._mask_in_observation else first
        other = second["observation"] if _mask_in_observation(second) else second
        if not isinstance(observation_space, spaces.Box) or observation_space != other:
            raise ValueError(
                "both seats need the same Box observation (one network plays both); got "
                f"{observation_space} and {other}"
            )
        action_space = aec_env.action_space(self.seats[0])
        if not isinstance(action_space, spaces.Discrete) or action_space != aec_env.action_space(
            self.seats[1]
        ):
            raise ValueError(
                "both seats need the same Discrete action space; got "
                f"{action_space} and {aec_env.action_space(self.seats[1])}"
            )
        if not self._mask_in_observation:
            # The mask can only come from info: look once, at a fresh game.
            aec_env.reset()
            if "action_mask" not in aec_env.infos.get(aec_env.agent_selection, {}):
                raise ValueError(
                    "the game gives no action mask: expected observation dicts with "
                    "'observation' and 'action_mask' (PettingZoo classic) or "
                    "info['action_mask'] (shimmy)"
                )
        self.observation_space = observation_space
        self.action_space = action_space
        self.render_mode = getattr(aec_env, "render_mode", None)
        self.metadata = {
            "render_modes": list(getattr(aec_env, "metadata", {}).get("render_modes", [])),
            "name": getattr(aec_env, "metadata", {}).get("name", type(aec_env).__name__),
        }
        self._mask: np.ndarray = np.zeros(int(action_space.n), dtype=np.int8)  # [A]
        self._to_play = 0
        self._game_over = True

    # ------------------------------------------------------------------ Gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.aec_env.reset(seed=seed, options=options)
        self._game_over = False
        return self._observe(self.aec_env.agent_selection)

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        if self._game_over:
            raise RuntimeError("the game is over (or was never started): call reset() first")
        move = int(np.asarray(action).item())
        if not 0 <= move < len(self._mask) or not self._mask[move]:
            raise ValueError(
                f"illegal move {move} for seat {self._to_play}; legal moves: "
                f"{np.flatnonzero(self._mask).tolist()}"
            )
        env = self.aec_env
        mover = env.agent_selection
        env.step(move)
        rewards = env.rewards
        reward = float(rewards.get(mover, 0.0))
        other_reward = sum(float(r) for agent, r in rewards.items() if agent != mover)
        if abs(reward + other_reward) > ZERO_SUM_TOLERANCE:
            raise ValueError(
                f"the game is not zero-sum: rewards {dict(rewards)} after a move of {mover} "
                "do not sum to zero; TurnBasedGymEnv needs a two-player zero-sum game"
            )
        terminated = any(env.terminations.values())
        truncated = any(env.truncations.values()) and not terminated
        if terminated or truncated:
            self._game_over = True
            observer = self.seats[1 - self.seats.index(mover)]
        else:
            observer = env.agent_selection
        observation, info = self._observe(observer)
        return observation, reward, terminated, truncated, info

    def render(self) -> Any:
        return self.aec_env.render()

    def close(self) -> None:
        self.aec_env.close()

    # ------------------------------------------------------------------ for agents
    def action_masks(self) -> np.ndarray:
        """Legal moves of the player to move, ``bool [A]`` (sb3-contrib's convention)."""
        return self._mask.astype(bool)

    def to_play(self) -> int:
        """The seat to move, 0 or 1."""
        return self._to_play

    # ------------------------------------------------------------------ helpers
    def _observe(self, agent: str) -> tuple[np.ndarray, dict[str, Any]]:
        raw = self.aec_env.observe(agent)
        if self._mask_in_observation:
            observation, mask = raw["observation"], raw["action_mask"]
        else:
            observation, mask = raw, self.aec_env.infos.get(agent, {}).get("action_mask")
        self._to_play = self.seats.index(agent)
        if self._game_over:
            self._mask = np.zeros_like(self._mask)
        elif mask is None:
            raise ValueError(f"the game gave no action mask for {agent}")
        else:
            self._mask = np.asarray(mask, dtype=np.int8).reshape(self._mask.shape)
            if not self._mask.any():
                raise ValueError(f"the game left {agent} to move with no legal move")
        info = {"action_mask": self._mask.copy(), "to_play": self._to_play}
        return np.asarray(observation, dtype=self.observation_space.dtype), info

    def __repr__(self) -> str:
        return f"TurnBasedGymEnv({self.aec_env})"


def _mask_in_observation(space: spaces.Space) -> bool:
    return (
        isinstance(space, spaces.Dict)
        and "observation" in space.spaces
        and "action_mask" in space.spaces
    )


def _check_pettingzoo_env(env: Any) -> None:
    """Refuse, with a reason, what cannot be a two-player turn-based board game."""
    try:
        import pettingzoo
    except ImportError as error:
        raise ImportError("board games need PettingZoo: pip install 'muzero-gym[games]'") from error
    if isinstance(env, pettingzoo.ParallelEnv):
        raise ValueError(
            "got a PettingZoo ParallelEnv: simultaneous moves are not supported; "
            "MuZero self-play needs a turn-based (AEC) game"
        )
    if not isinstance(env, pettingzoo.AECEnv):
        raise TypeError(f"expected a PettingZoo AEC env, got {type(env).__name__}")
    agents = list(getattr(env, "possible_agents", []))
    if len(agents) != 2:
        raise ValueError(
            f"expected exactly two agents (a two-player game), got {len(agents)}: {agents}"
        )
    unwrapped = getattr(env, "unwrapped", env)
    game_type = getattr(unwrapped, "game_type", None)  # shimmy's OpenSpiel env
    dynamics = getattr(game_type, "dynamics", None)
    if dynamics is not None and getattr(dynamics, "name", "") == "SIMULTANEOUS":
        raise ValueError(
            "the OpenSpiel game has simultaneous moves, which are not supported; "
            "MuZero self-play needs a turn-based game"
        )
    for agent in agents:
        if not isinstance(env.action_space(agent), spaces.Discrete):
            raise ValueError(
                f"the action space of {agent} is {env.action_space(agent)}; "
                "board games need a Discrete action space"
            )
