"""Board-game benchmark of muzero-gym: train MuZero by self-play, then play it against
random play and OpenSpiel's MCTSBot.

Trains MuZero with the game's entry of ``benchmarks/hyperparams/muzero.yml`` (policy,
number of self-play games searched as one batch, budget, MuZero's arguments; ``--hp``
overrides them) for ``--timesteps`` env steps or ``--minutes`` of training wall-clock
(evaluation excluded), whichever comes first; every ``--eval-freq`` steps it plays
``--eval-games`` games against each of ``--curve-opponents`` (default random play and
MCTSBot-100: the learning curve). At the end it saves the model and prints
win / draw / loss tables per seat over ``--final-games`` games against each of
``--final-opponents`` (default random play, MCTSBot-100 and MCTSBot-1000), seats
alternating (with ``--final-simulations N`` the saved model plays them with N simulations
per move). Everything goes to ``bench_out/games_<game>_seed<seed>.json``; the replay goes
beside the model, so ``--resume`` trains on where the run stopped, and ``--resume MODEL
--timesteps 0`` only plays the final tables of a saved model.

    python -m benchmarks.games --game tic_tac_toe --minutes 15
    python -m benchmarks.games --game tictactoe_v3 --hp '{"num_simulations": 50}'
    python -m benchmarks.games --hp-file my_hp.json --timesteps 20000
    python -m benchmarks.games --game connect_four --minutes 110 --eval-freq 60000 \
        --curve-opponents random mcts100 mcts1000
    python -m benchmarks.games --game connect_four --resume bench_out/games_connect_four_seed0.zip \
        --timesteps 0 --final-simulations 200 --final-opponents mcts100 --final-seed 2000

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

from benchmarks.zoo import load_entry, parse_schedule, split_entry
from muzero_gym import MuZero
from muzero_gym.games import MCTSBotAgent, RandomAgent, TurnBasedGymEnv, play_games

# The games this benchmark plays; their settings are the entries of the same names in
# benchmarks/hyperparams/muzero.yml (policy, n_envs, n_timesteps and MuZero's arguments).
GAMES = ("tic_tac_toe", "tictactoe_v3", "connect_four")
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
    timesteps: int | None = None  # None: the entry's n_timesteps
    minutes: float = 15.0
    n_envs: int | None = None  # None: the entry's n_envs
    hp: dict[str, Any] = field(default_factory=dict)
    eval_freq: int = 5_000
    eval_games: int = 20
    curve_opponents: tuple[str, ...] = ("random", "mcts100")
    resume: Path | None = None  # a model saved by an earlier run: train it further
    final_games: int = 100
    final_simulations: int | None = None  # None: the simulations it was trained with
    final_opponents: tuple[str, ...] = ("random", "mcts100", "mcts1000")
    final_seed: int = 1000  # apart from the learning curve's (1), so the final games are fresh
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


def opponent_agent(mcts_game: str, opponent: str, seed: int) -> Any:
    """``"random"`` play or ``"mcts<N>"``, OpenSpiel's MCTSBot with N simulations
    searching the OpenSpiel game ``mcts_game``."""
    if opponent == "random":
        return RandomAgent(seed=seed)
    return MCTSBotAgent(mcts_game, num_simulations=int(opponent_name(opponent)[4:]), seed=seed)


def match(model: MuZero, game: str, opponent: str, n_games: int, seed: int) -> dict[str, Any]:
    """Play ``n_games`` against ``"random"`` or ``"mcts<N>"``; W/D/L per seat."""
    agent = opponent_agent(MCTS_GAME[game], opponent, seed)
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
        self.next_eval = self.num_timesteps + self.args.eval_freq

    def train_seconds(self) -> float:
        return time.perf_counter() - self.start - self.eval_seconds

    def evaluate(self) -> None:
        began = time.perf_counter()
        point: dict[str, Any] = {
            "steps": self.num_timesteps,
            "train_seconds": round(self.train_seconds(), 1),
        }
        assert isinstance(self.model, MuZero)
        for opponent in self.args.curve_opponents:
            result = match(self.model, self.args.game, opponent, self.args.eval_games, seed=1)
            point[opponent] = result["total"]
        self.eval_seconds += time.perf_counter() - began
        self.curve.append(point)
        tables = "  ".join(f"vs {name} {point[name]}" for name in self.args.curve_opponents)
        print(
            f"  steps {point['steps']:7d}  train {point['train_seconds']:6.0f}s  W/D/L {tables}",
            flush=True,
        )

    def _on_step(self) -> bool:
        if self.args.eval_freq > 0 and self.num_timesteps >= self.next_eval:
            self.next_eval += self.args.eval_freq
            self.evaluate()
        return self.train_seconds() < 60.0 * self.args.minutes


def settings(args: Args) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(run settings, MuZero kwargs as written)``: the game's muzero.yml entry, with
    ``args.hp`` over its MuZero kwargs (``"policy"`` there picks the policy) and
    ``--timesteps`` / ``--n-envs`` over its run settings."""
    run_settings, given = split_entry({**load_entry("muzero", args.game), **args.hp})
    if args.timesteps is not None:
        run_settings["n_timesteps"] = args.timesteps
    if args.n_envs is not None:
        run_settings["n_envs"] = args.n_envs
    run_settings.setdefault("policy", "MlpPolicy")
    run_settings.setdefault("n_envs", 1)
    return run_settings, given


