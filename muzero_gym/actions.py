"""How MuZero represents, searches and learns the actions of each Gymnasium action space.

Plain MuZero enumerates every action at every node. That serves ``Discrete`` spaces and
small ``MultiDiscrete`` ones (flattened exactly into one joint ``Discrete``). Larger
joint spaces and continuous ``Box`` actions use Sampled MuZero (Hubert et al. 2021): each
node searches ``K`` actions sampled from the policy, and the policy is trained towards
the search's distribution over those samples.

An :class:`ActionSpec` gives, for one space:

* ``policy_dim``: width of the policy head (logits, or Gaussian mean and log std);
* ``shape`` / ``dtype``: one action as the tree, the replay and the dynamics see it;
* :meth:`~ActionSpec.encode`: actions -> the vector the dynamics network takes;
* :meth:`~ActionSpec.sample` and :meth:`~ActionSpec.log_prob` for sampled search;
* :meth:`~ActionSpec.to_env`: the action to send to the environment.

Sampled search uses the paper's corrected prior ``(beta_hat / beta) * pi`` over the
sampled slots. Samples are drawn from ``beta = pi`` itself, so the corrected prior is
the empirical distribution ``beta_hat`` of the samples: duplicates (possible for
discrete actions) are merged into one slot whose prior is their count over ``K``.

Continuous actions are sampled as ``u ~ Normal(mean, std)`` and sent to the environment
as ``low + (tanh(u) + 1) / 2 * (high - low)``: the tree and the replay keep ``u``, whose
log-density is exact, and the dynamics sees ``tanh(u)``, what the environment receives
up to scaling.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces

#: MultiDiscrete spaces with at most this many joint actions are flattened and
#: enumerated exactly (``multi_discrete="auto"``); larger ones are sampled.
MAX_FLATTENED_ACTIONS = 64

# Bounds of the Gaussian policy's log standard deviation (pre-squash units).
LOG_STD_MIN, LOG_STD_MAX = -5.0, 1.0
_LOG_STD_OFFSET = float(np.log(-LOG_STD_MIN / LOG_STD_MAX))  # sigmoid(offset) = 5 / 6


def _log_std(raw: torch.Tensor) -> torch.Tensor:
    """The head's raw outputs squashed smoothly into ``[LOG_STD_MIN, LOG_STD_MAX]``; a raw
    output of 0 (the zero-initialised head) gives log std 0: a broad first exploration."""
    return LOG_STD_MIN + (LOG_STD_MAX - LOG_STD_MIN) * torch.sigmoid(raw + _LOG_STD_OFFSET)


def _check_components(components: object) -> None:
    """Refuse a Gaussian count that is not an integer >= 1 (bools included)."""
    if (
        isinstance(components, bool)
        or not isinstance(components, (int, np.integer))
        or components < 1
    ):
        raise ValueError(f"mixture_components must be an integer >= 1, got {components!r}")


class ActionSpec(ABC):
    """The actions of one action space, as MuZero's networks, search and replay see them."""

    #: width of the policy head
    policy_dim: int
    #: width of the action encoding the dynamics network takes
    encoding_dim: int
    #: shape and dtype of one action in the tree and the replay
    shape: tuple[int, ...]
    dtype: np.dtype
    #: True: slot ``i`` of every node is action ``i``; False: nodes hold sampled actions
    enumerated: bool
    #: width of legal-action masks (``Discrete`` only; 0 where masks do not apply)
    mask_dim: int
    #: searched slots per node
    num_slots: int

    @abstractmethod
    def encode(self, actions: torch.Tensor) -> torch.Tensor:
        """Actions ``[B, *shape]`` -> dynamics input ``[B, encoding_dim]``."""

    @abstractmethod
    def to_env(self, actions: np.ndarray) -> np.ndarray:
        """Actions ``[B, *shape]`` -> actions for the environment's space."""

    @abstractmethod
    def random(self, rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
        """Uniformly random actions ``[*size, *shape]`` (unrolling past an episode's end)."""

    @abstractmethod
    def sample(
        self, params: torch.Tensor, num_samples: int, legal: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Draw ``num_samples`` actions per row from the policy: ``[B, K, *shape]``."""

    @abstractmethod
    def log_prob(self, params: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Log-probability (or density) of actions ``[B, S, *shape]`` under ``params``:
        ``[B, S]``."""

    @abstractmethod
    def mode(self, params: torch.Tensor) -> torch.Tensor:
        """The policy's most likely action ``[B, *shape]`` (no search)."""

    @abstractmethod
    def entropy(self, params: torch.Tensor) -> torch.Tensor:
        """Entropy ``[B]`` of the policy (differential entropy for continuous actions)."""

    @abstractmethod
    def uniform_sample(
        self, batch: int, num_samples: int, legal: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Actions ``[B, K, *shape]`` drawn uniformly from the (legal) space."""

    @abstractmethod
    def uniform_log_prob(
        self, actions: torch.Tensor, legal: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Log-density ``[B, S]`` of actions ``[B, S, *shape]`` under :meth:`uniform_sample`."""

    def initial_policy_bias(self) -> torch.Tensor | None:
        """Bias ``[policy_dim]`` for the zero-initialised policy head, or None (zeros)."""
        return None

    def candidates(
        self,
        params: torch.Tensor,
        legal: torch.Tensor | None = None,
        explore: float = 0.0,
        include_mode: bool = False,
        mode_weight: float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sample the slots of a batch of nodes.

        :param params: policy head outputs ``[B, policy_dim]``
        :param legal: ``[B, mask_dim]`` legal actions, or None
        :param explore: fraction ``e`` of uniform play in the sampling distribution:
            ``beta = (1 - e) pi + e U`` (each slot is drawn uniformly with probability
            ``e``); 0 samples from the policy itself
        :param include_mode: slot 0 holds the policy's most likely (legal) action instead
            of a sample; the prior counts it as one of the K samples
        :param mode_weight: with ``include_mode``, the mode's prior is multiplied by this
            (then renormalised): it counts as that many samples rather than one
        :return: ``(candidates [B, K, *shape], prior logits [B, K], in use [B, K])``:
            the corrected prior ``beta_hat / beta * pi`` of Sampled MuZero (``beta_hat``
            when ``beta = pi``), duplicates merged into their first slot
        """
        # The policy renormalised over the legal actions (the mode and pi / beta use it).
        masked = params if legal is None else params.masked_fill(~legal, -torch.inf)
        samples = self.sample(params, self.num_slots, legal)  # [B, K, *shape]
        if explore > 0.0:
            batch = samples.shape[0]
            uniform = self.uniform_sample(batch, self.num_slots, legal)
            uniform = uniform.to(samples.device, samples.dtype)
            pick = torch.rand(batch, self.num_slots, device=samples.device) < explore
            pick = pick.view(batch, self.num_slots, *([1] * (samples.dim() - 2)))
            samples = torch.where(pick, uniform, samples)
        if include_mode:
            samples[:, 0] = self.mode(masked).to(samples.dtype)  # samples is a fresh tensor
        logits, first = self._empirical_prior(samples, params.dtype)
        if explore > 0.0:
            # Importance weights pi / beta (Hubert et al. 2021, eq. 3), then renormalised.
            log_pi = self.log_prob(masked, samples)  # [B, K]
            log_uniform = np.log(explore) + self.uniform_log_prob(samples, legal)
            if explore < 1.0:
                log_beta = torch.logaddexp(np.log1p(-explore) + log_pi, log_uniform)
            else:
                log_beta = log_uniform
            logits = torch.where(first, logits + log_pi - log_beta, -torch.inf)
            logits = torch.log_softmax(logits, dim=-1).clamp(min=np.log(1e-30))
        if include_mode and mode_weight != 1.0:
            logits[:, 0] += float(np.log(mode_weight))  # logits is a fresh tensor
            logits = torch.log_softmax(logits.masked_fill(~first, -torch.inf), dim=-1)
            logits = logits.clamp(min=np.log(1e-30))
        return samples.cpu().numpy(), logits.cpu().numpy(), first.cpu().numpy()

    def _empirical_prior(
        self, samples: torch.Tensor, dtype: torch.dtype
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(log beta_hat [B, K], first occurrence [B, K])`` of samples ``[B, K, *shape]``:
        each distinct action's share of the K samples, in the slot of its first occurrence."""
        flat = samples.reshape(samples.shape[0], self.num_slots, -1)
        same = (flat[:, :, None, :] == flat[:, None, :, :]).all(-1)  # [B, K, K]
        counts = same.sum(-1)  # [B, K]
        earlier = torch.tril(torch.ones_like(same[0]), diagonal=-1)  # [K, K]
        first = ~(same & earlier).any(-1)  # [B, K] first occurrence of each action
        prior = torch.where(first, counts.to(dtype) / self.num_slots, 0.0)
        return torch.log(prior.clamp(min=1e-30)), first


class DiscreteActions(ActionSpec):
    """``Discrete(n)``: all ``n`` actions searched, or ``num_samples`` of them sampled.

    :param n: number of actions
    :param num_samples: sampled slots per node; None enumerates all actions
    :param start: the space's first action (``Discrete(n, start=s)``)
    """

    def __init__(self, n: int, num_samples: int | None = None, start: int = 0) -> None:
        self.n = n
        self.start = start
        self.policy_dim = n
        self.encoding_dim = n
        self.shape = ()
        self.dtype = np.dtype(np.int64)
        self.enumerated = num_samples is None
        self.mask_dim = n
        self.num_slots = n if num_samples is None else num_samples

    def encode(self, actions: torch.Tensor) -> torch.Tensor:
        return F.one_hot(actions.long(), self.n).float()

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        return np.asarray(actions, dtype=np.int64) + self.start

    def random(self, rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
        return rng.integers(0, self.n, size=size)

    def sample(
        self, params: torch.Tensor, num_samples: int, legal: torch.Tensor | None = None
    ) -> torch.Tensor:
        logits = params if legal is None else params.masked_fill(~legal, -torch.inf)
        return torch.multinomial(torch.softmax(logits, -1), num_samples, replacement=True)

    def log_prob(self, params: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(params, -1).gather(-1, actions.long())

    def uniform_sample(
        self, batch: int, num_samples: int, legal: torch.Tensor | None = None
    ) -> torch.Tensor:
        weights = torch.ones(batch, self.n) if legal is None else legal.float()
        return torch.multinomial(weights, num_samples, replacement=True)

    def uniform_log_prob(
        self, actions: torch.Tensor, legal: torch.Tensor | None = None
    ) -> torch.Tensor:
        count = torch.full(actions.shape[:1], float(self.n), device=actions.device)
        if legal is not None:
            count = legal.sum(-1).float().to(actions.device)
        return (-torch.log(count))[:, None].expand(actions.shape[:2])

    def entropy(self, params: torch.Tensor) -> torch.Tensor:
        log_p = torch.log_softmax(params, -1)
        return -(log_p.exp() * log_p).sum(-1)

    def mode(self, params: torch.Tensor) -> torch.Tensor:
        return params.argmax(-1)


class FlatMultiDiscreteActions(DiscreteActions):
    """``MultiDiscrete(nvec)`` searched exactly as one ``Discrete(prod(nvec))``."""

    def __init__(self, nvec: np.ndarray, start: np.ndarray | None = None) -> None:
        self.nvec = np.asarray(nvec, dtype=np.int64).reshape(-1)
        self.space_shape = tuple(np.shape(nvec))
        self.offset = np.zeros_like(self.nvec) if start is None else np.reshape(start, -1)
        super().__init__(int(np.prod(self.nvec)))
        self.mask_dim = 0

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        joint = np.asarray(actions, dtype=np.int64)
        parts = np.stack(np.unravel_index(joint, tuple(self.nvec)), axis=-1) + self.offset
        return parts.reshape(*joint.shape, *self.space_shape)


class MultiDiscreteActions(ActionSpec):
    """``MultiDiscrete(nvec)`` with a factorised policy: one categorical per dimension,
    joint actions sampled from their product.

    :param nvec: sizes of the dimensions
    :param num_samples: sampled slots per node
    :param start: the space's first value of each dimension
    """

    def __init__(self, nvec: np.ndarray, num_samples: int, start: np.ndarray | None = None) -> None:
        self.nvec = np.asarray(nvec, dtype=np.int64).reshape(-1)
        self.space_shape = tuple(np.shape(nvec))
        self.offset = np.zeros_like(self.nvec) if start is None else np.reshape(start, -1)
        self.policy_dim = int(self.nvec.sum())
        self.encoding_dim = self.policy_dim
        self.shape = (len(self.nvec),)
        self.dtype = np.dtype(np.int64)
        self.enumerated = False
        self.mask_dim = 0
        self.num_slots = num_samples
        self._splits = [int(n) for n in self.nvec]

    def _log_probs(self, params: torch.Tensor) -> list[torch.Tensor]:
        return [torch.log_softmax(p, -1) for p in params.split(self._splits, dim=-1)]

    def encode(self, actions: torch.Tensor) -> torch.Tensor:
        parts = [F.one_hot(actions[:, d].long(), n) for d, n in enumerate(self._splits)]
        return torch.cat(parts, dim=-1).float()

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        values = np.asarray(actions, dtype=np.int64) + self.offset
        return values.reshape(*values.shape[:-1], *self.space_shape)

    def random(self, rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
        return rng.integers(0, self.nvec, size=(*size, len(self.nvec)))

    def sample(
        self, params: torch.Tensor, num_samples: int, legal: torch.Tensor | None = None
    ) -> torch.Tensor:
        columns = [
            torch.multinomial(torch.softmax(p, -1), num_samples, replacement=True)
            for p in params.split(self._splits, dim=-1)
        ]
        return torch.stack(columns, dim=-1)  # [B, K, D]

    def log_prob(self, params: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        total = torch.zeros(actions.shape[:-1], dtype=params.dtype, device=params.device)
        for d, log_p in enumerate(self._log_probs(params)):
            total = total + log_p.gather(-1, actions[..., d].long())
        return total

    def uniform_sample(
        self, batch: int, num_samples: int, legal: torch.Tensor | None = None
    ) -> torch.Tensor:
        high = torch.as_tensor(self.nvec)
        return (torch.rand(batch, num_samples, len(self.nvec)) * high).long().clamp(max=high - 1)

    def uniform_log_prob(
        self, actions: torch.Tensor, legal: torch.Tensor | None = None
    ) -> torch.Tensor:
        log_size = float(np.log(self.nvec).sum())
        return torch.full(actions.shape[:-1], -log_size, device=actions.device)

    def mode(self, params: torch.Tensor) -> torch.Tensor:
        return torch.stack([p.argmax(-1) for p in params.split(self._splits, dim=-1)], dim=-1)

    def entropy(self, params: torch.Tensor) -> torch.Tensor:
        return sum(-(log_p.exp() * log_p).sum(-1) for log_p in self._log_probs(params))  # type: ignore[return-value]


class BoxActions(ActionSpec):
    """Bounded ``Box`` actions with a tanh-squashed Gaussian policy, or a mixture of them.

    With ``components = C > 1`` the policy is a mixture of ``C`` diagonal Gaussians (in
    pre-squash units): the head gives ``C`` means, ``C`` log stds and ``C`` mixture logits.
    A single Gaussian fitted to a search that prefers two different moves in one state
    (turn left or right; reach over or around) puts its mean between them; a mixture can
    keep both. The mode is the mean of the most probable component.

    :param low: lower bounds of the space
    :param high: upper bounds of the space
    :param num_samples: sampled slots per node
    :param components: Gaussians in the policy (1: one diagonal Gaussian)
    """

    def __init__(
        self, low: np.ndarray, high: np.ndarray, num_samples: int, components: int = 1
    ) -> None:
        _check_components(components)
        self.space_shape = tuple(np.shape(low))
        self.low = np.asarray(low, dtype=np.float64).reshape(-1)
        self.high = np.asarray(high, dtype=np.float64).reshape(-1)
        dims = len(self.low)
        self.components = int(components)
        # One Gaussian: [mean, raw log std]; C of them: [C means, C raw log stds, C logits].
        self.policy_dim = 2 * dims if components == 1 else components * (2 * dims + 1)
        self.encoding_dim = dims
        self.shape = (dims,)
        self.dtype = np.dtype(np.float32)
        self.enumerated = False
        self.mask_dim = 0
        self.num_slots = num_samples

    def _gaussian(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, log std)``, each ``[B, d]``, of a single-Gaussian policy."""
        mean, raw_log_std = params.chunk(2, dim=-1)
        return mean, _log_std(raw_log_std)

    def _mixture(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(log weights [B, C], means [B, C, d], log stds [B, C, d])`` of the policy."""
        batch, dims, count = params.shape[0], self.shape[0], self.components
        if count == 1:
            mean, log_std = self._gaussian(params)
            return params.new_zeros(batch, 1), mean[:, None], log_std[:, None]
        means = params[:, : count * dims].view(batch, count, dims)
        raw_log_std = params[:, count * dims : 2 * count * dims].view(batch, count, dims)
        log_weights = torch.log_softmax(params[:, 2 * count * dims :], dim=-1)
        return log_weights, means, _log_std(raw_log_std)

    def initial_policy_bias(self) -> torch.Tensor | None:
        if self.components == 1:
            return None
        # The head starts with zero weights: components with one mean would get the same
        # gradients forever. Spread their means (pre-squash, std 0.5) to break the tie.
        bias = torch.zeros(self.policy_dim)
        means = self.components * self.shape[0]
        bias[:means] = 0.5 * torch.randn(means)
        return bias

    def encode(self, actions: torch.Tensor) -> torch.Tensor:
        return torch.tanh(actions.float())

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        squashed = np.tanh(np.asarray(actions, dtype=np.float64))
        values = self.low + 0.5 * (squashed + 1.0) * (self.high - self.low)
        values = np.clip(values, self.low, self.high).astype(np.float32)
        return values.reshape(*values.shape[:-1], *self.space_shape)

    def random(self, rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
        # Uniform over the squashed range [-1, 1], as pre-squash values.
        uniform = rng.uniform(-0.999, 0.999, size=(*size, *self.shape))
        return np.arctanh(uniform).astype(np.float32)

    def sample(
        self, params: torch.Tensor, num_samples: int, legal: torch.Tensor | None = None
    ) -> torch.Tensor:
        log_weights, means, log_std = self._mixture(params)
        batch, dims = means.shape[0], means.shape[2]
        if self.components == 1:
            mean, std = means, log_std.exp()  # [B, 1, d]
        else:
            picks = torch.multinomial(log_weights.exp(), num_samples, replacement=True)
            index = picks[:, :, None].expand(batch, num_samples, dims)  # [B, K, d]
            mean, std = means.gather(1, index), log_std.exp().gather(1, index)
        noise = torch.randn((batch, num_samples, dims), dtype=means.dtype, device=means.device)
        return mean + std * noise  # [B, K, d]

    def log_prob(self, params: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        log_weights, means, log_std = self._mixture(params)
        # [B, S, 1, d] against [B, 1, C, d]: each action's density under each component.
        z = (actions[:, :, None] - means[:, None]) / log_std[:, None].exp()
        per_component = (-0.5 * z**2 - log_std[:, None] - 0.5 * np.log(2 * np.pi)).sum(-1)
        if self.components == 1:
            return per_component[:, :, 0]  # [B, S]
        return torch.logsumexp(per_component + log_weights[:, None], dim=-1)  # [B, S]

    def mode(self, params: torch.Tensor) -> torch.Tensor:
        log_weights, means, _ = self._mixture(params)
        best = log_weights.argmax(-1)  # [B]
        return means[torch.arange(means.shape[0], device=means.device), best]  # [B, d]

    def entropy(self, params: torch.Tensor) -> torch.Tensor:
        # Of the pre-squash policy. One Gaussian: sum of log std + 0.5 log(2 pi e) per
        # dimension. A mixture has no closed form: -sum_c w_c log p(x_c), one
        # reparameterised draw x_c from each component (unbiased and differentiable).
        log_weights, means, log_std = self._mixture(params)
        if self.components == 1:
            return (log_std[:, 0] + 0.5 * np.log(2 * np.pi * np.e)).sum(-1)
        draws = means + log_std.exp() * torch.randn_like(means)  # [B, C, d]
        return -(log_weights.exp() * self.log_prob(params, draws)).sum(-1)

    def _empirical_prior(
        self, samples: torch.Tensor, dtype: torch.dtype
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # Continuous samples never coincide: every slot is its own action, prior 1 / K
        # (no K x K comparison on this hot path of the search).
        shape = samples.shape[:2]
        logits = torch.full(
            shape, -float(np.log(self.num_slots)), dtype=dtype, device=samples.device
        )
        return logits, torch.ones(shape, dtype=torch.bool, device=samples.device)

    def uniform_sample(
        self, batch: int, num_samples: int, legal: torch.Tensor | None = None
    ) -> torch.Tensor:
        # Uniform over the squashed range [-1, 1] (as `random`), as pre-squash values.
        uniform = torch.rand(batch, num_samples, *self.shape) * 1.998 - 0.999
        return torch.atanh(uniform)

    def uniform_log_prob(
        self, actions: torch.Tensor, legal: torch.Tensor | None = None
    ) -> torch.Tensor:
        # tanh(x) ~ U(-1, 1) has density 0.5 (1 - tanh(x)^2) in x, per dimension.
        return torch.log(0.5 * (1.0 - torch.tanh(actions) ** 2).clamp(min=1e-12)).sum(-1)


def make_action_spec(
    space: spaces.Space,
    num_sampled_actions: int | None = None,
    multi_discrete: str = "auto",
    mixture_components: int = 1,
) -> ActionSpec:
    """The :class:`ActionSpec` for an action space.

    :param space: the environment's action space
    :param num_sampled_actions: K of Sampled MuZero; None: enumerate ``Discrete`` and
        flattened ``MultiDiscrete`` actions, and sample 20 for the others
    :param multi_discrete: ``"flatten"`` (one joint ``Discrete``), ``"factorized"``
        (sampled, one categorical per dimension) or ``"auto"``: flatten up to
        ``MAX_FLATTENED_ACTIONS`` joint actions
    :param mixture_components: Gaussians in the policy of ``Box`` actions (1: one
        diagonal Gaussian); other spaces need 1
    :raises ValueError: for spaces MuZero cannot act in (Dict, Tuple, MultiBinary,
        unbounded Box, ...), naming the space
    """
    if multi_discrete not in ("auto", "flatten", "factorized"):
        raise ValueError(
            f"multi_discrete must be 'auto', 'flatten' or 'factorized', got {multi_discrete!r}"
        )
    if num_sampled_actions is not None and num_sampled_actions < 1:
        raise ValueError(f"num_sampled_actions must be >= 1 or None, got {num_sampled_actions}")
    _check_components(mixture_components)
    if mixture_components != 1 and not isinstance(space, spaces.Box):
        raise ValueError(
            f"mixture_components={mixture_components} applies to Box action spaces only, "
            f"got {space}"
        )
    sampled = 20 if num_sampled_actions is None else num_sampled_actions
    if isinstance(space, spaces.Discrete):
        return DiscreteActions(int(space.n), num_sampled_actions, int(space.start))
    if isinstance(space, spaces.MultiDiscrete):
        joint = int(np.prod(space.nvec, dtype=np.float64))
        start = getattr(space, "start", None)
        small = num_sampled_actions is None and joint <= MAX_FLATTENED_ACTIONS
        flatten = multi_discrete == "flatten" or (multi_discrete == "auto" and small)
        if flatten:
            if joint > 1_000_000:
                raise ValueError(
                    f"{space} has {joint} joint actions, too many to flatten; use "
                    "multi_discrete='factorized'"
                )
            return FlatMultiDiscreteActions(space.nvec, start)
        return MultiDiscreteActions(space.nvec, sampled, start)
    if isinstance(space, spaces.Box):
        if not (np.isfinite(space.low).all() and np.isfinite(space.high).all()):
            raise ValueError(
                f"MuZero needs a Box action space with finite bounds, got {space}; rescale "
                "the actions (e.g. gymnasium.wrappers.RescaleAction) to a bounded range"
            )
        if not np.issubdtype(space.dtype, np.floating):
            raise ValueError(f"MuZero needs a float Box action space, got {space}")
        return BoxActions(space.low, space.high, sampled, int(mixture_components))
    raise ValueError(
        f"MuZero does not support {type(space).__name__} action spaces ({space}); it "
        "supports Discrete, MultiDiscrete and bounded Box"
    )
