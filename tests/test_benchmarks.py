"""The benchmark harness: files per run, resuming, "not supported" pairs, table and plot.

Tiny budgets: two CartPole runs of 64 env steps each (MuZero and PPO), in two processes.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from benchmarks import protocol, run, summarize
from benchmarks.wrappers import FlattenMultiDiscreteAction
from muzero_gym import cli

TINY = [
    "--envs",
    "CartPole-v1",
    "--algos",
    "muzero",
    "ppo",
    "--seeds",
    "0",
    "--timesteps",
    "64",
    "--eval-freq",
    "32",
    "--eval-episodes",
    "2",
    "--jobs",
    "2",
]


def test_tiny_benchmark_writes_files_and_resumes(tmp_path: Path, capsys) -> None:
    out = tmp_path / "bench"
    assert run.main([*TINY, "--out", str(out)]) == 0
    files = sorted(p.name for p in (out / "runs").glob("*.json"))
    assert files == ["CartPole-v1__muzero__seed0.json", "CartPole-v1__ppo__seed0.json"]
    for name in files:
        record = json.loads((out / "runs" / name).read_text())
        assert record["status"] == "done"
        assert record["env_steps"] >= 64
        assert [point["steps"] for point in record["curve"]] == [32, 64]
        assert record["threshold"] == 475
        assert record["train_seconds"] > 0 and record["throughput"] > 0
        assert {"mean", "std", "train_seconds", "steps"} <= set(record["final"])
    assert "| muzero | 1 |" in (out / "summary.md").read_text()
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Interrupted: one run's file is missing. Only that run is done again.
    kept = out / "runs" / "CartPole-v1__muzero__seed0.json"
    kept_before = kept.read_text()
    (out / "runs" / "CartPole-v1__ppo__seed0.json").unlink()
    capsys.readouterr()
    assert run.main([*TINY, "--out", str(out)]) == 0
    assert "resuming: 1 of 2 runs already saved" in capsys.readouterr().out
    assert kept.read_text() == kept_before
    assert (out / "runs" / "CartPole-v1__ppo__seed0.json").exists()


def test_unsupported_pairs_are_reported_not_skipped(tmp_path: Path) -> None:
    args = run.parse_args(
        [
            "--envs",
            "Traffic-v0",
            "RobotArm-v0",
            "tic_tac_toe",
            "--algos",
            "muzero",
            "dqn",
            "baselines",
            "--seeds",
            "0",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    runs, refused = run.plan(args)
    assert {(r.env_id, r.algo, r.seed) for r in runs} == (
        {
            ("Traffic-v0", algo, seed)
            for algo in ("muzero", "dqn", "fixed-time", "max-pressure")
            for seed in (0, 1)
        }
        | {("RobotArm-v0", algo, seed) for algo in ("muzero", "scripted") for seed in (0, 1)}
        | {("tic_tac_toe", "muzero", seed) for seed in (0, 1)}
    )
    reasons = {(r["env_id"], r["algo"]): (r["status"], r["reason"]) for r in refused}
    assert reasons[("RobotArm-v0", "dqn")][0] == "not supported"
    assert "Box" in reasons[("RobotArm-v0", "dqn")][1]
    assert reasons[("tic_tac_toe", "dqn")][0] == "not supported"
    assert ("tic_tac_toe", "muzero") not in reasons  # muzero.yml has an entry for it
    assert set(reasons) == {("RobotArm-v0", "dqn"), ("tic_tac_toe", "dqn")}


def _record(algo: str, seed: int, steps_to: int | None, final: float) -> dict:
    curve = [
        {"steps": s, "train_seconds": s / 100, "mean": final * s / 3000, "std": 1.0}
        for s in (1000, 2000, 3000)
    ]
    return {
        "env_id": "CartPole-v1",
        "algo": algo,
        "seed": seed,
        "status": "done",
        "settings": {"timesteps": 3000, "eval_freq": 1000, "eval_episodes": 10},
        "threshold": 475.0,
        "steps_to_threshold": steps_to,
        "seconds_to_threshold": None if steps_to is None else steps_to / 100,
        "final": curve[-1],
        "env_steps": 3000,
        "train_seconds": 30.0,
        "throughput": 100.0,
        "curve": curve,
    }


def test_summary_and_plot_from_saved_files(tmp_path: Path) -> None:
    records = [
        _record("muzero", 0, 1000, 500.0),
        _record("muzero", 1, 3000, 480.0),
        _record("muzero", 2, None, 300.0),
        _record("dqn", 0, None, 100.0),
        {
            "env_id": "CartPole-v1",
            "algo": "max-pressure",
            "status": "not supported",
            "reason": "a controller for Traffic-v0 and Traffic10-v0 only",
        },
    ]
    (tmp_path / "runs").mkdir()
    for i, record in enumerate(records):
        run.write_json(tmp_path / "runs" / f"{i}.json", record)
    summarize.main(["--out", str(tmp_path)])
    table = (tmp_path / "summary.md").read_text()
    # Median over seeds with a never-reached seed counted as infinite: 3,000 for MuZero.
    assert "| muzero | 3 | 2/3 | 3,000 | 30.0 | 426.7 ± 110.2 | 100 |" in table
    assert "| dqn | 1 | 0/1 | not reached | not reached |" in table
    refusal = "not supported: a controller for Traffic-v0 and Traffic10-v0 only"
    assert f"| max-pressure | {refusal} |" in table
    assert table.index("| muzero") < table.index("| dqn") < table.index("| max-pressure")
    assert (tmp_path / "curves.png").stat().st_size > 10_000


def test_flatten_multidiscrete_wrapper_round_trip() -> None:
    env = FlattenMultiDiscreteAction(gym.make("Traffic-v0"))
    assert env.action_space == gym.spaces.Discrete(16)
    decoded = {tuple(env.action(k)) for k in range(16)}
    assert len(decoded) == 16 and all(
        env.unwrapped.action_space.contains(np.array(a)) for a in decoded
    )
    assert tuple(env.action(1)) == (0, 0, 0, 1)
    with pytest.raises(ValueError, match="joint actions"):
        FlattenMultiDiscreteAction(gym.make("Traffic-v0", num_intersections=16))


def test_action_repeat_sums_rewards_and_stops_at_the_episode_end() -> None:
    from benchmarks.wrappers import ActionRepeat

    env = ActionRepeat(gym.make("CartPole-v1", max_episode_steps=10), repeat=4)
    env.reset(seed=0)
    rewards, truncated = [], False
    while not truncated:
        _, reward, terminated, truncated, _ = env.step(0 if len(rewards) % 2 else 1)
        assert not terminated
        rewards.append(reward)
    assert rewards == [4.0, 4.0, 2.0]  # 10 env steps in decisions of 4, 4 and 2
    with pytest.raises(ValueError, match="repeat must be"):
        ActionRepeat(gym.make("CartPole-v1"), repeat=0)


def test_scale_reward_scales_the_queue_reward_and_rejects_bad_factors() -> None:
    from benchmarks.wrappers import ScaleReward

    plain = gym.make("Traffic-v0", reward_fn="queue")
    scaled = ScaleReward(gym.make("Traffic-v0", reward_fn="queue"), scale=0.1)
    plain.reset(seed=3)
    scaled.reset(seed=3)
    for _ in range(30):
        _, reward, _, _, info = plain.step(np.array([1, 0, 1, 0]))
        _, scaled_reward, _, _, scaled_info = scaled.step(np.array([1, 0, 1, 0]))
        assert scaled_reward == pytest.approx(0.1 * reward)
        assert scaled_info["mean_waiting_time"] == info["mean_waiting_time"]
    assert reward < 0  # vehicles are queued by now, so the check above was not 0 == 0
    for bad in (0, float("nan"), "0.1", True):
        with pytest.raises(ValueError, match="scale must be"):
            ScaleReward(gym.make("CartPole-v1"), scale=bad)


@pytest.mark.parametrize("phase_plan", ["two-phase", "four-phase"])
def test_relative_phase_actions_label_the_same_choices(phase_plan: str) -> None:
    from benchmarks.traffic_baselines import NextPhaseController
    from benchmarks.wrappers import RelativePhaseAction

    kwargs = dict(num_intersections=6, phase_plan=phase_plan)
    wrapped = RelativePhaseAction(gym.make("Traffic-v0", **kwargs))
    plain = gym.make("Traffic-v0", **kwargs)
    n_phases = plain.unwrapped.n_phases
    rng = np.random.default_rng(0)
    obs, _ = wrapped.reset(seed=3)
    plain_obs, _ = plain.reset(seed=3)
    changes = 0
    for _ in range(200):  # random relative requests = the absolute ones they stand for
        relative = rng.integers(0, n_phases, size=6)
        phase = obs.reshape(6, -1)[:, :n_phases].argmax(axis=1)
        absolute = (phase + relative) % n_phases
        obs, reward, *_ = wrapped.step(relative)
        plain_obs, plain_reward, *_ = plain.step(absolute)
        np.testing.assert_array_equal(obs, plain_obs)
        assert reward == plain_reward
        changes += int((obs.reshape(6, -1)[:, :n_phases].argmax(axis=1) != phase).sum())
    assert changes > 50  # the requests did change phases

    # Always 1 (next phase) is the next-phase baseline; always 0 holds each green to max_green.
    controller = NextPhaseController(plain)
    obs, _ = wrapped.reset(seed=4)
    plain_obs, _ = plain.reset(seed=4)
    for _ in range(100):
        obs, *_ = wrapped.step(np.ones(6, dtype=np.int64))
        plain_obs, *_ = plain.step(controller.predict(plain_obs)[0])
        np.testing.assert_array_equal(obs, plain_obs)
    with pytest.raises(TypeError, match="Traffic-v0"):
        RelativePhaseAction(gym.make("CartPole-v1"))


def test_cli_finds_the_harness_or_says_why(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)  # outside the checkout: found next to an editable install
    if cli.find_repository() is None:
        pytest.skip("muzero_gym is not an editable install of this checkout")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "--help"])
    assert exit_info.value.code == 0
    assert "--jobs" in capsys.readouterr().out
    monkeypatch.setattr(cli, "find_repository", lambda: None)
    assert cli.main(["bench"]) == 2
    assert "benchmarks/ of a muzero-gym checkout" in capsys.readouterr().err


def test_a_game_run_reports_its_match_against_mcts(monkeypatch) -> None:
    tiny = {"num_simulations": 4, "batch_size": 16, "learning_starts": 32, "support_size": 3}
    monkeypatch.setattr(
        protocol, "load_hyperparams", lambda algo, env, override: ({"n_envs": 2}, tiny)
    )
    monkeypatch.setattr(protocol, "MCTS_BOT_SIMULATIONS", 10)
    spec = protocol.RunSpec("tic_tac_toe", "muzero", 0, timesteps=64, eval_freq=64, eval_episodes=2)
    result = protocol.train_learner(spec, report=lambda steps: None)
    final = result["final"]
    assert final["wins"] + final["draws"] + final["losses"] == 2
    assert final["opponent"] == f"MCTSBot({protocol.MCTS_BOT_SIMULATIONS})"
    assert result["threshold"] is None and result["env_steps"] == 64


def test_game_benchmark_final_tables_resume_and_tables_only(tmp_path: Path) -> None:
    from benchmarks import games
    from muzero_gym import MuZero

    tiny = {"num_simulations": 4, "batch_size": 16, "learning_starts": 32, "support_size": 3}
    args = games.Args(
        game="tic_tac_toe", timesteps=64, n_envs=2, hp=tiny, eval_freq=0, final_games=2,
        final_simulations=6, out_dir=tmp_path,
    )  # fmt: skip
    report = games.run(args)
    assert report["final_simulations"] == 6
    assert {name: sum(table["total"]) for name, table in report["final"].items()} == {
        "random": 2, "mcts100": 2, "mcts1000": 2,
    }  # fmt: skip
    saved = MuZero.load(tmp_path / "games_tic_tac_toe_seed0.zip")
    assert saved.num_simulations == 4  # the saved model keeps its training settings
    assert json.loads((tmp_path / "games_tic_tac_toe_seed0.json").read_text())["timesteps"] >= 64
    # --resume trains the saved model on, with its saved replay: no wait for learning_starts.
    resumed = games.Args(
        game="tic_tac_toe", timesteps=16, n_envs=2, eval_freq=0, final_games=0,
        resume=tmp_path / "games_tic_tac_toe_seed0.zip", out_dir=tmp_path / "more",
    )  # fmt: skip
    assert games.run(resumed)["timesteps"] >= 80
    again = MuZero.load(tmp_path / "more" / "games_tic_tac_toe_seed0.zip")
    assert again._n_updates > saved._n_updates
    again.load_replay_buffer(tmp_path / "more" / "games_tic_tac_toe_seed0_replay.npz")
    assert len(again.replay_buffer) == report["timesteps"] + 16
    # --timesteps 0: only the final tables of a saved model, against the opponents named.
    argv = [
        "--game", "tic_tac_toe", "--resume", str(tmp_path / "more" / "games_tic_tac_toe_seed0.zip"),
        "--timesteps", "0", "--final-games", "2", "--final-opponents", "mcts10",
        "--final-seed", "7", "--out-dir", str(tmp_path / "eval"),
    ]  # fmt: skip
    only_tables = games.run(games.parse_args(argv))
    assert only_tables["timesteps"] == again.num_timesteps
    assert list(only_tables["final"]) == ["mcts10"] and only_tables["args"]["final_seed"] == 7
    with pytest.raises(SystemExit):
        games.parse_args(["--final-opponents", "mcts"])


def test_gumbel_cartpole_writes_files_and_skips_finished_runs(tmp_path: Path, capsys) -> None:
    from benchmarks import gumbel_cartpole

    tiny = ["--seeds", "0", "--timesteps", "200", "--eval-freq", "100", "--eval-episodes", "2"]
    gumbel_cartpole.main([*tiny, "--out", str(tmp_path)])
    runs = {"muzero__seed0.json", "gumbel__seed0.json"}
    assert {p.name for p in tmp_path.glob("*__seed*.json")} == runs
    for name in runs:
        record = json.loads((tmp_path / name).read_text())
        assert record["search"] == name.split("__")[0]
        assert record["hyperparameters"]["num_simulations"] == 4
        assert record["hyperparameters"]["search"] == record["search"]
        assert [point["steps"] for point in record["curve"]] == [100, 200, 200]
    summary = (tmp_path / "summary.md").read_text()
    assert "| muzero | 0 | never |" in summary and "| gumbel | 0 | never |" in summary
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    before = (tmp_path / "gumbel__seed0.json").read_text()
    capsys.readouterr()
    gumbel_cartpole.main([*tiny, "--out", str(tmp_path)])
    assert capsys.readouterr().out.count("exists, skipped") == 2
    assert (tmp_path / "gumbel__seed0.json").read_text() == before


def test_override_replaces_entry_keys_of_one_algorithm(tmp_path: Path) -> None:
    override = '{"ppo": {"n_envs": 2, "n_steps": 16, "batch_size": 16, "gamma": 0.5}}'
    args = run.parse_args([*TINY, "--jobs", "1", "--override", override, "--out", str(tmp_path)])
    runs, _ = run.plan(args)
    by_algo = {spec.algo: spec for spec in runs}
    assert by_algo["muzero"].override == {}
    settings = protocol.settings(by_algo["ppo"])
    assert settings["run_settings"]["n_envs"] == 2
    assert settings["hyperparameters"]["gamma"] == 0.5
    assert settings["hyperparameters"]["learning_rate"] == "lin_0.001"  # the entry's
    # Training stops at the first vector step at or past the budget: with the entry's 8 envs
    # at 72 env steps, with the override's 2 at 66.
    spec = dataclasses.replace(by_algo["ppo"], timesteps=66)
    assert protocol.train_learner(spec, report=lambda steps: None)["env_steps"] == 66
    plain = run.plan(run.parse_args([*TINY, "--out", str(tmp_path)]))[0]
    assert protocol.settings(plain[1]) != settings  # a saved run with other values is redone
    for bad in ('{"scripted": {"x": 1}}', '{"ppo": 1}', "[1]", "{ppo: 1}"):
        with pytest.raises(SystemExit):
            run.parse_args([*TINY, "--override", bad])


def test_ten_intersection_traffic_has_its_rows() -> None:
    args = run.parse_args(["--envs", "Traffic10-v0", "--algos", "muzero", "dqn", "baselines"])
    runs, refused = run.plan(args)
    assert {r.algo for r in runs} == {"muzero", "fixed-time", "max-pressure"}
    assert [(r["algo"], r["status"]) for r in refused] == [("dqn", "not supported")]
    spec = protocol.RunSpec("Traffic10-v0", "max-pressure", 0, 0, 0, eval_episodes=1)
    result = protocol.evaluate_controller(spec)
    assert result["final"]["mean_length"] == 720  # one full hour on the 2 x 5 grid
    assert result["final"]["mean_waiting_time"] > 0


def test_env_kwargs_are_run_settings_for_the_training_envs(tmp_path: Path, monkeypatch) -> None:
    from benchmarks import zoo

    (tmp_path / "muzero.yml").write_text(
        "Traffic-v0:\n  n_envs: 2\n  env_kwargs:\n    reward_fn: queue\n  discount: 0.9\n"
    )
    monkeypatch.setattr(zoo, "HYPERPARAMS_DIR", tmp_path)
    run_settings, hp = zoo.load_hyperparams("muzero", "Traffic-v0")
    assert run_settings == {"n_envs": 2, "env_kwargs": {"reward_fn": "queue"}}
    assert hp == {"discount": 0.9}
    env = protocol.make_envs("Traffic-v0", 2, 0, None, run_settings["env_kwargs"])
    assert [e.unwrapped.reward_fn for e in env.envs] == ["queue", "queue"]
    assert protocol.make_envs("Traffic-v0", 1, 0).envs[0].unwrapped.reward_fn == (
        "diff-waiting-time"
    )


def test_override_can_replace_run_keys_such_as_the_policy() -> None:
    from benchmarks import cartpole_target

    args = cartpole_target.parse_args(
        ["--env", "Traffic-v0", "--override",
         '{"policy": "EntityMlpPolicy", "n_envs": 2, "discount": 0.9, "learning_rate": "lin_0.1"}']
    )  # fmt: skip
    run, hp = cartpole_target.settings(args)
    assert run["policy"] == "EntityMlpPolicy" and run["n_envs"] == 2
    assert "policy" not in hp and "n_envs" not in hp
    assert hp["discount"] == 0.9 and hp["learning_rate"](0.5) == pytest.approx(0.05)
    default, _ = cartpole_target.settings(cartpole_target.parse_args(["--env", "Traffic-v0"]))
    assert default["policy"] == "MlpPolicy"


def test_evaluation_envs_take_their_own_kwargs() -> None:
    from benchmarks import cartpole_target

    args = cartpole_target.parse_args(
        ["--env", "Traffic-v0", "--eval-episodes", "2", "--eval-env-kwargs",
         '{"num_intersections": 1}']
    )  # fmt: skip
    env = cartpole_target.make_eval_envs(args, 0, None)
    assert env.num_envs == 2
    assert [e.unwrapped.num_intersections for e in env.envs] == [1, 1]
    default = cartpole_target.make_eval_envs(
        cartpole_target.parse_args(["--env", "Traffic-v0"]), 0, None
    )
    assert default.envs[0].unwrapped.num_intersections == 4


def test_target_run_saves_checkpoints_and_records_the_system(tmp_path: Path) -> None:
    from benchmarks import cartpole_target
    from muzero_gym import MuZero

    tiny = {"batch_size": 8, "num_simulations": 2, "n_envs": 2, "learning_starts": 16,
            "policy_kwargs": {"hidden_dim": 8, "net_arch": [8]}}  # fmt: skip
    args = cartpole_target.parse_args(
        ["--env", "CartPole-v1", "--timesteps", "64", "--eval-freq", "32", "--eval-episodes",
         "1", "--override", json.dumps(tiny), "--save-dir", str(tmp_path),
         "--checkpoint-freq", "32"]
    )  # fmt: skip
    record = cartpole_target.run_seed(0, args)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["CartPole-v1_seed0_32_steps.zip", "CartPole-v1_seed0_64_steps.zip"]
    last = MuZero.load(tmp_path / "checkpoints" / names[1])
    final = MuZero.load(tmp_path / "CartPole-v1_seed0.zip")
    for a, b in zip(last.policy.parameters(), final.policy.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    assert record["system"]["PyTorch"] == torch.__version__
    assert record["system"]["CPU capability"] == torch.backends.cpu.get_cpu_capability()
    without_dir = cartpole_target.parse_args(["--checkpoint-freq", "32"])
    with pytest.raises(SystemExit, match="needs --save-dir"):
        cartpole_target.run_seed(0, without_dir)


def test_traffic_model_check_compares_with_the_simulator(tmp_path: Path) -> None:
    from muzero_gym.envs.traffic import MaxPressureController

    from benchmarks import traffic_model
    from muzero_gym import MuZero

    env = gym.make("Traffic-v0")
    traffic = env.unwrapped
    traffic.reset(seed=0)
    joint = np.stack(np.unravel_index(np.arange(16), (2,) * 4), axis=1)
    controller = MaxPressureController(traffic)
    # At the start no green has lasted min_green: every request is ignored, all alike.
    at_start = traffic_model.simulator_values(traffic, joint, controller, 3, 2, 0.99)
    np.testing.assert_allclose(at_start, at_start[0])
    for _ in range(4):  # 20 s of phase 0 everywhere: now a request to switch is served
        traffic.step(np.zeros(4, dtype=np.int64))
    later = traffic_model.simulator_values(traffic, joint, controller, 12, 2, 0.99)
    assert later.std() > 0.0
    model = MuZero(
        "MlpPolicy", "Traffic-v0", seed=0, num_simulations=2, search="gumbel",
        policy_kwargs={"hidden_dim": 8, "net_arch": [16]},
    )  # fmt: skip
    path = tmp_path / "m.zip"
    model.save(path)
    argv = ["--model", str(path), "--states", "2", "--horizon", "2", "--repeats", "1",
            "--seed", "0"]  # fmt: skip
    args = traffic_model.parse_args(argv)
    result = traffic_model.check(MuZero.load(path), args)
    assert result["states"] == 2
    assert result["best_in_true_top3"] is None or 0.0 <= result["best_in_true_top3"] <= 1.0
    assert 0.0 < result["prior_entropy"] <= np.log(16) + 1e-6
    assert result["actions_compared"] == 16.0
    with pytest.raises(ValueError, match="--env"):  # a 2x2 model on the 2x5 grid
        traffic_model.check(
            MuZero.load(path), traffic_model.parse_args([*argv, "--env", "Traffic10-v0"])
        )


def test_traffic_effects_measure_single_switches_and_what_predicts_them() -> None:
    from benchmarks import traffic_effects

    features, effects = traffic_effects.switch_effects(
        "queue", episodes=1, every=2, episode_steps=40, seed=0
    )
    assert features.shape == (len(effects), 27 + 4 * 27) and len(effects) > 10
    # One step after a switch the intersection shows yellow: fewer vehicles leave.
    assert effects.mean() < 0 and np.all(effects <= 1e-9)
    more, _ = traffic_effects.switch_effects(
        "queue", episodes=1, every=2, episode_steps=40, seed=0, privileged=True
    )
    assert more.shape[1] == features.shape[1] + 12 + 1

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5))
    exact = traffic_effects.held_out_r2(x, x @ np.arange(1.0, 6.0), mlp_steps=300)
    assert exact["linear_r2"] > 0.999 and exact["mlp_r2"] > 0.5
    noise = traffic_effects.held_out_r2(x, rng.normal(size=400), mlp_steps=300)
    assert noise["linear_r2"] < 0.1 and noise["mlp_r2"] < 0.1
    with pytest.raises(ValueError, match="all equal"):
        traffic_effects.held_out_r2(x, np.ones(400), mlp_steps=1)
    with pytest.raises(ValueError, match="more samples"):
        traffic_effects.held_out_r2(x[:2], np.arange(2.0), mlp_steps=1)


def _small_traffic10_model(tmp_path: Path) -> tuple[Path, DummyVecEnv]:
    """A small untrained Traffic10-v0 MuZero (4 sampled joint requests) saved under
    ``tmp_path``, and the env it was made on (the entry's ``RelativePhaseAction``)."""
    from benchmarks.zoo import load_hyperparams
    from muzero_gym import MuZero

    run_settings, _ = load_hyperparams("muzero", "Traffic10-v0")
    env = protocol.make_envs("Traffic10-v0", 1, 0, run_settings["env_wrapper"])
    model = MuZero(
        "MlpPolicy", env, seed=0, search="gumbel", num_simulations=2, num_sampled_actions=4,
        policy_kwargs={"hidden_dim": 8, "net_arch": [16]},
    )  # fmt: skip
    path = tmp_path / "m.zip"
    model.save(path)
    return path, env


def test_traffic_model_check_compares_sampled_relative_requests(tmp_path: Path) -> None:
    from benchmarks import traffic_model
    from muzero_gym import MuZero

    path, env = _small_traffic10_model(tmp_path)
    assert traffic_model._relative_requests(env.envs[0])
    assert not traffic_model._relative_requests(gym.make("Traffic10-v0"))
    args = traffic_model.parse_args(
        ["--model", str(path), "--env", "Traffic10-v0", "--states", "4", "--horizon", "4",
         "--repeats", "1", "--seed", "0"]
    )  # fmt: skip
    result = traffic_model.check(MuZero.load(path), args)
    assert result["states"] == 4 and result["prior_entropy"] is None
    assert 1.0 <= result["actions_compared"] <= 4.0  # the distinct samples of K = 4
    assert (
        result["model_regret"] is None
        or 0.0 <= result["model_regret"] <= result["best_minus_mean"] * 4
    )


def test_one_step_values_read_each_root_of_a_batch(tmp_path: Path) -> None:
    import torch

    from benchmarks.traffic_model import one_step_values, root_actions
    from benchmarks.zoo import load_hyperparams
    from muzero_gym import MuZero

    path, _ = _small_traffic10_model(tmp_path)
    model = MuZero.load(path)
    torch.manual_seed(0)
    with torch.no_grad():  # untrained heads predict 0 everywhere: give them something to say
        for parameter in model.policy.parameters():
            parameter.normal_(0.0, 0.2)
    env = protocol.make_envs(
        "Traffic10-v0", 2, 0, load_hyperparams("muzero", "Traffic10-v0")[0]["env_wrapper"]
    )
    obs = env.reset()
    for _ in range(30):  # queues differ between the two envs' arrivals by now
        obs, *_ = env.step(np.stack([env.action_space.sample() for _ in range(env.num_envs)]))
    assert not np.allclose(obs[0], obs[1])
    with torch.inference_mode():
        root = model.policy.search_root(torch.as_tensor(obs))
        alone = model.policy.search_root(torch.as_tensor(obs[1:2]))
    joint, values = one_step_values(model, root, 1)
    searched, joint_again = root_actions(model, root, 1)
    np.testing.assert_array_equal(joint, joint_again)
    hidden = alone.embedding.expand(len(searched), *alone.embedding.shape[1:]).contiguous()
    with torch.inference_mode():
        out = model.policy.search_step(hidden, searched)
    np.testing.assert_allclose(values, out.reward + model.discount * out.value, rtol=1e-4)
    assert np.ptp(values) > 1e-3 or abs(values[0]) > 1e-3  # not all zero


def test_traffic_decide_plays_search_mode_and_policy(tmp_path: Path) -> None:
    from benchmarks import traffic_decide
    from muzero_gym import MuZero

    path, _ = _small_traffic10_model(tmp_path)
    model = MuZero.load(path)
    policy = traffic_decide.play(model, "Traffic10-v0", "policy mode", 1, 10_000)
    assert policy["off_mode"] == 0.0  # it plays the mode itself
    assert 0.0 <= policy["changes"] <= 1.0 and policy["mean_waiting_time"] > 0.0
    # Without the entry's RelativePhaseAction the same constant mode is read as absolute
    # phases: it asks for changes at another rate.
    absolute = traffic_decide.play(model, "Traffic10-v0", "policy mode", 1, 10_000, env_wrapper={})
    assert 0.0 <= absolute["changes"] <= 1.0 and absolute["changes"] != policy["changes"]
    search = traffic_decide.play(model, "Traffic10-v0", "search", 1, 10_000)
    assert search["off_mode"] > 0.0  # one of 4 samples, not the mode, most of the time
    pick = traffic_decide.play(model, "Traffic10-v0", "model pick", 1, 10_000)
    assert 0.0 <= pick["changes"] <= 1.0 and pick["mean_waiting_time"] > 0.0
    # The simulator ranking the 4 samples beats the untrained policy's constant mode.
    pick = traffic_decide.play(model, "Traffic10-v0", "simulator pick", 1, 10_000, lookahead=4)
    assert pick["mean_waiting_time"] < policy["mean_waiting_time"]
    model.mode_candidate, model.mode_weight = "always", 7.0
    with protocol.mode_among_candidates(model, True, 3.0):
        assert (model.mode_candidate, model.mode_weight) == ("predict", 3.0)
    with pytest.raises(RuntimeError), protocol.mode_among_candidates(model, False):
        assert (model.mode_candidate, model.mode_weight) == ("never", 1.0)
        raise RuntimeError
    assert (model.mode_candidate, model.mode_weight) == ("always", 7.0)  # restored
    with pytest.raises(ValueError, match="variant"):
        traffic_decide.play(model, "Traffic10-v0", "greedy", 1, 10_000)
    with pytest.raises(ValueError, match="--env"):  # a Traffic10 model on the 2x2 grid
        traffic_decide.play(model, "Traffic-v0", "search", 1, 10_000)


def test_traffic_decide_searches_both_orientations_of_a_model_trained_without(
    tmp_path: Path,
) -> None:
    from benchmarks import traffic_decide
    from muzero_gym import MuZero

    env = protocol.make_envs("Traffic-v0", 1, 0, None)
    model = MuZero(
        "MlpPolicy", env, seed=0, num_simulations=2,
        policy_kwargs={"hidden_dim": 8, "net_arch": [16]},
    )  # fmt: skip
    model.save(tmp_path / "m.zip")
    out = tmp_path / "decide.json"
    traffic_decide.main([
        "--env", "Traffic-v0", "--model", str(tmp_path / "m.zip"), "--episodes", "1",
        "--variants", "search", "--json", str(out),
        "--override", '{"symmetries": "env", "average_symmetries": true}',
    ])  # fmt: skip
    report = json.loads(out.read_text())
    assert report["override"] == {"symmetries": "env", "average_symmetries": True}
    assert report["rows"][0]["mean_waiting_time"] > 0.0


def _random_traffic_models(env: Any, count: int, num_simulations: int) -> list[Any]:
    """``count`` small Gumbel models of the 2x2 grid with random weights (seeds 0, 1, ...):
    spread priors, so that the models disagree and play apart."""
    from muzero_gym import MuZero

    models = []
    for seed in range(count):
        model = MuZero(
            "MlpPolicy", env, seed=seed, search="gumbel", num_simulations=num_simulations,
            policy_kwargs={"hidden_dim": 8, "net_arch": [16]},
        )  # fmt: skip
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for parameter in model.policy.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator))
        models.append(model)
    return models


