"""How well MuZero's learned model tells RobotArm-v0's actions apart.

Trains ``MuZero`` with the ``RobotArm-v0`` entry of ``benchmarks/hyperparams/muzero.yml``
(``--override`` changes it) for each of ``--checkpoints`` env steps, and at each one
compares the model with the simulator on states of deterministic evaluation episodes:
from every 10th state, ``--actions`` uniform random actions are played both in the
simulator (MuJoCo state saved and restored) and through the learned dynamics. Prints

- the spread of the true one-step reward across those actions (its standard deviation
  within a state): how much a single decision changes the reward;
- the model's mean absolute reward error, and the correlation of predicted and true
  rewards across the actions of one state (median over states): whether the model
  ranks actions the way the simulator does; and the same correlation for the search's
  action value ``r + discount * v(g(s, a))`` (the reward is minus the distance after the
  action, so a good value ranks the actions as the true reward does);
- how good the action is that this action value ranks first: its true reward above the
  actions' mean, as a fraction of the best one's (1: always the best, 0: no better than
  a random pick; ``benchmarks.robot_arm_oracle`` prints the same for its noisy rankings);
  and the same for the action the search plays (on the scale of the random actions, so
  it can exceed 1), also for the distance part of the reward alone (leaving out the
  control cost, which small actions win);
- the policy's state: mean |mean| and mean standard deviation of the pre-squash Gaussian
  (1.0 at initialisation);
- the deterministic evaluation's mean distance and final-step success rate;
- the same error and correlation on states of uniform random play
  (``benchmarks.robot_arm_reward_floor.held_out_states``, where the supervised fits are
  scored): whether the model is worse on the evaluation's states than on those; and,
  across those states, the correlation of the predicted value with minus the distance:
  whether the value has learned what the task is about.

Training follows the schedules of a run of ``--schedule-steps`` (default: the entry's
``n_timesteps``) and stops after the last checkpoint, so each checkpoint's model is the one
a full run has at that many steps.

    python -m benchmarks.robot_arm_model --checkpoints 8000 30000
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import mujoco
import muzero_gym.envs  # noqa: F401  (registers RobotArm-v0)
import numpy as np
import torch
from muzero_gym.envs.robot_arm import RobotArmEnv
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

from benchmarks.robot_arm_reward_floor import held_out_states, score
from benchmarks.run import write_json
from benchmarks.zoo import load_hyperparams, parse_schedule
from muzero_gym import MuZero
from muzero_gym.support import support_to_scalar

ENV_ID = "RobotArm-v0"


def entry_reward_scale(env_kwargs: dict[str, Any] | None) -> float:
    """The factor by which an entry's ``env_kwargs`` scale RobotArm-v0's reward (1 as registered).

    The model learns the scaled reward; dividing its predictions by this factor compares them
    with the registered env's. Both reward terms must be scaled alike.
    """
    defaults = inspect.signature(RobotArmEnv.__init__).parameters
    kwargs = env_kwargs or {}
    dist_default = defaults["reward_dist_weight"].default
    control_default = defaults["reward_control_weight"].default
    scale = kwargs.get("reward_dist_weight", dist_default) / dist_default
    control_scale = kwargs.get("reward_control_weight", control_default) / control_default
    if not math.isclose(scale, control_scale):
        raise ValueError(
            "the model checks compare rewards with the registered env's, so the entry's "
            f"env_kwargs must scale both reward terms alike, got {kwargs}"
        )
    return scale


def relative(value: float, true: np.ndarray) -> float:
    """``value`` above the mean of ``true``, as a fraction of the best one's (NaN if all
    are equal)."""
    headroom = true.max() - true.mean()
    return float((value - true.mean()) / headroom) if headroom > 0 else np.nan


def true_outcomes(arm: Any, actions: np.ndarray, horizon: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Play each action ``[K, 6]`` for ``horizon`` steps from the arm's current state, which is
    restored after each: its return ``[K]`` and the distance part of that return ``[K]``."""
    qpos, qvel = arm.data.qpos.copy(), arm.data.qvel.copy()
    returns, distance_parts = np.zeros(len(actions)), np.zeros(len(actions))
    for i, action in enumerate(actions):
        for _ in range(horizon):
            _, reward, _, _, info = arm.step(np.asarray(action, dtype=np.float32))
            returns[i] += reward
            distance_parts[i] += info["reward_dist"]
        arm.data.qpos[:], arm.data.qvel[:] = qpos, qvel
        mujoco.mj_forward(arm.model, arm.data)
    return returns, distance_parts


