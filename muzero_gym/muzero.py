"""MuZero as a Stable-Baselines3 algorithm: self-play with batched search, replay, training.

``learn`` alternates one step of every environment (searched together as one batch)
with gradient steps on prioritised replay, at ``replay_ratio`` updates per transition.
This is the only module that steps environments, logs or calls callbacks; the searches
(:mod:`muzero_gym.mcts`, :mod:`muzero_gym.gumbel`), actions (:mod:`muzero_gym.actions`),
replay (:mod:`muzero_gym.replay`), networks (:mod:`muzero_gym.policies`), gradient steps
(:mod:`muzero_gym.learner`) and loss (:mod:`muzero_gym.losses`) know nothing of them.
"""

from __future__ import annotations

import functools
import io
import json
import math
import pathlib
import sys
import time
import zipfile
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.save_util import json_to_data, load_from_zip_file
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import safe_mean
from stable_baselines3.common.vec_env import VecEnv

from muzero_gym.actions import (
    ActionSpec,
    DiscreteActions,
    MultiDiscreteActions,
    make_action_spec,
)
from muzero_gym.ensemble import MeanOfNetworks
from muzero_gym.files import existing_file, with_default_suffix, write_atomically
from muzero_gym.gumbel import GumbelConfig, gumbel_search
from muzero_gym.learner import Learner, LearnerConfig
from muzero_gym.mcts import SearchConfig, SearchResult, search, select_actions
from muzero_gym.numerics import denormals_flushed
from muzero_gym.policies import CnnPolicy, EntityMlpPolicy, MlpPolicy, MuZeroPolicy
from muzero_gym.replay import ReplayBuffer
from muzero_gym.schedules import ConstantTemperature, StepTemperature
from muzero_gym.symmetry import Symmetry, board_symmetries, check_symmetries, env_symmetries

SelfMuZero = TypeVar("SelfMuZero", bound="MuZero")

#: Env steps that ``learn()`` runs when no ``total_timesteps`` is given.
DEFAULT_TOTAL_TIMESTEPS = 100_000


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


