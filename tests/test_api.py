"""The Stable-Baselines3 surface of MuZero: learn, predict, save/load, callbacks, errors."""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback, EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from muzero_gym import MuZero
from muzero_gym.gumbel import GumbelConfig
from muzero_gym.schedules import LinearSchedule, StepTemperature

TINY: dict[str, Any] = dict(
    num_simulations=4,
    batch_size=16,
    buffer_size=1_000,
    learning_starts=16,
    support_size=5,
    unroll_steps=3,
    td_steps=3,
    policy_kwargs=dict(hidden_dim=16, net_arch=[16]),
)


def tiny(env: Any = "CartPole-v1", **kwargs: Any) -> MuZero:
    return MuZero("MlpPolicy", env, **{"seed": 0, **TINY, **kwargs})


class CountingCallback(BaseCallback):
    def __init__(self) -> None:
        super().__init__()
        self.steps = 0
        self.started = self.ended = False

    def _on_training_start(self) -> None:
        self.started = True

    def _on_step(self) -> bool:
        self.steps += 1
        return True

    def _on_training_end(self) -> None:
        self.ended = True


def test_learn_predict_and_callbacks() -> None:
    model = tiny()
    callback = CountingCallback()
    assert model.learn(64, callback=callback) is model
    assert model.num_timesteps == 64
    assert callback.started and callback.ended and callback.steps == 64
    assert model._n_updates > 0
    obs, _ = gym.make("CartPole-v1").reset(seed=0)
    action, state = model.predict(obs, deterministic=True)
    assert state is None
    assert np.shape(action) == () and model.action_space.contains(int(action))
    actions, _ = model.predict(np.stack([obs] * 5))
    assert actions.shape == (5,)


def test_callback_can_stop_training() -> None:
    class StopAt(BaseCallback):
        def _on_step(self) -> bool:
            return self.num_timesteps < 10

    model = tiny()
    model.learn(200, callback=StopAt())
    assert model.num_timesteps == 10


def test_vec_env_is_searched_as_one_batch() -> None:
    env = make_vec_env("CartPole-v1", n_envs=4, seed=0)
    model = tiny(env)
    model.learn(80)
    assert model.num_timesteps == 80
    assert len(model.replay_buffer) == 80


def test_save_load_gives_identical_predictions(tmp_path: Path) -> None:
    model = tiny()
    model.learn(64)
    observations = np.stack([gym.make("CartPole-v1").reset(seed=s)[0] for s in range(8)])
    before, _ = model.predict(observations, deterministic=True)
    model.save(tmp_path / "model")
    assert (tmp_path / "model.zip").exists()
    loaded = MuZero.load(tmp_path / "model", env=gym.make("CartPole-v1"))
    after, _ = loaded.predict(observations, deterministic=True)
    np.testing.assert_array_equal(before, after)
    for key, value in model.policy.state_dict().items():
        torch.testing.assert_close(loaded.policy.state_dict()[key], value)
    assert loaded.num_simulations == 4 and loaded.support_size == 5
    # Training goes on after loading, counting on from the saved step count, once the
    # (unsaved, so empty) replay again holds learning_starts transitions.
    updates = loaded._n_updates
    loaded.learn(8, reset_num_timesteps=False)
    assert loaded._n_updates == updates and len(loaded.replay_buffer) == 8  # learning_starts 16
    loaded.learn(24, reset_num_timesteps=False)
    assert loaded.num_timesteps == 96 and loaded._n_updates > updates


def test_get_and_set_parameters() -> None:
    model, other = tiny(), tiny(seed=1)
    other.set_parameters(model.get_parameters())
    for key, value in model.policy.state_dict().items():
        torch.testing.assert_close(other.policy.state_dict()[key], value)


def test_sb3_callbacks_progress_bar_and_tensorboard(tmp_path: Path) -> None:
    eval_env = make_vec_env("CartPole-v1", n_envs=2, seed=5)
    model = tiny(tensorboard_log=str(tmp_path / "tb"), verbose=1)
    callbacks = [
        EvalCallback(eval_env, eval_freq=32, n_eval_episodes=2, log_path=str(tmp_path / "eval")),
        CheckpointCallback(save_freq=32, save_path=str(tmp_path / "ckpt"), name_prefix="mz"),
    ]
    model.learn(64, callback=callbacks, progress_bar=True)
    assert (tmp_path / "eval" / "evaluations.npz").exists()
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "mz_32_steps.zip",
        "mz_64_steps.zip",
    ]
    event_files = list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    assert event_files
    mean, _ = evaluate_policy(model, eval_env, n_eval_episodes=2)
    assert mean > 0


