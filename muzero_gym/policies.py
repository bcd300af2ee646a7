"""MuZero's three networks: representation h, dynamics g and prediction f.

``initial_inference(obs) = f(h(obs))`` and ``recurrent_inference(s, a) = (g(s, a), f(g(s, a)))``
as in the paper. Hidden states are min-max scaled to [0, 1] per sample (Appendix G), the
same range as the action encoding. Value and reward are categorical over
``-support_size .. support_size`` (see :mod:`muzero_gym.support`).

Actions of any supported space enter through an :class:`~muzero_gym.actions.ActionSpec`:
the policy head's width, the action encoding of the dynamics and, for Sampled MuZero,
the candidate actions of each searched node come from it.

``MlpPolicy`` handles vector observations (any Box, Discrete, MultiDiscrete or
MultiBinary space, flattened). ``CnnPolicy`` handles images and boards: uint8 frames
(0-255, scaled to [0, 1]) and small float or bool boards, channels first or last. Large
frames go through the downsampling stack of Appendix F, small boards through a light
residual tower at full resolution.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.preprocessing import get_flattened_obs_dim, preprocess_obs
from torch import nn

from muzero_gym.actions import ActionSpec, DiscreteActions, make_action_spec
from muzero_gym.mcts import RecurrentOutput, RootOutput
from muzero_gym.support import support_to_scalar, support_to_scalar_np

# Frames at least this large (in both dimensions) are downsampled as in Appendix F.
DOWNSAMPLE_MIN_SIZE = 32


def _features(obs: torch.Tensor, space: spaces.Space, normalize_images: bool) -> torch.Tensor:
    """SB3's preprocessing (one-hot for discrete spaces, /255 for images), as float."""
    x = preprocess_obs(obs, space, normalize_images=normalize_images)
    assert isinstance(x, torch.Tensor), "dict observations are not supported"
    return x


def scale_hidden_state(hidden: torch.Tensor) -> torch.Tensor:
    """Min-max scale each sample's hidden state to [0, 1] (Appendix G)."""
    flat = hidden.flatten(1)
    # amin and amax, not aminmax: torch 2.11 and earlier have no derivative for aminmax
    # (pytorch/pytorch#148808), and pyproject allows torch from 2.3.
    low = flat.amin(dim=1, keepdim=True)
    high = flat.amax(dim=1, keepdim=True)
    scaled = (flat - low) / (high - low).clamp(min=1e-5)
    return scaled.view_as(hidden)


def _probe(module: nn.Module, forward: Callable[[], torch.Tensor]) -> torch.Tensor:
    """Run ``forward`` (a shape probe on ``module``) in eval mode, without gradients.

    In train mode batch norm would fold the probe's made-up input into its running
    statistics, and a randomly sampled probe would make seeded runs differ.
    """
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            return forward()
    finally:
        module.train(was_training)