class MuZero(BaseAlgorithm):
    """MuZero (Schrittwieser et al. 2019) with Reanalyze and prioritised replay.

    :param policy: ``"MlpPolicy"``, ``"CnnPolicy"`` or a :class:`MuZeroPolicy` subclass
    :param env: an env id, a ``gym.Env``, a ``VecEnv`` (all its envs are searched as one
        batch) or a two-player PettingZoo AEC board game. Actions may be ``Discrete``,
        ``MultiDiscrete`` or bounded ``Box`` (the last two through Sampled MuZero unless a
        MultiDiscrete space is small enough to flatten)
    :param learning_rate: learning rate, constant or a schedule of progress remaining
    :param num_simulations: MCTS simulations per move
    :param discount: discount factor gamma (1.0 for board games)
    :param td_steps: n of the n-step value targets
    :param unroll_steps: K, steps the model is unrolled in training
    :param batch_size: positions per gradient step
    :param buffer_size: replay capacity in transitions
    :param weight_decay: L2 regularisation, off by default. The paper's 1e-4 (Appendix G) was
        for SGD; Adam adds it to the gradient before its scaling, which zeroes units the loss
        barely uses (``benchmarks/dead_units.py``). Pass
        ``policy_kwargs=dict(optimizer_class=torch.optim.AdamW)`` to decouple it
    :param support_size: value and reward are categorical over ``-support_size..support_size``
        after the h(x) transform (the paper uses 300 for Atari)
    :param value_loss_weight: weight of the value loss (Reanalyze uses 0.25)
    :param reward_loss_weight: weight of the reward loss (1.0, the paper's); raise it where
        one decision changes the reward little and the model must resolve that change
    :param consistency_loss_weight: weight of EfficientZero's temporal consistency loss
        (Ye et al. 2021), which trains the dynamics to predict the representation of the
        real next observations; 0 (default) is the paper's MuZero
    :param observation_loss_weight: weight of an observation-prediction loss: a decoder
        head reads each hidden state, the root's and every unrolled one, and is trained
        (squared error) towards the real observation there, as the policy sees it
        (normalised if ``normalize_observations``). It teaches the dynamics how actions
        change the observation where the reward and value differ too little across
        actions to teach it; a departure from the paper, whose model predicts no
        observations. 0 (default): no decoder is built
    :param entropy_loss_weight: weight of a bonus for the entropy of the predicted policy;
        keeps a sampled continuous policy broad while the model learns; 0 (default) is the
        paper's MuZero
    :param normalize_observations: standardise observation features with running
        statistics of the self-play observations (kept in the saved model); helps vector
        observations whose features differ in scale by orders of magnitude
    :param dirichlet_alpha: root noise concentration
    :param root_exploration_fraction: root noise weight
    :param pb_c_base: pUCT c2 (19652)
    :param pb_c_init: pUCT c1 (1.25)
    :param search: ``"muzero"`` (pUCT with Dirichlet root noise, Appendix B) or
        ``"gumbel"`` (Gumbel MuZero, Danihelka et al. 2022: Gumbel-top-k and Sequential
        Halving at the root, trained towards the completed-Q improved policy; learns with
        few simulations)
    :param max_considered_actions: root actions Gumbel MuZero considers (its ``m``)
    :param gumbel_c_visit: ``c_visit`` of Gumbel MuZero's ``sigma(q) = (c_visit + max N)
        c_scale q_hat`` (50, as the paper)
    :param gumbel_c_scale: ``c_scale`` of ``sigma``: how far the completed Q values move the
        policy target (and the root choice) away from the prior (0.1, as the paper's and
        mctx's default; larger values let Q overrule a confident prior)
    :param gumbel_scale: Gumbel MuZero's root noise is multiplied by this (mctx's
        ``gumbel_scale``), so that self-play (and ``predict(deterministic=False)``) plays a
        sample of the improved policy at this temperature: 1.0 (default, as the paper),
        0 plays the search's best action; a number or a function of progress remaining
        (1 -> 0), e.g. ``StepTemperature()`` to explore less as training goes on
    :param num_sampled_actions: K of Sampled MuZero (Hubert et al. 2021): actions sampled
        from the policy at each node. ``None``: all actions of ``Discrete`` (and flattened
        ``MultiDiscrete``) spaces are searched, 20 are sampled for ``Box`` and large
        ``MultiDiscrete`` spaces; a number also samples ``Discrete`` actions
    :param root_sampling_uniform: with sampled actions, the fraction ``e`` of uniform play
        in the distribution the root's candidates are drawn from in self-play: ``beta =
        (1 - e) pi + e U``, so that actions the policy has given up on are still searched;
        the prior over them is Sampled MuZero's ``beta_hat / beta * pi`` (Hubert et al.
        2021). 0 (default) draws them from the policy; evaluation and Reanalyze always do
    :param mode_candidate: with sampled actions, which searches put the policy's most
        likely action (the Gaussian's mean; the most probable value of each dimension) in
        the root's first slot instead of a sample: ``"never"`` (default, as the paper),
        ``"predict"`` (the searches of :meth:`predict`, i.e. evaluation) or ``"always"``
        (also self-play and Reanalyze). A search that can choose the mean need not play
        one of K noisy samples when a small precise move is best
    :param mode_weight: with ``mode_candidate``, the prior of the root's mode candidate
        as a multiple of one sample's (1, default: it counts as one of the K samples).
        Gumbel's search keeps and finally plays the slot with the best ``logits +
        sigma(q)``, so a weight ``w`` asks another candidate to beat the mode by ``log w``
        there: near a target, where the model ranks small moves barely better than noise,
        the search then holds the policy's mean unless it finds a clearly better action
    :param mixture_components: ``Box`` actions: the policy is a mixture of this many
        tanh-squashed diagonal Gaussians (1, default: one Gaussian, as the paper). A mixture
        can keep two moves the search prefers in one state (e.g. turning either way round)
        where one Gaussian would put its mean between them; the mode candidate is then
        the mean of the most probable component
    :param multi_discrete: ``"auto"`` (flatten ``MultiDiscrete`` spaces of at most 64 joint
        actions into one ``Discrete``, sample the others from a factorised policy),
        ``"flatten"`` or ``"factorized"``
    :param temperature: visit-count temperature for self-play moves: a number, or a
        function of progress remaining (1 -> 0), default :class:`StepTemperature`.
        Gumbel search samples through its noise instead (``gumbel_scale``)
    :param num_sampling_moves: self-play samples the first this many moves of each episode
        at ``temperature`` and then plays the most visited move (the paper's board-game
        schedule, ``1.0 if num_moves < 30 else 0.0``); ``None``: every move is sampled.
        Gumbel search chooses its own moves and ignores it
    :param priority_alpha: prioritised replay exponent (0: uniform)
    :param priority_beta: importance-sampling exponent
    :param reanalyze_ratio: fraction of each batch whose value targets are recomputed with
        the latest network (MuZero Reanalyze); the rest use the stored search values
    :param reanalyze_policy: also recompute policy targets of reanalysed positions by a
        fresh search (costs ``unroll_steps + 1`` searches per reanalysed position)
    :param target_update_interval: bootstrap the reanalysed values from a copy of the
        networks refreshed every this many gradient steps (a target network, as in
        EfficientZero); 0 uses the latest networks
    :param replay_ratio: gradient steps per environment transition
    :param learning_starts: transitions collected before training starts
    :param max_grad_norm: gradient clipping norm (``None``: no clipping)
    :param mixed_precision: run the forward passes of the gradient steps in bfloat16
        (``torch.autocast``; the loss, the weights and the search stay float32). Pays off
        for convolutional networks on CPUs with AVX-512 BF16 or AMX and on GPUs with
        bfloat16 (``python -m benchmarks.train_speed``); slower on CPUs without it
    :param symmetries: transformations under which the game is unchanged, for data
        augmentation: every training position (with its unrolled moves and targets) is
        kept or transformed by one of them, all equally likely (AlphaZero's board
        symmetries). A sequence of :class:`muzero_gym.symmetry.Symmetry`; ``"board"``
        for the board symmetries of the games :func:`muzero_gym.symmetry.board_symmetries`
        knows (connect four, tic-tac-toe); ``"env"`` for those the env declares itself
        (``env.unwrapped.symmetries()``, see :func:`muzero_gym.symmetry.env_symmetries`;
        Traffic-v0's half-turn); ``None``: no augmentation. ``Discrete`` and
        ``MultiDiscrete`` actions
    :param average_symmetries: ``predict`` searches the observation and its image under
        each of ``symmetries`` (one batch) and plays the action they rate best together,
        each search's figures moved back onto the observation's actions: the mean log of
        Gumbel's improved policies (``search="gumbel"``; sampled from their normalised
        geometric mean when not ``deterministic``) or the summed visit counts (pUCT), as
        AlphaGo evaluated a position over the board's symmetries. With sampled actions
        the candidates are sampled once, at the observation, and moved into each image.
        One search per symmetry more per move; training, self-play and Reanalyze are
        unchanged, so it can be switched on for evaluation only:
        ``MuZero.load(path, average_symmetries=True)``. Needs ``symmetries``
    :param symmetric_targets: the training targets come from all orientations too:
        self-play searches each position and its images as ``average_symmetries`` does
        and plays and stores the combined search (the combined improved policy or visit
        distribution as policy target, the mean root value), and Reanalyze bootstraps
        from the mean network value of the position's orientations (and, with
        ``reanalyze_policy``, re-searches them combined). Self-play costs one search per
        symmetry more. Needs ``symmetries``
    :param ensemble_size: ``K`` networks, initialised apart, each trained by its own
        gradient steps on its own batches from the shared replay. ``predict`` searches
        with every network and combines the ``K`` searches as ``average_symmetries``
        combines orientations (with it, each network searches every orientation): the
        action values of separately trained models have errors that partly cancel. In
        self-play each env's episode is played by one network, taken in turn, from its
        own search, whose targets are stored; Reanalyze re-searches with the network
        being trained. ``K`` times the training cost and the cost of ``predict``'s search;
        action spaces searched whole only (``Discrete``, or ``MultiDiscrete`` flattened),
        since sampled candidates differ between networks
    :param ensemble_search: how the networks of an ensemble search together wherever
        their searches are combined (``predict``; self-play and Reanalyze with
        ``ensemble_targets``): ``"separate"``, each network searches alone and the ``K``
        searches are combined at the root as described above; ``"mean"``, one search of
        the networks' mean (:class:`muzero_gym.ensemble.MeanOfNetworks`): every node holds
        all ``K`` hidden states, and the tree sees the mean value, the mean reward and the
        mixture of the priors, so that the networks' errors cancel at every node rather
        than only at the root. The same number of network calls; can be set for
        evaluation only: ``MuZero.load(path, ensemble_search="mean")``
    :param ensemble_targets: with ``ensemble_size`` > 1, self-play and Reanalyze's
        policy targets use the combined search of all the networks too (as
        ``symmetric_targets`` does for orientations): every move costs ``K`` searches
    :param two_player: values alternate sign between turns; ``None``: detected (True for
        PettingZoo / OpenSpiel board games)
    :param stats_window_size: episodes averaged for the rollout logs
    :param tensorboard_log: folder for TensorBoard logs
    :param policy_kwargs: network shape, passed to the policy
    :param verbose: 0 silent, 1 training info, 2 debug
    :param seed: random seed
    :param device: ``"auto"``, ``"cpu"`` or ``"cuda"``
    :param _init_setup_model: build the networks now (SB3 convention)
    """

    # Models saved before the option existed load with it off.
    average_symmetries: bool = False
    symmetric_targets: bool = False
    ensemble_size: int = 1
    ensemble_targets: bool = False
    ensemble_search: str = "separate"
    gumbel_scale: Callable[[float], float] = ConstantTemperature(1.0)
    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": MlpPolicy,
        "CnnPolicy": CnnPolicy,
        "EntityMlpPolicy": EntityMlpPolicy,
    }
    policy: MuZeroPolicy
    replay_buffer: ReplayBuffer

    def __init__(
        self,
        policy: str | type[MuZeroPolicy],
        env: GymEnv | str | Any | None,
        learning_rate: float | Schedule = 1e-3,
        num_simulations: int = 50,
        discount: float = 0.997,
        td_steps: int = 10,
        unroll_steps: int = 5,
        batch_size: int = 256,
        buffer_size: int = 100_000,
        weight_decay: float = 0.0,
        support_size: int = 300,
        value_loss_weight: float = 0.25,
        reward_loss_weight: float = 1.0,
        consistency_loss_weight: float = 0.0,
        observation_loss_weight: float = 0.0,
        entropy_loss_weight: float = 0.0,
        normalize_observations: bool = False,
        dirichlet_alpha: float = 0.25,
        root_exploration_fraction: float = 0.25,
        pb_c_base: float = 19652.0,
        pb_c_init: float = 1.25,
        search: str = "muzero",
        max_considered_actions: int = 16,
        gumbel_c_visit: float = 50.0,
        gumbel_c_scale: float = 0.1,
        gumbel_scale: float | Callable[[float], float] = 1.0,
        num_sampled_actions: int | None = None,
        multi_discrete: str = "auto",
        root_sampling_uniform: float = 0.0,
        mode_candidate: str = "never",
        mode_weight: float = 1.0,
        mixture_components: int = 1,
        temperature: float | Callable[[float], float] | None = None,
        num_sampling_moves: int | None = None,
        priority_alpha: float = 1.0,
        priority_beta: float = 1.0,
        reanalyze_ratio: float = 1.0,
        reanalyze_policy: bool = False,
        target_update_interval: int = 0,
        replay_ratio: float = 0.25,
        learning_starts: int = 1_000,
        max_grad_norm: float | None = 5.0,
        mixed_precision: bool = False,
        symmetries: Sequence[Symmetry] | str | None = None,
        average_symmetries: bool = False,
        symmetric_targets: bool = False,
        ensemble_size: int = 1,
        ensemble_targets: bool = False,
        ensemble_search: str = "separate",
        two_player: bool | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: torch.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        if isinstance(policy, str):
            _check(
                policy in self.policy_aliases,
                f"Unknown policy {policy!r}; choose one of {sorted(self.policy_aliases)}",
            )
        else:
            _check(
                isinstance(policy, type) and issubclass(policy, MuZeroPolicy),
                f"policy must be one of {sorted(self.policy_aliases)} or a MuZeroPolicy subclass, "
                f"got {policy}",
            )
        detected_two_player = False
        games_wrapper = _game_wrapper(env)
        if games_wrapper is not None:
            env = games_wrapper(env)
            detected_two_player = True
        try:
            super().__init__(
                policy=policy,
                env=env,
                learning_rate=learning_rate,
                policy_kwargs=policy_kwargs,
                stats_window_size=stats_window_size,
                tensorboard_log=tensorboard_log,
                verbose=verbose,
                device=device,
                support_multi_env=True,
                monitor_wrapper=True,
                seed=seed,
                use_sde=False,
                supported_action_spaces=None,
            )
        except AssertionError as error:
            if "finite lower and upper bound" not in str(error):
                raise
            raise ValueError(
                "MuZero needs a Box action space with finite bounds; rescale the actions "
                "(e.g. gymnasium.wrappers.RescaleAction) to a bounded range"
            ) from error
        except ValueError as error:
            if "MultiInputPolicy" not in str(error):
                raise
            # SB3 would suggest a policy MuZero does not have.
            raise ValueError(
                "MuZero does not support Dict observation spaces; flatten them first, e.g. "
                "with gymnasium.wrappers.FlattenObservation"
            ) from error
        if self.env is not None:
            detected_two_player = detected_two_player or _is_game_env(self.env)
        self.num_simulations = num_simulations
        self.discount = discount
        self.td_steps = td_steps
        self.unroll_steps = unroll_steps
        self.batch_size = batch_size
        self.buffer_size = buffer_size
        self.weight_decay = weight_decay
        self.support_size = support_size
        self.value_loss_weight = value_loss_weight
        self.reward_loss_weight = reward_loss_weight
        self.consistency_loss_weight = consistency_loss_weight
        self.observation_loss_weight = observation_loss_weight
        self.entropy_loss_weight = entropy_loss_weight
        self.normalize_observations = normalize_observations
        self.dirichlet_alpha = dirichlet_alpha
        self.root_exploration_fraction = root_exploration_fraction
        self.pb_c_base = pb_c_base
        self.pb_c_init = pb_c_init
        self.search = search
        self.max_considered_actions = max_considered_actions
        self.gumbel_c_visit = gumbel_c_visit
        self.gumbel_c_scale = gumbel_c_scale
        if isinstance(gumbel_scale, (int, float)):
            if isinstance(gumbel_scale, bool) or not (
                math.isfinite(gumbel_scale) and gumbel_scale >= 0
            ):
                raise ValueError(f"gumbel_scale must be a number >= 0, got {gumbel_scale}")
            gumbel_scale = ConstantTemperature(float(gumbel_scale))
        self.gumbel_scale = gumbel_scale
        self.num_sampled_actions = num_sampled_actions
        self.multi_discrete = multi_discrete
        self.root_sampling_uniform = root_sampling_uniform
        self.mode_candidate = mode_candidate
        self.mode_weight = mode_weight
        self.mixture_components = mixture_components
        if temperature is None:
            temperature = StepTemperature()
        elif isinstance(temperature, (int, float)):
            temperature = ConstantTemperature(float(temperature))
        self.temperature = temperature
        self.num_sampling_moves = num_sampling_moves
        self.priority_alpha = priority_alpha
        self.priority_beta = priority_beta
        self.reanalyze_ratio = reanalyze_ratio
        self.reanalyze_policy = reanalyze_policy
        self.target_update_interval = target_update_interval
        self.replay_ratio = replay_ratio
        self.learning_starts = learning_starts
        self.max_grad_norm = max_grad_norm
        self.mixed_precision = mixed_precision
        self.symmetries = symmetries
        self.average_symmetries = average_symmetries
        self.symmetric_targets = symmetric_targets
        self.ensemble_size = ensemble_size
        self.ensemble_targets = ensemble_targets
        self.ensemble_search = ensemble_search
        self.two_player = detected_two_player if two_player is None else bool(two_player)
        self._n_updates = 0
        self._update_budget = 0.0
        if _init_setup_model:
            self._setup_model()

    # ------------------------------------------------------------------ setup
    def _validate(self) -> None:
        positive_ints = {
            "num_simulations": self.num_simulations,
            "td_steps": self.td_steps,
            "batch_size": self.batch_size,
            "buffer_size": self.buffer_size,
            "support_size": self.support_size,
        }
        for name, value in positive_ints.items():
            _check(
                isinstance(value, (int, np.integer)) and value >= 1,
                f"{name} must be an integer >= 1, got {value!r}",
            )
        _check(
            isinstance(self.unroll_steps, (int, np.integer)) and self.unroll_steps >= 0,
            f"unroll_steps must be an integer >= 0, got {self.unroll_steps!r}",
        )
        _check(0.0 < self.discount <= 1.0, f"discount must be in (0, 1], got {self.discount}")
        _check(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        _check(self.value_loss_weight > 0, "value_loss_weight must be > 0")
        _check(self.reward_loss_weight >= 0, "reward_loss_weight must be >= 0")
        _check(self.consistency_loss_weight >= 0, "consistency_loss_weight must be >= 0")
        _check(self.observation_loss_weight >= 0, "observation_loss_weight must be >= 0")
        _check(self.entropy_loss_weight >= 0, "entropy_loss_weight must be >= 0")
        _check(self.priority_alpha >= 0, f"priority_alpha must be >= 0, got {self.priority_alpha}")
        _check(self.priority_beta >= 0, f"priority_beta must be >= 0, got {self.priority_beta}")
        _check(
            0.0 <= self.reanalyze_ratio <= 1.0,
            f"reanalyze_ratio must be in [0, 1], got {self.reanalyze_ratio}",
        )
        _check(
            isinstance(self.target_update_interval, (int, np.integer))
            and self.target_update_interval >= 0,
            f"target_update_interval must be an integer >= 0, got {self.target_update_interval!r}",
        )
        _check(self.replay_ratio > 0, f"replay_ratio must be > 0, got {self.replay_ratio}")
        _check(self.learning_starts >= 0, "learning_starts must be >= 0")
        _check(
            self.learning_starts < self.buffer_size,
            f"learning_starts ({self.learning_starts}) must be below buffer_size "
            f"({self.buffer_size}): training starts once the replay holds that many transitions",
        )
        _check(
            self.max_grad_norm is None or self.max_grad_norm > 0,
            f"max_grad_norm must be > 0 or None, got {self.max_grad_norm}",
        )
        _check(
            isinstance(self.mixed_precision, (bool, np.bool_)),
            f"mixed_precision must be True or False, got {self.mixed_precision!r}",
        )
        _check(
            not (
                self.mixed_precision
                and self.device.type == "cuda"
                and not torch.cuda.is_bf16_supported()
            ),
            "mixed_precision needs bfloat16, which this GPU does not support",
        )
        _check(callable(self.temperature), "temperature must be a number or a callable")
        _check(callable(self.gumbel_scale), "gumbel_scale must be a number or a callable")
        _check(
            self.num_sampling_moves is None
            or (
                isinstance(self.num_sampling_moves, (int, np.integer))
                and self.num_sampling_moves >= 0
            ),
            f"num_sampling_moves must be an integer >= 0 or None, got {self.num_sampling_moves!r}",
        )
        if self.policy_kwargs:
            for forbidden in (
                "support_size",
                "weight_decay",
                "lr_schedule",
                "normalize_observations",
                "action_spec",
            ):
                _check(
                    forbidden not in self.policy_kwargs,
                    f"{forbidden!r} is an argument of MuZero, not of policy_kwargs",
                )
            _check(
                not self.policy_kwargs.get("projection_norm")
                or self.consistency_loss_weight == 0
                or self.batch_size >= 2,
                "policy_kwargs projection_norm (batch norm) needs batch_size >= 2, "
                f"got {self.batch_size}",
            )
        _check(
            self.search in ("muzero", "gumbel"),
            f"search must be 'muzero' or 'gumbel', got {self.search!r}",
        )
        _check(
            isinstance(self.max_considered_actions, (int, np.integer))
            and self.max_considered_actions >= 1,
            f"max_considered_actions must be an integer >= 1, got {self.max_considered_actions!r}",
        )
        _check(self.gumbel_c_visit >= 0, f"gumbel_c_visit must be >= 0, got {self.gumbel_c_visit}")
        _check(self.gumbel_c_scale > 0, f"gumbel_c_scale must be > 0, got {self.gumbel_c_scale}")
        _check(
            self.num_sampled_actions is None
            or (
                isinstance(self.num_sampled_actions, (int, np.integer))
                and self.num_sampled_actions >= 1
            ),
            "num_sampled_actions must be an integer >= 1 or None, "
            f"got {self.num_sampled_actions!r}",
        )
        _check(
            not isinstance(self.observation_space, (spaces.Dict, spaces.Tuple)),
            f"MuZero does not support {type(self.observation_space).__name__} observation "
            f"spaces ({self.observation_space}); flatten them first, e.g. with "
            "gymnasium.wrappers.FlattenObservation",
        )

    def _check_symmetries(self) -> None:
        """Resolve ``symmetries="board"`` or ``"env"`` from the env and check them against
        the spaces."""
        self._checked_symmetries: tuple[Symmetry, ...] = ()
        if self.symmetries is None or (
            not isinstance(self.symmetries, str) and len(self.symmetries) == 0
        ):
            self.symmetries = None
            return
        spec = self.action_spec
        factorized = isinstance(spec, MultiDiscreteActions)
        _check(
            isinstance(spec, DiscreteActions) or factorized,
            f"symmetries need a Discrete or MultiDiscrete action space, got {self.action_space}",
        )
        symmetries = self.symmetries
        if isinstance(symmetries, str):
            _check(
                symmetries in ("board", "env"),
                "symmetries must be 'board', 'env', a list of Symmetry or None, got "
                f"{symmetries!r}",
            )
            _check(self.env is not None, f"symmetries={symmetries!r} needs the env")
            assert self.env is not None
            unwrapped = self.env.get_attr("unwrapped")[0]
            if symmetries == "env":
                declare = getattr(unwrapped, "symmetries", None)
                _check(
                    callable(declare),
                    f'symmetries="env": {type(unwrapped).__name__} declares no symmetries '
                    "(it has no symmetries() method)",
                )
                assert callable(declare)
                _check(
                    unwrapped.observation_space == self.observation_space
                    and unwrapped.action_space == self.action_space,
                    f'symmetries="env": a wrapper changes the spaces of '
                    f"{type(unwrapped).__name__} ({unwrapped.observation_space}, "
                    f"{unwrapped.action_space} -> {self.observation_space}, "
                    f"{self.action_space}), so its own symmetries may not hold; pass "
                    "symmetries=[Symmetry(...), ...] for the wrapped env",
                )
                symmetries = env_symmetries(declare(), self.action_space, factorized)
                _check(
                    len(symmetries) > 0,
                    f'symmetries="env": {type(unwrapped).__name__} has none with these '
                    "settings; pass symmetries=None",
                )
            else:
                name = self.env.get_attr("metadata")[0].get("name")
                if name is None:  # not a board game of this library: say which env it is
                    spec = self.env.get_attr("spec")[0]
                    name = spec.id if spec is not None else type(unwrapped).__name__
                symmetries = board_symmetries(str(name))
        example = np.asarray(self.observation_space.sample())[None]
        if isinstance(spec, MultiDiscreteActions):
            self._checked_symmetries = check_symmetries(symmetries, 0, example, spec.nvec)
        else:
            assert isinstance(spec, DiscreteActions)
            self._checked_symmetries = check_symmetries(symmetries, spec.n, example)
        self.symmetries = self._checked_symmetries

    def _setup_model(self) -> None:
        self._validate()
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        self._rng = np.random.default_rng(self.seed)
        self.action_spec: ActionSpec = make_action_spec(
            self.action_space,
            self.num_sampled_actions,
            self.multi_discrete,
            self.mixture_components,
        )
        self._check_symmetries()
        for name in ("average_symmetries", "symmetric_targets", "ensemble_targets"):
            value = getattr(self, name)
            _check(
                isinstance(value, (bool, np.bool_)),
                f"{name} must be True or False, got {value!r}",
            )
        for name in ("average_symmetries", "symmetric_targets"):
            _check(
                not getattr(self, name) or len(self._checked_symmetries) > 0,
                f"{name}=True needs symmetries (e.g. symmetries='env' or 'board')",
            )
        _check(
            isinstance(self.root_sampling_uniform, (int, float, np.floating))
            and not isinstance(self.root_sampling_uniform, bool)
            and 0.0 <= self.root_sampling_uniform <= 1.0,
            f"root_sampling_uniform must be in [0, 1], got {self.root_sampling_uniform!r}",
        )
        _check(
            self.root_sampling_uniform == 0.0 or not self.action_spec.enumerated,
            f"root_sampling_uniform applies to sampled actions only; {self.action_space} "
            "is searched whole (set num_sampled_actions to sample it)",
        )
        _check(
            self.mode_candidate in ("never", "predict", "always"),
            f"mode_candidate must be 'never', 'predict' or 'always', got {self.mode_candidate!r}",
        )
        _check(
            self.mode_candidate == "never" or not self.action_spec.enumerated,
            f"mode_candidate applies to sampled actions only; {self.action_space} "
            "is searched whole (set num_sampled_actions to sample it)",
        )
        _check(
            isinstance(self.mode_weight, (int, float))
            and not isinstance(self.mode_weight, bool)
            and math.isfinite(self.mode_weight)
            and self.mode_weight > 0.0,
            f"mode_weight must be a finite number > 0, got {self.mode_weight!r}",
        )
        _check(
            self.mode_weight == 1.0 or self.mode_candidate != "never",
            f"mode_weight={self.mode_weight!r} needs the mode among the candidates "
            "(mode_candidate 'predict' or 'always')",
        )
        _check(
            isinstance(self.ensemble_size, (int, np.integer))
            and not isinstance(self.ensemble_size, bool)
            and self.ensemble_size >= 1,
            f"ensemble_size must be an integer >= 1, got {self.ensemble_size!r}",
        )
        _check(
            self.ensemble_size == 1 or self.action_spec.enumerated,
            f"ensemble_size > 1 needs actions searched whole; {self.action_space} is sampled "
            "(each network would sample other candidates)",
        )
        _check(
            self.ensemble_search in ("separate", "mean"),
            f"ensemble_search must be 'separate' or 'mean', got {self.ensemble_search!r}",
        )
        # The first network is ``policy`` (as in every SB3 algorithm); the others are
        # ``policy_1`` ... ``policy_{K-1}``, saved beside it.
        self.members: list[MuZeroPolicy] = []
        for index in range(int(self.ensemble_size)):
            member = self.policy_class(
                self.observation_space,
                self.action_space,
                self.lr_schedule,
                support_size=self.support_size,
                weight_decay=self.weight_decay,
                normalize_observations=self.normalize_observations,
                action_spec=self.action_spec,
                observation_decoder=self.observation_loss_weight > 0,
                **self.policy_kwargs,
            ).to(self.device)
            assert isinstance(member, MuZeroPolicy)
            setattr(self, _member_name(index), member)
            self.members.append(member)
        self.search_config = SearchConfig(
            num_simulations=self.num_simulations,
            discount=self.discount,
            pb_c_base=self.pb_c_base,
            pb_c_init=self.pb_c_init,
            dirichlet_alpha=self.dirichlet_alpha,
            root_exploration_fraction=self.root_exploration_fraction,
            two_player=self.two_player,
        )
        self.gumbel_config = GumbelConfig(
            max_considered_actions=self.max_considered_actions,
            c_visit=self.gumbel_c_visit,
            c_scale=self.gumbel_c_scale,
        )
        assert self.observation_space.shape is not None
        self.replay_buffer = ReplayBuffer(
            self.buffer_size,
            tuple(self.observation_space.shape),
            np.dtype(self.observation_space.dtype or np.float32),
            self.action_spec,
            n_envs=self.n_envs,
            priority_alpha=self.priority_alpha,
        )
        config = LearnerConfig(
            batch_size=self.batch_size,
            unroll_steps=self.unroll_steps,
            td_steps=self.td_steps,
            discount=self.discount,
            priority_beta=self.priority_beta,
            two_player=self.two_player,
            reanalyze_ratio=self.reanalyze_ratio,
            reanalyze_policy=self.reanalyze_policy,
            value_loss_weight=self.value_loss_weight,
            reward_loss_weight=self.reward_loss_weight,
            consistency_loss_weight=self.consistency_loss_weight,
            observation_loss_weight=self.observation_loss_weight,
            entropy_loss_weight=self.entropy_loss_weight,
            max_grad_norm=self.max_grad_norm,
            mixed_precision=bool(self.mixed_precision),
            symmetries=self._checked_symmetries,
            symmetric_bootstrap=bool(self.symmetric_targets),
            use_target_network=self.target_update_interval > 0,
        )
        self.learners = [
            Learner(
                member,
                self.replay_buffer,
                config,
                functools.partial(self._search_without_noise, network=index),
                self.device,
            )
            for index, member in enumerate(self.members)
        ]
        self.learner = self.learners[0]

    def _excluded_save_params(self) -> list[str]:
        return [
            *super()._excluded_save_params(),
            "search_config",
            "gumbel_config",
            "action_spec",
            "learner",
            "learners",
            "members",
            "_checked_symmetries",
            "_last_masks",
            "_last_to_play",
            "_episode_moves",
            "_env_networks",
            "_next_network",
        ]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        # The optimizer's state goes with the networks, as in SB3's DQN and PPO, so that
        # training resumes after loading with Adam's moments where they were.
        names = [_member_name(index) for index in range(len(self.members))]
        return [item for name in names for item in (name, f"{name}.optimizer")], []

    def set_parameters(
        self,
        load_path_or_dict: str | dict[str, Any],
        exact_match: bool = True,
        device: torch.device | str = "auto",
    ) -> None:
        params = load_path_or_dict
        if not isinstance(params, dict):
            _, params, _ = load_from_zip_file(params, device=device, load_data=False)
        held = sum(1 for name in params if not name.endswith(".optimizer"))
        if exact_match and held != len(self.members):
            raise ValueError(
                f"the checkpoint holds {held} network(s), this model has ensemble_size "
                f"{len(self.members)}"
            )
        if exact_match and set(params) == {"policy"}:
            # A checkpoint from before the optimizer state was saved: the networks must
            # still match exactly; the optimizer starts afresh, as it did then.
            self.policy.load_state_dict(params["policy"])  # type: ignore[arg-type]
        else:
            super().set_parameters(params, exact_match=exact_match, device=device)
        # The saved optimizer state carries the weight decay it was saved with; this
        # model's own (a keyword of ``load`` may have changed it) is the one that holds.
        for member, learner in zip(self.members, self.learners, strict=True):
            for group in member.optimizer.param_groups:
                group["weight_decay"] = member.weight_decay
            learner.sync_target()

    def set_env(self, env: GymEnv, force_reset: bool = True) -> None:
        wrapper = _game_wrapper(env)
        if wrapper is not None:
            env = wrapper(env)
        super().set_env(env, force_reset=force_reset)
        if self.replay_buffer.n_envs != self.n_envs:
            self.replay_buffer.set_n_envs(self.n_envs)

    # ------------------------------------------------------------------ search
    def _search(
        self,
        observations: np.ndarray,
        legal_actions: np.ndarray | None,
        add_exploration_noise: bool,
        include_mode: bool | None = None,
        symmetries: Sequence[Symmetry] = (),
        policy: MuZeroPolicy | MeanOfNetworks | None = None,
    ) -> SearchResult:
        """Batched search from raw observations ``[B, ...]``.

        :param legal_actions: ``[B, mask_dim]`` legal moves (``Discrete`` actions), or None
        :param include_mode: the root's first sampled candidate is the policy's mode;
            None: as ``mode_candidate`` sets it for self-play and Reanalyze
        :param symmetries: also search the observations' images under these: the result
            holds ``B`` rows for the observations, then ``B`` for each symmetry. With
            sampled actions every image searches the candidates sampled at its
            observation, moved with it, so that their slots correspond
        :param policy: the network to search with (one of an ensemble's, or their mean);
            ``self.policy`` by default
        """
        policy = self.policy if policy is None else policy
        if include_mode is None:
            include_mode = self.mode_candidate == "always"
        if legal_actions is not None and legal_actions.shape[-1] == 0:
            legal_actions = None
        if symmetries:
            images = [observations] + [s.observation(observations) for s in symmetries]
            observations = np.concatenate(images)
        obs = torch.as_tensor(observations, device=self.device)
        with torch.inference_mode():
            if self.action_spec.enumerated:
                root = policy.search_root(obs)
                if legal_actions is not None and symmetries:
                    moved = [s.move_action_figures(legal_actions) for s in symmetries]
                    legal_actions = np.concatenate([legal_actions, *moved])
            else:
                # Candidates are sampled among the legal moves; the search sees slots.
                assert isinstance(policy, MuZeroPolicy)  # an ensemble searches them whole
                explore = self.root_sampling_uniform if add_exploration_noise else 0.0
                root = policy.search_root(
                    obs, legal_actions, explore, include_mode, float(self.mode_weight),
                    [s.move_actions for s in symmetries],
                )  # fmt: skip
                legal_actions = None
            if self.search == "gumbel":
                return gumbel_search(
                    root,
                    policy.search_step,
                    self.search_config,
                    self.gumbel_config,
                    legal_actions=legal_actions,
                    rng=self._rng,
                    add_exploration_noise=add_exploration_noise,
                    noise_scale=self._gumbel_noise_scale(),
                )
            return search(
                root,
                policy.search_step,
                self.search_config,
                legal_actions=legal_actions,
                rng=self._rng,
                add_exploration_noise=add_exploration_noise,
            )

    def _gumbel_noise_scale(self) -> float:
        """``gumbel_scale`` now, checked (a schedule is only called here)."""
        scale = float(self.gumbel_scale(self._current_progress_remaining))
        if not (math.isfinite(scale) and scale >= 0):
            raise ValueError(f"gumbel_scale must give numbers >= 0, got {scale}")
        return scale

    def _search_without_noise(
        self, observations: np.ndarray, legal_actions: np.ndarray | None, network: int = 0
    ) -> SearchResult:
        """Reanalyze's search of the policy targets of ``network``'s batch: that network's
        own (its orientations combined with ``symmetric_targets``), or with
        ``ensemble_targets`` all the networks' combined."""
        members = self.members if self.ensemble_targets else self.members[network : network + 1]
        # (deterministic: no sample drawn for a move not played)
        if self.symmetric_targets or len(members) > 1:
            return self._combined_search(
                observations, legal_actions, False, None, True, self.symmetric_targets, members
            )
        return self._search(
            observations, legal_actions, add_exploration_noise=False, policy=members[0]
        )

    def _combined_search(
        self,
        observations: np.ndarray,
        legal_actions: np.ndarray | None,
        add_exploration_noise: bool,
        include_mode: bool | None,
        deterministic: bool,
        orientations: bool,
        members: Sequence[MuZeroPolicy] | None = None,
    ) -> SearchResult:
        """One search of each observation ``[B, ...]`` by each network of the ensemble
        and, with ``orientations``, of its image under each symmetry too, their figures
        moved back onto the observation's actions (or, sampled, its candidates' slots)
        and combined into one result of ``B`` rows (``ensemble_size``,
        ``average_symmetries``, ``symmetric_targets``): summed visit counts, mean prior,
        Q and root value, and as policy target the normalised geometric mean of Gumbel's
        improved policies (pUCT: the mean of the visit distributions). Gumbel's ``chosen``
        is the best by the mean log improved policy, or (not ``deterministic``) a sample
        of the combined policy; pUCT's is the most visited when ``deterministic``, ties
        going to the larger summed prior, and otherwise left to the visit counts.
        ``members``: the networks to search with (all of them by default); with
        ``ensemble_search="mean"`` they search as one model, their mean."""
        symmetries = self._checked_symmetries if orientations else ()
        members = self.members if members is None else members
        searchers: Sequence[MuZeroPolicy | MeanOfNetworks] = members
        if self.ensemble_search == "mean" and len(members) > 1:
            searchers = [MeanOfNetworks(members)]
        batch = len(observations)
        if legal_actions is not None and legal_actions.shape[-1] == 0:
            legal_actions = None
        results = [
            self._search(
                observations,
                legal_actions,
                add_exploration_noise,
                include_mode,
                symmetries=symmetries,
                policy=searcher,
            )
            for searcher in searchers
        ]
        enumerated = results[0].candidates is None
        views = (len(symmetries) + 1) * len(results)

        def summed(per_network: list[np.ndarray]) -> np.ndarray:
            # Action a of the observation is action permutation[a] of a symmetry's image;
            # sampled slots correspond as they are.
            total = np.zeros(np.shape(per_network[0][:batch]), dtype=np.float64)
            for figures in per_network:
                figures = np.asarray(figures, dtype=np.float64)
                total += figures[:batch]
                for index, symmetry in enumerate(symmetries, start=1):
                    rows = figures[index * batch : (index + 1) * batch]
                    total += rows[:, symmetry.action_permutation] if enumerated else rows
            return total

        visits = summed([r.visit_counts for r in results])
        prior = summed([r.prior for r in results]) / views
        chosen: np.ndarray | None = None
        if self.search != "gumbel":
            policy_target = summed([r.policy_target for r in results]) / views
            if deterministic:
                # Ties (whole counts) go to the larger summed prior, which adds less
                # than one visit.
                chosen = (visits + prior / 2.0).argmax(axis=1)
        else:
            logs = [np.log(np.maximum(r.policy_target, 1e-30)) for r in results]
            score = summed(logs) / views
            if legal_actions is not None and enumerated:
                score = np.where(legal_actions, score, -np.inf)
            policy_target = np.exp(score - score.max(axis=1, keepdims=True))
            policy_target /= policy_target.sum(axis=1, keepdims=True)
            if deterministic:
                chosen = score.argmax(axis=1)
            else:
                chosen = select_actions(policy_target, self._gumbel_noise_scale(), self._rng)
        root_values = np.concatenate([np.asarray(r.root_value) for r in results])
        candidates = results[0].candidates
        return SearchResult(
            visit_counts=visits,
            root_value=root_values.reshape(views, batch).mean(axis=0),
            q_values=summed([r.q_values for r in results]) / views,
            prior=prior,
            policy_target=policy_target.astype(np.float32),
            candidates=None if candidates is None else candidates[:batch],
            chosen=chosen,
        )

    def _search_by_own_networks(
        self, observations: np.ndarray, legal_actions: np.ndarray | None
    ) -> SearchResult:
        """Self-play of an ensemble without ``ensemble_targets``: each env's position is
        searched, with exploration noise, by the network playing its episode alone (its
        orientations combined with ``symmetric_targets``), one batch per network."""
        parts: list[tuple[np.ndarray, SearchResult]] = []
        for index, member in enumerate(self.members):
            rows = np.flatnonzero(self._env_networks == index)
            if rows.size == 0:
                continue
            legal = None if legal_actions is None else legal_actions[rows]
            if self.symmetric_targets:
                result = self._combined_search(
                    observations[rows], legal, True, None, False, True, [member]
                )
            else:
                result = self._search(observations[rows], legal, True, policy=member)
            parts.append((rows, result))
        fields: dict[str, Any] = {}
        for name in SearchResult._fields:
            first = getattr(parts[0][1], name)
            if first is None:
                fields[name] = None
                continue
            first = np.asarray(first)
            merged = np.empty((len(observations), *first.shape[1:]), dtype=first.dtype)
            for rows, result in parts:
                merged[rows] = getattr(result, name)
            fields[name] = merged
        return SearchResult(**fields)

    def _choose(
        self,
        result: SearchResult,
        temperature: float,
        deterministic: bool,
        greedy: np.ndarray | None = None,
    ) -> np.ndarray:
        """Actions ``[B, *action_shape]`` (as the replay stores them) from a search;
        ``greedy`` (``[B]`` bools) plays the most visited move in those rows."""
        if result.chosen is not None:
            slots = result.chosen  # Gumbel MuZero's own choice
        else:
            slots = select_actions(result.visit_counts, temperature, self._rng, deterministic)
            if greedy is not None and greedy.any() and not deterministic:
                most_visited = np.asarray(result.visit_counts).argmax(axis=1)
                slots = np.where(greedy, most_visited, slots)
        if result.candidates is None:
            return slots
        return result.candidates[np.arange(len(slots)), slots]

    def _masks_from_infos(self, infos: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """Legal moves ``[n, mask_dim]`` and player to move ``[n]`` from env infos."""
        num_actions = self.action_spec.mask_dim
        legal = np.ones((len(infos), num_actions), dtype=bool)
        to_play = np.zeros(len(infos), dtype=np.int8)
        for i, info in enumerate(infos):
            mask = info.get("action_mask") if info else None
            if mask is not None and num_actions > 0:
                legal[i] = np.asarray(mask, dtype=bool).reshape(num_actions)
            if info and "to_play" in info:
                to_play[i] = int(info["to_play"])
        return legal, to_play

    # ------------------------------------------------------------------ predict
    def predict(
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Choose actions by tree search.

        :param observation: one observation or a batch ``[B, ...]``
        :param state: unused (MuZero keeps no recurrent state across moves); returned as is
        :param episode_start: unused
        :param deterministic: play the most visited move; otherwise sample from the visit
            counts at the current temperature
        :param action_masks: legal moves, ``[A]`` or ``[B, A]`` (sb3-contrib's MaskablePPO
            convention; ``Discrete`` actions only); required for two-player games
        :return: actions in the env's action space (one, or a batch ``[B, ...]``) and ``state``
        """
        if isinstance(observation, dict):
            raise ValueError("MuZero does not support dict observations")
        if isinstance(observation, tuple) and len(observation) == 2:
            raise ValueError(
                "predict() got a tuple: pass the observation only, not (obs, info) from reset()"
            )
        for member in self.members:
            member.set_training_mode(False)
        obs_tensor, vectorized = self.policy.obs_to_tensor(np.asarray(observation))
        assert isinstance(obs_tensor, torch.Tensor)
        obs = obs_tensor.cpu().numpy()
        if np.issubdtype(obs.dtype, np.floating) and not np.isfinite(obs).all():
            raise ValueError("observation contains NaN or inf")
        batch = obs.shape[0]
        legal: np.ndarray | None = None
        if action_masks is not None:
            legal = np.asarray(action_masks, dtype=bool)
            num_actions = self.action_spec.mask_dim
            if num_actions == 0:
                raise ValueError(
                    f"action_masks apply to Discrete action spaces only, not {self.action_space}"
                )
            if legal.size != batch * num_actions:
                raise ValueError(
                    f"action_masks has shape {legal.shape}; expected ({num_actions},) or "
                    f"({batch}, {num_actions})"
                )
            legal = legal.reshape(batch, num_actions)
        elif self.two_player:
            raise ValueError(
                "this model plays a board game: pass action_masks=... (the legal moves) to predict"
            )
        temperature = self.temperature(self._current_progress_remaining)
        # Gumbel MuZero samples through its Gumbel noise; pUCT through the visit counts.
        noise = self.search == "gumbel" and not deterministic
        mode = self.mode_candidate != "never"

        def choose() -> np.ndarray:
            with denormals_flushed():
                if self.average_symmetries or len(self.members) > 1:
                    result = self._combined_search(
                        obs, legal, False, mode, deterministic, self.average_symmetries
                    )
                else:
                    result = self._search(
                        obs, legal, add_exploration_noise=noise, include_mode=mode
                    )
            return self._choose(result, temperature, deterministic)

        if deterministic and not self.action_spec.enumerated:
            # Sampled candidates come from a fixed seed here, so that a deterministic
            # prediction is a function of the observation (and global RNGs are untouched).
            cuda = self.device.type == "cuda"
            devices = [self.device.index or 0] if cuda else []
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(0)
                chosen = choose()
        else:
            chosen = choose()
        actions = self.action_spec.to_env(chosen)
        if not vectorized:
            actions = actions.squeeze(axis=0)
        return actions, state

    # ------------------------------------------------------------------ learn
    def learn(
        self: SelfMuZero,
        total_timesteps: int = DEFAULT_TOTAL_TIMESTEPS,
        callback: MaybeCallback = None,
        log_interval: int = 4,
        tb_log_name: str = "MuZero",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfMuZero:
        """Self-play and train for ``total_timesteps`` environment steps.

        :param total_timesteps: environment steps (over all envs); default
            ``DEFAULT_TOTAL_TIMESTEPS`` = 100,000
        :param callback: SB3 callback(s) called after every step of the envs
        :param log_interval: log every this many episodes
        :param tb_log_name: TensorBoard run name
        :param reset_num_timesteps: start the step count (and the logs) anew
        :param progress_bar: show a progress bar (needs tqdm and rich)
        """
        with denormals_flushed():
            return self._learn(
                total_timesteps, callback, log_interval, tb_log_name, reset_num_timesteps,
                progress_bar,
            )  # fmt: skip

    def _learn(
        self: SelfMuZero,
        total_timesteps: int,
        callback: MaybeCallback,
        log_interval: int,
        tb_log_name: str,
        reset_num_timesteps: bool,
        progress_bar: bool,
    ) -> SelfMuZero:
        envs_reset = reset_num_timesteps or self._last_obs is None
        total_timesteps, callback = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar
        )
        assert self.env is not None
        if envs_reset or not hasattr(self, "_last_masks"):
            self._start_episodes()
        callback.on_training_start(locals(), globals())
        self._train_infos: list[dict[str, float]] = []
        while self.num_timesteps < total_timesteps:
            callback.on_rollout_start()
            keep_going, episodes_done = self._self_play_step(callback)
            callback.on_rollout_end()
            if not keep_going:
                break
            self._update_current_progress_remaining(self.num_timesteps, total_timesteps)
            # Counted in the replay, so that a loaded model (whose replay starts empty)
            # also waits for learning_starts fresh transitions.
            if len(self.replay_buffer) > self.learning_starts:
                self._update_budget += self.replay_ratio * self.n_envs
                steps = int(self._update_budget)
                if steps > 0:
                    self._update_budget -= steps
                    self.train(steps)
            if log_interval and episodes_done and self._episode_num % log_interval < episodes_done:
                self._dump_logs()
        callback.on_training_end()
        return self

    def _start_episodes(self) -> None:
        """Fresh legal masks after ``_setup_learn`` (re)set the envs."""
        assert self.env is not None
        infos = list(getattr(self.env, "reset_infos", [{}] * self.n_envs))
        if len(infos) != self.n_envs:
            infos = [{}] * self.n_envs
        self._last_masks, self._last_to_play = self._masks_from_infos(infos)
        self._episode_moves = np.zeros(self.n_envs, dtype=np.int64)
        # Which network plays each env's episode (an ensemble without ensemble_targets).
        self._env_networks = np.arange(self.n_envs) % len(self.members)
        self._next_network = self.n_envs % len(self.members)
        self.replay_buffer.end_episodes(np.arange(self.n_envs))
        self._check_finite(self._last_obs)
        first_obs = torch.as_tensor(self._last_obs, device=self.device)
        for member in self.members:
            member.update_observation_statistics(first_obs)

    def _check_finite(self, obs: Any) -> None:
        arr = np.asarray(obs)
        if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
            bad = np.flatnonzero(~np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1))
            raise ValueError(f"the environment returned NaN or inf observations (envs {bad})")

    def _self_play_step(self, callback: BaseCallback) -> tuple[bool, int]:
        """One step of every env, chosen by one batched search. Returns (continue, episodes)."""
        assert self.env is not None and self._last_obs is not None
        for member in self.members:
            member.set_training_mode(False)
        obs = np.asarray(self._last_obs)
        if len(self.members) > 1 and not self.ensemble_targets:
            result = self._search_by_own_networks(obs, self._last_masks)
        elif self.symmetric_targets or len(self.members) > 1:
            result = self._combined_search(
                obs, self._last_masks, True, None, False, self.symmetric_targets
            )
        else:
            result = self._search(obs, self._last_masks, add_exploration_noise=True)
        temperature = self.temperature(self._current_progress_remaining)
        greedy = None
        if self.num_sampling_moves is not None:
            greedy = self._episode_moves >= self.num_sampling_moves
        actions = self._choose(result, temperature, deterministic=False, greedy=greedy)
        new_obs, rewards, dones, infos = self.env.step(self.action_spec.to_env(actions))
        self._episode_moves = np.where(dones, 0, self._episode_moves + 1)
        for env_index in np.flatnonzero(dones):  # the next episode goes to the next network
            self._env_networks[env_index] = self._next_network
            self._next_network = (self._next_network + 1) % len(self.members)
        self.num_timesteps += self.n_envs
        self._update_info_buffer(infos, dones)
        truncated = np.array(
            [bool(info.get("TimeLimit.truncated", False)) for info in infos]
        ) & np.asarray(dones, dtype=bool)
        terminated = np.asarray(dones, dtype=bool) & ~truncated
        self.replay_buffer.add(
            obs, actions, rewards, result.root_value, result.policy_target, self._last_to_play,
            self._last_masks, terminated, truncated, result.candidates,
        )  # fmt: skip
        # Masks for the next move: from the step's info, or from the reset of an env
        # that just finished (VecEnv resets automatically and keeps the reset info apart).
        next_infos = list(infos)
        reset_infos = getattr(self.env, "reset_infos", None)
        for i in np.flatnonzero(dones):
            next_infos[i] = reset_infos[i] if reset_infos is not None else {}
        self._last_masks, self._last_to_play = self._masks_from_infos(next_infos)
        self._check_finite(new_obs)
        new_obs_tensor = torch.as_tensor(new_obs, device=self.device)  # one copy for all
        for member in self.members:
            member.update_observation_statistics(new_obs_tensor)
        self._last_obs = new_obs  # type: ignore[assignment]
        self._last_episode_starts = dones
        episodes_done = int(np.sum(dones))
        self._episode_num += episodes_done
        callback.update_locals(locals())
        return callback.on_step(), episodes_done

    # ------------------------------------------------------------------ train
    def train(self, gradient_steps: int) -> None:
        """Run ``gradient_steps`` updates on replay samples (see :class:`Learner`)."""
        self._update_learning_rate([member.optimizer for member in self.members])
        interval = self.target_update_interval
        for _ in range(gradient_steps):
            # Each network of an ensemble takes its own step on its own batch; the logs
            # show their mean.
            infos = [learner.step(self._rng) for learner in self.learners]
            self._train_infos.append(
                {key: float(np.mean([info[key] for info in infos])) for key in infos[0]}
            )
            self._n_updates += 1
            if interval > 0 and self._n_updates % interval == 0:
                for learner in self.learners:
                    learner.sync_target()

    def _dump_logs(self) -> None:
        time_elapsed = max((time.time_ns() - self.start_time) / 1e9, sys.float_info.epsilon)
        fps = int((self.num_timesteps - self._num_timesteps_at_start) / time_elapsed)
        self.logger.record("time/episodes", self._episode_num, exclude="tensorboard")
        if self.ep_info_buffer and len(self.ep_info_buffer[0]) > 0:
            self.logger.record(
                "rollout/ep_rew_mean", safe_mean([ep["r"] for ep in self.ep_info_buffer])
            )
            self.logger.record(
                "rollout/ep_len_mean", safe_mean([ep["l"] for ep in self.ep_info_buffer])
            )
        self.logger.record("time/fps", fps)
        self.logger.record("time/time_elapsed", int(time_elapsed), exclude="tensorboard")
        self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
        if self._train_infos:
            for key in self._train_infos[0]:
                self.logger.record(f"train/{key}", safe_mean([i[key] for i in self._train_infos]))
            self._train_infos = []
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        progress = self._current_progress_remaining
        self.logger.record("train/learning_rate", self.lr_schedule(progress))
        self.logger.record("train/temperature", self.temperature(progress))
        if self.search == "gumbel":
            self.logger.record("train/gumbel_scale", self.gumbel_scale(progress))
        self.logger.dump(step=self.num_timesteps)

    # ------------------------------------------------------------------ save / load
    def save(
        self,
        path: str | pathlib.Path | io.BufferedIOBase,
        exclude: Any = None,
        include: Any = None,
    ) -> None:
        """Save to a zip file; the file is written in full to a temporary file first and
        then renamed, so an existing checkpoint is never left half-overwritten."""
        if isinstance(path, io.BufferedIOBase):
            super().save(path, exclude=exclude, include=include)
            return
        buffer = io.BytesIO()
        super().save(buffer, exclude=exclude, include=include)
        write_atomically(with_default_suffix(path, ".zip"), buffer.getvalue())

    def save_replay_buffer(self, path: str | pathlib.Path | io.BufferedIOBase) -> None:
        """Save the replay buffer, which :meth:`save` leaves out (as Stable-Baselines3's
        off-policy algorithms do; ``CheckpointCallback(save_replay_buffer=True)`` calls
        this). A NumPy ``.npz`` archive, written in full before it replaces a file at
        ``path``; ``.npz`` is added to a path without a suffix."""
        self.replay_buffer.save(path)

    def load_replay_buffer(self, path: str | pathlib.Path | io.BufferedIOBase) -> None:
        """Load a replay buffer saved by :meth:`save_replay_buffer`, e.g. to train a loaded
        model further on the experience it had. Training resumes without waiting for
        ``learning_starts`` fresh transitions when the buffer holds them. Episodes that
        were still being played bootstrap from their last stored position.

        :raises ValueError: the file is not a saved replay buffer, is damaged, or holds
            other observations or actions than this model's
        """
        self.replay_buffer.load(path)

    @classmethod
    def load(  # type: ignore[override]
        cls: type[SelfMuZero],
        path: str | pathlib.Path | io.BufferedIOBase,
        env: GymEnv | None = None,
        device: torch.device | str = "auto",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        **kwargs: Any,
    ) -> SelfMuZero:
        """Load a model saved by :meth:`save`.

        :raises ValueError: the file is missing pieces, corrupt, not a MuZero model, or
            its spaces do not match ``env``; or an object saved in it (a schedule, say) comes
            from code not importable here: the error names the settings, which
            ``custom_objects`` can replace
        """
        if isinstance(path, (str, pathlib.Path)):
            path = existing_file(path, ".zip", "saved model")
            _check_checkpoint_file(path)
        wrapper = _game_wrapper(env) if env is not None else None
        if wrapper is not None:
            env = wrapper(env)
        try:
            model = super().load(
                path, env=env, device=device, custom_objects=custom_objects,
                print_system_info=print_system_info, force_reset=force_reset, **kwargs,
            )  # fmt: skip
        except ValueError as error:
            raise ValueError(f"cannot load {path}: {error}") from error
        except (zipfile.BadZipFile, KeyError, EOFError, RuntimeError, AssertionError) as error:
            raise ValueError(
                f"{path} is not a valid muzero-gym checkpoint (corrupt or incomplete): {error}"
            ) from error
        except ImportError as error:
            raise ValueError(_unimportable_message(path, error)) from error
        except Exception as error:  # unpickling garbage can raise almost anything
            raise ValueError(
                f"{path} could not be read as a muzero-gym checkpoint: {error}"
            ) from error
        return model


def _unimportable_message(path: str | pathlib.Path | io.BufferedIOBase, error: ImportError) -> str:
    """Why a saved model refers to code that is not importable here, naming the saved
    settings that do (where ``path`` is a file) and how to load it anyway."""
    names: list[str] = []
    if isinstance(path, (str, pathlib.Path)):
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data").decode())
        for name, value in data.items():
            try:
                json_to_data(json.dumps({name: value}))
            except ImportError:
                names.append(name)
            except Exception:  # noqa: S112  (only the import errors are sought)
                continue
    which = f"its saved {', '.join(repr(n) for n in names)}" if names else "an object in it"
    example = ", ".join(f"{n!r}: ..." for n in names) if names else "'learning_rate': 0.0"
    return (
        f"cannot load {path}: {which} came from code that cannot be imported here ({error}). "
        f"Make that code importable (the module the model was trained with), or give a "
        f"replacement when loading: MuZero.load(path, custom_objects={{{example}}})"
    )


def _member_name(index: int) -> str:
    """Attribute (and checkpoint entry) of network ``index`` of the ensemble."""
    return "policy" if index == 0 else f"policy_{index}"


def _check_checkpoint_file(path: pathlib.Path) -> None:
    """Refuse, with a clear error, a file that is not a complete saved model."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ValueError(
            f"{path} is not a valid muzero-gym checkpoint (corrupt or not a zip file): {error}"
        ) from error
    missing = {"data", "policy.pth"} - names
    if broken is not None or missing:
        detail = f"damaged member {broken}" if broken else f"missing {sorted(missing)}"
        raise ValueError(f"{path} is not a valid muzero-gym checkpoint ({detail})")


def _game_wrapper(env: Any) -> Callable[[Any], gym.Env] | None:
    """The adapter for PettingZoo AEC board games, if ``env`` is one."""
    if env is None or isinstance(env, (str, gym.Env, VecEnv)):
        return None
    try:
        from muzero_gym.games import TurnBasedGymEnv, is_pettingzoo_env
    except ImportError:
        return None
    # Parallel envs go there too: TurnBasedGymEnv refuses them with an error saying why.
    return TurnBasedGymEnv if is_pettingzoo_env(env) else None


def _is_game_env(env: VecEnv) -> bool:
    """True when every env is a two-player board game adapter."""
    try:
        from muzero_gym.games import TurnBasedGymEnv
    except ImportError:
        return False
    try:
        unwrapped = env.get_attr("unwrapped")
    except Exception:
        return False
    return all(isinstance(u, TurnBasedGymEnv) for u in unwrapped)


__all__ = ["DEFAULT_TOTAL_TIMESTEPS", "ConstantTemperature", "MuZero", "StepTemperature"]
