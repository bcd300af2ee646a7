"""The h(x) transform and the categorical support (Appendix F)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from muzero_gym.support import (
    h_inverse,
    h_transform,
    scalar_to_support,
    support_to_scalar,
    support_to_scalar_np,
)


def test_h_known_values() -> None:
    x = torch.tensor([0.0, 3.0, -8.0, 99.0], dtype=torch.float64)
    expected = torch.tensor([0.0, 1.003, -(2.0 + 0.008), 9.0 + 0.099], dtype=torch.float64)
    torch.testing.assert_close(h_transform(x), expected)


def test_h_inverse_is_exact() -> None:
    x = torch.linspace(-10_000, 10_000, 20_001, dtype=torch.float64)
    torch.testing.assert_close(h_inverse(h_transform(x)), x, rtol=1e-9, atol=1e-7)


@pytest.mark.parametrize("support_size", [5, 10, 300])
def test_two_hot_round_trip(support_size: int) -> None:
    limit = float(h_inverse(torch.tensor(float(support_size), dtype=torch.float64)))
    x = torch.linspace(-limit, limit, 1001, dtype=torch.float64)
    probs = scalar_to_support(x, support_size)
    assert probs.shape == (1001, 2 * support_size + 1)
    torch.testing.assert_close(probs.sum(-1), torch.ones(1001, dtype=torch.float64))
    assert ((probs > 0).sum(-1) <= 2).all()  # two-hot
    # log of the two-hot as logits: softmax gives it back, the expectation gives x back.
    logits = torch.log(probs.clamp_min(1e-300))
    torch.testing.assert_close(support_to_scalar(logits, support_size), x, rtol=1e-6, atol=1e-6)


def test_values_beyond_support_are_clipped() -> None:
    probs = scalar_to_support(torch.tensor([1e9, -1e9]), 3)
    assert probs[0, -1] == 1.0 and probs[1, 0] == 1.0


def test_numpy_and_torch_agree() -> None:
    logits = torch.randn(64, 21, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    np.testing.assert_allclose(
        support_to_scalar_np(logits.numpy(), 10), support_to_scalar(logits, 10).numpy(), rtol=1e-9
    )
