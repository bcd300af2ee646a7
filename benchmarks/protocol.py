"""What one benchmark run does: the same protocol for every algorithm.

A run is one (env, algorithm, seed). A learner (MuZero, DQN, PPO) is built from its
hyperparameter file (``benchmarks/hyperparams/<algo>.yml``) and trained on its own seeded
envs; every ``eval_freq`` env steps it plays ``eval_episodes`` deterministic episodes on a
separate VecEnv of as many envs (one episode each, so that MuZero searches them as one
batch). The eval envs are reseeded before every evaluation, so each evaluation of a run
sees the same start states, and every algorithm with the same seed sees the same ones.
Training wall-clock excludes evaluation time. A scripted controller (Traffic-v0's
fixed-time and max-pressure, RobotArm-v0's reach controller) is only evaluated. A two-player
game (tic_tac_toe) is evaluated by ``eval_episodes`` games against OpenSpiel's MCTSBot,
seats alternating; its "return" is the mean outcome (+1 win, 0 draw, -1 loss).

The result is a plain dict, saved as JSON by :mod:`benchmarks.run`.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecEnv, VecNormalize, sync_envs_normalization

from benchmarks.zoo import describe_step, load_hyperparams
from muzero_gym import MuZero
from muzero_gym.schedules import LinearSchedule, StepTemperature

# Traffic-v0 on 10 intersections (a 2 x 5 grid, 2^10 = 1024 joint actions), under an id
# of its own so that it has its own rows and hyperparameter entries.
if "Traffic10-v0" not in gym.registry:
    gym.register(
        "Traffic10-v0",
        entry_point="muzero_gym.envs.traffic:TrafficEnv",
        kwargs={"num_intersections": 10},
        max_episode_steps=720,
    )


@dataclass(frozen=True)
class EnvDefaults:
    """Per-env defaults of the harness (command-line flags override them)."""

    timesteps: int  # training budget in env steps, the same for every algorithm
    eval_freq: int  # env steps between evaluations
    info_metric: str | None = None  # info key averaged over each eval episode, reported too


# The CartPole-v1 budget covers the median steps to 475 measured for the zoo's PPO (12,288)
# and DQN (16,384) and keeps the quick default (3 algorithms x 3 seeds) under 10 minutes.
ENVS: dict[str, EnvDefaults] = {
    "CartPole-v1": EnvDefaults(timesteps=20_000, eval_freq=1_000),
    "Acrobot-v1": EnvDefaults(timesteps=100_000, eval_freq=5_000),
    "Traffic-v0": EnvDefaults(timesteps=100_000, eval_freq=10_000, info_metric="mean_waiting_time"),
    "Traffic10-v0": EnvDefaults(
        timesteps=100_000, eval_freq=10_000, info_metric="mean_waiting_time"
    ),
    "RobotArm-v0": EnvDefaults(timesteps=300_000, eval_freq=20_000, info_metric="distance"),
    "tic_tac_toe": EnvDefaults(timesteps=20_000, eval_freq=2_000),
}

LEARNERS: dict[str, type[BaseAlgorithm]] = {"muzero": MuZero, "dqn": DQN, "ppo": PPO}

# Action spaces each learner accepts (what its constructor checks).
ACTION_SPACES: dict[str, tuple[type[spaces.Space], ...]] = {
    "muzero": (spaces.Discrete, spaces.MultiDiscrete, spaces.Box),  # Box: Sampled MuZero
    "dqn": (spaces.Discrete,),
    "ppo": (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary, spaces.Box),
}


def _fixed_time(env: gym.Env) -> Any:
    from muzero_gym.envs.traffic import FixedTimeController

    return FixedTimeController(env.unwrapped)


def _max_pressure(env: gym.Env) -> Any:
    from muzero_gym.envs.traffic import MaxPressureController

    return MaxPressureController(env.unwrapped)


def _reach(env: gym.Env) -> Any:
    from muzero_gym.envs.robot_arm import ReachController

    arm: Any = env.unwrapped  # RobotArmEnv
    return ReachController(max_joint_speed=arm.max_joint_speed)


# Scripted controllers: name -> (the envs they are written for, factory from that env).
CONTROLLERS: dict[str, tuple[tuple[str, ...], Callable[[gym.Env], Any]]] = {
    "fixed-time": (("Traffic-v0", "Traffic10-v0"), _fixed_time),
    "max-pressure": (("Traffic-v0", "Traffic10-v0"), _max_pressure),
    "scripted": (("RobotArm-v0",), _reach),
}

# Two-player OpenSpiel games (through muzero_gym.games), evaluated by matches against
# OpenSpiel's MCTSBot with the simulations of OpenSpiel's examples/mcts.py.
GAMES = ("tic_tac_toe",)
MCTS_BOT_SIMULATIONS = 1000


@dataclass(frozen=True)
class RunSpec:
    """One run: what to train (or evaluate), on what, with which seed and budget.

    ``override``: keys that replace those of the algorithm's hyperparameter entry.
    """

    env_id: str
    algo: str
    seed: int
    timesteps: int
    eval_freq: int
    eval_episodes: int
    override: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.env_id}__{self.algo}__seed{self.seed}"


def why_not(
    env_id: str, algo: str, override: dict[str, Any] | None = None
) -> tuple[str, str] | None:
    """``(status, reason)`` when ``algo`` cannot run on ``env_id`` here, else None.

    ``override``: as :class:`RunSpec`'s (an ``env_wrapper`` may change the action space).

    The status is "not supported" (the algorithm cannot handle the env, or a package is
    missing) or "not run" (no hyperparameters for the pair).
    """
    if algo in CONTROLLERS and env_id not in CONTROLLERS[algo][0]:
        return "not supported", f"a controller for {' and '.join(CONTROLLERS[algo][0])} only"
    if env_id in GAMES and algo != "muzero":
        return "not supported", "two-player board game; SB3's DQN/PPO play single-agent envs"
    try:
        env = make_game(env_id) if env_id in GAMES else gym.make(env_id)
    except ImportError as error:  # an optional extra: mujoco (envs), open_spiel (games)
        return "not supported", f"a package is missing ({error})"
    try:
        run, _ = load_hyperparams(algo, env_id, override) if algo in LEARNERS else ({}, {})
    except KeyError:
        run = None
    env = wrap(env, run.get("env_wrapper") if run else None)
    action_space = env.action_space
    env.close()
    if algo in LEARNERS and not isinstance(action_space, ACTION_SPACES[algo]):
        accepted = ", ".join(space.__name__ for space in ACTION_SPACES[algo])
        return "not supported", f"{type(action_space).__name__} action space ({algo}: {accepted})"
    if run is None:
        return "not run", f"no entry for {env_id} in benchmarks/hyperparams/{algo}.yml"
    return None


def _import(path: str) -> Any:
    module, _, attribute = path.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def wrap(env: gym.Env, env_wrapper: Any) -> gym.Env:
    """Apply rl-zoo's ``env_wrapper``: a dotted path, or a list of paths / {path: kwargs}."""
    if env_wrapper is None:
        return env
    for item in env_wrapper if isinstance(env_wrapper, list) else [env_wrapper]:
        path, kwargs = next(iter(item.items())) if isinstance(item, dict) else (item, None)
        env = _import(path)(env, **(kwargs or {}))
    return env