def test_traffic_decide_joins_the_searches_of_models_trained_apart() -> None:
    from benchmarks import traffic_decide

    env = protocol.make_envs("Traffic-v0", 1, 0, None)
    models = _random_traffic_models(env, 2, num_simulations=4)
    rng = np.random.default_rng(0)
    obs = rng.uniform(0, 1, (32, *env.observation_space.shape)).astype(np.float32)
    alone = [m.predict(obs, deterministic=True)[0] for m in models]
    # A model joined with itself plays as it does alone; two models' summed scores
    # overrule each model's own choice somewhere (not one model's choices taken over).
    np.testing.assert_array_equal(traffic_decide._joint_search([models[0]] * 2, obs), alone[0])
    joint = traffic_decide._joint_search(models, obs)
    assert (joint != alone[0]).any() and (joint != alone[1]).any()
    row = traffic_decide.play(
        models[0], "Traffic-v0", "search", 1, 10_000, with_models=(models[1],)
    )
    assert row["mean_waiting_time"] > 0.0
    models[1].search = "muzero"
    with pytest.raises(ValueError, match="Gumbel"):
        traffic_decide.play(models[0], "Traffic-v0", "search", 1, 10_000, with_models=(models[1],))


def test_traffic_decide_plays_some_networks_of_an_ensemble() -> None:
    from benchmarks import traffic_decide
    from muzero_gym import MuZero

    env = protocol.make_envs("Traffic-v0", 1, 0, None)
    model = MuZero(
        "MlpPolicy", env, seed=0, search="gumbel", num_simulations=4, ensemble_size=3,
        policy_kwargs={"hidden_dim": 8, "net_arch": [16]},
    )  # fmt: skip
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # spread priors, so that the networks disagree
        for member in model.members:
            for parameter in member.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator))
    members = list(model.members)
    rng = np.random.default_rng(0)
    obs = rng.uniform(0, 1, (32, *env.observation_space.shape)).astype(np.float32)
    everyone = model.predict(obs, deterministic=True)[0]
    alone = []
    for index in range(3):
        with traffic_decide.networks_only(model, [index]):
            assert model.members == [members[index]] and model.policy is members[index]
            alone.append(model.predict(obs, deterministic=True)[0])
        # The network searching by itself, as the model with that network only would.
        own = model._search(obs, None, add_exploration_noise=False, policy=members[index])
        np.testing.assert_array_equal(alone[index], model.action_spec.to_env(own.chosen))
    assert model.members == members and model.policy is members[0]  # restored
    with traffic_decide.networks_only(model, [2, 0, 1]):
        np.testing.assert_array_equal(model.predict(obs, deterministic=True)[0], everyone)
    with traffic_decide.networks_only(model, [0, 2]):
        pair = model.predict(obs, deterministic=True)[0]
    assert (pair != everyone).any() or (pair != alone[1]).any()
    joined = model._combined_search(
        obs, None, False, False, True, False, members=[members[0], members[2]]
    )
    np.testing.assert_array_equal(pair, model.action_spec.to_env(joined.chosen))
    assert not (alone[0] == alone[1]).all()  # the networks differ, so the subsets matter
    for bad in ([3], [0, 0], [], [-1]):
        with pytest.raises(ValueError, match="--networks"):
            with traffic_decide.networks_only(model, bad):
                pass
    row = traffic_decide.play(model, "Traffic-v0", "search", 1, 10_000, networks=[1])
    assert row["mean_waiting_time"] > 0.0 and model.members == members


