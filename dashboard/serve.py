"""Serving the app: refuse unsafe combinations, then a production WSGI server unless debugging.

- LAN mode (a non-loopback host, or ``auth`` on) needs at least one account and runs with debug off.
- ``--debug`` (reloader, dev tools, Werkzeug's console) only on a loopback host, with Flask's dev server.
- Otherwise waitress (threads), or gunicorn when ``workers`` > 1. Workers are forked from the
  process that built the app, so they share its settings; they share the secret file and the
  diskcache folders on disk too, so a job started through one worker can be polled through another.
- In LAN mode the data, models and cache folders hold every user's work; one that other local
  users can open (an install from before folders were made 0700) is named in a warning with the
  ``chmod`` that closes it. Its mode is the owner's choice, so it is never changed here.
"""
from __future__ import annotations

import logging
import shlex
import stat
from dataclasses import replace
from pathlib import Path

from dash import Dash

from core.accounts import AccountStore
from core.errors import TxlabError
from core.settings import Settings

log = logging.getLogger(__name__)

THREADS = 8  # waitress threads per process: enough for a few users' pages and job polls
GUNICORN_THREADS = 4
REQUEST_TIMEOUT_S = 300  # uploads of large files and long scoring requests


class ServeError(TxlabError):
    """The server cannot start with these settings; the message says what to do."""


def check_serving(settings: Settings) -> Settings:
    """The settings to serve with: ``ServeError`` for unsafe ones; debug forced off in LAN mode."""
    if settings.debug and not settings.loopback:
        raise ServeError(
            f"--debug shows tracebacks and a code console, so it only runs on a loopback host, not on {settings.host}."
        )
    if settings.accounts_required:
        if not AccountStore.for_state_folder(settings.state_folder).any_accounts():
            raise ServeError(
                f"Serving on {settings.host} (auth {settings.auth}) needs accounts, and there are none in {settings.data_dir}: "
                "create one with 'txlab users add NAME --admin' first."
            )
        if settings.debug:
            log.warning("debug is off: accounts are required, and debug would show tracebacks to every user")
            settings = replace(settings, debug=False)
    if settings.debug and settings.workers > 1:
        raise ServeError("--debug runs Flask's single-process dev server; leave out --workers.")
    return settings


def open_folders(settings: Settings) -> list[str]:
    """In LAN mode, a warning for each data, models or cache folder that group or others may open."""
    if not settings.accounts_required:
        return []
    folders = (("data folder", settings.data_dir), ("models folder", settings.models_dir), ("cache folder", settings.cache_folder))
    return [message for what, path in folders if (message := _open_folder(what, path))]


def serve(app: Dash, settings: Settings) -> None:
    """Serve ``app`` until interrupted, as ``check_serving`` allows."""
    settings = check_serving(settings)
    for warning in open_folders(settings):
        log.warning(warning)
    if settings.debug:
        app.run(host=settings.host, port=settings.port, debug=True)
    elif settings.workers > 1:
        _serve_gunicorn(app, settings)
    else:
        import waitress

        waitress.serve(app.server, host=settings.host, port=settings.port, threads=THREADS,
                       channel_timeout=REQUEST_TIMEOUT_S, ident="txlab")


def _open_folder(what: str, path: Path) -> str | None:
    """The warning for ``path`` when its mode lets group or others in; None when private or missing."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    if not mode & 0o077:
        return None
    return (f"the {what} {path} is open to other users of this machine (mode {mode:04o}) and holds every txlab user's "
            f"work; close it with: chmod 700 {shlex.quote(str(path))}")


def _serve_gunicorn(app: Dash, settings: Settings) -> None:
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        raise ServeError("--workers above 1 needs gunicorn, which is not installed here (or not available on this system); "
                         "use --workers 1.") from None
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    options = {
        "bind": f"{host}:{settings.port}",
        "workers": settings.workers,
        "worker_class": "gthread",
        "threads": GUNICORN_THREADS,
        "timeout": REQUEST_TIMEOUT_S,
        "graceful_timeout": 10,
        "proc_name": "txlab",
    }

    class _Gunicorn(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)
            if "control_socket_disable" in self.cfg.settings:  # gunicorn >= 25: no socket in $HOME to clash over
                self.cfg.set("control_socket_disable", True)

        def load(self):
            return app.server

    _Gunicorn().run()