def make_envs(
    env_id: str,
    n_envs: int,
    seed: int,
    env_wrapper: Any = None,
    env_kwargs: dict[str, Any] | None = None,
) -> VecEnv:
    """``n_envs`` Monitor-wrapped copies of ``env_id``, seeded ``seed, seed + 1, ...``."""
    # render_mode=None: SB3 would ask for "rgb_array", which not every env offers.
    return make_vec_env(
        env_id,
        n_envs=n_envs,
        seed=seed,
        env_kwargs={"render_mode": None, **(env_kwargs or {})},
        wrapper_class=lambda env: wrap(env, env_wrapper),
    )


def make_game(name: str) -> gym.Env:
    """An OpenSpiel game as a Gymnasium env seen by the player to move."""
    from muzero_gym.games import TurnBasedGymEnv, openspiel_env

    return TurnBasedGymEnv(openspiel_env(name))


def play_against_mcts(model: Any, game: str, n_games: int, seed: int) -> dict[str, Any]:
    """``n_games`` deterministic games against MCTSBot, seats alternating; +1 / 0 / -1 each."""
    from muzero_gym.games import MCTSBotAgent, play_games

    bot = MCTSBotAgent(game, num_simulations=MCTS_BOT_SIMULATIONS, seed=seed)
    results = play_games(model, bot, game, n_games, seed=seed)
    return {
        "mean": float(np.mean(results.outcomes)),
        "std": float(np.std(results.outcomes)),
        "wins": results.wins,
        "draws": results.draws,
        "losses": results.losses,
        "opponent": results.opponent_name,
    }


@contextlib.contextmanager
def mode_among_candidates(
    model: MuZero, with_mode: bool, mode_weight: float | None = None
) -> Iterator[None]:
    """Within the block, ``model.predict``'s search has the policy's mode among the root's
    candidates (``mode_candidate="predict"``, with ``mode_weight`` or the model's own) or
    not (``"never"``, weight 1); the model's settings are restored afterwards."""
    saved = model.mode_candidate, model.mode_weight
    model.mode_candidate = "predict" if with_mode else "never"
    if not with_mode:
        model.mode_weight = 1.0
    elif mode_weight is not None:
        model.mode_weight = mode_weight
    try:
        yield
    finally:
        model.mode_candidate, model.mode_weight = saved


