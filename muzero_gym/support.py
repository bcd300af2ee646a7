"""Categorical value / reward support with the invertible transform of MuZero, Appendix F.

Scalars are squashed with ``h(x) = sign(x) (sqrt(|x| + 1) - 1) + eps x`` and then written
as a "two-hot" distribution over the integers ``-support_size .. support_size``. The
network predicts logits over that support; the expectation of the softmax is mapped back
with the exact inverse of ``h``.

Functions come in two flavours: torch (training) and numpy (search, where values are
needed as plain arrays without extra torch calls).
"""

from __future__ import annotations

import numpy as np
import torch

# Appendix F (and Pohlen et al. 2018): eps keeps h Lipschitz-invertible.
EPSILON = 0.001


def h_transform(x: torch.Tensor) -> torch.Tensor:
    """``h(x) = sign(x) (sqrt(|x| + 1) - 1) + eps x``, elementwise."""
    return torch.sign(x) * (torch.sqrt(torch.abs(x) + 1.0) - 1.0) + EPSILON * x


def h_inverse(y: torch.Tensor) -> torch.Tensor:
    """Exact inverse of :func:`h_transform`, elementwise."""
    root = (torch.sqrt(1.0 + 4.0 * EPSILON * (torch.abs(y) + 1.0 + EPSILON)) - 1.0) / (
        2.0 * EPSILON
    )
    return torch.sign(y) * (root**2 - 1.0)


def h_inverse_np(y: np.ndarray) -> np.ndarray:
    """Numpy version of :func:`h_inverse`."""
    root = (np.sqrt(1.0 + 4.0 * EPSILON * (np.abs(y) + 1.0 + EPSILON)) - 1.0) / (2.0 * EPSILON)
    return np.sign(y) * (root**2 - 1.0)


def scalar_to_support(x: torch.Tensor, support_size: int) -> torch.Tensor:
    """Two-hot encode transformed scalars.

    :param x: scalars, any shape ``[...]``
    :param support_size: the support is ``-support_size .. support_size``
    :return: probabilities ``[..., 2 * support_size + 1]``; values beyond the support are
        clipped to its ends
    """
    y = h_transform(x).clamp(-support_size, support_size)
    floor = y.floor()
    upper_weight = y - floor  # [...]
    lower_index = (floor + support_size).long()  # [...]
    upper_index = (lower_index + 1).clamp(max=2 * support_size)
    target = torch.zeros(*x.shape, 2 * support_size + 1, dtype=x.dtype, device=x.device)
    target.scatter_add_(-1, lower_index.unsqueeze(-1), (1.0 - upper_weight).unsqueeze(-1))
    target.scatter_add_(-1, upper_index.unsqueeze(-1), upper_weight.unsqueeze(-1))
    return target


def support_to_scalar(logits: torch.Tensor, support_size: int) -> torch.Tensor:
    """Expected value of a categorical over the support, mapped back through ``h^-1``.

    :param logits: ``[..., 2 * support_size + 1]``
    :return: scalars ``[...]``
    """
    atoms = torch.arange(-support_size, support_size + 1, dtype=logits.dtype, device=logits.device)
    y = (torch.softmax(logits, dim=-1) * atoms).sum(-1)
    return h_inverse(y)


def support_to_scalar_np(logits: np.ndarray, support_size: int) -> np.ndarray:
    """Numpy version of :func:`support_to_scalar` (used inside the search loop)."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=-1, keepdims=True)
    atoms = np.arange(-support_size, support_size + 1, dtype=logits.dtype)
    return h_inverse_np(probs @ atoms)
