"""One-move tactics of a saved MuZero board-game model, checked with the game's own rules.

Plays ``--games`` games (seats alternating) of a model saved by ``benchmarks.games``
against ``--opponent`` (``random`` or ``mcts<N>``) and, at every move of the model, asks
OpenSpiel's state:
- could the model have won on the spot, and did it (a move that wins later can be as
  good, so a "missed" win is not always a mistake);
- did its move let the opponent win on the spot when another move would not have: a
  one-move blunder, which an opponent with MCTS-Solver punishes at once.
Prints the match's wins / draws / losses and the counts. Only OpenSpiel games
(``tic_tac_toe``, ``connect_four``); the model plays with ``--simulations`` per move
(default: those it was trained with).

    python -m benchmarks.game_tactics --model bench_out/games_connect_four_seed0.zip \
        --game connect_four --games 40 --seed 1000
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.games import MCTS_GAME, opponent_agent
from muzero_gym import MuZero
from muzero_gym.games import TurnBasedGymEnv, openspiel_env, play_games


def winning_moves(state: Any) -> list[int]:
    """The moves with which the player to move wins at once."""
    player = state.current_player()
    found = []
    for action in state.legal_actions():
        child = state.child(action)
        if child.is_terminal() and child.returns()[player] > 0:
            found.append(action)
    return found


def safe_moves(state: Any) -> list[int]:
    """The moves after which the opponent cannot win at once."""
    return [
        action
        for action in state.legal_actions()
        if state.child(action).is_terminal() or not winning_moves(state.child(action))
    ]


class TacticsRecorder:
    """Plays ``model``'s moves and counts its one-move tactics (an evaluation agent)."""

    def __init__(self, model: MuZero) -> None:
        self.model = model
        self.env: TurnBasedGymEnv | None = None
        self.counts = {
            "moves": 0,
            "win_available": 0,
            "win_missed": 0,
            "gave_a_win": 0,
            "gave_an_avoidable_win": 0,
        }

    def bind(self, env: TurnBasedGymEnv) -> None:
        self.env = env

    def predict(
        self, observation: np.ndarray, action_masks: np.ndarray | None = None, **kwargs: Any
    ) -> tuple[np.ndarray, None]:
        assert self.env is not None, "play_games binds the env first"
        action, _ = self.model.predict(observation, action_masks=action_masks, deterministic=True)
        state = self.env.aec_env.game_state
        move = int(action)
        counts = self.counts
        counts["moves"] += 1
        wins = winning_moves(state)
        if wins:
            counts["win_available"] += 1
            counts["win_missed"] += move not in wins
        else:
            safe = safe_moves(state)
            if move not in safe:
                counts["gave_a_win"] += 1
                counts["gave_an_avoidable_win"] += bool(safe)
        return action, None


def check(model: MuZero, game: str, opponent: str, n_games: int, seed: int) -> dict[str, Any]:
    """Play the match and return its record with the tactic counts."""
    if game not in ("tic_tac_toe", "connect_four"):
        raise ValueError(
            f"tactics are read from OpenSpiel states: tic_tac_toe or connect_four, not {game!r}"
        )
    recorder = TacticsRecorder(model)
    agent = opponent_agent(MCTS_GAME[game], opponent, seed)
    results = play_games(recorder, agent, TurnBasedGymEnv(openspiel_env(game)), n_games, seed=seed)
    return {
        "opponent": results.opponent_name,
        "games": n_games,
        "total": results.record(),
        **recorder.counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--game", choices=["tic_tac_toe", "connect_four"], default="connect_four")
    parser.add_argument("--opponent", default="mcts100")
    parser.add_argument("--games", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--simulations", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    extra = {} if args.simulations is None else {"num_simulations": args.simulations}
    model = MuZero.load(args.model, **extra)
    report = check(model, args.game, args.opponent, args.games, args.seed)
    print(json.dumps({"model": str(args.model), "simulations": model.num_simulations, **report}))


if __name__ == "__main__":
    main()
