"""Small file primitives the stores share: atomic replacement of a file, JSON files, a per-folder lock.

Several processes (server workers, background jobs, the CLI) write the same sidecar files, so a
write goes to a temporary file with a name of its own in the same folder and is swapped in with
``os.replace``: a reader sees the old file or the new one, never half of either, and two writers
never remove each other's temporary file. A read-modify-write of a file is only safe under
``locked_folder``.
"""
from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

try:  # POSIX: an advisory lock shared by threads and processes
    import fcntl
except ImportError:  # pragma: no cover - Windows: writers of one folder are not expected to overlap
    fcntl = None  # type: ignore[assignment]


def write_json(
    path: str | os.PathLike, data: Any, *, private: bool = False, default: Callable[[Any], Any] | None = None
) -> None:
    """Replace ``path`` with ``data`` as JSON in one step; mode 0600 when ``private``, else the umask's.

    NumPy scalars are stored as plain numbers; anything else JSON cannot hold raises ``TypeError``
    unless ``default`` converts it (e.g. ``default=str``).
    """
    text = json.dumps(data, indent=2, default=default or json_default)
    with replacing(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)


@contextlib.contextmanager
def replacing(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path of its own next to ``path``, renamed over ``path`` when the block succeeds.

    The caller writes the new file there (any format); if the block raises, ``path`` is left as it
    was and the temporary file is removed. ``suffix`` ends the temporary name, for writers that add
    their own extension (``numpy.save`` adds ``.npy``).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}{suffix}")  # unique: concurrent writers never share it
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def json_default(value: Any) -> Any:
    """The JSON form of a NumPy scalar; ``TypeError`` for anything else JSON cannot hold."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@contextlib.contextmanager
def locked_folder(folder: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` itself (no lock file is left in it) until the block ends."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when the descriptor is closed
        yield
    finally:
        os.close(fd)