def test_train_speed_times_gradient_steps() -> None:
    from benchmarks import train_speed

    hp = {"batch_size": 8, "num_simulations": 2, "n_envs": 2}
    figures = train_speed.measure("tic_tac_toe", hp, fill=40, steps=2, repeats=2)
    assert figures["step_ms"] > 0 and figures["self_play_s_per_1000"] > 0
    assert figures["s_per_1000_env_steps"] > figures["self_play_s_per_1000"]


def test_game_tactics_reads_wins_and_blunders_from_the_rules() -> None:
    pyspiel = pytest.importorskip("pyspiel")
    from benchmarks import game_tactics

    state = pyspiel.load_game("tic_tac_toe").new_initial_state()
    for cell in (0, 3, 1):  # x: 0, 1; o: 3; o to move
        state.apply_action(cell)
    assert game_tactics.winning_moves(state) == []
    assert game_tactics.safe_moves(state) == [2]  # every other move lets x complete the row
    state.apply_action(4)  # o ignores it; x to move
    assert game_tactics.winning_moves(state) == [2]

    from muzero_gym import MuZero
    from muzero_gym.games import openspiel_env

    model = MuZero("MlpPolicy", openspiel_env("tic_tac_toe"), num_simulations=2, seed=0)
    report = game_tactics.check(model, "tic_tac_toe", "random", 6, seed=0)
    assert sum(report["total"]) == 6
    assert report["moves"] >= 6 * 2  # at least two moves of the model in every game
    assert report["win_missed"] <= report["win_available"]
    assert report["gave_an_avoidable_win"] <= report["gave_a_win"] <= report["moves"]
    with pytest.raises(ValueError, match="OpenSpiel states"):
        game_tactics.check(model, "tictactoe_v3", "random", 2, seed=0)


