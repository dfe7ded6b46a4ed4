"""Which ``Host`` header values the server answers: the DNS-rebinding defence.

A web page on another site can make the browser resolve its own name to 127.0.0.1 or a LAN
address and then read the answers; the browser still sends that site's name as ``Host``.
So, like Jupyter, txlab answers only names that mean this machine: loopback names always;
in LAN mode also the machine's host name, FQDN and addresses; plus the ``allowed_hosts`` setting.

The gate asks at every request, so the answer is kept per settings for ``REFRESH_S``: the
machine's names are looked up at most once a minute, and a new DHCP address heals by itself.
"""
from __future__ import annotations

import functools
import ipaddress
import logging
import re
import socket
import time

from core.settings import Settings

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARDS = {"", "0.0.0.0", "::"}
_PORT = re.compile(r"^[0-9]{1,5}$")
REFRESH_S = 60.0
_clock = time.monotonic  # a module attribute, so a test can move time


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """The lowercased names and addresses a request's ``Host`` may carry for ``settings`` (cached up to a minute)."""
    return _allowed_hosts(settings, int(_clock() // REFRESH_S))


@functools.lru_cache(maxsize=16)
def _allowed_hosts(settings: Settings, period: int) -> frozenset[str]:
    """``allowed_hosts`` worked out afresh; ``period`` (the minute it is asked in) only keys the cache."""
    bind_host = str(settings.host).strip().strip("[]").lower()
    names = set(LOOPBACK_HOSTS) | set(settings.extra_host_names)
    if bind_host not in _WILDCARDS:
        names.add(bind_host)  # e.g. 127.0.0.2, or the one LAN address it listens on
    if not settings.loopback:
        names |= machine_names(bind_host)
    return frozenset(names)


def host_allowed(header: str | None, allowed: frozenset[str]) -> bool:
    """Whether a ``Host`` header (``name``, ``name:port``, ``[v6]:port``) names an allowed host."""
    name = host_name(header)
    return name is not None and name in allowed


def host_name(header: str | None) -> str | None:
    """The host part of a ``Host`` header, lowercased, without port, brackets or a trailing dot; None if malformed."""
    if not header:
        return None
    header = header.strip().lower()
    if header.startswith("["):
        name, _, rest = header[1:].partition("]")
        if rest and not (rest.startswith(":") and _PORT.match(rest[1:])):
            return None
        return name if _is_address(name) else None
    name, colon, port = header.partition(":")
    if colon and not _PORT.match(port):
        return None  # a bare IPv6 address or garbage
    name = name.rstrip(".")
    return name or None


def machine_names(bind_host: str) -> frozenset[str]:
    """This machine's host name, FQDN and their addresses, the address bound to, and the outward address."""
    names: set[str] = set()
    if bind_host not in _WILDCARDS:
        names.add(bind_host)
    for name in {socket.gethostname(), socket.getfqdn()}:
        if not name:
            continue
        names.add(name.lower())
        try:
            names.update(str(info[4][0]).split("%")[0].lower() for info in socket.getaddrinfo(name, None))
        except OSError:
            log.debug("host name %s does not resolve", name)
    outward = _outward_address()
    if outward:
        names.add(outward)
    return frozenset(names)


def _outward_address() -> str | None:
    """The address other machines most likely use to reach this one (a UDP connect sends nothing)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.254.254.254", 9))
            return probe.getsockname()[0]
    except OSError:
        return None


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
