"""Helpers for browser tests: Chromium options, the page's network log, Dash isolation.

`tests/conftest.py` wires these in; tests import the helpers they assert with
(`failed_requests`, `requested_hosts`, ...). Every helper accepts `dash_duo` or a raw driver.
"""

from __future__ import annotations

import json
import socket
import tempfile
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator
from urllib.parse import urlsplit

from selenium.webdriver.chrome.options import Options

CHROMIUM_BINARY = "/usr/bin/chromium"

# Headless, and nothing that reaches out on its own (component updates, sync, QUIC probes),
# so the only traffic is the page's. The window is wide enough that dbc.NavbarSimple
# does not collapse (it does below 992 px). Host names other than localhost resolve to
# nothing, so a test behaves the same on a machine with internet access as on one without.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
)

LOGGING_PREFS = "goog:loggingPrefs"
# "browser" stays at SEVERE, the level dash.testing asks for: `dash_duo.get_logs()` returns
# every entry of that log, and `get_logs() == []` must keep meaning "no console errors".
DEFAULT_LOGGING_PREFS = {"performance": "ALL", "browser": "SEVERE"}

ALLOWED_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
IGNORED_SCHEMES = frozenset({"data", "blob", "chrome", "chrome-extension", "about", "devtools"})


class _ChromeOptions(Options):
    """Chrome options whose logging preferences survive dash.testing.

    `dash.testing.browser.Browser._get_chrome` calls
    `set_capability("goog:loggingPrefs", {"browser": "SEVERE"})` after our hook ran, which
    would drop the performance log. Here a later value is merged into the earlier one instead.
    """

    def set_capability(self, name: str, value: Any) -> None:
        current = self._caps.get(name)
        if name == LOGGING_PREFS and isinstance(current, dict) and isinstance(value, dict):
            value = {**current, **value}
        super().set_capability(name, value)


def chrome_options(user_data_dir: str | None = None) -> Options:
    """Options for Debian's Chromium with offline flags, a fresh profile and a network log."""
    options = _ChromeOptions()
    options.binary_location = CHROMIUM_BINARY
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = user_data_dir or tempfile.mkdtemp(prefix="txlab-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability(LOGGING_PREFS, dict(DEFAULT_LOGGING_PREFS))
    return options


# --- the page's network log -------------------------------------------------------------


@dataclass
class NetworkLog:
    """Every request the app's pages made, accumulated from the performance log.

    `driver.get_log("performance")` drains chromedriver's buffer, so the entries are kept
    here (one log per driver) and every helper sees the whole history of the test.

    Only requests made by a local document, or navigations started from one, are kept.
    Chromium's own startup tab is not the app: Debian's build opens a new-tab page that
    tries https://start.duckduckgo.com/ before any test navigates anywhere.
    """

    urls: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _url_by_id: dict[str, str] = field(default_factory=dict)
    _answered: set[str] = field(default_factory=set)

    def add(self, method: str, params: dict[str, Any]) -> None:
        request_id = params.get("requestId", "")
        if method == "Network.requestWillBeSent":
            if not _from_local_page(params):
                return
            url = params["request"]["url"]
            self.urls.append(url)
            self._url_by_id[request_id] = url
        elif request_id not in self._url_by_id:
            return
        elif method == "Network.responseReceived":
            status = params["response"].get("status", 0)
            if status >= 400:
                self.failures.append(f"{params['response']['url']} (HTTP {status})")
            else:
                self._answered.add(request_id)
        elif method == "Network.loadingFailed":
            if params.get("canceled") and request_id in self._answered:
                # Answered fine, then the page dropped the body it did not need: Dash's
                # renderer does so for the 204 a callback returns on PreventUpdate, and
                # Chromium logs that as net::ERR_ABORTED.
                return
            reason = params.get("errorText") or "failed"
            self.failures.append(f"{self._url_by_id[request_id]} ({reason})")


def _from_local_page(params: dict[str, Any]) -> bool:
    document = urlsplit(params.get("documentURL", "")).hostname
    initiator = urlsplit(params.get("initiator", {}).get("url", "")).hostname
    return document in ALLOWED_HOSTS or initiator in ALLOWED_HOSTS


_logs: "weakref.WeakKeyDictionary[Any, NetworkLog]" = weakref.WeakKeyDictionary()


def network_log(browser: Any) -> NetworkLog:
    """The accumulated network log of `browser` (dash_duo or a selenium driver)."""
    driver = getattr(browser, "driver", browser)
    log = _logs.setdefault(driver, NetworkLog())
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"].startswith("Network."):
            log.add(message["method"], message.get("params", {}))
    return log


def requested_urls(browser: Any) -> list[str]:
    """Every URL the pages requested so far, in order."""
    return list(network_log(browser).urls)


def requested_hosts(browser: Any) -> set[str]:
    """The host names the pages requested (schemes like data: and blob: have none)."""
    return {
        urlsplit(url).hostname or ""
        for url in requested_urls(browser)
        if urlsplit(url).scheme not in IGNORED_SCHEMES
    }


def external_requests(browser: Any) -> list[str]:
    """URLs that left this machine: any host but 127.0.0.1/localhost."""
    return [
        url
        for url in requested_urls(browser)
        if urlsplit(url).scheme not in IGNORED_SCHEMES
        and urlsplit(url).hostname not in ALLOWED_HOSTS
    ]


def failed_requests(browser: Any) -> list[str]:
    """Requests that got an HTTP status >= 400 or did not complete, as 'url (reason)'."""
    return list(network_log(browser).failures)


# --- Dash process-wide state --------------------------------------------------------------


@contextmanager
def isolated_dash_callbacks() -> Iterator[None]:
    """Build and start a throwaway app without touching pending `@dash.callback`s.

    On its first request a Dash app takes every callback registered with `@dash.callback`
    that no app has claimed yet (and clears the list). A throwaway test app set up after a
    page module was imported would steal that page's callbacks from the real app. Wrap the
    app's construction and `dash_duo.start_server(app)` in this; use `app.callback` inside.

    Building a Dash app also makes it the process's ``dash.get_app()``, which later signs and
    checks background-job handles: the real app is put back afterwards, or a Cancel in a later
    test would be checked against the throwaway app's secret and kill nothing.
    """
    from dash import _callback, _get_app

    saved_app = _get_app.APP
    saved_map = dict(_callback.GLOBAL_CALLBACK_MAP)
    saved_list = list(_callback.GLOBAL_CALLBACK_LIST)
    saved_scripts = list(_callback.GLOBAL_INLINE_SCRIPTS)
    _callback.GLOBAL_CALLBACK_MAP.clear()
    _callback.GLOBAL_CALLBACK_LIST.clear()
    _callback.GLOBAL_INLINE_SCRIPTS.clear()
    try:
        yield
    finally:
        _callback.GLOBAL_CALLBACK_MAP.update(saved_map)
        _callback.GLOBAL_CALLBACK_LIST[:0] = saved_list
        _callback.GLOBAL_INLINE_SCRIPTS[:0] = saved_scripts
        if saved_app is not None:
            _get_app.APP = saved_app


def free_port() -> int:
    """A TCP port on 127.0.0.1 that the OS reports free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
