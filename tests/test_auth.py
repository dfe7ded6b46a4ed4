"""LAN mode as a visitor meets it: the Host check, the login gate on every route, sessions, no tracebacks."""
import re

import pytest
from dash._callback_context import context_value
from dash._utils import AttributeDict

from core.access import LOCAL, Principal
from core.accounts import AccountStore, SessionEndedError
from dashboard import auth, context

ANA_PASSWORD = "correct horse"


@pytest.fixture
def lan(lan_settings):
    """LAN mode with an admin 'ana' and a user 'bo'."""
    store = AccountStore.for_state_folder(lan_settings.state_folder)
    store.add("ana", ANA_PASSWORD, admin=True)
    store.add("bo", "battery staple")
    return store


@pytest.fixture
def client(txlab_app):
    return txlab_app.server.test_client()


def _csrf(client) -> str:
    page = client.get("/login")
    assert page.status_code == 200
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def _login(client, name="ana", password=ANA_PASSWORD, next_path="/"):
    return client.post("/login", data={"csrf": _csrf(client), "username": name, "password": password, "next": next_path})


def _location(response) -> str:
    return response.headers["Location"].removeprefix("http://localhost")


def _urls(server):
    """Every route the server has (Dash's, the login's, anything another module added), with each method."""
    for rule in server.url_map.iter_rules():
        path = re.sub(r"<[^>]+>", "x", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path


def test_unknown_host_names_are_refused_in_every_mode(client, lan_settings):
    for settings in (lan_settings, lan_settings.__class__(data_dir=lan_settings.data_dir)):
        context.configure(settings)
        refused = client.get("/", headers={"Host": "evil.example"})
        assert refused.status_code == 400 and refused.text.strip() == "Host not allowed"
        assert client.get("/login", headers={"Host": "evil.example:8050"}).status_code == 400
        assert client.post("/_dash-update-component", json={}, headers={"Host": "127.0.0.1.evil.example"}).status_code == 400
    context.configure(lan_settings)


def test_loopback_mode_needs_no_login(client, app_settings):
    assert app_settings.accounts_required is False
    assert client.get("/", headers={"Host": "127.0.0.1:8050"}).status_code == 200
    assert client.get("/_dash-layout", headers={"Host": "[::1]:8050"}).status_code == 200
    assert context.principal() == LOCAL


def test_every_route_needs_a_login_in_lan_mode(client, lan):
    checked = 0
    for method, path in _urls(client.application):
        response = client.open(path, method=method)
        assert "Traceback" not in response.text
        if path in ("/login", "/logout") or path.startswith("/assets/bootstrap") or path == "/console":
            continue
        checked += 1
        if path.startswith("/_dash-") or method != "GET":
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.is_json and "log in" in response.json["error"].lower()
        else:
            assert response.status_code == 302 and _location(response).startswith("/login?next=/"), (method, path)
    assert checked > 8  # the update, layout, dependencies, component-suite, asset and page routes at least
    for path in ("/", "/data", "/models?version=3", "/_reload-hash", "/assets/upload_guard.js",
                 "/assets/bootstrap-icons/../upload_guard.js", "/no/such/page"):
        response = client.get(path)
        assert response.status_code == 302, path
    assert client.get("/", headers={"X-Requested-With": "XMLHttpRequest"}).status_code == 401


def test_the_login_page_loads_its_styles_without_a_login_and_escapes_what_it_echoes(client, lan):
    page = client.get('/login?next=/"><script>alert(1)</script>')
    assert page.status_code == 200 and "<script>" not in page.text
    assert "txlab" in page.text and 'type="password"' in page.text
    for href in re.findall(r'href="(/assets/[^"]+)"', page.text):
        assert client.get(href).status_code == 200, href


def test_a_login_opens_the_app_and_shows_who_is_logged_in(client, lan):
    response = _login(client)
    assert response.status_code == 303 and _location(response) == "/"
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{auth.SESSION_COOKIE}="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200 and '"ana"' in layout.text and "Log out" in layout.text
    assert client.get("/data").status_code == 200
    assert client.post("/_dash-update-component", json={}).status_code != 401


def test_the_gate_sends_a_visitor_back_where_they_were_going(client, lan):
    redirect = client.get("/models?version=3")
    assert _location(redirect) == "/login?next=/models%3Fversion%3D3"
    assert _location(_login(client, next_path="/models?version=3")) == "/models?version=3"


@pytest.mark.parametrize("next_path", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "http:/x", "/login"])
def test_after_login_next_goes_only_to_a_local_path(client, lan, next_path):
    assert _location(_login(client, next_path=next_path)) == "/"


def test_a_wrong_password_is_rejected_then_rate_limited(client, lan):
    wrong = _login(client, password="not the one")
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    assert client.get("/_dash-layout").status_code == 401
    assert _login(client, name="nobody").status_code == 401  # same answer for an unknown name
    for _ in range(4):
        _login(client, password="not the one")
    refused = _login(client)  # the right password, too late
    assert refused.status_code == 429 and "Too many failed logins for ana; try again in 15 minutes" in refused.text
    assert client.get("/_dash-layout").status_code == 401
    assert _login(client, name="bo", password="battery staple").status_code == 303  # others are not locked out


def test_a_login_without_the_form_token_is_refused(client, lan):
    client.get("/login")
    response = client.post("/login", data={"username": "ana", "password": ANA_PASSWORD})
    assert response.status_code == 400 and "expired" in response.text
    assert client.get("/_dash-layout").status_code == 401


