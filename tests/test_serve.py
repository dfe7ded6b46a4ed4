"""`txlab run` as a user starts it: real processes serving the dashboard on loopback and on the LAN."""
import http.cookiejar
import os
import re
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.browser_support import free_port

TXLAB = Path(sys.executable).with_name("txlab")


def test_txlab_run_serves_the_dashboard_on_loopback(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [str(TXLAB), "run", "--port", str(port), "--data-dir", str(tmp_path / "d"), "--models-dir", str(tmp_path / "m")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        page = _get(f"http://127.0.0.1:{port}/", deadline=time.monotonic() + 60)
        assert "<title>txlab</title>" in page
        assert "/assets/bootstrap.min.css" in page and "cdn" not in page.lower()
        assert (tmp_path / "d" / "datasets").exists() is False  # nothing written before data comes in
        assert (tmp_path / "m").is_dir() and (tmp_path / "d" / ".cache").is_dir()
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}" in output
    assert "Debug mode: on" not in output and "Traceback" not in output


def _get(url: str, deadline: float) -> str:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode("utf-8")
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_debug_is_forced_off_whenever_logins_are_required(tmp_path):
    from core.accounts import AccountStore
    from core.settings import Settings
    from dashboard.serve import ServeError, check_serving

    AccountStore.for_state_folder(tmp_path / ".txlab").add("ana", "correct horse")
    assert check_serving(Settings(data_dir=tmp_path, auth="on", debug=True)).debug is False
    assert check_serving(Settings(data_dir=tmp_path, debug=True)).debug is True  # loopback, no login: the developer's choice
    with pytest.raises(ServeError, match="only runs on a loopback host, not on 10.0.0.5"):
        check_serving(Settings(data_dir=tmp_path, host="10.0.0.5", debug=True))


def _start_lan_server(tmp_path, *extra: str) -> tuple[subprocess.Popen, str]:
    """A user 'ana' made the way a script would, then `txlab run` with ``extra`` flags."""
    data = tmp_path / "d"
    subprocess.run([str(TXLAB), "users", "add", "ana", "--admin", "--data-dir", str(data)],
                   input="correct horse\n", text=True, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [str(TXLAB), "run", "--port", str(port), "--data-dir", str(data), "--models-dir", str(tmp_path / "m"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    return server, f"http://127.0.0.1:{port}"


def _log_in(base: str) -> urllib.request.OpenerDirector:
    """A browser-like client with cookies: the first page is the login form; posting it opens the app."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login = _open(base + "/", deadline=time.monotonic() + 90, opener=opener)
    assert login.url.endswith("/login?next=/") and 'type="password"' in login.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
    form = urllib.parse.urlencode({"csrf": csrf, "username": "ana", "password": "correct horse", "next": "/data"}).encode()
    with opener.open(base + "/login", data=form, timeout=10) as response:
        assert response.url == base + "/data" and "<title>txlab</title>" in response.read().decode()
    return opener


def test_txlab_run_on_the_lan_needs_a_login_and_hides_its_internals(tmp_path):
    server, base = _start_lan_server(tmp_path, "--host", "0.0.0.0")
    try:
        opener = _log_in(base)
        layout = _open(base + "/_dash-layout", deadline=time.monotonic() + 10, opener=opener)
        assert layout.status == 200 and '"ana"' in layout.text and layout.headers["Server"] == "txlab"
        assert _status(base + "/_dash-layout") == 401  # another client, no cookie
        assert _status(base + "/", headers={"Host": "evil.example"}) == 400
        assert _status(base + "/console", opener=opener) == 404
        for folder in (tmp_path / "d", tmp_path / "m", tmp_path / "d" / ".cache", tmp_path / "d" / ".txlab"):
            assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
        assert stat.S_IMODE(os.stat(tmp_path / "d" / ".txlab" / "secret_key").st_mode) == 0o600
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    assert "login required" in output and "Serving on http://0.0.0.0:" in output  # waitress's line
    assert "Debug mode: on" not in output and "Traceback" not in output


def test_txlab_run_with_workers_serves_through_gunicorn(tmp_path):
    server, base = _start_lan_server(tmp_path, "--auth", "on", "--workers", "2")
    try:
        opener = _log_in(base)
        # every worker accepts the session: they share the install's secret
        assert all(_status(base + "/_dash-layout", opener=opener) == 200 for _ in range(6))
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "gunicorn" in output.lower() and "Traceback" not in output


class _Page:
    def __init__(self, response):
        self.url, self.status, self.headers = response.url, response.status, response.headers
        self.text = response.read().decode("utf-8")


def _open(url: str, deadline: float, opener) -> _Page:
    """``url`` through ``opener`` (redirects followed), retried while the server starts."""
    while True:
        try:
            with opener.open(url, timeout=10) as response:
                return _Page(response)
        except urllib.error.HTTPError:
            raise
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _status(url: str, headers: dict | None = None, opener=None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_lan_mode_names_folders_other_local_users_can_open(tmp_path, monkeypatch, caplog):
    import shlex
    from types import SimpleNamespace

    import waitress

    from core.accounts import AccountStore
    from core.settings import Settings
    from dashboard.serve import serve

    data, models, cache = tmp_path / "d", tmp_path / "my models", tmp_path / "d" / ".cache"
    for folder, mode in ((data, 0o755), (models, 0o750), (cache, 0o700)):
        folder.mkdir()
        os.chmod(folder, mode)
    AccountStore.for_state_folder(data / ".txlab").add("ana", "correct horse")
    monkeypatch.setattr(waitress, "serve", lambda *args, **kwargs: None)
    caplog.set_level("WARNING", logger="dashboard.serve")
    serve(SimpleNamespace(server=None), Settings(data_dir=data, models_dir=models, auth="on"))
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 2, warned
    assert f"data folder {data} is open to other users of this machine (mode 0755)" in warned[0]
    assert warned[0].endswith(f"chmod 700 {data}") and warned[1].endswith(f"chmod 700 {shlex.quote(str(models))}")
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o755  # named, never changed behind the owner's back
    caplog.clear()
    serve(SimpleNamespace(server=None), Settings(data_dir=data, models_dir=models))  # this machine only: no warning
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
