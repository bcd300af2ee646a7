"""Board-game benchmark of muzero-gym: train MuZero by self-play, then play it against
random play and OpenSpiel's MCTSBot.

Trains ``MuZero("MlpPolicy", ...)`` on a batch of ``--n-envs`` self-play games for
``--timesteps`` env steps or ``--minutes`` of training wall-clock (evaluation excluded),
whichever comes first; every ``--eval-freq`` steps it plays ``--eval-games`` games against
random play and MCTSBot-100 (the learning curve). At the end it saves the model and prints
win / draw / loss tables per seat over ``--final-games`` games against random play,
MCTSBot-100 and MCTSBot-1000, seats alternating. Everything goes to
``bench_out/games_<game>_seed<seed>.json``.

    python -m benchmarks.games --game tic_tac_toe --minutes 15
    python -m benchmarks.games --game tictactoe_v3 --hp '{"num_simulations": 50}'
    python -m benchmarks.games --hp-file my_hp.json --timesteps 20000

``--game tic_tac_toe`` is OpenSpiel's game (``openspiel_env``), ``--game tictactoe_v3``
PettingZoo's; MCTSBot plays both (it translates PettingZoo's board).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv

from benchmarks.zoo import parse_schedule
from muzero_gym import MuZero
from muzero_gym.games import MCTSBotAgent, RandomAgent, TurnBasedGymEnv, play_games

# Hyperparameters per game, until they move to benchmarks/hyperparams/muzero.yml.
# Tic-tac-toe lasts at most 9 plies, so td_steps=9 with discount 1 makes every value target
# the final outcome (Monte-Carlo), from the mover's side; nothing is bootstrapped, so value
# Reanalyze would change nothing and is off. Temperature stays 1 throughout: in a run (seed 0)
# with the paper's steps down to 0.25, self-play narrowed, the replay filled with a few
# lines of play, and the model forgot how to answer the others (losses to random came back
# after 75% of the run). A buffer of ~12 minutes of self-play (100k positions) keeps that
# variety too.
TIC_TAC_TOE_HP: dict[str, Any] = {
    "num_simulations": 25,
    "discount": 1.0,
    "td_steps": 9,
    "unroll_steps": 3,
    "batch_size": 128,
    "buffer_size": 100_000,
    "learning_rate": "lin_0.003",
    "weight_decay": 0.0001,
    "support_size": 3,
    "value_loss_weight": 0.5,
    "dirichlet_alpha": 0.5,
    "root_exploration_fraction": 0.25,
    "temperature": 1.0,
    "priority_alpha": 0.5,
    "priority_beta": 0.5,
    "reanalyze_ratio": 0.0,
    "replay_ratio": 0.25,
    "learning_starts": 500,
    "policy_kwargs": {"hidden_dim": 64, "net_arch": [128, 128]},
}
# Connect four: a first setting scaled up from tic-tac-toe (longer games: td_steps covers
# a whole game of at most 42 moves; wider networks; more simulations), not tuned.
CONNECT_FOUR_HP: dict[str, Any] = {
    **TIC_TAC_TOE_HP,
    "num_simulations": 50,
    "td_steps": 42,
    "unroll_steps": 5,
    "batch_size": 256,
    "buffer_size": 200_000,
    "dirichlet_alpha": 0.3,
    "policy_kwargs": {"hidden_dim": 128, "net_arch": [256, 256]},
}
DEFAULT_HP: dict[str, dict[str, Any]] = {
    "tic_tac_toe": TIC_TAC_TOE_HP,
    "tictactoe_v3": TIC_TAC_TOE_HP,
    "connect_four": CONNECT_FOUR_HP,
}
# The OpenSpiel game MCTSBot searches for each benchmark game.
MCTS_GAME = {
    "tic_tac_toe": "tic_tac_toe",
    "tictactoe_v3": "tic_tac_toe",
    "connect_four": "connect_four",
}


@dataclass
class Args:
    game: str = "tic_tac_toe"
    seed: int = 0
    timesteps: int = 240_000
    minutes: float = 15.0
    n_envs: int = 16
    hp: dict[str, Any] = field(default_factory=dict)
    eval_freq: int = 5_000
    eval_games: int = 20
    final_games: int = 100
    out_dir: Path = Path("bench_out")


def make_game(game: str) -> Any:
    """A fresh PettingZoo AEC env of ``game``."""
    if game == "tictactoe_v3":
        from pettingzoo.classic import tictactoe_v3

        return tictactoe_v3.env()
    from muzero_gym.games import openspiel_env

    return openspiel_env(game)


def make_vec_env(game: str, n_envs: int) -> DummyVecEnv:
    """``n_envs`` self-play games, searched together as one batch by MuZero (which seeds them)."""
    return DummyVecEnv([lambda: TurnBasedGymEnv(make_game(game))] * n_envs)


def match(model: MuZero, game: str, opponent: str, n_games: int, seed: int) -> dict[str, Any]:
    """Play ``n_games`` against ``"random"`` or ``"mcts<N>"``; W/D/L per seat."""
    if opponent == "random":
        agent: Any = RandomAgent(seed=seed)
    else:
        agent = MCTSBotAgent(MCTS_GAME[game], num_simulations=int(opponent[4:]), seed=seed)
    results = play_games(model, agent, TurnBasedGymEnv(make_game(game)), n_games, seed=seed)
    return {
        "opponent": results.opponent_name,
        "games": results.n_games,
        "first": results.record(0),  # (wins, draws, losses) moving first
        "second": results.record(1),
        "total": results.record(),
        "table": str(results),
    }


class TimedEvaluation(BaseCallback):
    """Stops training after ``minutes`` of training time; evaluates every ``eval_freq`` steps.

    Evaluation time is excluded from the training time, so the curve's x-axis and the
    budget are what training alone cost.
    """

    def __init__(self, args: Args) -> None:
        super().__init__()
        self.args = args
        self.curve: list[dict[str, Any]] = []
        self.eval_seconds = 0.0
        self.start = time.perf_counter()
        self.next_eval = args.eval_freq

    def _on_training_start(self) -> None:
        self.start = time.perf_counter()

    def train_seconds(self) -> float:
        return time.perf_counter() - self.start - self.eval_seconds

    def evaluate(self) -> None:
        began = time.perf_counter()
        point: dict[str, Any] = {
            "steps": self.num_timesteps,
            "train_seconds": round(self.train_seconds(), 1),
        }
        assert isinstance(self.model, MuZero)
        for opponent in ("random", "mcts100"):
            result = match(self.model, self.args.game, opponent, self.args.eval_games, seed=1)
            point[opponent] = result["total"]
        self.eval_seconds += time.perf_counter() - began
        self.curve.append(point)
        print(
            f"  steps {point['steps']:7d}  train {point['train_seconds']:6.0f}s  "
            f"W/D/L vs random {point['random']}  vs MCTS-100 {point['mcts100']}",
            flush=True,
        )

    def _on_step(self) -> bool:
        if self.args.eval_freq > 0 and self.num_timesteps >= self.next_eval:
            self.next_eval += self.args.eval_freq
            self.evaluate()
        return self.train_seconds() < 60.0 * self.args.minutes


def hyperparameters(args: Args) -> dict[str, Any]:
    """The game's defaults updated by ``args.hp``, schedules parsed (``"lin_0.003"``)."""
    hp = {**DEFAULT_HP[args.game], **args.hp}
    return {key: parse_schedule(value) for key, value in hp.items()}