@pytest.mark.parametrize("game", ["tic_tac_toe", "tictactoe_v3", "connect_four"])
def test_game_entries_build_their_models(game: str) -> None:
    """Every muzero.yml game entry builds as written (connect four with its mirror)."""
    from benchmarks.games import make_vec_env, parse_args, settings
    from benchmarks.zoo import parse_schedule
    from muzero_gym import MuZero

    run_settings, given = settings(parse_args(["--game", game]))
    hp = {key: parse_schedule(value) for key, value in given.items()}
    model = MuZero(run_settings["policy"], make_vec_env(game, 2), seed=0, **hp)
    if game == "connect_four":
        assert given["symmetries"] == "board"
        assert [symmetry.name for symmetry in model.symmetries] == ["mirror"]


def test_robot_arm_reward_floor_learners_beat_a_constant() -> None:
    import torch

    from benchmarks import robot_arm_reward_floor as floor

    torch.manual_seed(0)
    data = floor.random_play(3000, seed=0)
    states = floor.held_out_states(20, 8, seed=1)
    constant = float(data[2].mean())
    baseline = floor.score(lambda o, a: torch.full((len(o),), constant), states)
    mlp = floor.score(floor.plain_mlp(data, [64, 64], steps=1500), states)
    assert mlp["reward_error"] < 0.5 * baseline["reward_error"]
    muzero = floor.score(
        floor.muzero_networks(data, {"hidden_dim": 16, "net_arch": [32]}, 20, 300), states
    )
    assert np.isfinite(muzero["reward_error"]) and muzero["reward_error"] < 1.0
    assert mlp["true_reward_spread"] == baseline["true_reward_spread"] > 0