def pick_quality(scores: np.ndarray, true: np.ndarray) -> float:
    """True value of the best-scored action above the mean, as a fraction of the best's."""
    return relative(true[np.argmax(scores)], true)


def model_predictions(
    model: MuZero, obs: torch.Tensor, actions: torch.Tensor, reward_scale: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """For ``actions`` in [-1, 1] from ``obs``: the learned one-step reward ``[B]`` and the
    search's action value ``r + discount * v(g(s, a))`` ``[B]``, both divided by
    ``reward_scale`` (the factor the model's training rewards were scaled by)."""
    policy = model.policy
    hidden, _, _ = policy.initial_inference(obs)
    # The tree keeps pre-squash actions; the dynamics sees tanh of them.
    pre_squash = torch.atanh(actions.clamp(-0.999, 0.999))
    _, reward_logits, _, value_logits = policy.recurrent_inference(hidden, pre_squash)
    reward = support_to_scalar(reward_logits, policy.support_size).reshape(-1)
    value = support_to_scalar(value_logits, policy.support_size).reshape(-1)
    return reward / reward_scale, (reward + model.discount * value) / reward_scale


def check(
    model: MuZero,
    episodes: int,
    n_actions: int,
    seed: int,
    random_states: list[dict[str, Any]],
    reward_scale: float = 1.0,
) -> dict[str, Any]:
    """Model-vs-simulator figures on ``episodes`` deterministic evaluation episodes."""
    policy = model.policy
    env = gym.make(ENV_ID)
    arm: Any = env.unwrapped
    rng = np.random.default_rng(seed)
    spreads, errors, correlations, q_correlations, picks = [], [], [], [], []
    distances, successes, search_picks, search_dist_picks = [], [], [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done, step, episode_distances = False, 0, []
        info: dict[str, Any] = {}
        while not done:
            if step % 10 == 0:
                actions = rng.uniform(-1, 1, (n_actions, arm.action_space.shape[0]))
                true_rewards, true_dist = true_outcomes(arm, actions)
                with torch.no_grad():
                    batch = torch.as_tensor(np.repeat(obs[None], n_actions, axis=0))
                    predicted, q = (
                        x.numpy()
                        for x in model_predictions(
                            model, batch, torch.as_tensor(actions), reward_scale
                        )
                    )
                spreads.append(true_rewards.std())
                errors.append(np.abs(predicted - true_rewards).mean())
                correlations.append(np.corrcoef(predicted, true_rewards)[0, 1])
                q_correlations.append(np.corrcoef(q, true_rewards)[0, 1])
                picks.append(pick_quality(q, true_rewards))
            action, _ = model.predict(obs, deterministic=True)
            if step % 10 == 0:  # the action the search plays, on the same scale
                searched, searched_dist = true_outcomes(arm, action[None])
                search_picks.append(relative(searched[0], true_rewards))
                search_dist_picks.append(relative(searched_dist[0], true_dist))
            obs, _, terminated, truncated, info = env.step(action)
            episode_distances.append(info["distance"])
            done, step = terminated or truncated, step + 1
        distances.append(np.mean(episode_distances))
        successes.append(bool(info["is_success"]))
    with torch.no_grad():
        starts = np.stack([env.reset(seed=seed + 100 + i)[0] for i in range(32)])
        _, params, _ = policy.initial_inference(torch.as_tensor(starts))
        # The mode (the mean of the most probable Gaussian) and the weighted std: for a
        # one-Gaussian policy its mean and std.
        log_weights, _, log_std = model.action_spec._mixture(params)  # type: ignore[attr-defined]
        mean = model.action_spec.mode(params)
        std = (log_weights.exp()[:, :, None] * log_std.exp()).sum(1)
    env.close()
    on_random = score(lambda o, a: model_predictions(model, o, a, reward_scale)[0], random_states)
    # Across states: does the value track how close the arm is (obs ends with ee - target)?
    with torch.no_grad():
        observations = np.stack([state["obs"] for state in random_states])
        _, _, value_logits = policy.initial_inference(torch.as_tensor(observations))
        values = support_to_scalar(value_logits, policy.support_size).numpy().ravel()
    closeness = -np.linalg.norm(observations[:, -3:], axis=1)
    return {
        "true_reward_spread": float(np.mean(spreads)),
        "reward_error": float(np.mean(errors)),
        "within_state_correlation": float(np.nanmedian(correlations)),
        "q_correlation": float(np.nanmedian(q_correlations)),
        "q_pick_quality": float(np.nanmean(picks)),
        "search_pick_quality": float(np.nanmean(search_picks)),
        "search_pick_quality_distance": float(np.nanmean(search_dist_picks)),
        "policy_mean_abs": float(mean.abs().mean()),
        "policy_std": float(std.mean()),
        "mean_distance": float(np.mean(distances)),
        "success_rate": float(np.mean(successes)),
        "random_play_reward_error": on_random["reward_error"],
        "random_play_correlation": on_random["within_state_correlation"],
        "value_distance_correlation": float(np.corrcoef(values, closeness)[0, 1]),
    }


class ModelCheck(BaseCallback):
    """Runs :func:`check` each time training passes one of ``checkpoints``; stops after the last."""

    def __init__(
        self,
        checkpoints: list[int],
        episodes: int,
        n_actions: int,
        random_states: list[Any],
        reward_scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.pending = sorted(checkpoints)
        self.episodes, self.n_actions, self.random_states = episodes, n_actions, random_states
        self.reward_scale = reward_scale
        self.rows: list[dict[str, Any]] = []

    def _on_step(self) -> bool:
        if self.num_timesteps < self.pending[0]:
            return True
        self.pending.pop(0)
        model: Any = self.model
        figures = check(
            model, self.episodes, self.n_actions, 1, self.random_states, self.reward_scale
        )
        row = {"env_steps": self.num_timesteps, **figures}
        self.rows.append(row)
        print(
            f"{row['env_steps']:9d}  {row['true_reward_spread']:13.4f}  {row['reward_error']:11.4f}"
            f"  {row['within_state_correlation']:4.2f}  {row['q_correlation']:6.2f}"
            f"  {row['q_pick_quality']:6.2f}  {row['search_pick_quality']:11.2f}"
            f"  {row['search_pick_quality_distance']:11.2f}"
            f"  {row['policy_mean_abs']:13.3f}"
            f"  {row['policy_std']:4.2f}  {row['mean_distance']:8.3f}  {row['success_rate']:7.2f}"
            f"  {row['random_play_reward_error']:17.4f}  {row['random_play_correlation']:4.2f}"
            f"  {row['value_distance_correlation']:15.2f}",
            flush=True,
        )
        return bool(self.pending)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[8_000, 30_000])
    parser.add_argument(
        "--schedule-steps",
        type=int,
        default=None,
        help="length of the run whose schedules (learning rate, temperature) training follows"
        " up to the last checkpoint; default: the entry's n_timesteps",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--actions", type=int, default=16)
    parser.add_argument("--override", default="{}", help="JSON of MuZero kwargs to override")
    parser.add_argument("--json", default=None, help="write the rows to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)

    run, hp = load_hyperparams("muzero", ENV_ID)
    hp.update({k: parse_schedule(v) for k, v in json.loads(args.override).items()})
    schedule_steps = args.schedule_steps or int(run["n_timesteps"])
    if schedule_steps < max(args.checkpoints):
        parser.error("--schedule-steps must be at least the last checkpoint")
    # Trained as the entry trains (its env_kwargs); checked against the registered env.
    env_kwargs = run.get("env_kwargs")
    env = make_vec_env(
        ENV_ID, n_envs=int(run.get("n_envs", 1)), seed=args.seed, env_kwargs=env_kwargs
    )
    model = MuZero(run.get("policy", "MlpPolicy"), env, seed=args.seed, **hp)
    callback = ModelCheck(
        args.checkpoints,
        args.episodes,
        args.actions,
        held_out_states(200, args.actions, args.seed + 1),
        entry_reward_scale(env_kwargs),
    )
    print(
        "env steps  reward spread  model error  corr  Q corr  Q pick  search pick  (distance)"
        "  policy |mean|  std  distance  success  random-play error  corr  value~closeness"
    )
    model.learn(schedule_steps, callback=callback)
    if args.json:
        write_json(
            Path(args.json),
            {"override": args.override, "schedule_steps": schedule_steps, "rows": callback.rows},
        )


if __name__ == "__main__":
    main()
