"""Symmetries of a game, for data augmentation of the training batches and for searching
every position in all its orientations when playing.

A board game whose rules do not change when the board is mirrored (connect four) or
rotated and mirrored (tic-tac-toe, Go) gives, for every stored position, equally valid
training positions: the transformed board, with the moves and the search policies
transformed alike and the same values and rewards. AlphaGo Zero and AlphaZero's Go
training drew one of the eight board symmetries at random for every position; here
:class:`muzero_gym.MuZero` does the same with ``symmetries=[...]`` (or ``"board"`` for the
games :func:`board_symmetries` knows): every position of a batch, with its K unrolled
moves and targets, is kept as it is or transformed by one of the given symmetries, all
equally likely.

Other envs can declare their own symmetries: ``symmetries="env"`` reads
``env.unwrapped.symmetries()`` (:func:`env_symmetries`), e.g. Traffic-v0's grid turned by
180 degrees, whose intersections' requests (a ``MultiDiscrete`` action searched as one
joint action) move with the intersections.

``average_symmetries=True`` uses the same symmetries when playing: ``predict`` searches
each observation and its images together and plays the action they rate best together
(AlphaGo's evaluation over the eight board symmetries). ``symmetric_targets=True``
combines them the same way for training: self-play plays and stores the combined search,
and Reanalyze bootstraps from the mean value over a position's orientations.

A :class:`Symmetry` holds the transformation of a batch of observations and the
permutation it makes of the (``Discrete``) actions. :class:`BoardTransform` builds both
from one rotation-and-mirror of the board planes, with the permutation read off a grid of
the action ids as they lie on the board.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from gymnasium import spaces

from muzero_gym.replay import ReplaySample


@dataclass(frozen=True)
class Symmetry:
    """A transformation that leaves the game's rules, values and rewards unchanged.

    :param observation: maps a batch of observations ``[B, *obs_shape]`` to the
        transformed batch, of the same shape and dtype
    :param action_permutation: action ``a`` becomes ``action_permutation[a]``
        (``Discrete`` actions, and ``MultiDiscrete`` ones searched as one joint action)
    :param name: for messages
    :param action_dims: for ``MultiDiscrete`` actions sampled one dimension at a time
        (``multi_discrete="factorized"``) instead: the transformed action is
        ``action[..., action_dims]``, and ``action_permutation`` is not used
    """

    observation: Callable[[np.ndarray], np.ndarray]
    action_permutation: np.ndarray
    name: str = "symmetry"
    action_dims: np.ndarray | None = None

    def move_actions(self, actions: np.ndarray) -> np.ndarray:
        """Actions as the replay stores them (``[...]`` ids, or ``[..., D]`` vectors with
        ``action_dims``) moved to the transformed game."""
        if self.action_dims is not None:
            return np.asarray(actions)[..., self.action_dims]
        return self.action_permutation[actions]

    def move_action_figures(self, figures: np.ndarray) -> np.ndarray:
        """Figures ``[..., A]`` over the (enumerated) actions, e.g. a search policy or the
        legal moves, moved to the transformed game: action ``a``'s figure goes to
        ``action_permutation[a]``; ``figures[..., action_permutation]`` moves them back."""
        moved = np.empty_like(figures)
        moved[..., self.action_permutation] = figures
        return moved


class BoardTransform:
    """Mirror (left-right) and then rotate by ``rotations`` quarter turns the two board
    axes ``axes`` of an array (e.g. ``(-2, -1)`` for ``[B, C, H, W]`` planes, ``(-3, -2)``
    for ``[B, H, W, C]``). A plain class, so that saved models can pickle it."""

    def __init__(self, mirror: bool, rotations: int, axes: tuple[int, int]) -> None:
        self.mirror = mirror
        self.rotations = rotations % 4
        self.axes = axes

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.mirror:
            x = np.flip(x, axis=self.axes[1])
        return np.ascontiguousarray(np.rot90(x, self.rotations, axes=self.axes))

    def symmetry(self, action_grid: np.ndarray, name: str) -> Symmetry:
        """The symmetry of a board whose cells hold the action ids ``action_grid [H, W]``
        (a row of column ids for connect four): the action at a cell moves where the cell
        goes."""
        grid = np.asarray(action_grid)
        on_board = BoardTransform(self.mirror, self.rotations, (0, 1))
        moved = on_board(grid)
        if moved.shape != grid.shape:
            raise ValueError(f"{name} changes the board's shape {grid.shape}")
        permutation = np.full(grid.max() + 1, -1, dtype=np.int64)
        permutation[moved.ravel()] = grid.ravel()
        return Symmetry(self, permutation, name)

    def __repr__(self) -> str:
        return f"BoardTransform(mirror={self.mirror}, rotations={self.rotations}, axes={self.axes})"


class FeatureTransform:
    """Gather the features of a batch of observations ``[B, *obs_shape]``, read flat:
    feature ``j`` of the result is feature ``index[j]`` of the input. A plain class, so
    that saved models can pickle it."""

    def __init__(self, index: np.ndarray) -> None:
        self.index = np.asarray(index, dtype=np.int64)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        flat = x.reshape(x.shape[0], -1)
        if flat.shape[1] != self.index.size:
            raise ValueError(
                f"FeatureTransform of {self.index.size} features got observations {x.shape}"
            )
        return np.ascontiguousarray(flat[:, self.index]).reshape(x.shape)

    def __repr__(self) -> str:
        return f"FeatureTransform(index of {self.index.size} features)"


def env_symmetries(
    declared: Sequence[Any], action_space: spaces.Space, factorized: bool = False
) -> list[Symmetry]:
    """Symmetries from an env's own declaration (``env.unwrapped.symmetries()``, as
    :class:`muzero_gym.envs.traffic.TrafficEnv` has): ``(name, observation_index,
    action_index)`` triples that transform by gathering, the observation (read flat) as
    ``obs[observation_index]`` and the action as ``action[action_index]``. For
    ``MultiDiscrete`` actions ``action_index`` gathers the dimensions (an intersection's
    request moves with the intersection); for ``Discrete`` actions it gathers the actions
    (the transformed action ``j`` is the action ``action_index[j]``). ``factorized``:
    the ``MultiDiscrete`` actions are sampled one dimension at a time, so the symmetry
    gathers their dimensions (``action_dims``) rather than permuting joint actions.

    :raises ValueError: for another action space, or an index that is not a permutation
        of the dimensions (of equal sizes) or the actions
    """
    found = []
    for entry in declared:
        if not (isinstance(entry, (tuple, list)) and len(entry) == 3):
            raise ValueError(
                "an env's symmetries() must give (name, observation_index, action_index) "
                f"triples, got {entry!r}"
            )
        name, observation_index, action_index = entry
        gather = np.asarray(action_index, dtype=np.int64)
        features = np.asarray(observation_index, dtype=np.int64)
        if not np.array_equal(np.sort(features.ravel()), np.arange(features.size)):
            raise ValueError(
                f"symmetry {name!r}: observation_index must be a permutation of the "
                "observation's features"
            )
        if isinstance(action_space, spaces.Discrete):
            size = int(action_space.n)
        elif isinstance(action_space, spaces.MultiDiscrete):
            size = int(action_space.nvec.size)
        else:
            raise ValueError(
                f"env symmetries need a Discrete or MultiDiscrete action space, got {action_space}"
            )
        if gather.shape != (size,) or not np.array_equal(np.sort(gather), np.arange(size)):
            raise ValueError(
                f"symmetry {name!r}: action_index must be a permutation of range({size}), "
                f"got {gather.tolist()}"
            )
        if isinstance(action_space, spaces.Discrete):
            permutation = np.empty(size, dtype=np.int64)
            permutation[gather] = np.arange(size)  # action gather[j] becomes action j
        else:
            nvec = np.asarray(action_space.nvec).reshape(-1)
            if not np.array_equal(nvec[gather], nvec):
                raise ValueError(
                    f"symmetry {name!r} moves dimensions of different sizes {nvec.tolist()} "
                    f"onto each other ({gather.tolist()})"
                )
            if factorized:
                found.append(Symmetry(FeatureTransform(features), np.arange(0), str(name), gather))
                continue
            # Joint action (flattened as FlatMultiDiscreteActions does) -> transformed one.
            parts = np.stack(np.unravel_index(np.arange(int(np.prod(nvec))), tuple(nvec)))
            permutation = np.ravel_multi_index(tuple(parts[gather]), tuple(nvec))
        found.append(Symmetry(FeatureTransform(features), permutation, str(name)))
    return found


def dihedral_symmetries(action_grid: np.ndarray, axes: tuple[int, int]) -> list[Symmetry]:
    """The seven non-identity rotations and mirrors of a square board."""
    found = []
    for mirror in (False, True):
        for rotations in range(4):
            if mirror or rotations:
                name = f"{'mirror, ' if mirror else ''}{90 * rotations} degrees"
                transform = BoardTransform(mirror, rotations, axes)
                found.append(transform.symmetry(action_grid, name))
    return found


# Observation names (as TurnBasedGymEnv's metadata gives them) -> symmetries.
_CONNECT_FOUR_COLUMNS = np.arange(7).reshape(1, 7)
_TIC_TAC_TOE_CELLS = np.arange(9).reshape(3, 3)  # both encodings: cell = 3 * i + j at [i, j]
_KNOWN: dict[str, Callable[[], list[Symmetry]]] = {
    "openspiel_connect_four": lambda: [
        BoardTransform(True, 0, (-2, -1)).symmetry(_CONNECT_FOUR_COLUMNS, "mirror")
    ],
    "connect_four_v3": lambda: [
        BoardTransform(True, 0, (-3, -2)).symmetry(_CONNECT_FOUR_COLUMNS, "mirror")
    ],
    "openspiel_tic_tac_toe": lambda: dihedral_symmetries(_TIC_TAC_TOE_CELLS, (-2, -1)),
    "tictactoe_v3": lambda: dihedral_symmetries(_TIC_TAC_TOE_CELLS, (-3, -2)),
}


def board_symmetries(name: str) -> list[Symmetry]:
    """The board symmetries of a game this library knows, by its env's
    ``metadata["name"]`` (``"openspiel_connect_four"``, ``"connect_four_v3"``,
    ``"openspiel_tic_tac_toe"``, ``"tictactoe_v3"``).

    :raises ValueError: for another game, naming the known ones
    """
    if name not in _KNOWN:
        raise ValueError(
            f"no known board symmetries for {name!r} (known: {sorted(_KNOWN)}); pass "
            "symmetries=[Symmetry(...), ...] instead"
        )
    return _KNOWN[name]()


def check_symmetries(
    symmetries: Sequence[Any],
    num_actions: int,
    example: np.ndarray,
    nvec: np.ndarray | None = None,
) -> tuple[Symmetry, ...]:
    """Refuse symmetries that do not fit the spaces: not a :class:`Symmetry`, a permutation
    that is not one of ``range(num_actions)``, or an observation map that changes the shape
    or dtype of ``example [B, *obs_shape]``. With ``nvec`` (``MultiDiscrete`` actions
    sampled one dimension at a time) the symmetries must give ``action_dims`` instead: a
    permutation of the dimensions that moves each onto one of the same size."""
    checked = []
    for symmetry in symmetries:
        if not isinstance(symmetry, Symmetry):
            raise ValueError(f"symmetries must hold muzero_gym.Symmetry objects, got {symmetry!r}")
        if nvec is not None:
            sizes = np.asarray(nvec).reshape(-1)
            dims = None if symmetry.action_dims is None else np.asarray(symmetry.action_dims)
            if (
                dims is None
                or dims.shape != sizes.shape
                or not np.array_equal(np.sort(dims), np.arange(sizes.size))
                or not np.array_equal(sizes[dims], sizes)
            ):
                raise ValueError(
                    f"symmetry {symmetry.name!r}: MultiDiscrete{sizes.tolist()} actions "
                    "sampled one dimension at a time need action_dims, a permutation of "
                    f"the dimensions between equal sizes; got {symmetry.action_dims}"
                )
            fitted = replace(symmetry, action_dims=dims.astype(np.int64))
        else:
            if symmetry.action_dims is not None:
                raise ValueError(
                    f"symmetry {symmetry.name!r} gives action_dims, which apply to "
                    "MultiDiscrete actions sampled one dimension at a time only"
                )
            permutation = np.asarray(symmetry.action_permutation)
            if permutation.shape != (num_actions,) or not np.array_equal(
                np.sort(permutation), np.arange(num_actions)
            ):
                raise ValueError(
                    f"symmetry {symmetry.name!r}: action_permutation must be a permutation "
                    f"of the {num_actions} actions, got {permutation.tolist()}"
                )
            fitted = replace(symmetry, action_permutation=permutation.astype(np.int64))
        moved = np.asarray(symmetry.observation(example))
        if moved.shape != example.shape or moved.dtype != example.dtype:
            raise ValueError(
                f"symmetry {symmetry.name!r} maps observations {example.shape} {example.dtype} "
                f"to {moved.shape} {moved.dtype}; it must keep their shape and dtype"
            )
        checked.append(fitted)
    return tuple(checked)


def augment(
    sample: ReplaySample,
    next_observations: np.ndarray | None,
    symmetries: Sequence[Symmetry],
    rng: np.random.Generator,
) -> tuple[ReplaySample, np.ndarray | None]:
    """Each position of the batch with its unroll kept or transformed by one of the
    symmetries (each choice equally likely): observations (and the next observations of
    the consistency loss, ``[B, K, ...]``), unrolled actions, search policies over the
    actions, or the sampled candidate actions. Values, rewards and masks stay."""
    if not symmetries:
        return sample, next_observations
    choice = rng.integers(len(symmetries) + 1, size=len(sample.slots))  # 0: as it is
    observations = sample.observations.copy()
    actions = sample.actions.copy()
    policies = sample.target_policies.copy()
    candidates = None if sample.target_candidates is None else sample.target_candidates.copy()
    nexts = None if next_observations is None else next_observations.copy()
    for index, symmetry in enumerate(symmetries, start=1):
        rows = np.flatnonzero(choice == index)
        if rows.size == 0:
            continue
        observations[rows] = symmetry.observation(observations[rows])
        actions[rows] = symmetry.move_actions(actions[rows])
        if candidates is not None:  # the policies are over the candidates' slots
            candidates[rows] = symmetry.move_actions(candidates[rows])
        else:  # the policies are over the actions, which move
            policies[rows] = symmetry.move_action_figures(policies[rows])
        if nexts is not None:
            flat = nexts[rows].reshape(-1, *nexts.shape[2:])
            nexts[rows] = symmetry.observation(flat).reshape(nexts[rows].shape)
    augmented = replace(
        sample,
        observations=observations,
        actions=actions,
        target_policies=policies,
        target_candidates=candidates,
    )
    return augmented, nexts
