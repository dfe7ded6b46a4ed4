"""Failed-login rate limit, shared by every worker process through a diskcache folder.

After ``max_failures`` wrong passwords for one user name from one address within ``window_s``,
that pair is refused until the oldest failure leaves the window. A looser limit per address
(any names) stops one client from trying many names. A successful login clears the pair.

A login first ``reserve``s its attempt: in one transaction it is refused when over the limit or
counted as a failure, so many attempts sent at once cannot all pass a check made before any of
them was counted. ``record_success`` then takes the count back.
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

_Count = tuple[str, int, str, tuple[float, ...]]  # cache key, limit, who (for the message), recent failure stamps


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

    def reserve(self, name: str, address: str) -> float:
        """Count one login attempt for ``name`` from ``address`` as a failure, or refuse it.

        ``TooManyLoginsError`` when that pair or address must wait; otherwise the attempt is counted
        in the same transaction (so parallel attempts are counted one by one) and its stamp is
        returned for ``record_success``.
        """
        now = self.clock()
        with self._cache() as cache, cache.transact():
            counts = self._counts(cache, name, address, now)
            self._refuse_over_limit(counts, now)
            for key, _, _, recent in counts:
                cache.set(key, recent + (now,), expire=self.window_s)
        return now

    def check(self, name: str, address: str) -> None:
        """Raise ``TooManyLoginsError`` when ``name`` from ``address`` must wait before trying again (counts nothing)."""
        now = self.clock()
        with self._cache() as cache:
            self._refuse_over_limit(self._counts(cache, name, address, now), now)

    def record_failure(self, name: str, address: str) -> None:
        """Count one wrong password for ``name`` from ``address`` (``reserve`` already counts its attempt)."""
        now = self.clock()
        with self._cache() as cache, cache.transact():
            for key, _, _, recent in self._counts(cache, name, address, now):
                cache.set(key, recent + (now,), expire=self.window_s)

    def record_success(self, name: str, address: str, stamp: float | None = None) -> None:
        """Forget ``name``'s failures from ``address``; take back the per-address count of the attempt ``stamp``.

        The per-address count of earlier failures stays: a right password for one name does not
        let that client try many others.
        """
        with self._cache() as cache, cache.transact():
            cache.delete(_pair(name, address))
            if stamp is not None:
                self._take_back(cache, _address(address), stamp)

    def _counts(self, cache: diskcache.Cache, name: str, address: str, now: float) -> list[_Count]:
        """(key, limit, who, recent stamps) for the pair and for the address."""
        return [(key, limit, who, self._recent(cache.get(key, ()), now))
                for key, limit, who in ((_pair(name, address), self.max_failures, name),
                                        (_address(address), self.max_failures_per_address, "this address"))]

    def _refuse_over_limit(self, counts: list[_Count], now: float) -> None:
        for _, limit, who, recent in counts:
            if len(recent) >= limit:
                wait_s = recent[-limit] + self.window_s - now
                minutes = max(1, math.ceil(wait_s / 60))
                raise TooManyLoginsError(
                    f"Too many failed logins for {who}; try again in {minutes} minute{'s' if minutes != 1 else ''}."
                )

    def _take_back(self, cache: diskcache.Cache, key: str, stamp: float) -> None:
        """Remove one ``stamp`` from the stamps at ``key`` (a successful attempt is no failure)."""
        stamps = list(cache.get(key, ()))
        if stamp in stamps:
            stamps.remove(stamp)
            cache.set(key, tuple(stamps), expire=self.window_s)

    def _recent(self, stamps, now: float) -> tuple[float, ...]:
        return tuple(sorted(t for t in stamps if now - t < self.window_s))

    def _cache(self) -> diskcache.Cache:
        return diskcache.Cache(os.fspath(private_folder(self.folder)))


def _pair(name: str, address: str) -> str:
    return f"user:{str(name)[:64]}|{address}"


def _address(address: str) -> str:
    return f"addr:{address}"
