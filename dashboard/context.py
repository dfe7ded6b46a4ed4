"""The running app's settings, and the stores a page callback reads, scoped to the user asking.

Set once per process by ``create_app`` (every worker process calls it with the same settings);
it holds configuration only, never anything that belongs to one user. ``workspace()``,
``registry()`` and ``runs()`` open the stores for ``principal()``: a page sees only what that user
may see, so pages never open a store themselves.
"""
from __future__ import annotations

from core.access import LOCAL, Principal
from core.registry import ModelRegistry
from core.runs import RunStore
from core.settings import Settings
from core.workspace import Workspace

_settings: Settings | None = None


def configure(settings: Settings) -> None:
    global _settings
    _settings = settings


def settings() -> Settings:
    if _settings is None:
        raise RuntimeError("txlab app not configured: call dashboard.app.create_app(settings) first")
    return _settings


def workspace() -> Workspace:
    """The datasets the current user may see and use."""
    return Workspace(settings().data_dir, viewer=principal())


def registry() -> ModelRegistry:
    """The model versions the current user may see and use (their own active one)."""
    return ModelRegistry(settings().models_dir, viewer=principal())


def runs() -> RunStore:
    """The training runs the current user may follow and cancel."""
    return RunStore(settings().models_dir, viewer=principal())


def principal() -> Principal:
    """The user this request or background job acts for (``LOCAL`` when accounts are off).

    In LAN mode it is the logged-in user; ``SessionEndedError`` when the login is gone
    (expired, logged out, password changed or user removed).
    """
    if not settings().accounts_required:
        return LOCAL
    from core.accounts import SessionEndedError
    from dashboard.auth import session_principal  # auth imports this module

    found = session_principal()
    if found is None:
        raise SessionEndedError("Your session has ended: log in again.")
    return found
