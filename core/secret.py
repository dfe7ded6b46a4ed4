"""The per-install session secret: made once, kept with mode 0600, shared by every worker."""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def load_or_create_secret(path: str | os.PathLike) -> str:
    """Read the secret at ``path``, creating it (exclusively, 0600) on first use."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        value = path.read_text(encoding="ascii").strip()
        if len(value) < 32:
            raise ValueError(f"The secret file {path} is too short; delete it to make a new one.") from None
        return value
    value = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value)
    return value