def mlp(sizes: list[int], activation: type[nn.Module]) -> nn.Sequential:
    """``Linear -> activation`` for each consecutive pair of ``sizes``."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=False):
        layers += [nn.Linear(n_in, n_out), activation()]
    return nn.Sequential(*layers)


class MuZeroPolicy(BasePolicy):
    """Base of the MuZero networks: inference, search adapters and the shared heads.

    Subclasses define ``representation``, ``dynamics`` and ``prediction`` trunks through
    :meth:`_build`.

    :param observation_space: observation space
    :param action_space: a ``Discrete``, ``MultiDiscrete`` or bounded ``Box`` action space
    :param lr_schedule: learning rate schedule (progress remaining -> learning rate)
    :param support_size: value / reward support is ``-support_size .. support_size``
    :param weight_decay: L2 penalty on all weights, passed to the optimizer (the paper's 1e-4
        was for SGD)
    :param optimizer_class: optimizer
    :param optimizer_kwargs: extra optimizer arguments
    :param normalize_images: scale uint8 image observations to [0, 1]
    :param projection_dim: width of the projection heads used by the optional temporal
        consistency loss (EfficientZero); unused unless that loss is on
    :param projection_norm: batch norm in the projection heads, as SimSiam and EfficientZero
        have them. Without it the heads can satisfy the cosine loss with a constant output,
        which Adam's L2 penalty then shrinks to zero (``benchmarks/dead_units.py``); with it
        the loss needs gradient steps of at least two samples
    :param normalize_observations: standardise each observation feature with running
        statistics of the observations seen in self-play (kept in the state dict)
    :param action_spec: how actions are searched and encoded (default: enumerate
        ``Discrete`` actions, see :func:`muzero_gym.actions.make_action_spec`)
    :param observation_decoder: also build ``observation_decoder``, a head from the hidden
        state to the (flattened, preprocessed) observation, for the optional
        observation-prediction loss; MuZero sets it from ``observation_loss_weight``
    """

    obs_mean: torch.Tensor
    obs_var: torch.Tensor
    obs_count: torch.Tensor

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Any,
        support_size: int = 10,
        weight_decay: float = 0.0,
        optimizer_class: type[torch.optim.Optimizer] = torch.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
        normalize_images: bool = True,
        projection_dim: int = 64,
        projection_norm: bool = False,
        normalize_observations: bool = False,
        action_spec: ActionSpec | None = None,
        observation_decoder: bool = False,
    ) -> None:
        super().__init__(
            observation_space,
            action_space,
            normalize_images=normalize_images,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
        )
        self.action_spec = make_action_spec(action_space) if action_spec is None else action_spec
        # Width of the policy head: logits of each action, or the parameters of the
        # distribution that candidate actions are sampled from.
        self.policy_dim = self.action_spec.policy_dim
        self.support_size = support_size
        self.weight_decay = weight_decay
        self.projection_dim = projection_dim
        self.projection_norm = projection_norm
        self.normalize_observations = normalize_observations
        sample = torch.as_tensor(observation_space.sample()[None])
        feature_shape = _features(sample, observation_space, normalize_images).shape[1:]
        self.register_buffer("obs_mean", torch.zeros(feature_shape))
        self.register_buffer("obs_var", torch.ones(feature_shape))
        self.register_buffer("obs_count", torch.zeros(()))
        self._build()
        probe = _probe(
            self,
            lambda: self.represent(
                self.preprocess(torch.as_tensor(observation_space.sample()[None]))
            ),
        )
        hidden_size = int(np.prod(probe.shape[1:]))

        # SimSiam-style heads: the projection of a hidden state imagined by the dynamics
        # should match the projection of the hidden state of the real next observation.
        # With projection_norm, batch norm after each layer, the last without a learnable
        # scale (SimSiam, EfficientZero): across a batch the projections then have unit
        # variance in every dimension, so a constant (or zero) projection, which satisfies
        # the cosine loss trivially, is not reachable. Without it the layers keep the
        # indices (and checkpoint keys) they always had.
        def norm(affine: bool = True) -> list[nn.Module]:
            return [nn.BatchNorm1d(projection_dim, affine=affine)] if projection_norm else []

        self.projection = nn.Sequential(
            nn.Flatten(), nn.Linear(hidden_size, projection_dim), *norm(), nn.ReLU(),
            nn.Linear(projection_dim, projection_dim), *norm(affine=False),
        )  # fmt: skip
        self.projection_predictor = nn.Sequential(
            nn.Linear(projection_dim, projection_dim), *norm(), nn.ReLU(),
            nn.Linear(projection_dim, projection_dim),
        )  # fmt: skip
        self.observation_decoder: nn.Module | None = None
        if observation_decoder:
            self.observation_decoder = nn.Sequential(
                nn.Flatten(), nn.Linear(hidden_size, 2 * projection_dim), nn.ReLU(),
                nn.Linear(2 * projection_dim, int(np.prod(feature_shape))),
            )  # fmt: skip
        self.optimizer = self.optimizer_class(  # type: ignore[call-arg]
            self.parameters(),
            lr=lr_schedule(1),
            weight_decay=weight_decay,
            **self.optimizer_kwargs,
        )

    # --- to be provided by subclasses -------------------------------------------------
    @abstractmethod
    def _build(self) -> None:
        """Create the modules of h, g and f."""

    @abstractmethod
    def represent(self, obs: torch.Tensor) -> torch.Tensor:
        """h: preprocessed observations ``[B, ...]`` -> hidden states ``[B, ...]``."""

    @abstractmethod
    def dynamics(
        self, hidden: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """g: ``(hidden [B, ...], actions [B])`` -> ``(next hidden, reward logits [B, R])``."""

    @abstractmethod
    def predict_heads(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """f: hidden ``[B, ...]`` -> ``(policy parameters [B, P], value logits [B, R])``."""

    # --- shared ---------------------------------------------------------------------------
    @property
    def support_width(self) -> int:
        return 2 * self.support_size + 1

    def preprocess(self, obs: torch.Tensor) -> torch.Tensor:
        """Raw observations (as stored) -> network input, float32."""
        x = _features(obs, self.observation_space, self.normalize_images)
        if self.normalize_observations and self.obs_count > 0:
            # Small features (a pole angle of 0.1 rad next to a cart position of 2 m) would
            # otherwise take thousands of updates to matter to the representation.
            x = ((x - self.obs_mean) / torch.sqrt(self.obs_var + 1e-8)).clamp(-10.0, 10.0)
        return x

    @torch.no_grad()
    def update_observation_statistics(self, obs: torch.Tensor) -> None:
        """Fold a batch of raw observations into the running mean and variance."""
        if not self.normalize_observations:
            return
        x = _features(obs, self.observation_space, self.normalize_images)
        batch_count = x.shape[0]
        batch_mean = x.mean(0)
        batch_var = x.var(0, unbiased=False)
        total = self.obs_count + batch_count
        delta = batch_mean - self.obs_mean
        # Chan et al.'s parallel update, as in SB3's RunningMeanStd.
        m2 = self.obs_var * self.obs_count + batch_var * batch_count
        m2 = m2 + delta**2 * self.obs_count * batch_count / total
        self.obs_mean += delta * batch_count / total
        self.obs_var.copy_(m2 / total)
        self.obs_count.copy_(total)

    def initial_inference(
        self, obs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``obs [B, ...]`` -> ``(hidden [B, ...], policy logits [B, A], value logits [B, R])``."""
        hidden = self.represent(self.preprocess(obs))
        policy_logits, value_logits = self.predict_heads(hidden)
        return hidden, policy_logits, value_logits

    def recurrent_inference(
        self, hidden: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(hidden, actions [B])`` -> ``(next hidden, reward, policy and value logits)``."""
        next_hidden, reward_logits = self.dynamics(hidden, actions)
        policy_logits, value_logits = self.predict_heads(next_hidden)
        return next_hidden, reward_logits, policy_logits, value_logits

    @torch.inference_mode()
    def search_root(
        self,
        obs: torch.Tensor,
        legal: np.ndarray | None = None,
        explore: float = 0.0,
        include_mode: bool = False,
        mode_weight: float = 1.0,
        candidate_moves: Sequence[Callable[[np.ndarray], np.ndarray]] = (),
    ) -> RootOutput:
        """Initial inference in the form :func:`muzero_gym.mcts.search` takes.

        :param obs: raw observations ``[B, ...]``
        :param legal: ``[B, mask_dim]`` legal actions, used here only to sample candidate
            actions (enumerated actions are masked by the search itself)
        :param explore: fraction of uniform play in the distribution the sampled candidate
            actions are drawn from (see :meth:`ActionSpec.candidates`)
        :param include_mode: sampled actions only: the first candidate is the policy's most
            likely action
        :param mode_weight: with ``include_mode``, the mode's prior as a multiple of one
            sample's
        :param candidate_moves: sampled actions only: ``obs`` holds ``n`` observations
            followed by ``len(candidate_moves)`` blocks of ``n`` transformed copies of them
            (``legal`` is the first block's); the candidates are sampled at the first
            block only and moved into each further block by its function (e.g.
            :meth:`muzero_gym.symmetry.Symmetry.move_actions`), with the same prior, so
            that every copy searches the same actions
        """
        hidden, policy_params, value_logits = self.initial_inference(obs)
        value = support_to_scalar_np(value_logits.cpu().numpy(), self.support_size)
        if self.action_spec.enumerated:
            return RootOutput(value, policy_params.cpu().numpy(), hidden)
        legal_tensor = None if legal is None else torch.as_tensor(legal, device=hidden.device)
        blocks = len(candidate_moves) + 1
        candidates, logits, in_use = self.action_spec.candidates(
            policy_params[: len(obs) // blocks], legal_tensor, explore, include_mode, mode_weight
        )
        if candidate_moves:
            candidates = np.concatenate(
                [candidates] + [move(candidates) for move in candidate_moves]
            )
            logits, in_use = np.tile(logits, (blocks, 1)), np.tile(in_use, (blocks, 1))
        return RootOutput(value, logits, hidden, candidates, in_use)

    def search_step(self, hidden: torch.Tensor, actions: np.ndarray) -> RecurrentOutput:
        """Recurrent inference in the form :func:`muzero_gym.mcts.search` takes.

        Call it under ``torch.inference_mode()`` (as ``MuZero`` does around the whole
        search): entering the mode once per search is cheaper than once per simulation.
        """
        action_tensor = torch.from_numpy(np.ascontiguousarray(actions)).to(hidden.device)
        next_hidden, reward_logits, policy_params, value_logits = self.recurrent_inference(
            hidden, action_tensor
        )
        # One transfer, then the support expectation in numpy: cheaper than more torch ops.
        logits = torch.cat((reward_logits, value_logits), dim=1).cpu().numpy()
        scalars = support_to_scalar_np(
            logits.reshape(-1, 2, self.support_width), self.support_size
        )  # [B, 2]
        if self.action_spec.enumerated:
            return RecurrentOutput(
                scalars[:, 0], scalars[:, 1], policy_params.cpu().numpy(), next_hidden
            )
        candidates, prior_logits, in_use = self.action_spec.candidates(policy_params)
        return RecurrentOutput(
            scalars[:, 0], scalars[:, 1], prior_logits, next_hidden, candidates, in_use
        )

    def _predict(  # type: ignore[override]
        self, observation: torch.Tensor, deterministic: bool = False
    ) -> torch.Tensor:
        """The prediction network's own action, without search.

        ``MuZero.predict`` runs the tree search; this is only the raw prior, used by SB3
        code that calls ``policy.predict`` directly. Actions are in the env's format.
        """
        with torch.no_grad():
            _, policy_params, _ = self.initial_inference(observation)
        spec = self.action_spec
        if isinstance(spec, DiscreteActions) and spec.enumerated:
            if deterministic:
                actions = policy_params.argmax(dim=1)
            else:
                actions = torch.distributions.Categorical(logits=policy_params).sample()
        elif deterministic:
            actions = spec.mode(policy_params)
        else:
            actions = spec.sample(policy_params, 1)[:, 0]
        return torch.as_tensor(spec.to_env(actions.cpu().numpy()), device=observation.device)

    def value_of(self, obs: torch.Tensor) -> torch.Tensor:
        """Scalar value estimates ``[B]`` of raw observations (used by Reanalyze)."""
        _, _, value_logits = self.initial_inference(obs)
        return support_to_scalar(value_logits, self.support_size)


class MlpPolicy(MuZeroPolicy):
    """Fully connected MuZero networks for vector observations.

    :param hidden_dim: size of the hidden state
    :param net_arch: widths of the hidden layers of each of h, g and f
    :param activation_fn: activation between layers
    :param residual_dynamics: the dynamics outputs a change of the hidden state, added to
        it (and starts as the identity), instead of the whole next hidden state. The
        successors of one state then share everything the action does not change, so
        their values differ only through what the action does.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Any,
        hidden_dim: int = 64,
        net_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        residual_dynamics: bool = False,
        **kwargs: Any,
    ) -> None:
        if isinstance(observation_space, (spaces.Dict, spaces.Tuple)):
            raise ValueError(
                f"MlpPolicy does not support {type(observation_space).__name__} observation "
                "spaces; flatten them with gymnasium.wrappers.FlattenObservation"
            )
        if hidden_dim < 1:
            raise ValueError(f"hidden_dim must be >= 1, got {hidden_dim}")
        self.hidden_dim = hidden_dim
        self.net_arch = [64] if net_arch is None else list(net_arch)
        self.activation_fn = activation_fn
        self.residual_dynamics = residual_dynamics
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build(self) -> None:
        obs_dim = get_flattened_obs_dim(self.observation_space)
        act = self.activation_fn

        def trunk(n_in: int) -> tuple[nn.Sequential, int]:
            return mlp([n_in, *self.net_arch], act), (self.net_arch or [n_in])[-1]

        self.representation_trunk, width = trunk(obs_dim)
        self.representation_head = nn.Linear(width, self.hidden_dim)
        # The first dynamics layer sees [hidden, one-hot action]. It is kept as a linear map
        # of the hidden state plus a per-action vector (the one-hot's weight columns): the
        # same function, without building and concatenating a one-hot in the search loop.
        out_dim = self.hidden_dim + self.support_width
        first = self.net_arch[0] if self.net_arch else out_dim
        self.dynamics_state_in = nn.Linear(self.hidden_dim, first)
        spec = self.action_spec
        bound = 1.0 / np.sqrt(self.hidden_dim + spec.encoding_dim)  # nn.Linear's init range
        self.dynamics_action_in: nn.Module
        if isinstance(spec, DiscreteActions):
            self.dynamics_action_in = nn.Embedding(spec.n, first)
            nn.init.uniform_(self.dynamics_action_in.weight, -bound, bound)
        else:
            # Other actions (squashed continuous values, one-hots of several dimensions)
            # enter through a small network of their own: a linear map of them would only
            # shift units that the hidden state mostly keeps on or off, leaving the reward
            # linear in the action (unable to prefer the middle of a range).
            self.dynamics_action_in = nn.Sequential(
                nn.Linear(spec.encoding_dim, first), act(), nn.Linear(first, first)
            )
        if self.net_arch:
            self.dynamics_trunk = nn.Sequential(act(), mlp(self.net_arch, act))
            # One layer gives both the next hidden state and the reward logits.
            self.dynamics_head: nn.Module = nn.Linear(self.net_arch[-1], out_dim)
        else:
            self.dynamics_trunk = nn.Sequential()
            self.dynamics_head = nn.Identity()
        self.prediction_trunk, width = trunk(self.hidden_dim)
        self.prediction_head = nn.Linear(width, self.policy_dim + self.support_width)
        # Start value, reward and policy at zero logits: value 0, reward 0, uniform prior.
        last_dynamics = self.dynamics_head if self.net_arch else self.dynamics_state_in
        assert isinstance(last_dynamics, nn.Linear)
        nn.init.zeros_(self.prediction_head.weight)
        nn.init.zeros_(self.prediction_head.bias)
        with torch.no_grad():
            bias = self.action_spec.initial_policy_bias()
            if bias is not None:
                self.prediction_head.bias[: self.policy_dim] = bias
            last_dynamics.weight[self.hidden_dim :].zero_()
            last_dynamics.bias[self.hidden_dim :].zero_()
            if self.residual_dynamics:  # no change yet: g(s, a) = s
                last_dynamics.weight[: self.hidden_dim].zero_()
                last_dynamics.bias[: self.hidden_dim].zero_()

    def represent(self, obs: torch.Tensor) -> torch.Tensor:
        features = self.representation_trunk(obs.flatten(1))
        return scale_hidden_state(self.representation_head(features))

    def dynamics(
        self, hidden: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(self.action_spec, DiscreteActions):
            action_in = self.dynamics_action_in(actions.long())
        else:
            action_in = self.dynamics_action_in(self.action_spec.encode(actions))
        x = self.dynamics_state_in(hidden) + action_in
        out = self.dynamics_head(self.dynamics_trunk(x))
        change = out[:, : self.hidden_dim]
        next_hidden = scale_hidden_state(hidden + change if self.residual_dynamics else change)
        return next_hidden, out[:, self.hidden_dim :]

    def predict_heads(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.prediction_head(self.prediction_trunk(hidden))
        return out[:, : self.policy_dim], out[:, self.policy_dim :]


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a skip connection (Appendix F)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(out)))


def conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    )


