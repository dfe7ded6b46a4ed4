"""The gate in front of every route: allowed ``Host`` names always; a logged-in user in LAN mode.

``install(app)`` puts one ``before_request`` function first on the Flask server, so it runs
before Dash's own endpoints (``/_dash-*``, assets, component suites, the page catch-all) and
before anything another module registers later. It also adds ``/login`` and ``/logout``.

Whether a login is required is read from ``context.settings()`` at each request (the
``accounts_required`` property), so one process can switch modes between tests. Behind
``trusted_proxies`` reverse proxies, Werkzeug's ``ProxyFix`` makes the client's own address
(``X-Forwarded-For``) the one that failed logins are counted for.
"""
from __future__ import annotations

import functools
import hmac
import logging
import posixpath
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import dash
from dash import Dash
from dash.exceptions import MissingCallbackContextException
from flask import Flask, Response, current_app, g, has_request_context, jsonify, redirect, request, session
from werkzeug.middleware.proxy_fix import ProxyFix

from core.access import Principal
from core.accounts import AccountError, AccountStore, prepare_logins
from core.hosts import allowed_hosts, host_allowed
from core.login_limits import LoginLimiter, TooManyLoginsError
from core.settings import Settings
from dashboard import context
from dashboard.login_page import render_login

log = logging.getLogger(__name__)

SESSION_COOKIE = "txlab_session"
SESSION_LIFETIME = timedelta(hours=12)
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
#: What the login page itself loads; every other asset needs a login.
PUBLIC_FILES = frozenset({"/assets/bootstrap.min.css", "/assets/txlab.css"})
PUBLIC_PREFIX = "/assets/bootstrap-icons/"


def install(app: Dash, settings: Settings | None = None) -> None:
    """Guard ``app``'s server: Host check, login gate, cookie settings, login and logout routes.

    ``settings`` (by default the configured ones) say how many reverse proxies to trust.
    """
    settings = settings or context.settings()
    server = app.server
    server.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    server.before_request_funcs.setdefault(None, []).insert(0, _gate)
    server.after_request(_harden)
    server.add_url_rule(LOGIN_PATH, "txlab_login", _login, methods=["GET", "POST"])
    server.add_url_rule(LOGOUT_PATH, "txlab_logout", _logout, methods=["POST"])
    trust_proxies(server, settings.trusted_proxies)
    prepare_logins()  # now, not at the first unknown-name login: that one would take twice as long


def trust_proxies(server: Flask, count: int) -> None:
    """Believe the ``X-Forwarded-For``/``-Proto``/``-Host`` headers of ``count`` reverse proxies (none when 0).

    Behind a proxy every request comes from the proxy's address, so without this one client's
    wrong passwords would lock every client out; with it, headers a client sends past no proxy
    would be believed, so it is off unless asked for.
    """
    if count > 0:
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=count, x_proto=count, x_host=count)


def session_principal() -> Principal | None:
    """The logged-in user of this request, or of the request that started this background job.

    Inside a request the Flask session is read. A background job has no request, but Dash hands
    it the request's cookies, so the signed session cookie is decoded with the server's own
    serializer. Either way the user must still exist with the session's ``session_version``.
    """
    if has_request_context():
        if "txlab_principal" not in g:
            g.txlab_principal = _principal_from(dict(session))
        return g.txlab_principal
    return _principal_from(_background_session())


def current_user_name() -> str | None:
    """The name to show in the navbar: the logged-in user in LAN mode, else None."""
    if not has_request_context() or not context.settings().accounts_required:
        return None
    found = session_principal()
    return found.name if found else None