def test_set_env_and_continue() -> None:
    model = tiny()
    model.learn(32)
    model.set_env(gym.make("CartPole-v1"))
    model.learn(32, reset_num_timesteps=False)
    assert model.num_timesteps == 64


def test_learn_without_arguments_has_a_default_budget() -> None:
    import inspect

    from muzero_gym.muzero import DEFAULT_TOTAL_TIMESTEPS

    default = inspect.signature(MuZero.learn).parameters["total_timesteps"].default
    assert default == DEFAULT_TOTAL_TIMESTEPS > 0


# ----------------------------------------------------------------------------- bad input
class ActionSpaceEnv(gym.Env):
    """A one-step env with any action space, to check which spaces are refused."""

    observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)

    def __init__(self, action_space: spaces.Space) -> None:
        self.action_space = action_space

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        return np.zeros(2, np.float32), 0.0, True, False, {}


@pytest.mark.parametrize(
    ("space", "name"),
    [
        (spaces.MultiBinary(3), "MultiBinary"),
        (spaces.Tuple((spaces.Discrete(2), spaces.Discrete(3))), "Tuple"),
        (spaces.Dict({"a": spaces.Discrete(2)}), "Dict"),
        (spaces.Box(-np.inf, np.inf, (2,), np.float32), "finite bounds"),
    ],
)
def test_unsupported_action_space_is_named(space: spaces.Space, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        MuZero("MlpPolicy", ActionSpaceEnv(space))


def test_unknown_policy_and_bad_arguments() -> None:
    with pytest.raises(ValueError, match="Unknown policy"):
        MuZero("TransformerPolicy", "CartPole-v1")
    with pytest.raises(ValueError, match="num_simulations"):
        tiny(num_simulations=0)
    with pytest.raises(ValueError, match="discount"):
        tiny(discount=0.0)
    with pytest.raises(ValueError, match="reanalyze_ratio"):
        tiny(reanalyze_ratio=1.5)
    with pytest.raises(ValueError, match="support_size"):
        tiny(policy_kwargs=dict(support_size=3))
    with pytest.raises(ValueError, match="learning_starts"):
        tiny(learning_starts=1_000)  # buffer_size 1,000: the replay never holds more
    with pytest.raises(ValueError, match="gumbel_c_scale"):
        tiny(search="gumbel", gumbel_c_scale=0.0)
    with pytest.raises(ValueError, match="gumbel_c_visit"):
        tiny(search="gumbel", gumbel_c_visit=-1.0)
    with pytest.raises(ValueError, match="mixed_precision must be True or False"):
        tiny(mixed_precision="bf16")
    with pytest.raises(ValueError, match="num_sampling_moves"):
        tiny(num_sampling_moves=-1)
    with pytest.raises(ValueError, match="reward_loss_weight"):
        tiny(reward_loss_weight=-1.0)


def test_gumbel_constants_reach_the_search_and_survive_save_load(tmp_path: Path) -> None:
    model = tiny(search="gumbel", gumbel_c_visit=10.0, gumbel_c_scale=1.0)
    expected = GumbelConfig(max_considered_actions=16, c_visit=10.0, c_scale=1.0)
    assert model.gumbel_config == expected
    model.save(tmp_path / "gumbel.zip")
    assert MuZero.load(tmp_path / "gumbel.zip").gumbel_config == expected


def test_observation_loss_trains_its_decoder_and_survives_save_load(tmp_path: Path) -> None:
    model = tiny(observation_loss_weight=1.0, learning_starts=64)
    decoder = model.policy.observation_decoder
    assert decoder is not None
    before = [p.detach().clone() for p in decoder.parameters()]
    model.learn(200)
    assert any(not torch.equal(a, b) for a, b in zip(before, decoder.parameters(), strict=True))
    model.save(tmp_path / "decoder.zip")
    loaded = MuZero.load(tmp_path / "decoder.zip")
    assert loaded.policy.observation_decoder is not None
    for key, value in model.policy.state_dict().items():
        torch.testing.assert_close(loaded.policy.state_dict()[key], value)
    assert tiny().policy.observation_decoder is None
    with pytest.raises(ValueError, match="observation_loss_weight"):
        tiny(observation_loss_weight=-1.0)


def _moves_and_greedy(model: MuZero) -> tuple[np.ndarray, np.ndarray]:
    """Move number in its episode, and whether the most visited move was played, for
    every stored transition of a one-env model (its replay holds them in order)."""
    buffer = model.replay_buffer
    n = len(buffer)
    moves = np.zeros(n, dtype=np.int64)
    for i in range(1, n):
        moves[i] = 0 if buffer.end_kind[i - 1] else moves[i - 1] + 1
    greedy = buffer.actions[:n] == buffer.policies[:n].argmax(axis=1)
    return moves, greedy


def test_num_sampling_moves_samples_then_plays_the_most_visited_move() -> None:
    kwargs: dict[str, Any] = dict(
        num_simulations=8, temperature=1.0, learning_starts=999, buffer_size=1_000
    )
    model = tiny(num_sampling_moves=4, **kwargs).learn(400)
    moves, greedy = _moves_and_greedy(model)
    assert greedy[moves >= 4].all()
    assert not greedy[moves < 4].all()  # sampled at temperature 1: not always the top move
    assert (moves >= 4).sum() > 100
    moves, greedy = _moves_and_greedy(tiny(**kwargs).learn(400))
    assert not greedy[moves >= 4].all()  # without it, every move is sampled


def test_dict_observation_space_is_refused() -> None:
    class DictEnv(gym.Env):
        observation_space = spaces.Dict({"a": spaces.Box(0, 1, (2,))})
        action_space = spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            return self.observation_space.sample(), {}

        def step(self, action):
            return self.observation_space.sample(), 0.0, True, False, {}

    with pytest.raises(ValueError, match="Dict"):
        MuZero("MlpPolicy", DictEnv())


def test_predict_rejects_bad_observations() -> None:
    model = tiny()
    with pytest.raises(ValueError, match="shape"):
        model.predict(np.zeros(5, dtype=np.float32))
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.array([0.0, np.nan, 0.0, 0.0], dtype=np.float32))
    with pytest.raises(ValueError, match="inf"):
        model.predict(np.array([[0.0, np.inf, 0.0, 0.0]], dtype=np.float32))
    with pytest.raises(ValueError, match="tuple"):
        model.predict(gym.make("CartPole-v1").reset(seed=0))
    with pytest.raises(ValueError, match="action_masks"):
        model.predict(np.zeros(4, dtype=np.float32), action_masks=np.ones(3, bool))


