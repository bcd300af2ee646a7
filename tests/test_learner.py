"""The learner: Reanalyze of value targets, target network, gradient steps."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from muzero_gym import MuZero
from muzero_gym.losses import compute_loss

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


def trained(**kwargs: Any) -> MuZero:
    model = MuZero("MlpPolicy", "CartPole-v1", seed=0, **{**TINY, **kwargs})
    model.learn(80)
    return model


def test_reanalyze_bootstraps_a_share_of_the_batch_from_the_network() -> None:
    model = trained(reanalyze_ratio=0.5)
    sample = model.replay_buffer.sample(16, 3, 3, 0.997, np.random.default_rng(1))
    stored = model.replay_buffer.stored_bootstrap_values(sample)
    values = model.learner._reanalyze(sample)
    slots = sample.bootstrap_slots
    with torch.no_grad():
        fresh = model.policy.value_of(torch.as_tensor(model.replay_buffer.observations)).numpy()
    head, tail = slice(0, 8), slice(8, 16)
    expected_head = np.where(slots[head] >= 0, fresh[np.maximum(slots[head], 0)], 0.0)
    np.testing.assert_allclose(values[head], expected_head, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(values[tail], stored[tail])  # the rest: search values
    assert not np.allclose(values[head], stored[head])  # the network's values differ


def test_target_network_follows_every_interval() -> None:
    model = trained(target_update_interval=3, learning_starts=900)  # no update yet
    policy, target = model.policy, model.learner.target_policy
    assert target is not policy

    def same() -> bool:
        pairs = zip(policy.state_dict().values(), target.state_dict().values(), strict=True)
        return all(torch.equal(a, b) for a, b in pairs)

    assert same()
    model._train_infos = []
    model.train(2)
    assert not same()  # trained twice, not yet copied
    model.train(1)
    assert same()  # the third update copies the networks
    model.train(1)
    assert not same()


def test_default_learner_bootstraps_from_the_trained_networks() -> None:
    model = trained()
    assert model.learner.target_policy is model.policy


def test_gradient_steps_lower_the_loss_on_a_batch() -> None:
    model = trained()
    learner = model.learner
    sample = model.replay_buffer.sample(16, 3, 3, 0.997, np.random.default_rng(2))
    targets = sample.value_prefix + sample.bootstrap_scale * learner._reanalyze(sample)
    batch = learner._training_batch(sample, targets)
    losses = []
    for _ in range(30):
        loss, _, _ = compute_loss(model.policy, batch, 0.25)
        model.policy.optimizer.zero_grad()
        loss.backward()
        model.policy.optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.8 * losses[0], losses


def test_mixed_precision_loss_is_float32_and_close_to_the_float32_loss() -> None:
    model = trained(policy_kwargs=dict(hidden_dim=32, net_arch=[64]))  # heads start at zero
    learner = model.learner
    sample = model.replay_buffer.sample(16, 3, 3, 0.997, np.random.default_rng(3))
    targets = sample.value_prefix + sample.bootstrap_scale * learner._reanalyze(sample)
    batch = learner._training_batch(sample, targets)

    def loss_and_gradient(mixed: bool) -> tuple[torch.Tensor, torch.Tensor]:
        model.policy.optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mixed):
            loss, _, _ = compute_loss(model.policy, batch, 0.25)
        loss.backward()
        grads = [p.grad.flatten() for p in model.policy.parameters() if p.grad is not None]
        return loss.detach(), torch.cat(grads)

    loss32, grad32 = loss_and_gradient(False)
    loss16, grad16 = loss_and_gradient(True)
    assert loss16.dtype == torch.float32
    assert float(loss16) != float(loss32)  # bfloat16 was used
    assert abs(float(loss16) - float(loss32)) < 0.02 * abs(float(loss32))
    assert torch.isfinite(grad16).all()
    assert float(torch.nn.functional.cosine_similarity(grad16, grad32, dim=0)) > 0.98


def test_mixed_precision_reaches_the_gradient_steps_and_survives_save_load(tmp_path: Any) -> None:
    # Same seed, no training during learn(): the two models start identical.
    models = [trained(learning_starts=900, mixed_precision=mixed) for mixed in (False, True)]
    losses = [[m.learner.step(np.random.default_rng(i))["loss"] for i in range(4)] for m in models]
    assert losses[0] != losses[1]  # bfloat16 forward passes: not the float32 numbers
    np.testing.assert_allclose(losses[1], losses[0], rtol=0.05)
    models[1].save(tmp_path / "mixed")
    loaded = MuZero.load(tmp_path / "mixed")
    assert loaded.mixed_precision and loaded.learner.config.mixed_precision
    assert not trained().learner.config.mixed_precision  # off by default
