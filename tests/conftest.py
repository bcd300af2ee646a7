"""Shared test setup: the repository's benchmarks package importable; one torch thread
(small networks gain nothing from more, and OpenMP threads fight over a busy CPU)."""

import sys
from pathlib import Path

import torch

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

torch.set_num_threads(1)