def eval_seed(seed: int) -> int:
    """Seed of the first eval env of a run: far from the training envs' seeds."""
    return 1_000_000 + 1_000 * seed


def evaluate(policy: Any, eval_env: VecEnv, seed: int, info_metric: str | None) -> dict[str, Any]:
    """One deterministic episode on each env of ``eval_env`` (seeded ``seed + i``).

    :return: mean and std of the episode returns; with ``info_metric``, that info value
        averaged over each episode's steps (``info_metric``) and at its last step
        (``final_<info_metric>``), both averaged over the episodes; where the env reports
        ``info["is_success"]``, the fraction of episodes whose last step is a success
        (``success_rate``, as SB3's ``EvalCallback`` reads it)
    """
    n = eval_env.num_envs
    metric_sum, metric_steps, finished = np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool)
    metric_last, success = np.zeros(n), np.full(n, np.nan)

    def collect(local_vars: dict[str, Any], _globals: dict[str, Any]) -> None:
        i = local_vars["i"]
        if finished[i]:  # evaluate_policy keeps stepping envs that are done; ignore them
            return
        info = local_vars["info"]
        if info_metric is not None:
            metric_last[i] = float(info[info_metric])
            metric_sum[i] += metric_last[i]
            metric_steps[i] += 1
        finished[i] = bool(local_vars["done"])
        if finished[i] and "is_success" in info:
            success[i] = float(info["is_success"])

    eval_env.seed(seed)
    returns, lengths = evaluate_policy(
        policy,
        eval_env,
        n_eval_episodes=n,
        deterministic=True,
        return_episode_rewards=True,
        callback=collect,
    )
    point: dict[str, Any] = {
        "mean": float(np.mean(returns)),
        "std": float(np.std(returns)),
        "mean_length": float(np.mean(lengths)),
    }
    if info_metric is not None:
        per_episode = metric_sum / np.maximum(metric_steps, 1)
        point[info_metric] = float(np.mean(per_episode))
        point[f"final_{info_metric}"] = float(np.mean(metric_last))
    if not np.isnan(success).any():
        point["success_rate"] = float(np.mean(success))
    return point


class EvalAndStop(BaseCallback):
    """Evaluates every ``eval_freq`` env steps and stops training after ``budget`` steps.

    Training time is measured from the start of ``learn`` with evaluation time taken out.

    :param run_evaluation: plays the evaluation episodes, returns :func:`evaluate`'s dict
    :param report: called with the env steps done after each evaluation (progress display)
    """

    def __init__(
        self,
        run_evaluation: Callable[[], dict[str, Any]],
        eval_freq: int,
        budget: int,
        report: Callable[[int], None],
    ) -> None:
        super().__init__()
        self.run_evaluation = run_evaluation
        self.eval_freq = eval_freq
        self.budget = budget
        self.report = report
        self.curve: list[dict[str, Any]] = []
        self.next_eval = eval_freq
        self.start = time.perf_counter()
        self.eval_seconds = 0.0

    def _on_training_start(self) -> None:
        self.start = time.perf_counter()

    def train_seconds(self) -> float:
        return time.perf_counter() - self.start - self.eval_seconds

    def evaluate_now(self) -> None:
        began = time.perf_counter()
        point = {
            "steps": self.num_timesteps,
            "train_seconds": began - self.start - self.eval_seconds,
            **self.run_evaluation(),
        }
        self.eval_seconds += time.perf_counter() - began
        self.curve.append(point)
        self.report(self.num_timesteps)

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.next_eval:
            while self.next_eval <= self.num_timesteps:
                self.next_eval += self.eval_freq
            self.evaluate_now()
        return self.num_timesteps < self.budget


