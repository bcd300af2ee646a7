"""OpenSpiel games as PettingZoo AEC environments.

Why not shimmy's ``OpenSpielCompatibilityV0``? It passes ``api_test`` but fails
``seed_test``: its ``step`` rebuilds every action space, so the spaces seeded after
``reset(seed=)`` are thrown away on the first move (shimmy 2.0.1). It also leaves the
observation stale at the end of a game, prints instead of raising on an illegal move and
keeps the action mask in ``info``. This adapter is a thin layer over ``pyspiel`` instead,
with the mask in the observation dict as PettingZoo classic does.
"""

from __future__ import annotations

import difflib
from typing import Any

import gymnasium
import numpy as np
import pyspiel
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import AECEnv

# Shown when a name is unknown: well-known two-player zero-sum sequential games.
EXAMPLE_GAMES = ("tic_tac_toe", "connect_four", "hex", "breakthrough", "othello", "chess", "go")


def openspiel_env(
    game_name: str, *, render_mode: str | None = None, seat_plane: bool = True, **params: Any
) -> OpenSpielAECEnv:
    """Any two-player, zero-sum, sequential OpenSpiel game as a PettingZoo AEC env.

    >>> env = openspiel_env("connect_four")
    >>> env = openspiel_env("hex", board_size=5)

    :param game_name: an OpenSpiel short name, e.g. ``"tic_tac_toe"`` or ``"connect_four"``
    :param render_mode: ``"ansi"`` (``render()`` returns the board as text), ``"human"``
        (prints it) or ``None``
    :param seat_plane: add the observer's seat to the observation (see ``OpenSpielAECEnv``)
    :param params: game parameters, as in ``pyspiel.load_game(game_name, params)``
    :return: the environment, not yet reset
    """
    if game_name not in pyspiel.registered_names():
        close = difflib.get_close_matches(game_name, pyspiel.registered_names(), n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ValueError(
            f"unknown OpenSpiel game {game_name!r}; {hint}two-player zero-sum games include "
            f"{', '.join(EXAMPLE_GAMES)} (all names: pyspiel.registered_names())"
        )
    try:
        game = pyspiel.load_game(game_name, params)
    except pyspiel.SpielError as error:
        raise ValueError(f"cannot load OpenSpiel game {game_name!r} ({params}): {error}") from None
    return OpenSpielAECEnv(game, render_mode=render_mode, seat_plane=seat_plane)


class OpenSpielAECEnv(AECEnv):
    """A two-player, zero-sum, sequential OpenSpiel game as a PettingZoo AEC env.

    ## Agents
    ``"player_0"`` and ``"player_1"``, OpenSpiel's players 0 and 1; player 0 moves first.

    ## Action space
    ``Discrete(game.num_distinct_actions())`` with OpenSpiel's action ids (tic_tac_toe:
    ``row * 3 + column``; connect_four: the column).

    ## Observation space
    ``Dict(observation=Box, action_mask=Box(0, 1, (A,), int8))`` as in PettingZoo classic.
    ``observation`` is ``state.observation_tensor(agent)`` (float32), kept in the game's
    ``observation_tensor_shape`` so that boards stay planes ``[C, H, W]`` for ``CnnPolicy``
    (tic_tac_toe ``[3, 3, 3]``: empty / o / x; connect_four ``[3, 6, 7]``). Games without an
    observation tensor use the information-state tensor. With ``seat_plane=True`` (the
    default) one more plane ``[1, H, W]`` (or one more entry, for flat tensors) holds the
    observer's seat, 0 or 1: many OpenSpiel boards are encoded in absolute colours, and a
    network that values positions from the mover's side must know which colour it plays.
    The mask is the legal moves of the agent to move and all zeros for the other agent
    and once the game is over.

    ## Rewards
    OpenSpiel's rewards, the change of ``state.returns()`` over the move (and any chance
    outcomes after it): +1 / -1 for a win / loss at the end of most board games.

    ## Chance
    Chance nodes (dice, card deals) are resolved inside ``step`` with ``self.np_random``,
    which ``reset(seed=)`` seeds.

    ``game_state`` is the live ``pyspiel.State`` (what OpenSpiel bots such as ``MCTSBot``
    search from; clone it before changing it) and ``game`` the ``pyspiel.Game``.

    :param game: a loaded ``pyspiel.Game``; see ``openspiel_env`` to load one by name
    :param render_mode: ``"ansi"``, ``"human"`` or ``None``
    :param seat_plane: append the observer's seat to the observation
    """

    metadata: dict[str, Any] = {
        "render_modes": ["human", "ansi"],
        "name": "openspiel_v0",
        "is_parallelizable": False,
    }

    def __init__(
        self, game: pyspiel.Game, render_mode: str | None = None, seat_plane: bool = True
    ) -> None:
        super().__init__()
        game_type = game.get_type()
        name = game_type.short_name
        if game.num_players() != 2:
            raise ValueError(
                f"OpenSpiel game {name!r} has {game.num_players()} players; only two-player "
                "games are supported"
            )
        if game_type.dynamics != pyspiel.GameType.Dynamics.SEQUENTIAL:
            raise ValueError(
                f"OpenSpiel game {name!r} has simultaneous moves; only sequential (turn-based) "
                "games are supported"
            )
        if game_type.utility != pyspiel.GameType.Utility.ZERO_SUM:
            raise ValueError(
                f"OpenSpiel game {name!r} is not zero-sum ({game_type.utility.name}); only "
                "zero-sum games are supported"
            )
        if game_type.chance_mode == pyspiel.GameType.ChanceMode.SAMPLED_STOCHASTIC:
            raise ValueError(
                f"OpenSpiel game {name!r} samples chance outcomes internally; only "
                "deterministic and explicit-stochastic games are supported"
            )
        if game_type.provides_observation_tensor:
            self._use_information_state = False
            tensor_shape = tuple(game.observation_tensor_shape())
        elif game_type.provides_information_state_tensor:
            self._use_information_state = True
            tensor_shape = tuple(game.information_state_tensor_shape())
        else:
            raise ValueError(f"OpenSpiel game {name!r} provides no observation tensor")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )

        self.game = game
        self.game_name: str = name
        self.render_mode = render_mode
        self.seat_plane = seat_plane
        self.metadata = {**self.metadata, "name": f"openspiel_{name}"}
        self._tensor_shape = tensor_shape
        if seat_plane and len(tensor_shape) == 3:
            obs_shape: tuple[int, ...] = (tensor_shape[0] + 1, *tensor_shape[1:])
        elif seat_plane:
            obs_shape = (int(np.prod(tensor_shape)) + 1,)
        else:
            obs_shape = tensor_shape
        num_actions = game.num_distinct_actions()

        self.possible_agents = ["player_0", "player_1"]
        self.agents = self.possible_agents[:]
        # Built once and kept: seed_test seeds the spaces after reset and expects them to last.
        self.action_spaces = {agent: spaces.Discrete(num_actions) for agent in self.agents}
        self.observation_spaces = {
            agent: spaces.Dict(
                {
                    "observation": spaces.Box(-np.inf, np.inf, obs_shape, np.float32),
                    "action_mask": spaces.Box(0, 1, (num_actions,), np.int8),
                }
            )
            for agent in self.agents
        }
        self._np_random: np.random.Generator | None = None
        self.game_state: pyspiel.State = game.new_initial_state()
        self._returns = np.zeros(2)
        self.rewards: dict[str, float] = {}
        self._cumulative_rewards: dict[str, float] = {}
        self.terminations: dict[str, bool] = {}
        self.truncations: dict[str, bool] = {}
        self.infos: dict[str, dict[str, Any]] = {}
        self._reset_bookkeeping()

    # ------------------------------------------------------------------ spaces
    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    @property
    def np_random(self) -> np.random.Generator:
        """Samples chance outcomes; seeded by ``reset(seed=)``."""
        if self._np_random is None:
            self._np_random, _ = seeding.np_random()
        return self._np_random

    # ------------------------------------------------------------------ AEC API
    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        if seed is not None:
            self._np_random, _ = seeding.np_random(seed)
        self.agents = self.possible_agents[:]
        self.game_state = self.game.new_initial_state()
        self._resolve_chance()
        self._returns = np.asarray(self.game_state.returns(), dtype=np.float64)
        self._reset_bookkeeping()
        self.agent_selection = self.possible_agents[self.game_state.current_player()]

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        seat = self.possible_agents.index(agent)
        if self._use_information_state:
            tensor = self.game_state.information_state_tensor(seat)
        else:
            tensor = self.game_state.observation_tensor(seat)
        observation = np.asarray(tensor, dtype=np.float32).reshape(self._tensor_shape)
        if self.seat_plane and observation.ndim == 3:
            plane = np.full((1, *observation.shape[1:]), seat, dtype=np.float32)
            observation = np.concatenate([observation, plane])
        elif self.seat_plane:
            observation = np.append(observation.ravel(), np.float32(seat))
        mask = np.zeros(self.game.num_distinct_actions(), dtype=np.int8)
        if not self.game_state.is_terminal() and self.game_state.current_player() == seat:
            mask[self.game_state.legal_actions()] = 1
        return {"observation": observation, "action_mask": mask}

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        legal = self.game_state.legal_actions()
        if action is None or int(action) not in legal:
            raise ValueError(f"illegal move {action!r} for {agent}; legal moves: {legal}")
        self._cumulative_rewards[agent] = 0.0
        self.game_state.apply_action(int(action))
        self._resolve_chance()
        returns = np.asarray(self.game_state.returns(), dtype=np.float64)
        step_rewards, self._returns = returns - self._returns, returns
        self.rewards = {
            a: float(r) for a, r in zip(self.possible_agents, step_rewards, strict=True)
        }
        if self.game_state.is_terminal():
            self.terminations = dict.fromkeys(self.agents, True)
            # Dead steps follow, the other agent first (as in PettingZoo classic).
            seat = self.possible_agents.index(agent)
            self.agent_selection = self.possible_agents[1 - seat]
        else:
            self.agent_selection = self.possible_agents[self.game_state.current_player()]
        self._accumulate_rewards()
        if self.render_mode == "human":
            self.render()

    def render(self) -> str | None:
        if self.render_mode is None:
            gymnasium.logger.warn(
                "You are calling render method without specifying any render mode."
            )
            return None
        board = str(self.game_state)
        if self.render_mode == "ansi":
            return board
        print(board)
        return None

    def close(self) -> None:
        """Nothing to release: the OpenSpiel state holds no window or file."""

    # ------------------------------------------------------------------ helpers
    def _reset_bookkeeping(self) -> None:
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {agent: {} for agent in self.agents}
        self.agent_selection = self.agents[0]

    def _resolve_chance(self) -> None:
        while self.game_state.is_chance_node():
            outcomes, probabilities = zip(*self.game_state.chance_outcomes(), strict=True)
            index = self.np_random.choice(len(outcomes), p=np.asarray(probabilities))
            self.game_state.apply_action(int(outcomes[index]))

    def __str__(self) -> str:
        return f"OpenSpielAECEnv({self.game})"
