"""Who is asking, and what they may see: owners, sharing and admins.

A dataset, model version or training run records its ``owner`` and whether it is ``shared``.
A user sees their own and shared ones; an admin sees all. Anything else is "not found",
never "forbidden", so ids cannot be probed.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.errors import NotFoundError, TxlabError


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
    """Whether ``viewer`` may delete, share or otherwise change something owned by ``owner``."""
    return viewer is None or viewer.admin or viewer.name == owner


class NotAllowedError(TxlabError):
    """A visible (shared) item that only its owner or an admin may change."""


def check_change(viewer: Principal | None, owner: str, shared: bool, *, action: str, thing: str, not_found: str) -> None:
    """Allow ``action`` on ``thing`` only for its owner or an admin.

    Someone who cannot even see it gets ``NotFoundError(not_found)``, the very message of an id
    that does not exist; someone who sees it because it is shared is told who may change it.
    """
    if can_change(viewer, owner):
        return
    if can_see(viewer, owner, shared):
        raise NotAllowedError(f"Only its owner ({owner}) or an admin can {action} {thing}.")
    raise NotFoundError(not_found)


def owner_name(viewer: Principal | None, owner: str | None = None) -> str:
    """The owner a new item records: ``owner`` when given, else the viewer's name ("local" without one)."""
    if not owner:
        return viewer.name if viewer is not None else LOCAL.name
    if viewer is not None and not viewer.admin and owner != viewer.name:
        raise NotAllowedError(f"{viewer.name} cannot create something owned by {owner}.")
    return owner
