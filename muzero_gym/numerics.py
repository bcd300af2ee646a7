"""Denormal floats on the CPU.

Adam with an L2 penalty (``weight_decay``) drives the weights of units that no longer get a
gradient towards zero by about the learning rate a step, into the float32 denormal range
(below 1.2e-38), and keeps them and their Adam moments there. CPU arithmetic on denormals
is many times slower: on the Traffic-v0 entry a gradient step took 28 ms at first and
twice that after 6,000 env steps, five times that after 10,000. :func:`denormals_flushed`
treats them as zero while MuZero trains and searches, and restores the setting after.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def flushing_denormals() -> bool:
    """Whether this thread's CPU arithmetic flushes denormal results to zero now."""
    small = torch.tensor([1e-30], dtype=torch.float32)
    return bool((small * 1e-10).item() == 0.0)  # 1e-40 is a float32 denormal


@contextlib.contextmanager
def denormals_flushed() -> Iterator[None]:
    """Flush denormals to zero on the CPU (``torch.set_flush_denormal``) inside the block,
    then put back what was set before. A no-op where the CPU cannot flush them."""
    before = flushing_denormals()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)
