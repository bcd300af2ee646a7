"""MuZero's training loss over K unrolled steps (Appendix G).

``l = sum_k [ l_value(z_{t+k}, v_k) + l_reward(u_{t+k}, r_k) + l_policy(pi_{t+k}, p_k) ]``
with categorical cross-entropies for value and reward (over the transformed support) and
for the policy. The loss of each unrolled step ``k >= 1`` is scaled by ``1 / K`` and the
gradient entering each dynamics step by 0.5, so the total gradient of the dynamics
network stays constant whatever K is. L2 regularisation comes from the optimizer's
weight decay; prioritised replay's importance weights scale each sample.

With sampled actions (Sampled MuZero), the policy target is the search's distribution
``w`` over the candidate actions ``a_i`` searched at that position, and the policy loss
is ``-sum_i w_i log pi(a_i | s)`` (the log-density for continuous actions).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from muzero_gym.policies import MuZeroPolicy
from muzero_gym.support import scalar_to_support, support_to_scalar


@dataclass
class TrainingBatch:
    """Tensors for one gradient step (see :class:`muzero_gym.replay.ReplaySample`)."""

    observations: torch.Tensor  # [B, ...]
    actions: torch.Tensor  # [B, K, *action_shape] (long for discrete actions)
    target_values: torch.Tensor  # [B, K+1]
    value_mask: torch.Tensor  # [B, K+1]
    target_rewards: torch.Tensor  # [B, K]
    reward_mask: torch.Tensor  # [B, K]
    target_policies: torch.Tensor  # [B, K+1, S] search policy over the S slots
    policy_mask: torch.Tensor  # [B, K+1]
    weights: torch.Tensor  # [B]
    next_observations: torch.Tensor | None = None  # [B, K, ...] for the consistency loss
    target_candidates: torch.Tensor | None = None  # [B, K+1, S, *action_shape] if sampled


def scale_gradient(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Identity in the forward pass; multiplies the gradient by ``scale``."""
    return x * scale + x.detach() * (1.0 - scale)


def _cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of soft targets ``[B, C]`` against logits ``[B, C]``: ``[B]``."""
    return -(target * F.log_softmax(logits, dim=-1)).sum(-1)


def _policy_loss(
    policy: MuZeroPolicy, params: torch.Tensor, batch: TrainingBatch, k: int
) -> torch.Tensor:
    """Policy loss ``[B]`` at unroll step ``k``: cross-entropy to the search policy."""
    target = batch.target_policies[:, k]
    if batch.target_candidates is None:
        return _cross_entropy(params, target)
    log_prob = policy.action_spec.log_prob(params, batch.target_candidates[:, k])  # [B, S]
    return -(target * log_prob).sum(-1)


def _observation_error(
    decoder: torch.nn.Module, hidden: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Mean squared error ``[B]`` of the decoded hidden states against ``target``, the
    observations as the networks see them (preprocessed, flattened)."""
    return ((decoder(hidden).float() - target) ** 2).mean(-1)


