"""Private install files: the per-install session secret, folders 0700, files written 0600 atomically.

The secret is made once and kept with mode 0600 so every worker process (waitress threads,
gunicorn workers, background jobs) signs sessions and job handles with the same key. It appears
under its name complete or not at all (written aside, then hard-linked into place), so processes
starting together on a fresh install (``txlab run`` and ``txlab worker``) agree on one secret.
"""
from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path


def load_or_create_secret(path: str | os.PathLike) -> str:
    """Read the secret at ``path``, creating it (0600) on first use; the first process to create it wins."""
    path = Path(path)
    private_folder(path.parent)
    try:
        return _read_secret(path)
    except FileNotFoundError:
        return _create_secret(path)


def private_folder(path: str | os.PathLike) -> Path:
    """Create ``path`` (and missing parents) readable only by this user; a folder that exists is left as it is."""
    path = Path(path)
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
    return path


def write_private_file(path: str | os.PathLike, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (temp file + rename), mode 0600: a crash never leaves half a file."""
    path = Path(path)
    private_folder(path.parent)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mkstemp makes it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _read_secret(path: Path) -> str:
    value = path.read_text(encoding="ascii").strip()
    if len(value) < 32:
        raise ValueError(f"The secret file {path} is too short; delete it to make a new one.")
    return value


def _create_secret(path: Path) -> str:
    """A new secret, written to a temp file and linked to ``path`` only if no other process got there first."""
    value = secrets.token_hex(32)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(value)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)  # fails if path exists: never replaces a secret another process already uses
        except FileExistsError:
            return _read_secret(path)  # another process won: use theirs
        except OSError:  # a file system without hard links (FAT, some SMB shares)
            return _create_secret_in_place(path, value)
    finally:
        Path(temp).unlink(missing_ok=True)
    return value


def _create_secret_in_place(path: Path, value: str) -> str:
    """The fallback without hard links: exclusive create, then write (a racing reader may see it empty)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value)
    return value
