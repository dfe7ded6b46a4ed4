"""Who is asking, and what they may see: owners, sharing and admins.

A dataset, model version or training run records its ``owner`` and whether it is ``shared``.
A user sees their own and shared ones; an admin sees all. Anything else is "not found",
never "forbidden", so ids cannot be probed.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """The user a request or background job acts for."""

    name: str
    admin: bool = False


#: The single user of a loopback install without accounts: sees and owns everything.
LOCAL = Principal("local", admin=True)


def can_see(viewer: Principal | None, owner: str, shared: bool = False) -> bool:
    """Whether ``viewer`` may read something owned by ``owner`` (None means no filtering)."""
    return viewer is None or viewer.admin or shared or viewer.name == owner


def can_change(viewer: Principal | None, owner: str) -> bool:
    """Whether ``viewer`` may delete, share or re-activate something owned by ``owner``."""
    return viewer is None or viewer.admin or viewer.name == owner