def test_robot_arm_model_check_runs_at_its_checkpoints_and_stops_after_the_last() -> None:
    from stable_baselines3.common.env_util import make_vec_env

    from benchmarks import robot_arm_model
    from benchmarks.robot_arm_reward_floor import held_out_states
    from muzero_gym import MuZero

    env = make_vec_env("RobotArm-v0", n_envs=2, seed=0)
    model = MuZero(
        "MlpPolicy",
        env,
        num_simulations=2,
        num_sampled_actions=2,
        learning_starts=4,
        batch_size=8,
        support_size=5,
        policy_kwargs={"hidden_dim": 8, "net_arch": [16]},
        seed=0,
    )
    callback = robot_arm_model.ModelCheck([12, 6], 1, 4, held_out_states(5, 4, seed=1))
    model.learn(1000, callback=callback)
    assert model.num_timesteps == 12  # stopped after the last checkpoint, not at 1000
    assert [row["env_steps"] for row in callback.rows] == [6, 12]
    for row in callback.rows:
        assert np.isfinite(row["reward_error"]) and np.isfinite(row["random_play_reward_error"])
        assert row["true_reward_spread"] > 0 and 0.0 <= row["success_rate"] <= 1.0
        assert -10.0 < row["q_pick_quality"] <= 1.0


