"""Failed-login rate limit, shared by every worker process through a diskcache folder.

After ``max_failures`` wrong passwords for one user name from one address within ``window_s``,
that pair is refused until the oldest failure leaves the window. A looser limit per address
(any names) stops one client from trying many names. A successful login clears the pair.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import diskcache

from core.errors import TxlabError
from core.secret import private_folder

MAX_FAILURES = 5
MAX_FAILURES_PER_ADDRESS = 30
WINDOW_S = 15 * 60


class TooManyLoginsError(TxlabError):
    """Too many failed logins recently: the message says for whom and how long to wait."""


@dataclass
class LoginLimiter:
    """Counts failed logins per (name, address) and per address in ``folder`` (a diskcache)."""

    folder: Path
    max_failures: int = MAX_FAILURES
    max_failures_per_address: int = MAX_FAILURES_PER_ADDRESS
    window_s: float = WINDOW_S
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)

    def check(self, name: str, address: str) -> None:
        """Raise ``TooManyLoginsError`` when ``name`` from ``address`` must wait before trying again."""
        now = self.clock()
        with self._cache() as cache:
            for key, limit, who in ((_pair(name, address), self.max_failures, name),
                                    (_address(address), self.max_failures_per_address, "this address")):
                recent = self._recent(cache.get(key, ()), now)
                if len(recent) >= limit:
                    wait_s = recent[-limit] + self.window_s - now
                    minutes = max(1, math.ceil(wait_s / 60))
                    raise TooManyLoginsError(
                        f"Too many failed logins for {who}; try again in {minutes} minute{'s' if minutes != 1 else ''}."
                    )

    def record_failure(self, name: str, address: str) -> None:
        """Count one wrong password for ``name`` from ``address``."""
        now = self.clock()
        with self._cache() as cache, cache.transact():
            for key in (_pair(name, address), _address(address)):
                recent = self._recent(cache.get(key, ()), now) + (now,)
                cache.set(key, recent, expire=self.window_s)

    def record_success(self, name: str, address: str) -> None:
        """Forget ``name``'s failures from ``address`` (the per-address count stays)."""
        with self._cache() as cache:
            cache.delete(_pair(name, address))

    def _recent(self, stamps, now: float) -> tuple[float, ...]:
        return tuple(sorted(t for t in stamps if now - t < self.window_s))

    def _cache(self) -> diskcache.Cache:
        return diskcache.Cache(os.fspath(private_folder(self.folder)))


def _pair(name: str, address: str) -> str:
    return f"user:{str(name)[:64]}|{address}"


def _address(address: str) -> str:
    return f"addr:{address}"
