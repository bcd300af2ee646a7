"""Benchmark scripts of muzero-gym (run from the repository root)."""
