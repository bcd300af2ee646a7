"""Networks: shapes, hidden-state scaling, observation statistics, loss terms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces

from muzero_gym.losses import TrainingBatch, compute_loss
from muzero_gym.policies import CnnPolicy, MlpPolicy


def constant_lr(_: float) -> float:
    return 1e-3


def test_mlp_inference_shapes_and_hidden_range() -> None:
    policy = MlpPolicy(spaces.Box(-5, 5, (3,)), spaces.Discrete(4), constant_lr, hidden_dim=8)
    hidden, policy_logits, value_logits = policy.initial_inference(torch.randn(5, 3))
    assert hidden.shape == (5, 8) and policy_logits.shape == (5, 4)
    assert value_logits.shape == (5, 2 * policy.support_size + 1)
    assert hidden.min() >= 0 and hidden.max() <= 1 + 1e-6
    out = policy.recurrent_inference(hidden, torch.tensor([0, 1, 2, 3, 0]))
    assert out[0].shape == (5, 8) and out[1].shape == (5, 2 * policy.support_size + 1)
    # Different actions lead to different next states.
    assert not torch.allclose(out[0][0], policy.dynamics(hidden, torch.tensor([1] * 5))[0][0])


@pytest.mark.parametrize("action_space", [spaces.Discrete(4), spaces.Box(-1, 1, (2,))])
def test_residual_dynamics_starts_as_the_identity_and_learns_action_effects(action_space) -> None:
    torch.manual_seed(0)
    action_space.seed(0)
    policy = MlpPolicy(
        spaces.Box(-5, 5, (3,)), action_space, constant_lr, hidden_dim=8, net_arch=[16],
        residual_dynamics=True,
    )  # fmt: skip
    hidden, _, _ = policy.initial_inference(torch.randn(5, 3))
    actions = torch.as_tensor(np.stack([action_space.sample() for _ in range(5)]))
    next_hidden, reward_logits = policy.dynamics(hidden, actions)
    torch.testing.assert_close(next_hidden, hidden)
    assert torch.count_nonzero(reward_logits) == 0
    # One gradient step towards action-dependent next states moves them apart.
    optimizer = torch.optim.SGD(policy.parameters(), lr=1.0)
    target = torch.rand(5, 8)
    loss = ((policy.dynamics(hidden.detach(), actions)[0] - target) ** 2).sum()
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        moved = policy.dynamics(hidden, actions)[0]
        other = policy.dynamics(hidden, torch.as_tensor(np.stack([action_space.sample()] * 5)))[0]
    assert not torch.allclose(moved, hidden)
    assert not torch.allclose(moved, other)


def test_mlp_takes_discrete_observations() -> None:
    policy = MlpPolicy(spaces.Discrete(7), spaces.Discrete(2), constant_lr, hidden_dim=8)
    hidden, _, _ = policy.initial_inference(torch.tensor([0, 3, 6]))
    assert hidden.shape == (3, 8)


@pytest.mark.parametrize(
    ("shape", "dtype", "hidden_hw"),
    [
        ((96, 96, 3), np.uint8, (6, 6)),
        ((3, 64, 64), np.uint8, (4, 4)),
        ((6, 7, 2), np.float32, (6, 7)),
    ],
)
def test_cnn_layouts(shape, dtype, hidden_hw) -> None:
    high = 255 if dtype == np.uint8 else 1
    space = spaces.Box(0, high, shape, dtype)
    policy = CnnPolicy(space, spaces.Discrete(5), constant_lr, channels=8, head_hidden=8)
    policy.eval()
    obs = torch.as_tensor(np.stack([space.sample() for _ in range(2)]))
    hidden, policy_logits, _ = policy.initial_inference(obs)
    assert hidden.shape[2:] == hidden_hw and policy_logits.shape == (2, 5)
    assert float(hidden.min()) >= 0 and float(hidden.max()) <= 1 + 1e-6


@pytest.mark.parametrize(
    ("n_actions", "expected"),
    [(42, "cell"), (7, "column"), (5, "constant")],
)
def test_cnn_board_action_planes(n_actions, expected) -> None:
    space = spaces.Box(0, 1, (3, 6, 7), np.float32)
    policy = CnnPolicy(space, spaces.Discrete(n_actions), constant_lr, channels=8, head_hidden=8)
    assert policy.board_actions == (expected != "constant")
    in_channels = policy.dynamics_net[0][0].in_channels
    assert in_channels == 8 + (1 if expected != "constant" else n_actions)
    if expected == "constant":
        return
    planes = policy._action_planes(torch.tensor([3, n_actions - 1]), 6, 7)
    assert planes.shape == (2, 1, 6, 7)
    want = torch.zeros(2, 1, 6, 7)
    if expected == "cell":  # action a -> row a // 7, column a % 7
        want[0, 0, 0, 3] = 1
        want[1, 0, 5, 6] = 1
    else:  # action a -> all of column a
        want[0, 0, :, 3] = 1
        want[1, 0, :, 6] = 1
    torch.testing.assert_close(planes, want)
    # The move's place changes the predicted next state.
    policy.eval()
    hidden, _, _ = policy.initial_inference(torch.as_tensor(space.sample()[None]))
    first = policy.dynamics(hidden, torch.tensor([0]))[0]
    last = policy.dynamics(hidden, torch.tensor([n_actions - 1]))[0]
    assert not torch.allclose(first, last)


def test_cnn_action_planes_option_is_checked() -> None:
    space = spaces.Box(0, 1, (3, 6, 7), np.float32)
    forced = CnnPolicy(
        space, spaces.Discrete(7), constant_lr, channels=8, head_hidden=8,
        action_planes="constant",
    )  # fmt: skip
    assert not forced.board_actions
    with pytest.raises(ValueError, match="action_planes='board' needs"):
        CnnPolicy(space, spaces.Discrete(5), constant_lr, channels=8, action_planes="board")
    with pytest.raises(ValueError, match="action_planes must be"):
        CnnPolicy(space, spaces.Discrete(7), constant_lr, channels=8, action_planes="cells")


def test_observation_statistics_match_numpy() -> None:
    space = spaces.Box(-100, 100, (3,))
    policy = MlpPolicy(space, spaces.Discrete(2), constant_lr, normalize_observations=True)
    rng = np.random.default_rng(0)
    batches = [rng.normal([1, 50, -0.01], [0.1, 10, 0.01], size=(n, 3)) for n in (1, 7, 30)]
    for batch in batches:
        policy.update_observation_statistics(torch.as_tensor(batch, dtype=torch.float32))
    everything = np.concatenate(batches)
    np.testing.assert_allclose(policy.obs_mean.numpy(), everything.mean(0), rtol=1e-4)
    np.testing.assert_allclose(policy.obs_var.numpy(), everything.var(0), rtol=1e-3)
    normalised = policy.preprocess(torch.as_tensor(everything, dtype=torch.float32))
    np.testing.assert_allclose(normalised.mean(0).numpy(), 0, atol=1e-3)
    np.testing.assert_allclose(normalised.std(0, unbiased=False).numpy(), 1, atol=1e-3)
    # The statistics travel with the state dict.
    assert {"obs_mean", "obs_var", "obs_count"} <= set(policy.state_dict())


def test_statistics_stay_off_unless_asked() -> None:
    policy = MlpPolicy(spaces.Box(-1, 1, (2,)), spaces.Discrete(2), constant_lr)
    policy.update_observation_statistics(torch.full((4, 2), 0.5))
    assert policy.obs_count == 0
    x = torch.tensor([[0.5, -0.5]])
    torch.testing.assert_close(policy.preprocess(x), x)


def make_batch(batch: int = 6, unroll: int = 3, obs_dim: int = 3) -> TrainingBatch:
    g = torch.Generator().manual_seed(0)
    return TrainingBatch(
        observations=torch.randn(batch, obs_dim, generator=g),
        actions=torch.randint(0, 2, (batch, unroll), generator=g),
        target_values=torch.randn(batch, unroll + 1, generator=g),
        value_mask=torch.ones(batch, unroll + 1),
        target_rewards=torch.randn(batch, unroll, generator=g),
        reward_mask=torch.ones(batch, unroll),
        target_policies=torch.full((batch, unroll + 1, 2), 0.5),
        policy_mask=torch.ones(batch, unroll + 1),
        weights=torch.ones(batch),
        next_observations=torch.randn(batch, unroll, obs_dim, generator=g),
    )


def test_consistency_loss_trains_projection_heads_only_when_on() -> None:
    policy = MlpPolicy(spaces.Box(-5, 5, (3,)), spaces.Discrete(2), constant_lr, hidden_dim=8)
    batch = make_batch()
    loss, info, _ = compute_loss(policy, batch, consistency_loss_weight=0.0)
    loss.backward()
    assert "consistency_loss" not in info
    assert all(p.grad is None for p in policy.projection_predictor.parameters())
    policy.zero_grad(set_to_none=True)
    loss, info, _ = compute_loss(policy, batch, consistency_loss_weight=2.0)
    loss.backward()
    assert -1.0 <= info["consistency_loss"] <= 1.0
    assert all(p.grad is not None for p in policy.projection_predictor.parameters())


def test_observation_loss_trains_a_decoder_towards_the_real_observations() -> None:
    torch.manual_seed(0)
    obs_space, act_space = spaces.Box(-5, 5, (3,)), spaces.Discrete(2)
    plain = MlpPolicy(obs_space, act_space, constant_lr, hidden_dim=8)
    assert plain.observation_decoder is None  # off by default: checkpoints keep their keys
    assert not any(k.startswith("observation_decoder") for k in plain.state_dict())
    with pytest.raises(ValueError, match="decoder"):
        compute_loss(plain, make_batch(), observation_loss_weight=1.0)
    policy = MlpPolicy(obs_space, act_space, constant_lr, hidden_dim=8, observation_decoder=True)
    batch = make_batch()
    _, info, _ = compute_loss(policy, batch)
    assert "observation_loss" not in info
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        loss, info, _ = compute_loss(policy, batch, observation_loss_weight=1.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(info["observation_loss"])
    # The decoder and the networks under it learn the observations of the batch, the
    # root's and the unrolled steps' (whose targets are the next observations).
    assert losses[-1] < 0.5 * losses[0]
    decoded = policy.observation_decoder(policy.initial_inference(batch.observations)[0])
    assert decoded.shape == batch.observations.shape


def test_masked_steps_do_not_contribute() -> None:
    policy = MlpPolicy(spaces.Box(-5, 5, (3,)), spaces.Discrete(2), constant_lr, hidden_dim=8)
    batch = make_batch()
    reference, _, _ = compute_loss(policy, batch)
    batch.target_values[:, 2] = 1e6  # a wild target...
    batch.value_mask[:, 2] = 0.0  # ...that is masked out
    masked, _, _ = compute_loss(policy, batch)
    unmasked_batch = make_batch()
    unmasked_batch.value_mask[:, 2] = 0.0
    expected, _, _ = compute_loss(policy, unmasked_batch)
    torch.testing.assert_close(masked, expected)
    assert not torch.isclose(reference, masked)


def test_reward_loss_weight_scales_the_reward_term_only() -> None:
    policy = MlpPolicy(spaces.Box(-5, 5, (3,)), spaces.Discrete(2), constant_lr, hidden_dim=8)
    batch = make_batch()
    base, info, _ = compute_loss(policy, batch, reward_loss_weight=1.0)
    assert info["reward_loss"] > 0
    heavy, heavy_info, _ = compute_loss(policy, batch, reward_loss_weight=5.0)
    torch.testing.assert_close(heavy, base + 4.0 * info["reward_loss"], rtol=1e-5, atol=1e-5)
    assert heavy_info["reward_loss"] == info["reward_loss"]
    off, _, _ = compute_loss(policy, batch, reward_loss_weight=0.0)
    torch.testing.assert_close(off, base - info["reward_loss"], rtol=1e-5, atol=1e-5)


def _consistency_only(policy: MlpPolicy, batch: TrainingBatch) -> float:
    _, info, _ = compute_loss(policy, batch, consistency_loss_weight=1.0)
    return info["consistency_loss"]


@pytest.mark.parametrize("projection_norm", [False, True])
def test_projection_norm_keeps_the_spread_and_leaves_no_constant_optimum(
    projection_norm: bool,
) -> None:
    """Without batch norm the heads have a collapsed optimum: a constant projection and a
    predictor that maps it onto itself score the cosine loss's minimum, -1, on any batch,
    and shrinking the weights (what Adam's L2 does to weights the loss does not hold)
    shrinks the projection. With batch norm the same weights score 0, and a tenfold
    shrink leaves each dimension's spread over the batch."""
    torch.manual_seed(0)
    policy = MlpPolicy(
        spaces.Box(-5, 5, (3,)),
        spaces.Discrete(2),
        constant_lr,
        hidden_dim=8,
        projection_norm=projection_norm,
    )
    policy.set_training_mode(True)
    batch = make_batch(batch=16)
    hidden = policy.represent(policy.preprocess(batch.observations))
    projection_layers = [m for m in policy.projection if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        before = policy.projection(hidden)
        for layer in projection_layers:
            layer.weight.mul_(0.1)
            layer.bias.mul_(0.1)
        shrunk = policy.projection(hidden)
        for layer in projection_layers:
            layer.weight.zero_()  # the projection no longer depends on its input
        projection_layers[-1].bias.abs_()
        for layer in policy.projection_predictor:
            if isinstance(layer, torch.nn.Linear):
                layer.weight.copy_(torch.eye(64))
                layer.bias.zero_()
    collapsed = _consistency_only(policy, batch)
    if projection_norm:
        torch.testing.assert_close(shrunk.mean(0), torch.zeros(64), atol=1e-4, rtol=0)
        assert (shrunk.var(0, unbiased=False) > 0.9).all()
        assert abs(collapsed) < 1e-3
    else:
        assert shrunk.norm() < 0.1 * before.norm()
        assert collapsed < -0.999


def test_projection_norm_is_kept_by_save_and_load_and_needs_two_samples(tmp_path) -> None:
    from muzero_gym import MuZero

    kwargs = {"policy_kwargs": {"projection_norm": True}, "consistency_loss_weight": 1.0}
    model = MuZero("MlpPolicy", "CartPole-v1", batch_size=8, learning_starts=16, seed=0, **kwargs)
    model.learn(32)
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in model.policy.projection)
    model.save(tmp_path / "m.zip")
    loaded = MuZero.load(tmp_path / "m.zip")
    assert loaded.policy.projection_norm
    for key, value in model.policy.state_dict().items():
        torch.testing.assert_close(loaded.policy.state_dict()[key], value)
    with pytest.raises(ValueError, match="projection_norm.*batch_size >= 2"):
        MuZero("MlpPolicy", "CartPole-v1", batch_size=1, **kwargs)