def compute_loss(
    policy: MuZeroPolicy,
    batch: TrainingBatch,
    value_loss_weight: float = 0.25,
    consistency_loss_weight: float = 0.0,
    entropy_loss_weight: float = 0.0,
    reward_loss_weight: float = 1.0,
    observation_loss_weight: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
    """Unroll the model K steps from the batch's observations and compare with targets.

    :param policy: the networks
    :param batch: observations, actions and targets
    :param value_loss_weight: weight of the value loss (0.25 in MuZero Reanalyze, to
        limit over-fitting of the value to reused targets)
    :param consistency_loss_weight: weight of EfficientZero's temporal consistency loss
        (negative cosine similarity between the projected hidden state of each unrolled
        step and that of the real observation there); 0 is the paper's MuZero
    :param entropy_loss_weight: weight of a bonus for the entropy of the predicted policy
        at the observed positions (keeps a sampled continuous policy from narrowing
        faster than the search improves it); 0 is the paper's MuZero
    :param reward_loss_weight: weight of the reward loss (1.0 is the paper's)
    :param observation_loss_weight: weight of the observation-prediction loss (mean
        squared error of the policy's ``observation_decoder`` on each hidden state against
        the preprocessed real observation there); 0 is the paper's MuZero
    :return: ``(loss, info, predicted root values [B])``; info holds the mean of each term
    """
    support = policy.support_size
    unroll_steps = batch.actions.shape[1]
    hidden, policy_logits, value_logits = policy.initial_inference(batch.observations)
    # Under mixed precision the networks answer in bfloat16; the losses stay float32.
    policy_logits, value_logits = policy_logits.float(), value_logits.float()
    root_values = support_to_scalar(value_logits.detach(), support)

    value_target = scalar_to_support(batch.target_values, support)  # [B, K+1, R]
    reward_target = scalar_to_support(batch.target_rewards, support)  # [B, K, R]

    value_loss = _cross_entropy(value_logits, value_target[:, 0]) * batch.value_mask[:, 0]
    policy_loss = _policy_loss(policy, policy_logits, batch, 0) * batch.policy_mask[:, 0]
    entropy = torch.zeros_like(value_loss)
    if entropy_loss_weight > 0:
        entropy = policy.action_spec.entropy(policy_logits)
    reward_loss = torch.zeros_like(value_loss)
    consistency_loss = torch.zeros_like(value_loss)
    observation_loss = torch.zeros_like(value_loss)
    use_observation = observation_loss_weight > 0
    if use_observation:
        decoder = policy.observation_decoder
        if decoder is None:
            raise ValueError("observation_loss_weight > 0 needs a policy built with a decoder")
        if unroll_steps > 0 and batch.next_observations is None:
            raise ValueError("observation_loss_weight > 0 needs the batch's next_observations")
        with torch.no_grad():
            root_inputs = policy.preprocess(batch.observations).flatten(1)
        observation_loss = _observation_error(decoder, hidden, root_inputs)
    use_consistency = consistency_loss_weight > 0 and batch.next_observations is not None
    if batch.next_observations is not None and (use_consistency or use_observation):
        # The real next observations as the networks see them, for both losses.
        with torch.no_grad():
            next_inputs = policy.preprocess(batch.next_observations.flatten(0, 1))  # [B*K, ...]
            if use_consistency:
                targets = policy.projection(policy.represent(next_inputs))
                targets = targets.view(len(value_loss), unroll_steps, -1)  # [B, K, P]
            next_inputs = next_inputs.view(len(value_loss), unroll_steps, -1)  # [B, K, D]
    step_scale = 1.0 / max(unroll_steps, 1)
    for k in range(1, unroll_steps + 1):
        hidden, reward_logits, policy_logits, value_logits = policy.recurrent_inference(
            hidden, batch.actions[:, k - 1]
        )
        reward_logits, policy_logits = reward_logits.float(), policy_logits.float()
        value_logits = value_logits.float()
        if use_consistency:
            predicted = policy.projection_predictor(policy.projection(hidden)).float()
            similarity = F.cosine_similarity(predicted, targets[:, k - 1].float(), dim=-1)
            consistency_loss = consistency_loss - step_scale * similarity * batch.policy_mask[:, k]
        if use_observation:
            assert decoder is not None
            error = _observation_error(decoder, hidden, next_inputs[:, k - 1])
            observation_loss = observation_loss + step_scale * error * batch.policy_mask[:, k]
        hidden = scale_gradient(hidden, 0.5)
        value_loss = value_loss + step_scale * (
            _cross_entropy(value_logits, value_target[:, k]) * batch.value_mask[:, k]
        )
        reward_loss = reward_loss + step_scale * (
            _cross_entropy(reward_logits, reward_target[:, k - 1]) * batch.reward_mask[:, k - 1]
        )
        policy_loss = policy_loss + step_scale * (
            _policy_loss(policy, policy_logits, batch, k) * batch.policy_mask[:, k]
        )

    per_sample = (
        value_loss_weight * value_loss
        + reward_loss_weight * reward_loss
        + policy_loss
        + consistency_loss_weight * consistency_loss
        + observation_loss_weight * observation_loss
        - entropy_loss_weight * entropy
    )  # [B]
    loss = (per_sample * batch.weights).mean()
    info = {
        "loss": float(loss.detach()),
        "value_loss": float(value_loss.detach().mean()),
        "reward_loss": float(reward_loss.detach().mean()),
        "policy_loss": float(policy_loss.detach().mean()),
    }
    if use_consistency:
        info["consistency_loss"] = float(consistency_loss.detach().mean())
    if use_observation:
        info["observation_loss"] = float(observation_loss.detach().mean())
    if entropy_loss_weight > 0:
        info["policy_entropy"] = float(entropy.detach().mean())
    return loss, info, root_values