def test_robot_arm_model_checks_undo_the_entrys_reward_scale() -> None:
    import torch

    from benchmarks import robot_arm_model
    from benchmarks.zoo import load_hyperparams
    from muzero_gym import MuZero

    run, _ = load_hyperparams("muzero", "RobotArm-v0")
    assert robot_arm_model.entry_reward_scale(run.get("env_kwargs")) == pytest.approx(30.0)
    assert robot_arm_model.entry_reward_scale(None) == 1.0
    with pytest.raises(ValueError, match="both reward terms"):
        robot_arm_model.entry_reward_scale({"reward_dist_weight": 10.0})
    model = MuZero("MlpPolicy", "RobotArm-v0", num_sampled_actions=2, support_size=5, seed=0)
    obs = torch.as_tensor(np.stack([model.observation_space.sample() for _ in range(3)]))
    actions = torch.rand(3, 6) * 2 - 1
    with torch.no_grad():
        plain = robot_arm_model.model_predictions(model, obs, actions)
        scaled = robot_arm_model.model_predictions(model, obs, actions, reward_scale=10.0)
    for a, b in zip(plain, scaled, strict=True):
        torch.testing.assert_close(b, a / 10.0)


def test_robot_arm_drift_plays_whole_episodes_each_way() -> None:
    from benchmarks import robot_arm_drift
    from muzero_gym import MuZero

    model = MuZero(
        "MlpPolicy",
        "RobotArm-v0",
        num_simulations=2,
        num_sampled_actions=3,
        support_size=5,
        policy_kwargs={"hidden_dim": 8, "net_arch": [16]},
        mode_candidate="always",
        seed=0,
    )
    rows = {v: robot_arm_drift.play(model, v, episodes=2) for v in robot_arm_drift.VARIANTS}
    for row in rows.values():
        steps = np.asarray(row["distance_by_step"])
        assert len(steps) == len(row["action_size_by_step"]) == 100  # the TimeLimit
        assert row["final_distance"] == pytest.approx(steps[-1])
        assert row["distance"] == pytest.approx(steps.mean())
        assert row["success_rate"] in (0.0, 0.5, 1.0)
        assert row["outcomes"]["success"] == row["success_rate"]
        assert sum(row["outcomes"].values()) == pytest.approx(1.0)
        assert len(row["outcome_by_episode"]) == len(row["target_azimuth"]) == 2
        regions = row["by_region"]
        assert regions["front"]["episodes"] + regions["behind"]["episodes"] == 2
        behind = np.abs(row["target_azimuth"]) > 90.0
        assert regions["behind"]["episodes"] == behind.sum()
        bands = row["by_azimuth"]
        assert sum(part["episodes"] for part in bands.values()) == 2
        for band, part in bands.items():
            low, high = map(float, band.split("-"))
            inside = (np.abs(row["target_azimuth"]) >= low) & (np.abs(row["target_azimuth"]) < high)
            assert part["episodes"] == inside.sum(), band
    # Evaluation seeds the envs alike for every variant: the same targets.
    assert rows["search"]["target_azimuth"] == rows["policy mean"]["target_azimuth"]
    # The untrained policy's mean is 0 (zero-initialised head): no search, no motion;
    # the search plays samples of its unit Gaussian.
    np.testing.assert_array_equal(rows["policy mean"]["action_size_by_step"], 0.0)
    # A still arm stays where it starts, far from these two targets: never within 5 cm.
    assert rows["policy mean"]["outcomes"] == {"success": 0.0, "left": 0.0, "never": 1.0}
    assert min(rows["search"]["action_size_by_step"]) > 0.1
    assert model.mode_candidate == "always"  # restored after each variant
    weighted = robot_arm_drift.play(model, "search+mode", episodes=1, mode_weight=1e6)
    # The untrained mean is 0 and a weight of 1e6 keeps it: the arm holds still.
    np.testing.assert_array_equal(weighted["action_size_by_step"], 0.0)
    assert model.mode_weight == 1.0
    with pytest.raises(ValueError, match="variant must be one of"):
        robot_arm_drift.play(model, "greedy", episodes=1)


def test_robot_arm_learner_ablation_trains_each_variant_on_the_same_replay() -> None:
    from benchmarks import robot_arm_learner
    from benchmarks.robot_arm_reward_floor import held_out_states

    small = {
        "num_simulations": 2,
        "num_sampled_actions": 2,
        "batch_size": 16,
        "support_size": 5,
        "reanalyze_ratio": 0.0,
        "policy_kwargs": {"hidden_dim": 8, "net_arch": [16]},
    }
    rows = robot_arm_learner.ablate(
        [{}, {"value_loss_weight": 0.01}],
        transitions=64,
        steps=40,
        report=[1, 40],
        learning_rate=1e-2,
        states=held_out_states(10, 4, seed=1),
        base=small,
    )
    assert [(row["variant"], row["steps"]) for row in rows] == [
        ({}, 1),
        ({}, 40),
        ({"value_loss_weight": 0.01}, 1),
        ({"value_loss_weight": 0.01}, 40),
    ]
    # The networks start at zero reward logits (reward 0, far from RobotArm's -0.1 to -1)
    # and learn from the replay.
    for first, last in (rows[:2], rows[2:]):
        assert last["reward_error"] < 0.8 * first["reward_error"]