def safe_next(value: object) -> str:
    """``value`` when it is a path on this server (no scheme, no host, no ``//``), else ``/``: no open redirect."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in (LOGIN_PATH, LOGOUT_PATH):
        return "/"
    return value


# --- the gate -------------------------------------------------------------------------------


def _gate() -> Response | None:
    settings = context.settings()
    if not host_allowed(request.headers.get("Host"), allowed_hosts(settings)):
        log.warning("refused a request for host %r from %s", request.headers.get("Host"), request.remote_addr)
        return Response("Host not allowed\n", status=400, mimetype="text/plain")
    if request.path == "/console":
        # Werkzeug's debugger console: never reachable through the app, whatever the mode.
        return Response("Not found\n", status=404, mimetype="text/plain")
    if not settings.accounts_required or session_principal() is not None:
        return None
    if session.get("user"):
        session.clear()  # a login that has ended (password changed, user removed): drop the cookie
    if _public(request.path, request.method):
        # Answered here, so Dash's own first-request hooks (which build every page's layout,
        # and so need a user) never run for a visitor who has not logged in.
        return current_app.dispatch_request()
    if _wants_json():
        return _json_error("Log in first.", 401)
    target = request.full_path.rstrip("?") if request.method in ("GET", "HEAD") else "/"
    return redirect(f"{LOGIN_PATH}?next={quote(safe_next(target), safe='/')}", code=302)


def _public(path: str, method: str) -> bool:
    if path == LOGIN_PATH or (path == LOGOUT_PATH and method == "POST") or path in PUBLIC_FILES:
        return True
    # normpath: "/assets/bootstrap-icons/../upload_guard.js" must not count as an icon file
    return path.startswith(PUBLIC_PREFIX) and posixpath.normpath(path) == path


def _wants_json() -> bool:
    return (
        request.path.startswith("/_dash-")
        or request.method not in ("GET", "HEAD")
        or request.headers.get("X-Requested-With", "").lower() == "xmlhttprequest"
        or request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
    )


def _json_error(message: str, status: int) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    return response


def _harden(response: Response) -> Response:
    """No framing by other sites (clickjacking) and no content sniffing, on every response."""
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


# --- login and logout -------------------------------------------------------------------------


def _login() -> Response:
    settings = context.settings()
    next_path = safe_next(request.values.get("next"))
    if not settings.accounts_required:
        return redirect(next_path, code=303)
    if request.method == "GET":
        if session_principal() is not None:
            return redirect(next_path, code=303)
        return _page(next_path=next_path)
    if not _csrf_ok(request.form.get("csrf")):
        return _page(next_path=next_path, error="The login form expired; please try again.", status=400)
    name = str(request.form.get("username", "")).strip().lower()[:64]
    password = str(request.form.get("password", ""))
    address = request.remote_addr or "unknown"
    store = _store(settings.state_folder)
    limiter = LoginLimiter(settings.cache_folder / "logins")
    try:
        attempt = limiter.reserve(name, address)  # counted as a failure until it succeeds
        principal = store.verify(name, password)
        account = store.get(name) if principal else None
    except TooManyLoginsError as error:
        log.warning("login refused for %r from %s: rate limited", name, address)
        return _page(next_path=next_path, username=name, error=str(error), status=429)
    except AccountError:
        log.exception("the user file cannot be read")
        return _page(next_path=next_path, username=name, error="Login is unavailable: see the server log.", status=500)
    if principal is None or account is None:
        log.warning("failed login for %r from %s", name, address)
        return _page(next_path=next_path, username=name, error="Wrong user name or password.", status=401)
    limiter.record_success(name, address, attempt)
    session.clear()  # a fresh session: nothing from before the login survives (session fixation)
    session["user"] = account.name
    session["v"] = account.session_version
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = True
    log.info("%s logged in from %s", account.name, address)
    return redirect(next_path, code=303)


def _logout() -> Response:
    """End the session. A cross-site form cannot do it: the browser's Origin must be this server."""
    if session.get("user") and not (_same_origin() or _csrf_ok(request.form.get("csrf"))):
        return Response("Bad request\n", status=400, mimetype="text/plain")
    if session.get("user"):
        log.info("%s logged out", session.get("user"))
    session.clear()
    target = LOGIN_PATH if context.settings().accounts_required else "/"
    return redirect(target, code=303)


def _page(*, next_path: str, username: str = "", error: str | None = None, status: int = 200) -> Response:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    body = render_login(csrf=token, next_path=next_path, username=username, error=error)
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _csrf_ok(sent: object) -> bool:
    expected = session.get("csrf")
    return isinstance(sent, str) and isinstance(expected, str) and hmac.compare_digest(sent, expected)


def _same_origin() -> bool:
    origin = request.headers.get("Origin") or request.headers.get("Referer") or ""
    netloc = urlsplit(origin).netloc.lower()
    return bool(netloc) and netloc == request.headers.get("Host", "").lower()


# --- sessions -------------------------------------------------------------------------------


def _principal_from(data: dict | None) -> Principal | None:
    if not data:
        return None
    name, version = data.get("user"), data.get("v")
    if not isinstance(name, str):
        return None
    try:
        return _store(context.settings().state_folder).session_valid(name, version)
    except AccountError:
        log.exception("the user file cannot be read")
        return None


@functools.lru_cache(maxsize=8)
def _store(state_folder: Path) -> AccountStore:
    """One store per state folder for the process: it keeps the parsed user file between requests."""
    return AccountStore.for_state_folder(state_folder)


def _background_session() -> dict | None:
    """The session a background job's request carried (Dash passes the request's cookies along)."""
    try:
        cookie = dash.callback_context.cookies.get(SESSION_COOKIE)
    except MissingCallbackContextException:  # not inside a Dash callback or job at all
        return None
    if not cookie:
        return None
    server = dash.get_app().server
    serializer = server.session_interface.get_signing_serializer(server)
    if serializer is None:
        return None
    try:
        return serializer.loads(cookie, max_age=int(server.permanent_session_lifetime.total_seconds()))
    except Exception:  # itsdangerous.BadSignature, SignatureExpired, or garbage
        return None
