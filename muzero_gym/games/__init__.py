"""Two-player, zero-sum, turn-based board games for MuZero self-play.

- ``TurnBasedGymEnv(aec_env)``: a PettingZoo AEC game as one Gymnasium env, the player to
  move's view, with ``info["action_mask"]`` and ``info["to_play"]``.
- ``openspiel_env(name, **params)``: an OpenSpiel game as a PettingZoo AEC env.
- ``play_games(agent, opponent, game, n_games)``: a match with seats alternating, against
  ``RandomAgent``, ``MCTSBotAgent`` (OpenSpiel's MCTS), ``HumanAgent`` or another model.

Needs the ``games`` extra (PettingZoo, OpenSpiel). OpenSpiel is imported only when
``openspiel_env`` or ``OpenSpielAECEnv`` is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from muzero_gym.games.evaluation import (
    Agent,
    HumanAgent,
    MatchResults,
    MCTSBotAgent,
    RandomAgent,
    play_games,
)
from muzero_gym.games.turn_based import TurnBasedGymEnv, is_aec_env, is_pettingzoo_env

if TYPE_CHECKING:
    from muzero_gym.games.openspiel import OpenSpielAECEnv, openspiel_env

_LAZY = ("OpenSpielAECEnv", "openspiel_env")


def __getattr__(name: str) -> Any:
    # pyspiel is imported on first use, so PettingZoo games work without OpenSpiel.
    if name in _LAZY:
        from muzero_gym.games import openspiel

        return getattr(openspiel, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Agent",
    "HumanAgent",
    "MCTSBotAgent",
    "MatchResults",
    "OpenSpielAECEnv",
    "RandomAgent",
    "TurnBasedGymEnv",
    "is_aec_env",
    "is_pettingzoo_env",
    "openspiel_env",
    "play_games",
]