def test_logout_ends_the_session_but_not_from_another_site(client, lan):
    _login(client)
    assert client.post("/logout", headers={"Origin": "http://evil.example"}).status_code == 400
    assert client.get("/_dash-layout").status_code == 200
    response = client.post("/logout", headers={"Origin": "http://localhost"})
    assert response.status_code == 303 and _location(response) == "/login"
    assert client.get("/_dash-layout").status_code == 401


def test_a_new_password_or_removal_ends_open_sessions(client, lan):
    _login(client)
    lan.set_password("ana", "a new password")
    assert client.get("/_dash-layout").status_code == 401
    _login(client, password="a new password")
    assert client.get("/_dash-layout").status_code == 200
    lan.remove("ana")
    assert client.get("/_dash-layout").status_code == 401


def test_principal_is_the_logged_in_user_in_requests_and_background_jobs(client, lan, txlab_app):
    _login(client, name="bo", password="battery staple")
    cookie = client.get_cookie(auth.SESSION_COOKIE).value
    with txlab_app.server.test_request_context("/", headers={"Cookie": f"{auth.SESSION_COOKIE}={cookie}"}):
        assert context.principal() == Principal("bo", admin=False)
    with pytest.raises(SessionEndedError, match="Your session has ended: log in again."):
        context.principal()  # no request, no callback: nobody
    for value, expected in ((cookie, Principal("bo")), (cookie[:-2] + "xx", None)):
        token = context_value.set(AttributeDict(cookies={auth.SESSION_COOKIE: value}))  # what a job receives
        try:
            if expected:
                assert context.principal() == expected
            else:
                with pytest.raises(SessionEndedError):
                    context.principal()
        finally:
            context_value.reset(token)


def test_no_traceback_reaches_the_browser(client, lan, txlab_app, monkeypatch):
    assert client.get("/console").status_code == 404
    _login(client)
    assert client.get("/console").status_code == 404
    client.get("/")  # Dash registers its callbacks on the first request

    def broken(*args, **kwargs):
        raise RuntimeError("secret-internal-detail")

    endpoint, _ = txlab_app.server.url_map.bind("localhost").match("/_dash-layout")
    monkeypatch.setitem(txlab_app.server.view_functions, endpoint, broken)
    monkeypatch.setattr(context, "workspace", broken)
    callback = client.post("/_dash-update-component", json={
        "output": "app-dataset-label.children", "outputs": {"id": "app-dataset-label", "property": "children"},
        "inputs": [{"id": "app-dataset", "property": "data", "value": "ds-000000000000"}],
        "changedPropIds": ["app-dataset.data"], "state": [],
    })
    for response in (client.get("/_dash-layout"), callback):
        assert response.status_code == 500
        assert "Traceback" not in response.text and "secret-internal-detail" not in response.text


def test_a_user_added_again_under_an_old_name_gets_none_of_its_sessions(client, lan):
    _login(client, name="bo", password="battery staple")
    assert client.get("/_dash-layout").status_code == 200
    lan.remove("bo")
    lan.add("bo", "battery staple")
    answer = client.get("/_dash-layout")  # the old bo's cookie, still signed and unexpired
    assert answer.status_code == 401
    assert client.get_cookie(auth.SESSION_COOKIE) is None  # and dropped, not sent again and again
    assert _login(client, name="bo", password="battery staple").status_code == 303
    assert client.get("/_dash-layout").status_code == 200


def test_a_password_changed_by_the_txlab_command_ends_sessions_at_the_next_request(client, lan, lan_settings):
    import subprocess
    import sys
    from pathlib import Path

    _login(client)
    assert client.get("/_dash-layout").status_code == 200
    txlab = Path(sys.executable).with_name("txlab")
    subprocess.run([str(txlab), "users", "passwd", "ana", "--data-dir", str(lan_settings.data_dir)],
                   input="a new password\n", text=True, check=True, capture_output=True)
    assert client.get("/_dash-layout").status_code == 401
    _login(client, password="a new password")
    subprocess.run([str(txlab), "users", "remove", "ana", "--data-dir", str(lan_settings.data_dir)],
                   text=True, check=True, capture_output=True)
    assert client.get("/_dash-layout").status_code == 401


def test_behind_a_trusted_proxy_failed_logins_count_per_client(client, lan, txlab_app, monkeypatch):
    monkeypatch.setattr(txlab_app.server, "wsgi_app", txlab_app.server.wsgi_app)  # the wrapping is undone afterwards
    auth.trust_proxies(txlab_app.server, 1)

    def login_from(client_address: str, password: str):
        client.environ_base["HTTP_X_FORWARDED_FOR"] = client_address
        return _login(client, password=password)

    for _ in range(5):
        assert login_from("10.0.0.9", "not the one").status_code == 401
    assert login_from("10.0.0.9", ANA_PASSWORD).status_code == 429
    assert login_from("10.0.0.10", ANA_PASSWORD).status_code == 303  # everyone else comes through the same proxy


def test_install_makes_the_unknown_name_hash_and_trusts_no_proxy_unless_asked(lan_settings):
    from dataclasses import replace
    from types import SimpleNamespace

    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from core import accounts

    accounts._dummy_hash.cache_clear()
    plain = SimpleNamespace(server=Flask("plain"))
    auth.install(plain, lan_settings)
    assert accounts._dummy_hash.cache_info().currsize == 1  # the first unknown-name login hashes once, like any other
    assert not isinstance(plain.server.wsgi_app, ProxyFix)
    proxied = SimpleNamespace(server=Flask("proxied"))
    auth.install(proxied, replace(lan_settings, trusted_proxies=2))
    assert isinstance(proxied.server.wsgi_app, ProxyFix) and proxied.server.wsgi_app.x_for == 2