def test_robot_arm_oracle_restores_the_arm_and_its_noise_lowers_the_correlation() -> None:
    import gymnasium as gym

    from benchmarks import robot_arm_oracle

    env = gym.make("RobotArm-v0")
    arm = env.unwrapped
    env.reset(seed=3)
    qpos, qvel = arm.data.qpos.copy(), arm.data.qvel.copy()
    actions = np.tanh(np.random.default_rng(0).normal(size=(4, 6)))
    scores = robot_arm_oracle.true_scores(arm, actions, horizon=2)
    np.testing.assert_array_equal(arm.data.qpos, qpos)  # every candidate starts from here
    np.testing.assert_array_equal(arm.data.qvel, qvel)
    again = robot_arm_oracle.true_scores(arm, actions, horizon=2)
    np.testing.assert_array_equal(scores, again)
    assert scores.std() > 0  # the candidates differ
    exact = robot_arm_oracle.run(1, 20, 1.0, 1, noise=0.0, seed=0)
    noisy = robot_arm_oracle.run(1, 20, 1.0, 1, noise=4.0, seed=0)
    assert exact["correlation"] == 1.0 and noisy["correlation"] < 0.6
    assert exact["pick_quality"] == 1.0 and noisy["pick_quality"] < 0.8
    # With the true one-step rewards, best-of-20 brings the arm in; heavy noise does not.
    assert exact["mean_distance_m"] < noisy["mean_distance_m"]


