"""Replay: episode links, n-step targets at termination / truncation, PER weights."""

from __future__ import annotations

import io

import numpy as np
import pytest

from muzero_gym.replay import ReplayBuffer

RNG = np.random.default_rng(0)


def fill(buffer: ReplayBuffer, rewards, values, end: str = "", to_play=None) -> None:
    """Add one single-env episode; end is 'terminated', 'truncated' or '' (still running)."""
    n = len(rewards)
    for t in range(n):
        last = t == n - 1
        buffer.add(
            observations=np.full((1, 2), t, dtype=np.float32),
            actions=np.array([t % 2]),
            rewards=np.array([rewards[t]]),
            root_values=np.array([values[t]]),
            policies=np.array([[0.25, 0.75]]),
            to_play=np.array([0 if to_play is None else to_play[t]]),
            legal_actions=np.ones((1, 2), bool),
            terminated=np.array([last and end == "terminated"]),
            truncated=np.array([last and end == "truncated"]),
        )


def make(capacity: int = 100, n_envs: int = 1) -> ReplayBuffer:
    return ReplayBuffer(capacity, (2,), np.dtype(np.float32), actions=2, n_envs=n_envs)


def test_n_step_targets_at_termination() -> None:
    buffer = make()
    fill(buffer, rewards=[1, 1, 1], values=[10, 20, 30], end="terminated")
    s = buffer.targets_for(np.array([0]), unroll_steps=4, td_steps=2, discount=0.5, rng=RNG)
    values = s.value_prefix + s.bootstrap_scale * buffer.stored_bootstrap_values(s)
    # t=0: 1 + 0.5 + 0.25 * v2;  t=1: 1 + 0.5 (ends before the bootstrap);  t=2: 1;
    # t=3, 4: absorbing states after the end, worth 0 (and trained as such).
    np.testing.assert_allclose(values[0], [1 + 0.5 + 0.25 * 30, 1.5, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(s.value_mask[0], [1, 1, 1, 1, 1])
    np.testing.assert_allclose(s.target_rewards[0], [1, 1, 1, 0])
    np.testing.assert_array_equal(s.reward_mask[0], [1, 1, 1, 1])
    np.testing.assert_array_equal(s.policy_mask[0], [1, 1, 1, 0, 0])
    np.testing.assert_array_equal(s.actions[0, :3], [0, 1, 0])
    np.testing.assert_allclose(s.target_policies[0, 3], [0, 0])


def test_n_step_targets_at_truncation_bootstrap() -> None:
    buffer = make()
    fill(buffer, rewards=[1, 1, 1], values=[10, 20, 30], end="truncated")
    s = buffer.targets_for(np.array([0]), unroll_steps=3, td_steps=2, discount=0.5, rng=RNG)
    values = s.value_prefix + s.bootstrap_scale * buffer.stored_bootstrap_values(s)
    # t=1: the window passes the truncation, so it bootstraps at the last stored position:
    # 1 + 0.5 * v2.  t=2: v2 itself.  t=3: unknown (the episode was cut, not ended).
    np.testing.assert_allclose(values[0, :3], [1 + 0.5 + 0.25 * 30, 1 + 0.5 * 30, 30])
    np.testing.assert_array_equal(s.value_mask[0], [1, 1, 1, 0])
    np.testing.assert_array_equal(s.reward_mask[0], [1, 1, 1])
    s = buffer.targets_for(np.array([1]), unroll_steps=3, td_steps=2, discount=0.5, rng=RNG)
    np.testing.assert_array_equal(s.reward_mask[0], [1, 1, 0])


def test_running_episode_bootstraps_at_its_last_position() -> None:
    buffer = make()
    fill(buffer, rewards=[1, 1], values=[10, 20], end="")
    s = buffer.targets_for(np.array([0]), unroll_steps=1, td_steps=5, discount=0.5, rng=RNG)
    values = s.value_prefix + s.bootstrap_scale * buffer.stored_bootstrap_values(s)
    np.testing.assert_allclose(values[0], [1 + 0.5 * 20, 20])


def test_two_player_targets_take_the_movers_view() -> None:
    buffer = make()
    # Players alternate; the last mover (player 0, at t=2) wins: reward +1 for the mover.
    fill(buffer, rewards=[0, 0, 1], values=[0, 0, 0], end="terminated", to_play=[0, 1, 0])
    s = buffer.targets_for(
        np.array([0]), unroll_steps=2, td_steps=10, discount=1.0, rng=RNG, two_player=True
    )
    values = s.value_prefix + s.bootstrap_scale * buffer.stored_bootstrap_values(s)
    # Player 0 to move at t=0 and t=2 wins (+1); player 1 at t=1 loses (-1).
    np.testing.assert_allclose(values[0], [1, -1, 1])
    # Reward targets stay the mover's own reward.
    np.testing.assert_allclose(s.target_rewards[0], [0, 0])


def test_two_player_bootstrap_sign() -> None:
    buffer = make()
    fill(buffer, rewards=[0, 0, 0, 0], values=[0.1, 0.2, 0.3, 0.4], to_play=[0, 1, 0, 1])
    s = buffer.targets_for(
        np.array([0]), unroll_steps=0, td_steps=1, discount=1.0, rng=RNG, two_player=True
    )
    values = s.value_prefix + s.bootstrap_scale * buffer.stored_bootstrap_values(s)
    assert values[0, 0] == pytest.approx(-0.2)  # the opponent's value, seen by player 0


def test_interleaved_envs_keep_their_episodes_apart() -> None:
    buffer = make(n_envs=2)
    for t in range(3):
        buffer.add(
            observations=np.array([[t, 0], [t, 1]], dtype=np.float32),
            actions=np.array([0, 1]),
            rewards=np.array([1.0, 100.0]),
            root_values=np.zeros(2),
            policies=np.full((2, 2), 0.5),
            to_play=np.zeros(2),
            legal_actions=np.ones((2, 2), bool),
            terminated=np.array([t == 2, t == 1]),
            truncated=np.zeros(2, bool),
        )
    s = buffer.targets_for(np.array([0, 1]), unroll_steps=3, td_steps=5, discount=1.0, rng=RNG)
    np.testing.assert_allclose(s.value_prefix[0, 0], 3.0)  # env 0: three rewards of 1
    np.testing.assert_allclose(s.value_prefix[1, 0], 200.0)  # env 1: ended after two steps
    # env 1's next episode started at t=2 and is separate.
    np.testing.assert_array_equal(s.unroll_slots[1], [1, 3, -1, -1])


def test_overwritten_episodes_never_link_to_new_data() -> None:
    buffer = make(capacity=5)
    fill(buffer, rewards=[1] * 4, values=[0] * 4, end="terminated")
    fill(buffer, rewards=[7] * 3, values=[0] * 3, end="")  # wraps and overwrites slots 0-1
    assert len(buffer) == 5
    s = buffer.targets_for(np.arange(5), unroll_steps=2, td_steps=3, discount=1.0, rng=RNG)
    # Slots 2, 3 keep the first episode's tail; 4, 0, 1 are the second episode.
    np.testing.assert_array_equal(s.unroll_slots[2], [2, 3, -1])
    np.testing.assert_array_equal(s.unroll_slots[4], [4, 0, 1])
    np.testing.assert_array_equal(s.unroll_slots[1], [1, -1, -1])
    assert s.target_rewards[4].tolist() == [7, 7]


def test_prioritised_sampling_and_importance_weights() -> None:
    buffer = make()
    fill(buffer, rewards=[0, 0], values=[0, 0], end="terminated")
    buffer.update_priorities(np.array([0, 1]), np.array([1.0, 3.0]))
    rng = np.random.default_rng(1)
    s = buffer.sample(20_000, unroll_steps=1, td_steps=1, discount=1.0, rng=rng, priority_beta=1.0)
    share = (s.slots == 1).mean()
    assert abs(share - 0.75) < 0.01
    # w_i = (N P(i))^-beta / max w: (2 * 0.25)^-1 = 2 and (2 * 0.75)^-1 = 2/3 -> 1 and 1/3.
    np.testing.assert_allclose(s.weights[s.slots == 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(s.weights[s.slots == 1], 1.0 / 3.0, rtol=1e-5)
    uniform = make()
    uniform.priority_alpha = 0.0
    fill(uniform, rewards=[0, 0], values=[0, 0], end="terminated")
    uniform.update_priorities(np.array([0, 1]), np.array([1.0, 3.0]))
    s = uniform.sample(20_000, 1, 1, 1.0, rng)
    assert abs((s.slots == 1).mean() - 0.5) < 0.02
    np.testing.assert_allclose(s.weights, 1.0)


def test_new_positions_get_the_max_priority() -> None:
    buffer = make()
    fill(buffer, rewards=[0, 0], values=[0, 0])
    buffer.update_priorities(np.array([0]), np.array([5.0]))
    fill(buffer, rewards=[0], values=[0])
    assert buffer.priorities[2] == pytest.approx(5.0, rel=1e-5)


def test_buffer_size_must_fit_the_envs() -> None:
    with pytest.raises(ValueError, match="buffer_size"):
        ReplayBuffer(2, (1,), np.dtype(np.float32), 2, n_envs=4)


def targets(buffer: ReplayBuffer, slots: np.ndarray) -> dict[str, np.ndarray]:
    s = buffer.targets_for(slots, unroll_steps=2, td_steps=3, discount=0.9, rng=RNG)
    return {
        "observations": s.observations,
        "values": s.value_prefix + s.bootstrap_scale * buffer.stored_bootstrap_values(s),
        "value_mask": s.value_mask,
        "rewards": s.target_rewards * s.reward_mask,
        "policies": s.target_policies,
        "actions": np.where(s.policy_mask[:, :-1] > 0, s.actions, -1),
        "priorities": buffer.priorities[slots],
    }


def test_saved_buffer_loads_with_the_same_targets(tmp_path) -> None:
    buffer = make(capacity=5)
    fill(buffer, rewards=[1, 2, 3, 4], values=[5, 6, 7, 8], end="terminated")
    fill(buffer, rewards=[7, 8, 9], values=[1, 2, 3], end="")  # wraps: slots 4, 0, 1
    buffer.update_priorities(np.arange(5), np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    buffer.save(tmp_path / "replay")
    loaded = make(capacity=5)
    loaded.load(tmp_path / "replay")  # the .npz suffix was added on saving
    assert len(loaded) == 5 and loaded.max_priority == buffer.max_priority
    # Oldest first: the old slots 2, 3, 4, 0, 1 are the new 0-4.
    old, new = targets(buffer, np.array([2, 3, 4, 0, 1])), targets(loaded, np.arange(5))
    for key in old:
        np.testing.assert_allclose(new[key], old[key], err_msg=key)
    # An open binary file works as well as a path.
    stream = io.BytesIO()
    buffer.save(stream)
    stream.seek(0)
    from_stream = make(capacity=5)
    from_stream.load(stream)
    np.testing.assert_allclose(targets(from_stream, np.arange(5))["values"], old["values"])


def test_loading_into_a_smaller_buffer_keeps_the_newest(tmp_path) -> None:
    buffer = make(capacity=10)
    fill(buffer, rewards=[1, 1], values=[0, 0], end="terminated")
    fill(buffer, rewards=[7, 8, 9], values=[1, 2, 3], end="truncated")
    buffer.save(tmp_path / "replay.npz")
    small = make(capacity=4)
    small.load(tmp_path / "replay.npz")
    assert len(small) == 4
    np.testing.assert_allclose(small.rewards, [1, 7, 8, 9])  # the first episode lost its start
    np.testing.assert_array_equal(targets(small, np.array([1]))["rewards"][0], [7, 8])
    # Writing goes on at the oldest slot.
    fill(small, rewards=[5], values=[0], end="terminated")
    np.testing.assert_allclose(small.rewards, [5, 7, 8, 9])
    large = make(capacity=20)
    large.load(tmp_path / "replay.npz")
    fill(large, rewards=[5], values=[0], end="terminated")
    assert len(large) == 6
    np.testing.assert_allclose(large.rewards[:6], [1, 1, 7, 8, 9, 5])


def test_open_episodes_are_closed_on_loading(tmp_path) -> None:
    buffer = make()
    fill(buffer, rewards=[1, 1], values=[0, 10], end="")  # still being played
    buffer.save(tmp_path / "replay.npz")
    loaded = make()
    loaded.load(tmp_path / "replay.npz")
    fill(loaded, rewards=[50], values=[0], end="terminated")  # a new episode
    s = targets(loaded, np.array([0]))
    # The loaded episode bootstraps from its last stored position, not the new data.
    np.testing.assert_allclose(s["values"][0, :2], [1 + 0.9 * 10, 10])
    assert loaded.next_slot[1] == -1


def test_loading_refuses_other_buffers_and_broken_files(tmp_path) -> None:
    buffer = make()
    fill(buffer, rewards=[1, 1], values=[0, 0], end="terminated")
    buffer.save(tmp_path / "replay.npz")
    other = ReplayBuffer(100, (3,), np.dtype(np.float32), actions=2)
    with pytest.raises(ValueError, match="observations of shape"):
        other.load(tmp_path / "replay.npz")
    with pytest.raises(ValueError, match="policies of shape"):
        ReplayBuffer(100, (2,), np.dtype(np.float32), actions=3).load(tmp_path / "replay.npz")
    data = (tmp_path / "replay.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.npz").write_text("not a replay buffer")
    np.savez(tmp_path / "foreign.npz", rewards=np.zeros(3))
    for name in ("cut.npz", "text.npz", "foreign.npz"):
        with pytest.raises(ValueError, match="replay buffer"):
            make().load(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        make().load(tmp_path / "missing.npz")
    # A failed load leaves the buffer as it was.
    kept = make()
    fill(kept, rewards=[3], values=[0], end="terminated")
    with pytest.raises(ValueError):
        kept.load(tmp_path / "cut.npz")
    assert len(kept) == 1 and kept.rewards[0] == 3