def describe(value: Any) -> Any:
    """Hyperparameter values as the file writes them (for the JSON record)."""
    if isinstance(value, LinearSchedule):
        return f"lin_{value.start}"
    if isinstance(value, StepTemperature) and describe_step(value) is not None:
        return describe_step(value)
    if isinstance(value, dict):
        return {key: describe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [describe(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def settings(spec: RunSpec) -> dict[str, Any]:
    """Everything that determines a run's result; a saved run with other settings is redone."""
    record: dict[str, Any] = asdict(spec)
    if spec.algo in LEARNERS:
        run, hyperparameters = load_hyperparams(spec.algo, spec.env_id, spec.override)
        record["run_settings"] = describe(run)
        record["hyperparameters"] = describe(hyperparameters)
    return record


def machine() -> dict[str, Any]:
    """Versions and CPU count, so that a saved result says where it was measured."""
    import platform

    import stable_baselines3
    import torch

    import muzero_gym

    return {
        "muzero_gym": muzero_gym.__version__,
        "stable_baselines3": stable_baselines3.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def threshold_of(env_id: str) -> float | None:
    """Gymnasium's ``reward_threshold`` of the env (CartPole-v1: 475), if it has one."""
    return gym.spec(env_id).reward_threshold if env_id in gym.registry else None


def train_learner(spec: RunSpec, report: Callable[[int], None]) -> dict[str, Any]:
    """Train ``spec.algo`` for ``spec.timesteps`` env steps, evaluating along the way.

    Schedules (learning rate, exploration, temperature) keep the tuned horizon
    ``n_timesteps`` of the hyperparameter file when it is longer than the budget, so a short
    budget watches the beginning of the tuned run instead of squeezing its schedules.
    """
    run, hyperparameters = load_hyperparams(spec.algo, spec.env_id, spec.override)
    normalize = bool(hyperparameters.pop("normalize", run.get("normalize", False)))
    env_wrapper = run.get("env_wrapper")
    info_metric = ENVS[spec.env_id].info_metric if spec.env_id in ENVS else None

    n_envs = int(run.get("n_envs", 1))
    game = spec.env_id if spec.env_id in GAMES else None
    if game is not None:
        env = make_vec_env(lambda: make_game(game), n_envs=n_envs, seed=spec.seed)
    else:
        # An entry's env_kwargs (e.g. the reward to learn from) shape the training envs
        # only: every algorithm is evaluated on the env as registered.
        env = make_envs(spec.env_id, n_envs, spec.seed, env_wrapper, run.get("env_kwargs"))
        eval_env = make_envs(spec.env_id, spec.eval_episodes, 0, env_wrapper)
    if normalize:  # rl-zoo's "normalize: true"; evaluation uses the training statistics
        env = VecNormalize(env)
        eval_env = VecNormalize(eval_env, training=False, norm_reward=False)
    model = LEARNERS[spec.algo](
        run.get("policy", "MlpPolicy"), env, seed=spec.seed, device="cpu", **hyperparameters
    )

    def run_evaluation() -> dict[str, Any]:
        if game is not None:
            return play_against_mcts(model, game, spec.eval_episodes, eval_seed(spec.seed))
        if normalize:
            sync_envs_normalization(env, eval_env)
        return evaluate(model, eval_env, eval_seed(spec.seed), info_metric)

    callback = EvalAndStop(run_evaluation, spec.eval_freq, spec.timesteps, report)
    horizon = max(spec.timesteps, int(run.get("n_timesteps", 0)))
    model.learn(total_timesteps=horizon, callback=callback)
    train_seconds = callback.train_seconds()
    if not callback.curve or callback.curve[-1]["steps"] != model.num_timesteps:
        callback.evaluate_now()
    env.close()
    if game is None:
        eval_env.close()

    threshold = threshold_of(spec.env_id)
    reached = next(
        (p for p in callback.curve if threshold is not None and p["mean"] >= threshold), None
    )
    return {
        "threshold": threshold,
        "steps_to_threshold": reached["steps"] if reached else None,
        "seconds_to_threshold": reached["train_seconds"] if reached else None,
        "final": callback.curve[-1],
        "env_steps": model.num_timesteps,
        "train_seconds": train_seconds,
        "eval_seconds": callback.eval_seconds,
        "throughput": model.num_timesteps / train_seconds,
        "curve": callback.curve,
    }


def evaluate_controller(spec: RunSpec) -> dict[str, Any]:
    """Play ``spec.eval_episodes`` episodes with a scripted controller (nothing to train)."""
    env_id = spec.env_id
    factory = CONTROLLERS[spec.algo][1]
    probe = gym.make(env_id)
    controller = factory(probe)
    probe.close()
    info_metric = ENVS[env_id].info_metric if env_id in ENVS else None
    eval_env = make_envs(env_id, spec.eval_episodes, 0)
    began = time.perf_counter()
    point = {
        "steps": 0,
        "train_seconds": 0.0,
        **evaluate(controller, eval_env, eval_seed(spec.seed), info_metric),
    }
    eval_env.close()
    return {
        "threshold": threshold_of(env_id),
        "steps_to_threshold": None,
        "seconds_to_threshold": None,
        "final": point,
        "env_steps": 0,
        "train_seconds": 0.0,
        "eval_seconds": time.perf_counter() - began,
        "throughput": None,
        "curve": [point],
    }