class _CountingEnv(gym.Env):
    """Episodes of ``length`` steps; info["distance"] is the step number, and the last step
    is a success when ``length`` is even."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, length: int) -> None:
        self.length, self.t = length, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        done = self.t == self.length
        info = {"distance": float(self.t), "is_success": done and self.length % 2 == 0}
        return np.zeros(1, np.float32), 1.0, done, False, info


class _ZeroPolicy:
    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        return np.zeros(len(obs), dtype=np.int64), None


def test_evaluation_reports_the_last_step_and_the_success_rate() -> None:
    from stable_baselines3.common.vec_env import DummyVecEnv

    eval_env = DummyVecEnv([lambda n=n: _CountingEnv(n) for n in (2, 3, 4, 6)])
    point = protocol.evaluate(_ZeroPolicy(), eval_env, seed=0, info_metric="distance")
    assert point["mean_length"] == pytest.approx(15 / 4)
    # steps 1..n average to (n + 1) / 2; the last step is n
    assert point["distance"] == pytest.approx(np.mean([1.5, 2.0, 2.5, 3.5]))
    assert point["final_distance"] == pytest.approx(np.mean([2, 3, 4, 6]))
    assert point["success_rate"] == pytest.approx(0.75)
    cartpole = DummyVecEnv([lambda: gym.make("CartPole-v1")])
    assert "success_rate" not in protocol.evaluate(_ZeroPolicy(), cartpole, 0, None)


def test_traffic_paired_compares_the_same_episodes(tmp_path: Path, capsys) -> None:
    from benchmarks import traffic_paired

    decide = {
        "first_seed": 10,
        "rows": [
            {"variant": "search", "waiting_time_by_episode": [6.0, 7.0, 8.0]},
            {"variant": "policy mode", "waiting_time_by_episode": [6.5, 6.5, 6.5]},
        ],
    }
    (tmp_path / "d.json").write_text(json.dumps(decide))
    lines = ["controller,seed,mean_waiting_time"]
    lines += [f"max-pressure,{s},{v}" for s, v in zip((10, 11, 12), (5.0, 7.5, 7.0), strict=True)]
    lines += [f"fixed-time,{s},9.0" for s in (10, 11, 13)]
    (tmp_path / "c.csv").write_text("\n".join(lines) + "\n")
    _, first = traffic_paired.load_side(str(tmp_path / "d.json"))
    _, second = traffic_paired.load_side(f"{tmp_path / 'c.csv'}:max-pressure")
    result = traffic_paired.paired(first, second)
    assert result["difference"] == pytest.approx(0.5)  # (1.0 - 0.5 + 1.0) / 3
    assert result["standard_error"] == pytest.approx(np.std([1.0, -0.5, 1.0], ddof=1) / 3**0.5)
    assert result["first_better"] == 1
    traffic_paired.main([f"{tmp_path / 'd.json'}:policy mode", str(tmp_path / "d.json")])
    assert "-0.50   0.58  2 / 3" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="different episodes"):
        traffic_paired.main([str(tmp_path / "d.json"), f"{tmp_path / 'c.csv'}:fixed-time"])
    with pytest.raises(SystemExit, match="no variant 'search\\+mode'"):
        traffic_paired.load_side(f"{tmp_path / 'd.json'}:search+mode")


def test_step_schedules_are_read_and_written_as_the_file_spells_them() -> None:
    from benchmarks.zoo import parse_schedule

    schedule = parse_schedule("step_1.0_0.5_0.25")  # the paper's temperature schedule
    assert [schedule(p) for p in (1.0, 0.51, 0.5, 0.26, 0.25, 0.0)] == [
        1.0, 1.0, 0.5, 0.5, 0.25, 0.25,
    ]  # fmt: skip
    assert protocol.describe(schedule) == "step_1.0_0.5_0.25"
    assert protocol.describe(parse_schedule("step_2.0")) == "step_2.0"
    with pytest.raises(ValueError):
        parse_schedule("step_fast")


def test_a_model_trained_with_the_files_learning_rate_loads_without_the_benchmarks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks.zoo import parse_schedule
    from muzero_gym import MuZero

    model = MuZero(
        "MlpPolicy", "CartPole-v1", seed=0, learning_rate=parse_schedule("lin_0.001"),
        num_simulations=2, batch_size=8, learning_starts=8, support_size=3,
        policy_kwargs=dict(hidden_dim=8, net_arch=[8]),
    )  # fmt: skip
    model.learn(16)
    model.save(tmp_path / "model.zip")
    assert protocol.describe(model.learning_rate) == "lin_0.001"
    # As where muzero-gym is installed without this repository: nothing of benchmarks.
    for name in [name for name in sys.modules if name.split(".")[0] == "benchmarks"]:
        monkeypatch.setitem(sys.modules, name, None)
    loaded = MuZero.load(tmp_path / "model.zip")
    assert loaded.lr_schedule(0.5) == pytest.approx(0.0005)


def test_denormal_speed_times_blocks_both_ways_and_counts_denormal_weights(capsys) -> None:
    from benchmarks import denormal_speed

    tiny = {"batch_size": 8, "num_simulations": 2, "n_envs": 2, "learning_starts": 40}
    denormal_speed.main(
        ["--env", "CartPole-v1", "--steps", "80", "--block", "20", "--override", json.dumps(tiny)]
    )
    out = capsys.readouterr().out
    assert out.count("kept    to") == 2 and out.count("flushed to") == 2
    assert "CartPole-v1: the last block took" in out

    _, hyperparameters = denormal_speed.load_hyperparams("muzero", "CartPole-v1", tiny)
    model = denormal_speed.MuZero("MlpPolicy", "CartPole-v1", seed=0, **hyperparameters)
    assert denormal_speed.denormal_weights(model) == 0
    weight = next(model.policy.parameters())
    with torch.no_grad():
        weight.view(-1)[:3] = torch.tensor([1e-40, -1e-41, 0.0])
    assert denormal_speed.denormal_weights(model) == 2


def test_target_run_records_schedules_as_the_file_spells_them() -> None:
    from benchmarks import cartpole_target

    override = {"batch_size": 8, "num_simulations": 2, "n_envs": 1, "learning_starts": 32}
    override["gumbel_scale"] = "step_1.0_0.5"
    args = cartpole_target.parse_args(
        ["--timesteps", "64", "--eval-freq", "64", "--eval-episodes", "1"]
        + ["--override", json.dumps(override)]
    )
    record = json.loads(json.dumps(cartpole_target.run_seed(0, args)))
    assert record["hyperparameters"]["gumbel_scale"] == "step_1.0_0.5"
    assert record["hyperparameters"]["learning_rate"] == "lin_0.002"
    assert [point["steps"] for point in record["curve"]][0] == 64


def test_dead_units_counts_zeroed_units_and_a_zeroed_projection(tmp_path: Path, capsys) -> None:
    from benchmarks import dead_units

    model = dead_units.MuZero("MlpPolicy", "CartPole-v1", seed=0, policy_kwargs={"hidden_dim": 8})
    fresh = dead_units.report(model)
    assert fresh["zeroed_units"] == 0 and not fresh["projection_zeroed"]
    assert fresh["layers"]["prediction_trunk.0"] == (0, 64)
    policy = model.policy
    with torch.no_grad():
        policy.prediction_trunk[0].weight[:3] = 0.0
        policy.prediction_trunk[0].bias[:2] = 0.0  # the third unit keeps its bias
        policy.dynamics_state_in.weight[5] = 0.0
        policy.dynamics_state_in.bias[5] = 0.0  # its action embedding still feeds unit 5
        for head in dead_units.PROJECTION_HEADS:
            for parameter in getattr(policy, head).parameters():
                parameter.zero_()
    figures = dead_units.report(model)
    assert figures["layers"]["prediction_trunk.0"] == (2, 64)
    assert figures["layers"]["dynamics_state_in"] == (0, 64)
    assert figures["projection_zeroed"]
    assert figures["zeroed_units"] == 2 + 2 * figures["layers"]["projection.1"][1]

    model.save(tmp_path / "m.zip")
    dead_units.main([str(tmp_path / "m.zip")])
    assert "consistency projection ZEROED" in capsys.readouterr().out


def test_dead_units_reads_the_entity_policys_context_layers() -> None:
    from benchmarks import dead_units

    model = dead_units.MuZero(
        "EntityMlpPolicy", "Traffic-v0", seed=0, policy_kwargs={"hidden_dim": 8, "net_arch": [16]}
    )
    assert dead_units.report(model)["layers"]["dynamics_trunk.0"] == (0, 16)
    layer = model.policy.dynamics_trunk[0]
    with torch.no_grad():
        layer.own.weight[:3] = 0.0
        layer.own.bias[:3] = 0.0
        layer.others.weight[2] = 0.0
    # Units 0 and 1 still get the others' mean; unit 2 gets nothing.
    assert dead_units.report(model)["layers"]["dynamics_trunk.0"] == (1, 16)


def _figures(text: str) -> list[float]:
    """The numbers in printed text, in order (thousands separators dropped)."""
    return [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text)]


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--search", "gumbel"],
        ["--sampled", "4", "--action-dims", "2"],
        ["--search", "gumbel", "--sampled", "4", "--entities", "3", "--policy", "entity"],
    ],
    ids=["pUCT", "gumbel", "sampled", "traffic10-setting"],
)
def test_mcts_speed_prints_a_positive_row_per_batch_size(monkeypatch, capsys, extra) -> None:
    from benchmarks import mcts_speed

    argv = ["mcts_speed", "--batch-sizes", "1", "3", "--num-simulations", "3", "--repeats", "2"]
    monkeypatch.setattr("sys.argv", argv + ["--hidden", "8", *extra])
    mcts_speed.main()
    rows = [_figures(line) for line in capsys.readouterr().out.splitlines()[2:]]
    assert [row[0] for row in rows] == [1, 3]
    for _, sims_per_s, search_ms, network_ms, ratio in rows:
        assert sims_per_s > 0 and search_ms > 0 and network_ms > 0
        assert ratio == pytest.approx(search_ms / network_ms, rel=0.05, abs=0.01)


def test_mcts_speed_refuses_settings_it_cannot_build(monkeypatch, capsys) -> None:
    from benchmarks import mcts_speed

    for extra in (["--entities", "3"], ["--policy", "entity"]):
        monkeypatch.setattr("sys.argv", ["mcts_speed", *extra])
        with pytest.raises(SystemExit) as exit_info:
            mcts_speed.main()
        assert exit_info.value.code == 2
        assert "needs" in capsys.readouterr().err


def test_traffic_speed_prints_both_grids(monkeypatch, capsys) -> None:
    from benchmarks import traffic_speed

    monkeypatch.setattr("sys.argv", ["traffic_speed", "--steps", "30", "--runs", "2"])
    traffic_speed.main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "30 steps x 2 runs"
    assert "2x2 ( 4 intersections)" in lines[1] and "2x5 (10 intersections)" in lines[2]
    for line in lines[1:]:
        median, *runs, target = _figures(line.split("median", 1)[1])
        assert len(runs) == 2 and median > 0 and target in (10_000, 2_000)


def test_robot_arm_scripts_print_their_figures(monkeypatch, capsys, tmp_path) -> None:
    pytest.importorskip("mujoco", reason="RobotArm-v0 needs the `envs` extra (mujoco)")
    from benchmarks import robot_arm_scripted, robot_arm_speed

    monkeypatch.setattr("sys.argv", ["robot_arm_speed", "--steps", "120", "--runs", "2"])
    robot_arm_speed.main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "frame_skip=20, 120 steps x 2 runs" and len(lines) == 3
    for line in lines[1:]:
        cpu_rate, wall_rate, *_ = _figures(line.split("median", 1)[1])
        assert cpu_rate > 0 and wall_rate > 0

    out = tmp_path / "scripted.json"
    monkeypatch.setattr("sys.argv", ["robot_arm_scripted", "--episodes", "3", "--json", str(out)])
    robot_arm_scripted.main()
    results = json.loads(out.read_text())
    assert set(results) == {"scripted (DLS)", "random"}
    assert all(r["episodes"] == 3 for r in results.values())
    # The controller reaches targets a random policy does not.
    assert results["scripted (DLS)"]["success_rate"] > results["random"]["success_rate"]
    assert (
        results["scripted (DLS)"]["final_distance_mean_m"]
        < results["random"]["final_distance_mean_m"]
    )


def test_traffic_select_picks_on_validation_episodes_and_tests_apart(tmp_path: Path) -> None:
    from benchmarks import traffic_decide, traffic_select
    from muzero_gym import MuZero

    env = protocol.make_envs("Traffic-v0", 1, 0, None)
    paths = []
    for seed, model in enumerate(_random_traffic_models(env, 3, num_simulations=2)):
        model.save(tmp_path / f"m{seed}.zip")
        paths.append(tmp_path / f"m{seed}.zip")
    out = tmp_path / "select.json"
    traffic_select.main([
        "--env", "Traffic-v0", "--models", *map(str, paths), "--episodes", "1",
        "--validation-seed", "500", "--first-seed", "7", "--json", str(out),
    ])  # fmt: skip
    report = json.loads(out.read_text())
    figures = [row["mean_waiting_time"] for row in report["validation"]]
    assert len(set(figures)) == 3  # the models play apart
    best = int(np.argmin(figures))
    assert report["chosen"] == str(paths[best]) == report["test"]["chosen"]["model"]
    assert report["test"]["final"]["model"] == str(paths[2])
    # The test figures are the chosen model's on the test episodes, not its validation ones.
    direct = traffic_decide.play(MuZero.load(paths[best]), "Traffic-v0", "search", 1, 7)
    assert report["test"]["chosen"]["mean_waiting_time"] == direct["mean_waiting_time"]
    assert direct["mean_waiting_time"] != figures[best]
    with pytest.raises(ValueError, match="overlap"):
        traffic_select.select(paths, "Traffic-v0", 20, 10_010, 10_000)