def replay_path(model_path: Path) -> Path:
    """Where the replay of a saved model goes: ``games_<game>_seed<n>_replay.npz``."""
    return model_path.with_name(f"{model_path.stem}_replay.npz")


def run(args: Args) -> dict[str, Any]:
    run_settings, given = settings(args)
    hp = {key: parse_schedule(value) for key, value in given.items()}
    policy, n_envs = run_settings["policy"], run_settings["n_envs"]
    print(f"{args.game}, seed {args.seed}, {policy}, {n_envs} envs: {json.dumps(given)}")
    env = make_vec_env(args.game, n_envs)
    if args.resume is not None:
        # The saved settings carry on, with the replay saved beside the model if there is
        # one (else it starts empty). The learning rate schedule continues over the new total.
        model = MuZero.load(args.resume, env=env)
        replay = replay_path(args.resume)
        if replay.exists():
            model.load_replay_buffer(replay)
        kept = f"{len(model.replay_buffer)} replay positions from {replay}"
        print(f"resumed from {args.resume} at {model.num_timesteps} env steps, {kept}")
    else:
        model = MuZero(policy, env, seed=args.seed, **hp)
    callback = TimedEvaluation(args)
    model.learn(
        run_settings["n_timesteps"], callback=callback, reset_num_timesteps=args.resume is None
    )
    train_seconds = callback.train_seconds()
    print(
        f"trained {model.num_timesteps} steps in {train_seconds / 60:.1f} min (evaluation excluded)"
    )
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"games_{args.game}_seed{args.seed}"
    model.save(args.out_dir / f"{stem}.zip")
    model.save_replay_buffer(replay_path(args.out_dir / f"{stem}.zip"))
    if args.final_simulations is not None:
        model = MuZero.load(args.out_dir / f"{stem}.zip", num_simulations=args.final_simulations)

    finals = {}
    for opponent in args.final_opponents if args.final_games > 0 else ():
        finals[opponent] = match(model, args.game, opponent, args.final_games, args.final_seed)
        print(finals[opponent]["table"], flush=True)
    report = {
        "game": args.game,
        "seed": args.seed,
        "args": {
            **asdict(args),
            "out_dir": str(args.out_dir),
            "resume": None if args.resume is None else str(args.resume),
        },
        "run_settings": run_settings,
        "hyperparameters": given,
        "timesteps": model.num_timesteps,
        "train_minutes": round(train_seconds / 60, 2),
        "final_simulations": model.num_simulations,
        "curve": callback.curve,
        "final": finals,
    }
    path = args.out_dir / f"{stem}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"wrote {path}")
    return report


def opponent_name(name: str) -> str:
    """``random`` or ``mcts<N>`` (MCTSBot with N simulations), for argparse."""
    if name == "random" or (name.startswith("mcts") and name[4:].isdigit() and int(name[4:]) > 0):
        return name
    raise argparse.ArgumentTypeError(f"unknown opponent {name!r}: random or mcts<N>, e.g. mcts100")


def parse_args(argv: list[str] | None = None) -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = Args()
    parser.add_argument("--game", choices=GAMES, default=defaults.game)
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
    parser.add_argument(
        "--curve-opponents",
        nargs="+",
        type=opponent_name,
        default=list(defaults.curve_opponents),
        help="opponents of the learning curve: random, mcts<N> (e.g. mcts100 mcts1000)",
    )
    parser.add_argument("--final-games", type=int, default=defaults.final_games)
    parser.add_argument(
        "--final-simulations",
        type=int,
        default=defaults.final_simulations,
        help="simulations per move in the final tables (default: as trained)",
    )
    parser.add_argument(
        "--final-opponents",
        nargs="+",
        type=opponent_name,
        default=list(defaults.final_opponents),
        help="opponents of the final tables: random, mcts<N>",
    )
    parser.add_argument(
        "--final-seed",
        type=int,
        default=defaults.final_seed,
        help="seed of the final games (e.g. another one to add games to an earlier table)",
    )
    parser.add_argument(
        "--resume",
        type=Path,
        default=None,
        help="train this saved model further (its own settings and the replay saved beside "
        "it; --timesteps more steps)",
    )
    parser.add_argument("--out-dir", type=Path, default=defaults.out_dir)
    ns = parser.parse_args(argv)
    hp = json.loads(ns.hp_file.read_text()) if ns.hp_file else {}
    hp.update(json.loads(ns.hp))
    return Args(
        game=ns.game, seed=ns.seed, timesteps=ns.timesteps, minutes=ns.minutes,
        n_envs=ns.n_envs, hp=hp, eval_freq=ns.eval_freq, eval_games=ns.eval_games,
        curve_opponents=tuple(ns.curve_opponents), final_games=ns.final_games,
        final_simulations=ns.final_simulations, final_opponents=tuple(ns.final_opponents),
        final_seed=ns.final_seed, out_dir=ns.out_dir, resume=ns.resume,
    )  # fmt: skip


def main() -> None:
    # One thread: the machine's two cores are shared, and small MLPs gain nothing from more.
    torch.set_num_threads(1)
    run(parse_args())


if __name__ == "__main__":
    main()
