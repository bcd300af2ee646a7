"""The ``muzero-gym`` command.

    muzero-gym bench [--envs ...] [--algos ...] [--seeds ...] ...  # python -m benchmarks
    muzero-gym bench-summary --out DIR                   # python -m benchmarks.summarize

The benchmark harness is a set of readable scripts in ``benchmarks/`` of the repository,
not part of the installed package. The command finds that folder in the current directory
or one of its parents (run it inside a checkout), or next to the imported ``muzero_gym``
(an editable install, ``pip install -e .``), and runs it from there.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import muzero_gym

COMMANDS = {
    "bench": "run the benchmark harness (python -m benchmarks)",
    "bench-summary": "rewrite a benchmark's table and plot (python -m benchmarks.summarize)",
}


def find_repository() -> Path | None:
    """The muzero-gym checkout holding ``benchmarks/``, or None."""
    here = Path.cwd().resolve()
    package_parent = Path(muzero_gym.__file__).resolve().parent.parent
    for root in (here, *here.parents, package_parent):
        if (root / "benchmarks" / "run.py").is_file() and (root / "muzero_gym").is_dir():
            return root
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="muzero-gym",
        description="muzero-gym: MuZero with the Stable-Baselines3 API.",
        epilog="Options after a command go to it, e.g. muzero-gym bench --help.",
    )
    parser.add_argument("--version", action="version", version=muzero_gym.__version__)
    parser.add_argument(
        "command",
        choices=list(COMMANDS),
        help="; ".join(f"{name}: {text}" for name, text in COMMANDS.items()),
    )
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    root = find_repository()
    if root is None:
        print(
            "muzero-gym: the benchmark harness lives in benchmarks/ of a muzero-gym checkout, "
            "which was not found here or above, nor next to the installed package.\n"
            "Run the command inside a clone of the repository (the benchmarks are scripts, "
            "not installed with the package).",
            file=sys.stderr,
        )
        return 2
    sys.path.insert(0, str(root))  # spawned benchmark workers inherit this path
    if args.command == "bench":
        from benchmarks.run import main as bench

        return bench(args.args, prog="muzero-gym bench")
    from benchmarks.summarize import main as summary

    summary(args.args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