def test_predict_respects_action_masks() -> None:
    model = tiny()
    obs = np.zeros((6, 4), dtype=np.float32)
    masks = np.zeros((6, 2), bool)
    masks[:3, 0] = True
    masks[3:, 1] = True
    for deterministic in (True, False):
        actions, _ = model.predict(obs, action_masks=masks, deterministic=deterministic)
        assert actions.tolist() == [0, 0, 0, 1, 1, 1]


def test_load_errors(tmp_path: Path) -> None:
    model = tiny()
    model.save(tmp_path / "good.zip")
    with pytest.raises(ValueError, match="do not match|cannot load"):
        MuZero.load(tmp_path / "good.zip", env=gym.make("Acrobot-v1"))
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(b"this is not a zip file")
    with pytest.raises(ValueError, match="not a valid muzero-gym checkpoint"):
        MuZero.load(corrupt)
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes((tmp_path / "good.zip").read_bytes()[:300])
    with pytest.raises(ValueError):
        MuZero.load(truncated)
    with pytest.raises(FileNotFoundError):
        MuZero.load(tmp_path / "missing")
    # A zip that is not a model at all.
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(ValueError):
        MuZero.load(tmp_path / "other.zip")


def test_load_names_what_refers_to_code_missing_here_and_custom_objects_replace_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "run_settings.py").write_text(
        "class Halving:\n    def __call__(self, progress_remaining):\n"
        "        return 0.001 * progress_remaining / 2\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from run_settings import Halving  # type: ignore[import-not-found]

    model = tiny(learning_rate=Halving())
    model.save(tmp_path / "model.zip")
    monkeypatch.setitem(sys.modules, "run_settings", None)  # the module is gone
    with pytest.raises(ValueError) as error:
        MuZero.load(tmp_path / "model.zip")
    message = str(error.value)
    assert "'learning_rate', 'lr_schedule'" in message
    assert "run_settings" in message and "custom_objects" in message
    replaced = MuZero.load(
        tmp_path / "model.zip",
        custom_objects={"learning_rate": 5e-4, "lr_schedule": LinearSchedule(5e-4)},
    )
    assert replaced.lr_schedule(1.0) == pytest.approx(5e-4)
    obs = np.zeros(4, dtype=np.float32)
    assert replaced.predict(obs, deterministic=True)[0] == model.predict(obs, deterministic=True)[0]


def test_failed_save_keeps_the_previous_file(tmp_path: Path, monkeypatch) -> None:
    model = tiny()
    path = tmp_path / "model.zip"
    model.save(path)
    original = path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    model.learn(32)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["model.zip"]  # no temporary left over


def test_saved_replay_buffer_lets_a_loaded_model_train_at_once(tmp_path: Path) -> None:
    model = tiny()
    model.learn(64)
    model.save(tmp_path / "model.zip")
    model.save_replay_buffer(tmp_path / "replay")
    assert (tmp_path / "replay.npz").exists()
    loaded = MuZero.load(tmp_path / "model.zip", env=gym.make("CartPole-v1"))
    loaded.load_replay_buffer(tmp_path / "replay")
    assert len(loaded.replay_buffer) == 64
    np.testing.assert_array_equal(
        loaded.replay_buffer.observations[:64], model.replay_buffer.observations[:64]
    )
    updates = loaded._n_updates
    loaded.learn(8, reset_num_timesteps=False)  # no wait for learning_starts (16) new steps
    assert loaded._n_updates > updates and len(loaded.replay_buffer) == 72
    # The replay of another env's model is refused and the model's own is kept.
    pendulum = MuZero("MlpPolicy", "Pendulum-v1", **{"seed": 0, **TINY})
    with pytest.raises(ValueError, match="does not match"):
        pendulum.load_replay_buffer(tmp_path / "replay.npz")
    pendulum.learn(16)
    pendulum.save_replay_buffer(tmp_path / "pendulum.npz")
    with pytest.raises(ValueError, match="does not match"):
        loaded.load_replay_buffer(tmp_path / "pendulum.npz")
    assert len(loaded.replay_buffer) == 72


def test_checkpoint_callback_saves_the_replay_buffer(tmp_path: Path) -> None:
    model = tiny()
    callback = CheckpointCallback(32, str(tmp_path), name_prefix="mz", save_replay_buffer=True)
    model.learn(64, callback=callback)
    replay = tmp_path / "mz_replay_buffer_64_steps.pkl"  # SB3 names it; the content is npz
    fresh = tiny()
    fresh.load_replay_buffer(replay)
    assert len(fresh.replay_buffer) == 64


# ----------------------------------------------------------------------------- images
class SideImageEnv(gym.Env):
    """An 8x8 grey image with one bright pixel; say whether it is in the left (0) or right
    (1) half. Reward 1 when right; 5 images per episode. Random play scores 2.5."""

    observation_space = spaces.Box(0, 255, (8, 8, 1), np.uint8)
    action_space = spaces.Discrete(2)

    def _image(self) -> np.ndarray:
        self.side = int(self.np_random.integers(2))
        image = np.full((8, 8, 1), 40, np.uint8)
        row = int(self.np_random.integers(8))
        col = int(self.np_random.integers(4)) + 4 * self.side
        image[row, col] = 255
        return image

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._image(), {}

    def step(self, action):
        reward = float(int(action) == self.side)
        self.t += 1
        return self._image(), reward, self.t >= 5, False, {}


def test_cnn_policy_learns_on_tiny_images() -> None:
    torch.manual_seed(0)
    env = make_vec_env(SideImageEnv, n_envs=4, seed=0)
    model = MuZero(
        "CnnPolicy", env, seed=0, num_simulations=4, batch_size=32, learning_starts=64,
        support_size=3, unroll_steps=1, td_steps=1, discount=0.9, replay_ratio=0.5,
        learning_rate=3e-3, temperature=1.0,
        policy_kwargs=dict(channels=8, num_blocks=1, head_hidden=16),
    )  # fmt: skip
    model.learn(1_200)
    mean, _ = evaluate_policy(model, make_vec_env(SideImageEnv, n_envs=4, seed=1), 20)
    assert mean >= 4.5, f"CNN MuZero scored {mean} (random play: 2.5)"


def _tiny_cnn_muzero(seed: int) -> MuZero:
    return MuZero(
        "CnnPolicy", make_vec_env(SideImageEnv, n_envs=4, seed=0), seed=seed, num_simulations=4,
        batch_size=16, learning_starts=32, support_size=3, unroll_steps=1, td_steps=1,
        policy_kwargs=dict(channels=8, num_blocks=1, head_hidden=16),
    )  # fmt: skip


def test_cnn_policy_construction_leaves_batch_norm_statistics_untouched() -> None:
    # Building the networks probes their output shape; the probe must not be folded into the
    # batch-norm running statistics (a random probe made seeded runs differ).
    policy = _tiny_cnn_muzero(seed=0).policy
    norms = [m for m in policy.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms
    for norm in norms:
        assert int(norm.num_batches_tracked) == 0
        assert torch.equal(norm.running_mean, torch.zeros_like(norm.running_mean))
        assert torch.equal(norm.running_var, torch.ones_like(norm.running_var))


def test_seeded_cnn_policy_runs_are_identical() -> None:
    states = []
    for _ in range(2):
        model = _tiny_cnn_muzero(seed=3)
        model.learn(120)
        states.append(model.policy.state_dict())
    for name, value in states[0].items():
        assert torch.equal(value, states[1][name]), name


def test_cnn_policy_takes_channel_last_float_boards() -> None:
    class BoardEnv(gym.Env):
        observation_space = spaces.Box(0, 1, (6, 7, 2), np.float32)
        action_space = spaces.Discrete(7)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return np.zeros((6, 7, 2), np.float32), {}

        def step(self, action):
            return np.zeros((6, 7, 2), np.float32), 0.0, True, False, {}

    model = MuZero(
        "CnnPolicy", BoardEnv(), num_simulations=2, batch_size=4, learning_starts=4,
        support_size=2, policy_kwargs=dict(channels=4, head_hidden=8),
    )  # fmt: skip
    model.learn(16)
    action, _ = model.predict(np.zeros((6, 7, 2), np.float32))
    assert 0 <= int(action) < 7


def test_gumbel_scale_sets_how_much_self_play_explores(tmp_path: Path) -> None:
    env = gym.make("CartPole-v1")
    obs = np.stack([env.reset(seed=seed)[0] for seed in range(64)])

    def sampled_as_best(model: MuZero) -> bool:
        best, _ = model.predict(obs, deterministic=True)
        drawn, _ = model.predict(obs, deterministic=False)
        return bool((best == drawn).all())

    # An untrained model's prior is nearly even: full noise overrules its best action.
    assert not sampled_as_best(tiny(search="gumbel"))
    assert sampled_as_best(tiny(search="gumbel", gumbel_scale=0.0))
    # A schedule is read at the current progress: noisy at first, none from half way.
    model = tiny(search="gumbel", gumbel_scale=StepTemperature((1.0, 0.0), (0.5,)))
    assert not sampled_as_best(model)
    model._current_progress_remaining = 0.4
    assert sampled_as_best(model)
    model.save(tmp_path / "scaled.zip")
    loaded = MuZero.load(tmp_path / "scaled.zip")
    assert loaded.gumbel_scale(0.4) == 0.0 and loaded.gumbel_scale(1.0) == 1.0
    # Models saved before the option existed load with the paper's noise.
    model.save(tmp_path / "older.zip", exclude=["gumbel_scale"])
    assert MuZero.load(tmp_path / "older.zip").gumbel_scale(0.4) == 1.0
    # Bad values are refused where they are given, or where a schedule yields them.
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="gumbel_scale must be a number >= 0"):
            tiny(search="gumbel", gumbel_scale=bad)
    with pytest.raises(ValueError, match="gumbel_scale must be a number or a callable"):
        tiny(search="gumbel", gumbel_scale="high")
    negative = tiny(search="gumbel", gumbel_scale=lambda progress: -1.0)
    with pytest.raises(ValueError, match="gumbel_scale must give numbers >= 0"):
        negative.predict(obs, deterministic=False)


def test_training_and_search_flush_denormals_and_restore_the_setting() -> None:
    from muzero_gym.numerics import flushing_denormals

    class Seen(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.flushing: list[bool] = []

        def _on_step(self) -> bool:
            self.flushing.append(flushing_denormals())
            return True

    model = tiny(learning_starts=8)
    searched: list[bool] = []
    for module in model.policy.children():  # the networks' layers run inside the search
        module.register_forward_pre_hook(lambda *_: searched.append(flushing_denormals()))
    obs = np.zeros((2, 4), dtype=np.float32)
    for before in (False, True):
        torch.set_flush_denormal(before)
        assert flushing_denormals() is before  # the probe reads the setting
        seen = Seen()
        model.learn(24, callback=seen)
        assert seen.flushing and all(seen.flushing)
        assert flushing_denormals() is before
        searched.clear()
        model.predict(obs, deterministic=True)
        assert searched and all(searched)
        assert flushing_denormals() is before
    torch.set_flush_denormal(False)


def test_adamw_from_policy_kwargs_gets_weight_decay_and_survives_save_load(tmp_path: Path) -> None:
    """``weight_decay`` is Adam's coupled L2 by default; AdamW decouples it (SB3's way)."""
    kwargs = {"optimizer_class": torch.optim.AdamW, **TINY["policy_kwargs"]}
    model = tiny(weight_decay=0.01, policy_kwargs=kwargs)
    optimizer = model.policy.optimizer
    assert type(optimizer) is torch.optim.AdamW
    assert all(group["weight_decay"] == 0.01 for group in optimizer.param_groups)
    model.learn(48)
    assert model._n_updates > 0 and optimizer.state  # AdamW took steps
    model.save(tmp_path / "model")
    loaded = MuZero.load(tmp_path / "model", env=gym.make("CartPole-v1"))
    assert type(loaded.policy.optimizer) is torch.optim.AdamW
    assert loaded.policy.optimizer.param_groups[0]["weight_decay"] == 0.01
    step = next(iter(loaded.policy.optimizer.state.values()))["step"]
    assert step == next(iter(optimizer.state.values()))["step"] > 0
    loaded.learn(24, reset_num_timesteps=False)


def test_optimizer_state_is_saved_and_old_checkpoints_without_it_still_load(
    tmp_path: Path,
) -> None:
    model = tiny()
    model.learn(48)
    moments = model.policy.optimizer.state_dict()["state"]
    model.save(tmp_path / "model")
    loaded = MuZero.load(tmp_path / "model", env=gym.make("CartPole-v1"))
    restored = loaded.policy.optimizer.state_dict()["state"]
    assert restored.keys() == moments.keys()
    for key, state in moments.items():
        for name in ("step", "exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(restored[key][name], state[name])
    # A weight decay given to load holds, not the one in the saved optimizer state.
    changed = MuZero.load(tmp_path / "model", weight_decay=1e-3)
    assert all(g["weight_decay"] == 1e-3 for g in changed.policy.optimizer.param_groups)
    assert changed.policy.optimizer.state_dict()["state"].keys() == moments.keys()
    # A checkpoint written before the optimizer state was saved loads with a fresh one...
    with zipfile.ZipFile(tmp_path / "model.zip") as source:
        members = {n: source.read(n) for n in source.namelist() if n != "policy.optimizer.pth"}
    with zipfile.ZipFile(tmp_path / "old.zip", "w") as target:
        for name, content in members.items():
            target.writestr(name, content)
    old = MuZero.load(tmp_path / "old.zip", env=gym.make("CartPole-v1"))
    assert not old.policy.optimizer.state
    for key, value in model.policy.state_dict().items():
        torch.testing.assert_close(old.policy.state_dict()[key], value)
    old.learn(24, reset_num_timesteps=False)
    # ...but its networks must still match exactly.
    params = old.get_parameters()
    assert set(params) == {"policy", "policy.optimizer"}
    params["policy"].pop(next(iter(params["policy"])))
    with pytest.raises(RuntimeError, match="Missing key"):
        old.set_parameters({"policy": params["policy"]})
