"""Writing files so that a failure never leaves a user's earlier file half-overwritten,
and finding the files the savers wrote."""

from __future__ import annotations

import os
import pathlib
import tempfile


def write_atomically(target: pathlib.Path, data: bytes) -> None:
    """Write ``data`` to ``target``: in full to a temporary file beside it first, then
    renamed over it (an atomic replace), so ``target`` is either the old file or the new
    one, never a mix. Missing parent folders are created."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
        raise


def existing_file(path: str | pathlib.Path, suffix: str, what: str) -> pathlib.Path:
    """``path``, or ``path`` with ``suffix`` added when only that exists (as the savers add
    it to a path without one).

    :raises FileNotFoundError: neither exists (the message names ``what`` was looked for)
    """
    candidate = pathlib.Path(path)
    if not candidate.exists() and candidate.with_suffix(suffix).exists():
        candidate = candidate.with_suffix(suffix)
    if not candidate.exists():
        raise FileNotFoundError(f"no {what} at {path}")
    return candidate


def with_default_suffix(path: str | pathlib.Path, suffix: str) -> pathlib.Path:
    """``path`` with ``suffix`` added when it has none (where the savers write)."""
    target = pathlib.Path(path)
    return target.with_suffix(suffix) if target.suffix == "" else target
