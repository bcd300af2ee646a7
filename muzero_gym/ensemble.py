"""An ensemble's networks as one model for the search: the mean of their predictions.

``MuZero(ensemble_size=K, ensemble_search="mean")`` searches one tree whose every node
holds the ``K`` networks' hidden states side by side. The root's initial inference and
each expansion run every network; the search sees the mean value, the mean reward and
the mixture (mean probability) of the ``K`` priors. The value errors of separately
trained networks then partly cancel at every node the search expands, where
``ensemble_search="separate"`` searches with each network alone and only combines the
``K`` finished searches at the root.

Actions searched whole only (as ``ensemble_size`` itself): sampled candidates would
differ between networks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from muzero_gym.mcts import RecurrentOutput, RootOutput
from muzero_gym.policies import MuZeroPolicy


class MeanOfNetworks:
    """``search_root`` / ``search_step`` of the mean of ``members`` (the form
    :func:`muzero_gym.mcts.search` and :func:`muzero_gym.gumbel.gumbel_search` take).

    A node's embedding is the members' hidden states concatenated along dimension 1
    (``[B, K * H, ...]``); every member must give hidden states of one shape.
    """

    def __init__(self, members: Sequence[MuZeroPolicy]) -> None:
        if not members:
            raise ValueError("MeanOfNetworks needs at least one network")
        if not all(member.action_spec.enumerated for member in members):
            raise ValueError("MeanOfNetworks searches actions whole only, not sampled ones")
        self.members = list(members)

    def search_root(self, obs: torch.Tensor) -> RootOutput:
        """Initial inference of every member on raw observations ``obs [B, ...]``."""
        roots = [member.search_root(obs) for member in self.members]
        shapes = {tuple(root.embedding.shape) for root in roots}
        if len(shapes) != 1:
            raise ValueError(f"the networks' hidden states differ in shape: {sorted(shapes)}")
        return RootOutput(
            value=np.mean([root.value for root in roots], axis=0),
            prior_logits=_mixture_logits([root.prior_logits for root in roots]),
            embedding=torch.cat([root.embedding for root in roots], dim=1),
        )

    def search_step(self, hidden: torch.Tensor, actions: np.ndarray) -> RecurrentOutput:
        """One recurrent step of every member from its part of ``hidden [B, K * H, ...]``."""
        parts = torch.chunk(hidden, len(self.members), dim=1)
        pairs = zip(self.members, parts, strict=True)
        steps = [member.search_step(part, actions) for member, part in pairs]
        return RecurrentOutput(
            reward=np.mean([step.reward for step in steps], axis=0),
            value=np.mean([step.value for step in steps], axis=0),
            prior_logits=_mixture_logits([step.prior_logits for step in steps]),
            embedding=torch.cat([step.embedding for step in steps], dim=1),
        )


def _mixture_logits(logits: list[np.ndarray]) -> np.ndarray:
    """Log of the mean of the softmax distributions of ``logits`` (each ``[B, A]``)."""
    log_probs = torch.log_softmax(torch.as_tensor(np.stack(logits), dtype=torch.float64), dim=2)
    return (torch.logsumexp(log_probs, dim=0) - np.log(len(logits))).numpy()  # [B, A]


__all__ = ["MeanOfNetworks"]
