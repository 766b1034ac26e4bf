"""Atomic file writes: a reader sees the old file or the new one, never half of either.

The text goes to a temporary file in the target's folder, is flushed to disk, then
``os.replace``d over the target.  New files get mode ``0o644`` (``tempfile`` would leave
``0o600``, unreadable to the group that shares a results folder).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text(path, text: str, mode: int = 0o644) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (creating its folder); return the path."""
    return write_bytes(path, text.encode("utf-8"), mode)


def write_bytes(path, data: bytes, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` atomically (creating its folder); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
