"""Static structure of a rows x cols grid of signalised intersections (pure numpy, no state).

Indexing used everywhere in the traffic package:

* intersection ``i = row * cols + col`` (row 0 is the northern edge, col 0 the western edge);
* approach ``a`` in ``(N, E, S, W)`` = the side of the intersection a vehicle comes *from*;
* link ``k = i * 4 + a``: the road segment that ends at approach ``a`` of intersection ``i``;
* movement ``m`` in ``(left, through, right)``, one lane each;
* lane ``l = k * 3 + m`` (so ``l // 3`` is its link and ``l // 12`` its intersection).

A link whose upstream end lies outside the grid is an *entry* link, fed by a Poisson source.
A lane whose movement leaves the grid is an *exit* lane (downstream link ``-1``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_APPROACHES = 4
NUM_MOVEMENTS = 3
LANES_PER_INTERSECTION = NUM_APPROACHES * NUM_MOVEMENTS
APPROACH_NAMES = ("N", "E", "S", "W")
MOVEMENT_NAMES = ("left", "through", "right")

# Heading d in (north, east, south, west) -> (d_row, d_col).
_OFFSETS = ((-1, 0), (0, 1), (1, 0), (0, -1))
# Turn of each movement relative to the heading: left = -1 (counter-clockwise), right = +1.
_TURNS = (-1, 0, 1)

PHASE_PLANS = ("two-phase", "four-phase")


def grid_shape_for(num_intersections: int) -> tuple[int, int]:
    """The most square ``(rows, cols)`` with ``rows * cols == num_intersections``, rows <= cols.

    For example 4 -> (2, 2), 10 -> (2, 5), 12 -> (3, 4), 7 -> (1, 7).
    """
    rows = int(np.sqrt(num_intersections))
    while num_intersections % rows:
        rows -= 1
    return rows, num_intersections // rows


@dataclass(frozen=True)
class GridNetwork:
    """Index arrays describing the grid; built once by :func:`build_grid`."""

    rows: int
    cols: int
    lane_downstream_link: np.ndarray  # [L] int64, link the lane's movement feeds, -1 = exits grid
    entry_links: np.ndarray  # [E] int64, links fed from outside the grid
    entry_is_north_south: np.ndarray  # [E] bool, entry travels north-south (from N or S)

    @property
    def num_intersections(self) -> int:
        return self.rows * self.cols

    @property
    def num_links(self) -> int:
        return self.num_intersections * NUM_APPROACHES

    @property
    def num_lanes(self) -> int:
        return self.num_intersections * LANES_PER_INTERSECTION


def build_grid(rows: int, cols: int) -> GridNetwork:
    """Build the lane -> link topology of a ``rows x cols`` grid."""
    downstream = np.full(rows * cols * LANES_PER_INTERSECTION, -1, dtype=np.int64)
    entries: list[int] = []
    entry_ns: list[bool] = []
    for i in range(rows * cols):
        r, c = divmod(i, cols)
        for a in range(NUM_APPROACHES):
            # Upstream neighbour of approach a lies in direction a; none -> entry link.
            ur, uc = r + _OFFSETS[a][0], c + _OFFSETS[a][1]
            if not (0 <= ur < rows and 0 <= uc < cols):
                entries.append(i * NUM_APPROACHES + a)
                entry_ns.append(a in (0, 2))
            heading = (a + 2) % 4  # coming from the north means heading south
            for m, turn in enumerate(_TURNS):
                out = (heading + turn) % 4
                nr, nc = r + _OFFSETS[out][0], c + _OFFSETS[out][1]
                if 0 <= nr < rows and 0 <= nc < cols:
                    j = nr * cols + nc
                    lane = (i * NUM_APPROACHES + a) * NUM_MOVEMENTS + m
                    downstream[lane] = j * NUM_APPROACHES + (out + 2) % 4
    return GridNetwork(
        rows=rows,
        cols=cols,
        lane_downstream_link=downstream,
        entry_links=np.asarray(entries, dtype=np.int64),
        entry_is_north_south=np.asarray(entry_ns, dtype=bool),
    )


def phase_green_lanes(phase_plan: str) -> np.ndarray:
    """Which of an intersection's 12 lanes are green in each phase.  # [P, 12] bool

    ``two-phase``: 0 = N-S green (all N and S movements, left turns permitted),
    1 = E-W green. ``four-phase``: 0 = N-S through + right, 1 = N-S protected left,
    2 = E-W through + right, 3 = E-W protected left.
    """
    if phase_plan not in PHASE_PLANS:
        raise ValueError(f"phase_plan must be one of {PHASE_PLANS}, got {phase_plan!r}")
    lane_approach = np.arange(LANES_PER_INTERSECTION) // NUM_MOVEMENTS
    lane_movement = np.arange(LANES_PER_INTERSECTION) % NUM_MOVEMENTS
    north_south = (lane_approach == 0) | (lane_approach == 2)
    left = lane_movement == 0
    if phase_plan == "two-phase":
        return np.stack([north_south, ~north_south])
    return np.stack(
        [north_south & ~left, north_south & left, ~north_south & ~left, ~north_south & left]
    )


def lane_flows(
    network: GridNetwork, entry_rates: np.ndarray, turning_ratios: np.ndarray
) -> np.ndarray:
    """Mean arrival rate at every lane's stop line.  # [L] veh/s

    Solves the flow-conservation equations link inflow = entry demand + flow turned into it
    from upstream lanes (a fixed point; it converges because every route ends at an exit).
    Spillback and capacity limits are ignored: this is the demand a signal plan must serve.
    """
    num_links = network.num_links
    downstream = network.lane_downstream_link
    internal = downstream >= 0
    source = np.zeros(num_links)
    np.add.at(source, network.entry_links, entry_rates)
    inflow = source.copy()
    for _ in range(10_000):
        lane = (inflow[:, None] * turning_ratios[None, :]).ravel()
        new = source + np.bincount(downstream[internal], lane[internal], minlength=num_links)
        if np.allclose(new, inflow, rtol=0, atol=1e-12):
            break
        inflow = new
    return (inflow[:, None] * turning_ratios[None, :]).ravel()


@dataclass(frozen=True)
class GridMap:
    """Where a symmetry of the grid sends every intersection, link, lane and entry link.

    Each array maps an index to the index it is sent to (``intersection[i]`` is where
    intersection ``i`` goes); the half-turn is its own inverse, so the same arrays gather.
    """

    name: str
    intersection: np.ndarray  # [N] int64
    link: np.ndarray  # [K] int64
    lane: np.ndarray  # [L] int64
    entry: np.ndarray  # [E] int64, positions in ``network.entry_links``


def half_turn(network: GridNetwork) -> GridMap:
    """The grid turned by 180 degrees: intersection ``(r, c)`` goes to
    ``(rows - 1 - r, cols - 1 - c)``, approach N to S and E to W, and every lane keeps its
    movement (a left turn stays a left turn). Links and entry links go along."""
    rows, cols = network.rows, network.cols
    index = np.arange(rows * cols)
    r, c = np.divmod(index, cols)
    intersection = (rows - 1 - r) * cols + (cols - 1 - c)
    link_index = np.arange(network.num_links)
    link = (
        intersection[link_index // NUM_APPROACHES] * NUM_APPROACHES
        + (link_index % NUM_APPROACHES + 2) % NUM_APPROACHES
    )
    lane_index = np.arange(network.num_lanes)
    lane = link[lane_index // NUM_MOVEMENTS] * NUM_MOVEMENTS + lane_index % NUM_MOVEMENTS
    position = np.full(network.num_links, -1, dtype=np.int64)
    position[network.entry_links] = np.arange(network.entry_links.size)
    entry = position[link[network.entry_links]]
    return GridMap("half-turn", intersection, link, lane, entry)
