"""EntityMlpPolicy: per-block networks with shared weights, joint and sampled actions."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from muzero_gym import EntityMlpPolicy, MuZero
from muzero_gym.actions import make_action_spec


def constant_lr(_: float) -> float:
    return 1e-3


OBS = spaces.Box(0, 1, (3 * 5,))  # three blocks of five features
ACTIONS = spaces.MultiDiscrete([3, 3, 3])  # 27 joint actions: flattened by default


def make(spec_kind: str, seed: int = 0) -> EntityMlpPolicy:
    torch.manual_seed(seed)
    spec = make_action_spec(ACTIONS, multi_discrete=spec_kind, num_sampled_actions=None)
    policy = EntityMlpPolicy(
        OBS, ACTIONS, constant_lr, hidden_dim=4, net_arch=[16], action_spec=spec
    )
    # Non-zero heads, so that the policy, value and reward depend on the input.
    with torch.no_grad():
        for head in (policy.policy_head, policy.value_head, policy.reward_head):
            head.weight.normal_()
            head.bias.normal_()
    return policy


def test_shapes_and_hidden_range() -> None:
    for kind, policy_dim in (("flatten", 27), ("factorized", 9)):
        policy = make(kind)
        hidden, logits, value_logits = policy.initial_inference(torch.rand(6, 15))
        assert hidden.shape == (6, 12) and logits.shape == (6, policy_dim)
        assert value_logits.shape == (6, 2 * policy.support_size + 1)
        assert hidden.min() >= 0 and hidden.max() <= 1 + 1e-6
        actions = torch.arange(6) if kind == "flatten" else torch.randint(0, 3, (6, 3))
        next_hidden, reward_logits, _, _ = policy.recurrent_inference(hidden, actions)
        assert next_hidden.shape == (6, 12) and reward_logits.shape == value_logits.shape


def test_joint_actions_are_the_product_of_the_blocks_choices() -> None:
    """The flattened joint action j means the same per-block choices to the policy head
    and to the dynamics as ``spec.to_env(j)`` does to the env."""
    flat, factorized = make("flatten"), make("factorized")
    factorized.load_state_dict(flat.state_dict(), strict=False)  # joint_* buffers only in flat
    obs = torch.rand(4, 15)
    hidden, joint_logits, _ = flat.initial_inference(obs)
    _, block_logits, _ = factorized.initial_inference(obs)
    choices = torch.as_tensor(flat.action_spec.to_env(np.arange(27)))  # [27, 3]
    expected = sum(block_logits[:, 3 * i + choices[:, i]] for i in range(3))
    torch.testing.assert_close(joint_logits, expected)
    joint = torch.tensor([0, 5, 13, 26])
    torch.testing.assert_close(
        flat.dynamics(hidden, joint), factorized.dynamics(hidden, choices[joint])
    )


def test_each_block_is_moved_by_its_own_action() -> None:
    policy = make("factorized")
    with torch.no_grad():  # no context: each block's next state depends on itself only
        for layer in (policy.dynamics_trunk[0],):
            layer.others.weight.zero_()
    hidden, _, _ = policy.initial_inference(torch.rand(1, 15))
    with torch.no_grad():
        before = policy.dynamics(hidden, torch.tensor([[0, 0, 0]]))[0].view(3, 4)
        after = policy.dynamics(hidden, torch.tensor([[0, 2, 0]]))[0].view(3, 4)
    moved = (after - before).abs().sum(1)
    assert moved[1] > 0.1 and moved[0] == 0 and moved[2] == 0


@pytest.mark.parametrize(
    ("obs_space", "action_space", "kwargs", "match"),
    [
        (OBS, spaces.Discrete(3), {}, "MultiDiscrete"),
        (OBS, spaces.MultiDiscrete([3, 2, 3]), {}, "same number of choices"),
        (OBS, ACTIONS, {"num_entities": 5}, "num_entities=5"),
        (spaces.Box(0, 1, (14,)), ACTIONS, {}, "equal blocks"),
        (spaces.Box(0, 1, (3, 5)), ACTIONS, {}, "flat Box"),
        (OBS, ACTIONS, {"net_arch": []}, "net_arch"),
        (OBS, ACTIONS, {"hidden_dim": 0}, "hidden_dim"),
    ],
)
def test_bad_spaces_and_arguments_are_refused(obs_space, action_space, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        EntityMlpPolicy(obs_space, action_space, constant_lr, **kwargs)


def test_muzero_trains_saves_and_loads_it_on_traffic(tmp_path) -> None:
    env = gym.make("Traffic-v0")
    model = MuZero(
        "EntityMlpPolicy", env, num_simulations=8, batch_size=16, learning_starts=32,
        policy_kwargs={"hidden_dim": 8, "net_arch": [16]}, seed=0,
    )  # fmt: skip
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(96)
    after = list(model.policy.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
    obs, _ = env.reset(seed=3)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(action)
    model.save(tmp_path / "entity.zip")
    loaded = MuZero.load(tmp_path / "entity.zip")
    assert isinstance(loaded.policy, EntityMlpPolicy)
    saved, restored = model.policy.state_dict(), loaded.policy.state_dict()
    assert saved.keys() == restored.keys()
    for key in saved:
        torch.testing.assert_close(saved[key], restored[key])
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], action)
