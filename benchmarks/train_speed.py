"""Speed of MuZero's gradient steps, in float32 and with ``mixed_precision`` (bfloat16).

Builds a game's ``muzero.yml`` entry (``--game``, default connect_four), fills its replay
with ``--fill`` env steps of self-play, then times ``--steps`` gradient steps ``--repeats``
times, once with float32 forward passes and once with ``mixed_precision=True``. Prints
the median milliseconds per gradient step, the self-play seconds per 1,000 env steps, and
what one training env step costs at the entry's ``replay_ratio``. One torch thread, as in
``benchmarks.games``. ``--hp`` changes the entry (e.g. a wider network):

    python -m benchmarks.train_speed
    python -m benchmarks.train_speed --hp '{"policy_kwargs": {"channels": 64}}'
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from benchmarks.games import GAMES, make_vec_env, settings
from benchmarks.games import parse_args as games_args
from benchmarks.zoo import parse_schedule
from muzero_gym import MuZero


def measure(game: str, hp: dict, fill: int, steps: int, repeats: int) -> dict[str, float]:
    run_settings, given = settings(games_args(["--game", game, "--hp", json.dumps(hp)]))
    kwargs = {key: parse_schedule(value) for key, value in given.items()}
    kwargs["learning_starts"] = kwargs["buffer_size"] - 1  # self-play only while filling
    model = MuZero(
        run_settings["policy"], make_vec_env(game, run_settings["n_envs"]), seed=0, **kwargs
    )
    start = time.perf_counter()
    model.learn(fill)
    self_play = (time.perf_counter() - start) / model.num_timesteps * 1000
    model.learning_starts = 0
    model.train(3)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.train(steps)
        times.append((time.perf_counter() - start) / steps * 1000)
    step_ms = statistics.median(times)
    return {
        "step_ms": step_ms,
        "self_play_s_per_1000": self_play,
        "s_per_1000_env_steps": self_play + model.replay_ratio * step_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", choices=GAMES, default="connect_four")
    parser.add_argument("--hp", default="{}", help="JSON of MuZero kwargs over the entry")
    parser.add_argument("--fill", type=int, default=2_000, help="self-play env steps first")
    parser.add_argument("--steps", type=int, default=20, help="gradient steps per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    hp = json.loads(args.hp)
    print(
        f"{args.game} entry with {json.dumps(hp)}; medians of {args.repeats} x {args.steps} steps"
    )
    print("precision | ms per gradient step | self-play s per 1,000 env steps | all s per 1,000")
    for mixed in (False, True):
        figures = measure(
            args.game, {**hp, "mixed_precision": mixed}, args.fill, args.steps, args.repeats
        )
        label = "bfloat16" if mixed else "float32"
        print(
            f"{label:9} | {figures['step_ms']:20.1f} | {figures['self_play_s_per_1000']:31.2f} | "
            f"{figures['s_per_1000_env_steps']:15.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