class CnnPolicy(MuZeroPolicy):
    """Convolutional MuZero networks for images and boards.

    :param channels: channels of the hidden state planes
    :param num_blocks: residual blocks in each of h, g and f
    :param head_hidden: width of the fully connected layer of the value and reward heads
    :param downsample: use the Appendix F downsampling stack (``None``: when both image
        dimensions are at least 32)
    :param action_planes: how a ``Discrete`` action enters the dynamics. ``"board"``: one
        plane marking where the move is played, as the paper encodes board moves: for
        ``n == H * W`` actions the cell ``(a // W, a % W)`` (tic-tac-toe, Go without pass),
        for ``n == W`` the whole column ``a`` (connect four); ``"constant"``: one constant
        plane per entry of the action encoding (one-hot planes), for actions that are not
        places on the board; ``"auto"`` (default): ``"board"`` where the action count fits
        the hidden planes at full resolution, else ``"constant"``
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Any,
        channels: int = 32,
        num_blocks: int = 1,
        head_hidden: int = 64,
        downsample: bool | None = None,
        action_planes: str = "auto",
        **kwargs: Any,
    ) -> None:
        if action_planes not in ("auto", "board", "constant"):
            raise ValueError(
                f"action_planes must be 'auto', 'board' or 'constant', got {action_planes!r}"
            )
        if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) not in (
            2,
            3,
        ):
            raise ValueError(
                "CnnPolicy needs a 2-D or 3-D Box observation space (an image or a board), "
                f"got {observation_space}"
            )
        shape = observation_space.shape
        if len(shape) == 2:
            self.channels_last = False
            self.in_channels, height, width = 1, shape[0], shape[1]
        else:
            # Channels are the smallest dimension, as SB3 assumes for images.
            self.channels_last = int(np.argmin(shape)) == 2 and shape[2] < shape[0]
            if self.channels_last:
                height, width, self.in_channels = shape
            else:
                self.in_channels, height, width = shape
        self.channels = channels
        self.num_blocks = num_blocks
        self.head_hidden = head_hidden
        self.downsample = (
            min(height, width) >= DOWNSAMPLE_MIN_SIZE if downsample is None else downsample
        )
        self.input_size = (height, width)
        self.action_planes = action_planes
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build(self) -> None:
        c = self.channels
        height, width = self.input_size
        if self.downsample:
            # Appendix F: conv s2 -> res -> conv s2 -> res -> avgpool s2 -> res -> avgpool s2,
            # 1/16 of the resolution (96x96 -> 6x6), with fewer channels than the paper.
            self.representation_net = nn.Sequential(
                conv_bn_relu(self.in_channels, c // 2, stride=2),
                ResidualBlock(c // 2),
                conv_bn_relu(c // 2, c, stride=2),
                ResidualBlock(c),
                nn.AvgPool2d(3, stride=2, padding=1),
                ResidualBlock(c),
                nn.AvgPool2d(3, stride=2, padding=1),
            )
        else:
            self.representation_net = nn.Sequential(
                conv_bn_relu(self.in_channels, c),
                *[ResidualBlock(c) for _ in range(self.num_blocks)],
            )
        zeros = torch.zeros(1, self.in_channels, height, width)
        probe = _probe(self.representation_net, lambda: self.representation_net(zeros))
        self.hidden_shape = tuple(probe.shape[1:])  # (C, h, w)
        _, h, w = self.hidden_shape
        # Dynamics sees the hidden planes plus the action: one plane marking the move on the
        # board, or one constant plane per entry of the action encoding.
        self.board_actions = self._board_actions(h, w)
        action_channels = 1 if self.board_actions else self.action_spec.encoding_dim
        self.dynamics_net = nn.Sequential(
            conv_bn_relu(c + action_channels, c),
            *[ResidualBlock(c) for _ in range(self.num_blocks)],
        )
        self.reward_head = nn.Sequential(
            nn.Conv2d(c, 4, 1), nn.ReLU(), nn.Flatten(),
            nn.Linear(4 * h * w, self.head_hidden), nn.ReLU(),
            nn.Linear(self.head_hidden, self.support_width),
        )  # fmt: skip
        self.prediction_net = nn.Sequential(*[ResidualBlock(c) for _ in range(self.num_blocks)])
        self.policy_head = nn.Sequential(
            nn.Conv2d(c, 4, 1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * h * w, self.policy_dim)
        )
        self.value_head = nn.Sequential(
            nn.Conv2d(c, 4, 1), nn.ReLU(), nn.Flatten(),
            nn.Linear(4 * h * w, self.head_hidden), nn.ReLU(),
            nn.Linear(self.head_hidden, self.support_width),
        )  # fmt: skip
        for head in (self.reward_head[-1], self.value_head[-1], self.policy_head[-1]):
            assert isinstance(head, nn.Linear)
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        bias = self.action_spec.initial_policy_bias()
        if bias is not None:
            policy_out = self.policy_head[-1]
            assert isinstance(policy_out, nn.Linear)
            with torch.no_grad():
                policy_out.bias.copy_(bias)

    def _board_actions(self, h: int, w: int) -> bool:
        """Whether discrete actions are drawn as places on the ``h x w`` hidden planes."""
        spec = self.action_spec
        fits = (
            isinstance(spec, DiscreteActions)
            and not self.downsample
            and (h, w) == self.input_size
            and spec.n in (h * w, w)
        )
        if self.action_planes == "board" and not fits:
            raise ValueError(
                "action_planes='board' needs a Discrete action space of H * W or W actions on "
                f"an H x W board at full resolution; got {self.action_space} for hidden planes "
                f"of {h} x {w}"
            )
        return fits and self.action_planes != "constant"

    def _action_planes(self, actions: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """Actions ``[B]`` -> ``[B, 1, h, w]``: 1 on the move's cell (or column), else 0."""
        one_hot = self.action_spec.encode(actions)  # [B, n]
        batch = one_hot.shape[0]
        if one_hot.shape[1] == h * w:
            return one_hot.view(batch, 1, h, w)
        return one_hot.view(batch, 1, 1, w).expand(batch, 1, h, w)

    def preprocess(self, obs: torch.Tensor) -> torch.Tensor:
        x = super().preprocess(obs)
        if x.dim() == 3:  # [B, H, W] board
            x = x.unsqueeze(1)
        elif self.channels_last:
            x = x.permute(0, 3, 1, 2)
        return x

    def represent(self, obs: torch.Tensor) -> torch.Tensor:
        return scale_hidden_state(self.representation_net(obs))

    def dynamics(
        self, hidden: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch, _, h, w = hidden.shape
        if self.board_actions:
            planes = self._action_planes(actions, h, w).to(hidden.dtype)
        else:
            encoding = self.action_spec.encode(actions).to(hidden.dtype)  # [B, E]
            size = encoding.shape[1]
            planes = encoding.view(batch, size, 1, 1).expand(batch, size, h, w)
        next_hidden = self.dynamics_net(torch.cat((hidden, planes), dim=1))
        return scale_hidden_state(next_hidden), self.reward_head(next_hidden)

    def predict_heads(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.prediction_net(hidden)
        return self.policy_head(x), self.value_head(x)


class _ContextLayer(nn.Module):
    """One layer applied to every entity ``[B, N, n_in] -> [B, N, n_out]``, with the same
    weights for all: a map of the entity's own features plus a map of the mean over all
    entities (Deep Sets with context), so each one sees what the others hold."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.own = nn.Linear(n_in, n_out)
        self.others = nn.Linear(n_in, n_out, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.own(x) + self.others(x.mean(1, keepdim=True))


def _context_stack(sizes: list[int], activation: type[nn.Module]) -> nn.Sequential:
    """``_ContextLayer -> activation`` for each consecutive pair of ``sizes``."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=False):
        layers += [_ContextLayer(n_in, n_out), activation()]
    return nn.Sequential(*layers)


class EntityMlpPolicy(MuZeroPolicy):
    """MuZero networks for an observation made of ``num_entities`` equal blocks of
    features (one per intersection of a road grid, one per unit, ...) and a
    ``MultiDiscrete`` action with one dimension per block, each with the same choices.

    Every block goes through the same weights, told which block it is by a learned
    embedding and what the others hold by their mean (:class:`_ContextLayer`): what one
    block learns (how its queue answers its own signal, say) serves all of them, so each
    transition teaches the networks ``num_entities`` times over. The hidden state is one
    vector of ``hidden_dim`` per block. The dynamics moves each block's hidden state by its
    own action, in the context of the others' states and actions (each block's hidden
    state min-max scaled on its own, Appendix G per block); the policy gives each
    block's logits from its own state (their sum over the blocks for an exactly flattened
    joint action, their concatenation for sampled joint actions); value and reward read
    the mean over the blocks.

    :param num_entities: number of blocks; default: the number of action dimensions.
        The flattened observation must split into that many equal blocks, in order, and
        action dimension ``i`` belongs to block ``i``
    :param hidden_dim: size of each block's hidden state
    :param net_arch: widths of the shared per-block layers of each of h, g and f
    :param embedding_dim: size of the learned embedding of each block's index
    :param activation_fn: activation between layers
    :param residual_dynamics: the dynamics outputs a change of each block's hidden state
        (see :class:`MlpPolicy`)
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Any,
        num_entities: int | None = None,
        hidden_dim: int = 32,
        net_arch: list[int] | None = None,
        embedding_dim: int = 8,
        activation_fn: type[nn.Module] = nn.ReLU,
        residual_dynamics: bool = False,
        **kwargs: Any,
    ) -> None:
        if (
            not isinstance(action_space, spaces.MultiDiscrete)
            or len(set(action_space.nvec.ravel().tolist())) != 1
        ):
            raise ValueError(
                "EntityMlpPolicy needs a MultiDiscrete action space with one dimension per "
                f"entity, all with the same number of choices, got {action_space}"
            )
        dims = int(action_space.nvec.size)
        num_entities = dims if num_entities is None else num_entities
        if num_entities != dims:
            raise ValueError(
                f"num_entities={num_entities} must equal the {dims} dimensions of the action "
                f"space {action_space}: each entity chooses its own action"
            )
        if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1:
            raise ValueError(
                "EntityMlpPolicy needs a flat Box observation space (num_entities blocks of "
                f"features, one after the other), got {observation_space}"
            )
        if observation_space.shape[0] % num_entities:
            raise ValueError(
                f"the observation's {observation_space.shape[0]} features do not split into "
                f"{num_entities} equal blocks, one per entity"
            )
        for name, value in (("hidden_dim", hidden_dim), ("embedding_dim", embedding_dim)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.num_entities = num_entities
        self.entity_features = observation_space.shape[0] // num_entities
        self.entity_choices = int(action_space.nvec.ravel()[0])
        self.hidden_dim = hidden_dim
        self.net_arch = [64] if net_arch is None else list(net_arch)
        if not self.net_arch:
            raise ValueError("EntityMlpPolicy needs at least one layer in net_arch")
        self.embedding_dim = embedding_dim
        self.activation_fn = activation_fn
        self.residual_dynamics = residual_dynamics
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build(self) -> None:
        spec = self.action_spec
        n, a, d = self.num_entities, self.entity_choices, self.hidden_dim
        if spec.enumerated:
            # Joint action j -> the choice of each entity (C order, as the spec flattens).
            choices = np.stack(np.unravel_index(np.arange(spec.num_slots), (a,) * n), axis=-1)
            self.register_buffer(
                "joint_columns", torch.as_tensor(choices + a * np.arange(n), dtype=torch.long)
            )  # [J, N]: column of each entity's logit in the flattened [N * A] logits
            self.register_buffer("joint_strides", torch.as_tensor(a ** np.arange(n - 1, -1, -1)))
        act, width = self.activation_fn, self.net_arch[-1]
        self.entity_embedding = nn.Parameter(torch.randn(n, self.embedding_dim) * 0.1)
        self.representation_trunk = _context_stack(
            [self.entity_features + self.embedding_dim, *self.net_arch], act
        )
        self.representation_head = nn.Linear(width, d)
        self.dynamics_trunk = _context_stack([d + a + self.embedding_dim, *self.net_arch], act)
        self.dynamics_head = nn.Linear(width, d)
        self.reward_head = nn.Linear(width, self.support_width)
        self.prediction_trunk = _context_stack([d + self.embedding_dim, *self.net_arch], act)
        self.policy_head = nn.Linear(width, a)
        self.value_head = nn.Linear(width, self.support_width)
        # Start value, reward and policy at zero logits: value 0, reward 0, uniform prior.
        for head in (self.reward_head, self.policy_head, self.value_head):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        if self.residual_dynamics:  # no change yet: g(s, a) = s
            nn.init.zeros_(self.dynamics_head.weight)
            nn.init.zeros_(self.dynamics_head.bias)

    def _with_embedding(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, N, F] -> [B, N, F + embedding_dim]``: each block told which one it is."""
        return torch.cat((x, self.entity_embedding.expand(x.shape[0], -1, -1)), dim=-1)

    @staticmethod
    def _scale(state: torch.Tensor) -> torch.Tensor:
        """``[B, N, hidden_dim] -> [B, N * hidden_dim]``, each block min-max scaled to
        [0, 1] on its own, so that a change in one block leaves the others as they are."""
        return scale_hidden_state(state.flatten(0, 1)).view(state.shape[0], -1)

    def represent(self, obs: torch.Tensor) -> torch.Tensor:
        blocks = obs.reshape(obs.shape[0], self.num_entities, self.entity_features)
        features = self.representation_trunk(self._with_embedding(blocks))
        return self._scale(self.representation_head(features))

    def dynamics(
        self, hidden: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        actions = actions.long()
        if self.action_spec.enumerated:  # joint ids -> each entity's choice
            strides: torch.Tensor = self.joint_strides  # type: ignore[assignment]
            actions = (actions[:, None] // strides) % self.entity_choices
        state = hidden.reshape(hidden.shape[0], self.num_entities, self.hidden_dim)
        x = torch.cat((state, F.one_hot(actions, self.entity_choices).to(state.dtype)), dim=-1)
        features = self.dynamics_trunk(self._with_embedding(x))
        change = self.dynamics_head(features)
        next_state = state + change if self.residual_dynamics else change
        return self._scale(next_state), self.reward_head(features.mean(1))

    def predict_heads(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        state = hidden.reshape(hidden.shape[0], self.num_entities, self.hidden_dim)
        features = self.prediction_trunk(self._with_embedding(state))
        logits = self.policy_head(features).flatten(1)  # [B, N * A]
        if self.action_spec.enumerated:  # a product of the entities' distributions
            columns: torch.Tensor = self.joint_columns  # type: ignore[assignment]
            logits = logits[:, columns].sum(-1)  # [B, J]
        return logits, self.value_head(features.mean(1))
