"""Speed of the batched search alone, against the network calls it makes.

Setting of issue 2: 50 simulations, 2 actions, the MlpPolicy with a 64-wide hidden state
and one 64-wide hidden layer per network, one torch thread. For each batch size prints
simulations per second of the whole search (root inference included), the time of the
same number of batched network calls alone (one initial + ``num_simulations`` recurrent),
and their ratio: what the tree bookkeeping costs on top of the network. Medians over
``--repeats`` runs.

``--search gumbel`` times Gumbel MuZero's search instead of pUCT; ``--sampled K`` times
Sampled MuZero on a continuous action space of ``--action-dims`` dimensions, with K
actions sampled at every node (the network calls then include the sampling).
``--entities N`` times the setting of the Traffic10-v0 entry instead: an observation of N
blocks of ``--block-features`` features, a ``MultiDiscrete([2] * N)`` action sampled K at a
time from the factorised policy, and ``--policy entity`` (EntityMlpPolicy) or ``mlp``.

    python benchmarks/mcts_speed.py
    python benchmarks/mcts_speed.py --search gumbel
    python benchmarks/mcts_speed.py --sampled 20 --action-dims 6
    python benchmarks/mcts_speed.py --search gumbel --sampled 16 --entities 10 \
        --policy entity --hidden 32 --net-arch 64
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from gymnasium import spaces

from muzero_gym.actions import make_action_spec
from muzero_gym.gumbel import gumbel_search
from muzero_gym.mcts import SearchConfig, search
from muzero_gym.policies import EntityMlpPolicy, MlpPolicy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--num-simulations", type=int, default=50)
    parser.add_argument("--num-actions", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--search", choices=["muzero", "gumbel"], default="muzero")
    parser.add_argument("--sampled", type=int, default=None, help="K sampled actions (Box)")
    parser.add_argument("--action-dims", type=int, default=6)
    parser.add_argument("--entities", type=int, default=None, help="MultiDiscrete([2] * N)")
    parser.add_argument("--block-features", type=int, default=27, help="per entity (Traffic)")
    parser.add_argument("--policy", choices=["mlp", "entity"], default="mlp")
    parser.add_argument("--net-arch", type=int, default=None, help="width (default --hidden)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    obs_dim = 4
    if args.entities:
        if not args.sampled:
            parser.error("--entities needs --sampled K (the joint actions sampled at a node)")
        action_space: spaces.Space = spaces.MultiDiscrete([2] * args.entities)
        obs_dim = args.entities * args.block_features
        actions_label = f"{args.sampled} sampled of {2**args.entities} joint actions"
    elif args.sampled:
        action_space = spaces.Box(-1, 1, (args.action_dims,))
        actions_label = f"{args.sampled} sampled of a {args.action_dims}-d Box"
    else:
        action_space = spaces.Discrete(args.num_actions)
        actions_label = f"{args.num_actions} actions"
    if args.policy == "entity" and not args.entities:
        parser.error("--policy entity needs --entities N")
    spec = make_action_spec(action_space, args.sampled)
    policy_class = EntityMlpPolicy if args.policy == "entity" else MlpPolicy
    policy = policy_class(
        spaces.Box(-1, 1, (obs_dim,)), action_space, lambda _: 1e-3, hidden_dim=args.hidden,
        net_arch=[args.net_arch or args.hidden], support_size=10, action_spec=spec,
    )  # fmt: skip
    policy.eval()
    config = SearchConfig(num_simulations=args.num_simulations)
    search_fn = gumbel_search if args.search == "gumbel" else search
    rng = np.random.default_rng(0)
    print(
        f"{args.search} search: {args.num_simulations} simulations, {actions_label}, "
        f"{policy_class.__name__} hidden {args.hidden}, 1 torch thread, "
        f"median of {args.repeats}"
    )
    print(f"{'batch':>5}  {'sims/s':>10}  {'search ms':>9}  {'network ms':>10}  {'ratio':>5}")
    for batch in args.batch_sizes:
        obs = torch.as_tensor(rng.normal(size=(batch, obs_dim)), dtype=torch.float32)
        if args.entities:
            actions = rng.integers(0, 2, size=(batch, args.entities))
        elif args.sampled:
            actions = rng.normal(size=(batch, args.action_dims)).astype(np.float32)
        else:
            actions = rng.integers(0, args.num_actions, size=batch)

        def run_search(obs: torch.Tensor = obs) -> None:
            with torch.inference_mode():
                search_fn(policy.search_root(obs), policy.search_step, config, rng=rng)

        def run_network(obs: torch.Tensor = obs, actions: np.ndarray = actions) -> None:
            with torch.inference_mode():
                root = policy.search_root(obs)
                for _ in range(args.num_simulations):
                    policy.search_step(root.embedding, actions)

        run_search()  # compile the numba kernels
        run_network()
        search_times, network_times = [], []
        for _ in range(args.repeats):  # interleaved, so both see the same machine load
            began = time.perf_counter()
            run_search()
            search_times.append(time.perf_counter() - began)
            began = time.perf_counter()
            run_network()
            network_times.append(time.perf_counter() - began)
        search_s = statistics.median(search_times)
        network_s = statistics.median(network_times)
        sims_per_s = batch * args.num_simulations / search_s
        print(
            f"{batch:5d}  {sims_per_s:10.0f}  {search_s * 1e3:9.2f}  {network_s * 1e3:10.2f}  "
            f"{search_s / network_s:5.2f}"
        )


if __name__ == "__main__":
    main()