def run(args: Args) -> dict[str, Any]:
    hp = hyperparameters(args)
    given = {**DEFAULT_HP[args.game], **args.hp}
    print(f"{args.game}, seed {args.seed}, {args.n_envs} envs: {json.dumps(given)}")
    model = MuZero("MlpPolicy", make_vec_env(args.game, args.n_envs), seed=args.seed, **hp)
    callback = TimedEvaluation(args)
    model.learn(args.timesteps, callback=callback)
    train_seconds = callback.train_seconds()
    print(
        f"trained {model.num_timesteps} steps in {train_seconds / 60:.1f} min (evaluation excluded)"
    )
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"games_{args.game}_seed{args.seed}"
    model.save(args.out_dir / f"{stem}.zip")

    finals = {}
    for opponent in ("random", "mcts100", "mcts1000"):
        # Seeds apart from the learning curve's, so the final games are fresh.
        finals[opponent] = match(model, args.game, opponent, args.final_games, seed=1000)
        print(finals[opponent]["table"], flush=True)
    report = {
        "game": args.game,
        "seed": args.seed,
        "args": {**asdict(args), "out_dir": str(args.out_dir)},
        "hyperparameters": given,
        "timesteps": model.num_timesteps,
        "train_minutes": round(train_seconds / 60, 2),
        "curve": callback.curve,
        "final": finals,
    }
    path = args.out_dir / f"{stem}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"wrote {path}")
    return report


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = Args()
    parser.add_argument("--game", choices=sorted(DEFAULT_HP), default=defaults.game)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--timesteps", type=int, default=defaults.timesteps)
    parser.add_argument(
        "--minutes",
        type=float,
        default=defaults.minutes,
        help="training wall-clock budget (evaluation excluded)",
    )
    parser.add_argument("--n-envs", type=int, default=defaults.n_envs)
    parser.add_argument("--hp", default="{}", help="JSON of MuZero kwargs over the defaults")
    parser.add_argument("--hp-file", type=Path, default=None, help="JSON file of MuZero kwargs")
    parser.add_argument(
        "--eval-freq",
        type=int,
        default=defaults.eval_freq,
        help="env steps between learning-curve points (0: none)",
    )
    parser.add_argument("--eval-games", type=int, default=defaults.eval_games)
    parser.add_argument("--final-games", type=int, default=defaults.final_games)
    parser.add_argument("--out-dir", type=Path, default=defaults.out_dir)
    ns = parser.parse_args()
    hp = json.loads(ns.hp_file.read_text()) if ns.hp_file else {}
    hp.update(json.loads(ns.hp))
    return Args(
        game=ns.game, seed=ns.seed, timesteps=ns.timesteps, minutes=ns.minutes,
        n_envs=ns.n_envs, hp=hp, eval_freq=ns.eval_freq, eval_games=ns.eval_games,
        final_games=ns.final_games, out_dir=ns.out_dir,
    )  # fmt: skip


def main() -> None:
    # One thread: the machine's two cores are shared, and small MLPs gain nothing from more.
    torch.set_num_threads(1)
    run(parse_args())


if __name__ == "__main__":
    main()
