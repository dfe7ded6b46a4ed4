"""The running app's settings and workspace, for page callbacks.

Set once per process by ``create_app`` (every worker process calls it with the same settings);
it holds configuration only, never anything that belongs to one user.
"""
from __future__ import annotations

from core.access import LOCAL, Principal
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
    return Workspace(settings().data_dir)


def principal() -> Principal:
    """The user this request or background job acts for (``LOCAL`` when accounts are off)."""
    return LOCAL
