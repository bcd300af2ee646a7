"""Play matches between agents with seats alternating; opponents to measure against.

An agent is anything with the sb3-contrib MaskablePPO ``predict`` convention, a trained
``MuZero`` model included. Opponents that need more than the observation (OpenSpiel's
``MCTSBot`` searches from the game state; a human wants to see the board) also have
``bind(env)``, which ``play_games`` calls once before the first game.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import IO, Any, Protocol, runtime_checkable

import numpy as np

from muzero_gym.games.turn_based import TurnBasedGymEnv


@runtime_checkable
class Agent(Protocol):
    """Plays a move: ``action, state = agent.predict(obs, action_masks=mask, deterministic=True)``.

    ``observation`` is what ``TurnBasedGymEnv`` returns, ``action_masks`` the legal moves
    ``[A]``; ``action`` an int or a scalar (or one-element) array.
    """

    def predict(
        self, observation: Any, *, action_masks: np.ndarray | None = ..., deterministic: bool = ...
    ) -> tuple[Any, Any]: ...


@dataclass(frozen=True)
class MatchResults:
    """Outcomes of a match, from the agent's side.

    :param game: the game's name
    :param agent_name: who the results are for
    :param opponent_name: who it played
    :param agent_seats: the agent's seat in each game (0 moves first)
    :param outcomes: +1 win, 0 draw, -1 loss for the agent in each game
    """

    game: str
    agent_name: str
    opponent_name: str
    agent_seats: tuple[int, ...]
    outcomes: tuple[int, ...]

    @property
    def n_games(self) -> int:
        return len(self.outcomes)

    def record(self, seat: int | None = None) -> tuple[int, int, int]:
        """``(wins, draws, losses)`` of the agent, in one seat or (``None``) over all games."""
        chosen = [
            o for s, o in zip(self.agent_seats, self.outcomes, strict=True) if seat in (None, s)
        ]
        return chosen.count(1), chosen.count(0), chosen.count(-1)

    @property
    def wins(self) -> int:
        return self.record()[0]

    @property
    def draws(self) -> int:
        return self.record()[1]

    @property
    def losses(self) -> int:
        return self.record()[2]

    @property
    def win_rate(self) -> float:
        return self.wins / max(self.n_games, 1)

    def __str__(self) -> str:
        rows = [("seat 0 (first)", self.record(0)), ("seat 1", self.record(1))]
        rows.append(("total", self.record()))
        lines = [
            f"{self.game}: {self.agent_name} vs {self.opponent_name}, {self.n_games} games",
            f"{'agent plays':<16}{'wins':>6}{'draws':>7}{'losses':>8}",
        ]
        lines += [f"{name:<16}{w:>6}{d:>7}{lo:>8}" for name, (w, d, lo) in rows]
        return "\n".join(lines)


def play_games(
    agent: Agent,
    opponent: Agent,
    env_or_game: Any,
    n_games: int,
    *,
    seed: int = 0,
) -> MatchResults:
    """Play ``n_games`` of ``agent`` against ``opponent``, the agent taking seat 0 in even games.

    Both play deterministically (``deterministic=True``); game ``i`` starts from
    ``reset(seed=seed + i)``.

    :param agent: the player the results are for
    :param opponent: the other player
    :param env_or_game: an OpenSpiel game name, a PettingZoo AEC env or a ``TurnBasedGymEnv``
    :param n_games: number of games; seats alternate, so make it even for a fair match
    :param seed: seed of the first game
    :return: the agent's wins / draws / losses per seat
    """
    if n_games < 1:
        raise ValueError(f"n_games must be at least 1, got {n_games}")
    env = _as_turn_based(env_or_game)
    players = (agent, opponent)
    for player in players:
        bind = getattr(player, "bind", None)
        if callable(bind):
            bind(env)
    seats, outcomes = [], []
    for game in range(n_games):
        agent_seat = game % 2
        observation, info = env.reset(seed=seed + game)
        agent_return = 0.0
        done = False
        while not done:
            mover_is_agent = info["to_play"] == agent_seat
            player = agent if mover_is_agent else opponent
            action, _ = player.predict(
                observation, action_masks=info["action_mask"], deterministic=True
            )
            try:
                observation, reward, terminated, truncated, info = env.step(action)
            except ValueError as error:
                who = "agent" if mover_is_agent else "opponent"
                raise ValueError(f"{who} {_name(player)}: {error}") from error
            # Zero-sum: the opponent's reward is minus the mover's.
            agent_return += float(reward) if mover_is_agent else -float(reward)
            done = terminated or truncated
        seats.append(agent_seat)
        outcomes.append(int(np.sign(agent_return)))
    return MatchResults(
        game=str(env.metadata.get("name", "game")),
        agent_name=_name(agent),
        opponent_name=_name(opponent),
        agent_seats=tuple(seats),
        outcomes=tuple(outcomes),
    )


class RandomAgent:
    """Plays a uniformly random legal move (``deterministic`` is ignored: it is its nature).

    :param seed: seed of its ``np.random.Generator``
    """

    name = "random"

    def __init__(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def predict(
        self,
        observation: Any,
        *,
        action_masks: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[int, None]:
        legal = _legal_moves(action_masks, self.name)
        return int(self.rng.choice(legal)), None


class MCTSBotAgent:
    """OpenSpiel's ``MCTSBot`` (C++) with random-rollout evaluation.

    It searches from the OpenSpiel state of the game being played, so it plays in
    ``play_games`` (which binds it to the env) or after ``bind(env)``. It plays on
    ``openspiel_env`` games (and shimmy's) of the same name, and on PettingZoo's
    ``tictactoe_v3`` against ``"tic_tac_toe"``, whose board it translates (PettingZoo numbers
    the cells by column, OpenSpiel by row).

    Defaults follow OpenSpiel's ``examples/mcts.py``: ``uct_c = 2``, one rollout per leaf,
    MCTS-Solver on (proven wins and losses are backed up exactly).

    :param game_name: the OpenSpiel game, e.g. ``"tic_tac_toe"``
    :param num_simulations: simulations per move
    :param seed: seeds the search and the rollouts
    :param uct_c: UCT exploration constant
    :param rollouts: random rollouts per evaluated leaf
    :param solve: use MCTS-Solver
    :param game_params: OpenSpiel game parameters (must match the env's game)
    """

    def __init__(
        self,
        game_name: str,
        num_simulations: int = 1000,
        seed: int = 0,
        *,
        uct_c: float = 2.0,
        rollouts: int = 1,
        solve: bool = True,
        game_params: dict[str, Any] | None = None,
    ) -> None:
        import pyspiel

        if num_simulations < 1:
            raise ValueError(f"num_simulations must be at least 1, got {num_simulations}")
        if game_name not in pyspiel.registered_names():
            raise ValueError(f"unknown OpenSpiel game {game_name!r}")
        self.game = pyspiel.load_game(game_name, game_params or {})
        self.game_name = game_name
        self.num_simulations = num_simulations
        self.name = f"MCTSBot({num_simulations})"
        # Distinct streams for the rollouts and the tree (OpenSpiel seeds both from ints).
        rng = np.random.default_rng(seed)
        rollout_seed, search_seed = (int(s) for s in rng.integers(0, 2**31 - 1, size=2))
        evaluator = pyspiel.RandomRolloutEvaluator(rollouts, rollout_seed)
        self.bot = pyspiel.MCTSBot(
            self.game, evaluator, uct_c, num_simulations, 1000, solve, search_seed, False
        )
        self._env: TurnBasedGymEnv | None = None
        self._translate = False

    def bind(self, env: TurnBasedGymEnv) -> None:
        """Play on ``env`` from now on."""
        unwrapped = env.aec_env.unwrapped
        game_state = getattr(unwrapped, "game_state", None)
        name = getattr(unwrapped, "metadata", {}).get("name")
        if game_state is not None:
            their = game_state.get_game()
            if str(their) != str(self.game):
                raise ValueError(f"{self.name} plays {self.game}, the env plays {their}")
            self._translate = False
        elif name == "tictactoe_v3" and self.game_name == "tic_tac_toe":
            self._translate = True
        else:
            raise ValueError(
                f"{self.name} needs an OpenSpiel env of {self.game_name!r} "
                f"(openspiel_env({self.game_name!r})) or PettingZoo tictactoe_v3, got {env}"
            )
        self._env = env

    def predict(
        self,
        observation: Any,
        *,
        action_masks: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[int, None]:
        if self._env is None:
            raise RuntimeError(f"{self.name} needs the game state: use play_games or bind(env)")
        state = self._tictactoe_state() if self._translate else self._openspiel_state()
        action = int(self.bot.step(state))
        return (_transpose_cell(action) if self._translate else action), None

    def _openspiel_state(self) -> Any:
        assert self._env is not None
        return self._env.aec_env.unwrapped.game_state.clone()

    def _tictactoe_state(self) -> Any:
        """Rebuild an OpenSpiel tic_tac_toe state from a PettingZoo tictactoe_v3 board."""
        assert self._env is not None
        squares = self._env.aec_env.unwrapped.board.squares  # 0 empty, 1 first player, 2 second
        crosses = [_transpose_cell(i) for i, mark in enumerate(squares) if mark == 1]
        noughts = [_transpose_cell(i) for i, mark in enumerate(squares) if mark == 2]
        state = self.game.new_initial_state()
        # The order of moves does not matter: the game is not over, so no line is complete.
        for turn in range(len(crosses) + len(noughts)):
            state.apply_action((crosses if turn % 2 == 0 else noughts)[turn // 2])
        return state


class HumanAgent:
    """A person at the terminal: shows the board and the legal moves, reads a move.

    :param input_stream: where moves are read from (``sys.stdin`` by default)
    :param output_stream: where the board and prompts go (``sys.stdout`` by default)
    """

    name = "human"

    def __init__(self, input_stream: IO[str] | None = None, output_stream: IO[str] | None = None):
        self.input_stream = input_stream if input_stream is not None else sys.stdin
        self.output_stream = output_stream if output_stream is not None else sys.stdout
        self._env: TurnBasedGymEnv | None = None

    def bind(self, env: TurnBasedGymEnv) -> None:
        self._env = env

    def predict(
        self,
        observation: Any,
        *,
        action_masks: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[int, None]:
        legal = _legal_moves(action_masks, self.name).tolist()
        print(self._board(observation), file=self.output_stream)
        while True:
            print(f"your move {legal}: ", end="", file=self.output_stream, flush=True)
            line = self.input_stream.readline()
            if not line:
                raise EOFError("no more input: the human left the game")
            try:
                move = int(line.strip())
            except ValueError:
                print(f"not a number: {line.strip()!r}", file=self.output_stream)
                continue
            if move in legal:
                return move, None
            print(f"{move} is not a legal move", file=self.output_stream)

    def _board(self, observation: Any) -> str:
        unwrapped = self._env.aec_env.unwrapped if self._env is not None else None
        game_state = getattr(unwrapped, "game_state", None)
        if game_state is not None:
            return str(game_state)
        board = getattr(unwrapped, "board", None)
        squares = getattr(board, "squares", None)
        if squares is not None and len(squares) == 9:  # PettingZoo tictactoe_v3, by column
            marks = [".XO"[mark] for mark in squares]
            return "\n".join(" ".join(marks[col * 3 + row] for col in range(3)) for row in range(3))
        return str(np.asarray(observation))


def _transpose_cell(cell: int) -> int:
    """PettingZoo tictactoe cell (column-major) <-> OpenSpiel cell (row-major); an involution."""
    return (cell % 3) * 3 + cell // 3


def _legal_moves(action_masks: np.ndarray | None, who: str) -> np.ndarray:
    if action_masks is None:
        raise ValueError(f"{who} needs action_masks=... (the legal moves) to choose a move")
    legal = np.flatnonzero(np.asarray(action_masks).reshape(-1))
    if legal.size == 0:
        raise ValueError(f"{who} was asked to move with no legal move")
    return legal


def _name(player: Any) -> str:
    return str(getattr(player, "name", type(player).__name__))


def _as_turn_based(env_or_game: Any) -> TurnBasedGymEnv:
    if isinstance(env_or_game, TurnBasedGymEnv):
        return env_or_game
    if isinstance(env_or_game, str):
        from muzero_gym.games.openspiel import openspiel_env

        return TurnBasedGymEnv(openspiel_env(env_or_game))
    return TurnBasedGymEnv(env_or_game)
