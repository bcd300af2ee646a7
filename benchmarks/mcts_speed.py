"""Speed of the batched search alone, against the network calls it makes.

Setting of issue 2: 50 simulations, 2 actions, the MlpPolicy with a 64-wide hidden state
and one 64-wide hidden layer per network, one torch thread. For each batch size prints
simulations per second of the whole search (root inference included), the time of the
same number of batched network calls alone (one initial + ``num_simulations`` recurrent),
and their ratio: what the tree bookkeeping costs on top of the network. Medians over
``--repeats`` runs.

    python benchmarks/mcts_speed.py
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from gymnasium import spaces

from muzero_gym.mcts import SearchConfig, search
from muzero_gym.policies import MlpPolicy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--num-simulations", type=int, default=50)
    parser.add_argument("--num-actions", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    policy = MlpPolicy(
        spaces.Box(-1, 1, (4,)), spaces.Discrete(args.num_actions), lambda _: 1e-3,
        hidden_dim=args.hidden, net_arch=[args.hidden], support_size=10,
    )  # fmt: skip
    policy.eval()
    config = SearchConfig(num_simulations=args.num_simulations)
    rng = np.random.default_rng(0)
    print(f"search: {args.num_simulations} simulations, {args.num_actions} actions, "
          f"hidden {args.hidden}, 1 torch thread, median of {args.repeats}")
    print(f"{'batch':>5}  {'sims/s':>10}  {'search ms':>9}  {'network ms':>10}  {'ratio':>5}")
    for batch in args.batch_sizes:
        obs = torch.as_tensor(rng.normal(size=(batch, 4)), dtype=torch.float32)
        actions = rng.integers(0, args.num_actions, size=batch)

        def run_search() -> None:
            with torch.inference_mode():
                search(policy.search_root(obs), policy.search_step, config, rng=rng)

        def run_network() -> None:
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
        print(f"{batch:5d}  {sims_per_s:10.0f}  {search_s * 1e3:9.2f}  {network_s * 1e3:10.2f}  "
              f"{search_s / network_s:5.2f}")


if __name__ == "__main__":
    main()
