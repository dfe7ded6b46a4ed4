"""The browser rig works: offline assets apply, callbacks run, the offline guard fires.

Uses a throwaway app, not txlab's, so it only depends on assets/ and the rig itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import dash_bootstrap_components as dbc
import pytest
from _pytest.outcomes import Failed
from dash import Dash, Input, Output, dcc, html
from dash.testing.wait import until

from tests.browser_support import (
    external_requests,
    failed_requests,
    isolated_dash_callbacks,
    requested_hosts,
    requested_urls,
)

ASSETS = Path(__file__).resolve().parents[1] / "assets"
BOOTSTRAP_PRIMARY = "rgb(13, 110, 253)"  # Bootstrap 5.3's --bs-blue, .btn-primary's background
UNROUTABLE_IMAGE = "http://203.0.113.7/pixel.png"  # TEST-NET-3: never a real host

# One snapshot of everything the asset checks need (DASH_NOTES: read state in one go).
STYLE_SNAPSHOT_JS = """
const button = document.getElementById('rig-button');
const glyph = getComputedStyle(button.querySelector('.bi-upload'), '::before');
return {
  buttonBackground: getComputedStyle(button).backgroundColor,
  glyphFont: glyph.fontFamily,
  iconFonts: [...document.fonts]
    .filter(f => f.family.replace(/"/g, '') === 'bootstrap-icons').map(f => f.status),
  uploadBorder: getComputedStyle(document.querySelector('#rig-upload .txlab-upload')).borderTopStyle,
  sheets: [...document.styleSheets].filter(s => s.href).map(s => new URL(s.href).pathname),
};
"""


def _rig_app(extra: list | None = None) -> Dash:
    app = Dash(__name__, assets_folder=str(ASSETS), use_pages=False)
    app.layout = dbc.Container(
        [
            dbc.Button(
                [html.I(className="bi bi-upload me-2"), "Upload"],
                id="rig-button",
                color="primary",
            ),
            html.Div(id="rig-output"),
            dcc.Upload(html.Div("Drop a file here"), id="rig-upload", className="txlab-upload"),
            *(extra or []),
        ],
        className="txlab-page",
    )

    @app.callback(Output("rig-output", "children"), Input("rig-button", "n_clicks"))
    def _count(n_clicks):
        return f"clicked {n_clicks or 0}"

    return app


def _settled(font_statuses: list[str]) -> bool:
    return bool(font_statuses) and all(s in ("loaded", "error") for s in font_statuses)


@pytest.mark.browser
def test_offline_assets_and_callback(dash_duo):
    with isolated_dash_callbacks():
        dash_duo.start_server(_rig_app())

    dash_duo.wait_for_text_to_equal("#rig-output", "clicked 0")

    # The icon font loads lazily, once the glyph is laid out; wait until it has settled.
    until(
        lambda: _settled(dash_duo.driver.execute_script(STYLE_SNAPSHOT_JS)["iconFonts"]),
        timeout=dash_duo.wait_timeout,
        msg="the bootstrap-icons font was never requested or never settled",
    )
    # Before any click: a hovered or focused button is mid-transition to another blue.
    snapshot = dash_duo.driver.execute_script(STYLE_SNAPSHOT_JS)

    assert snapshot["iconFonts"] == ["loaded"], failed_requests(dash_duo)
    assert snapshot["buttonBackground"] == BOOTSTRAP_PRIMARY, snapshot
    assert "bootstrap-icons" in snapshot["glyphFont"], snapshot
    assert snapshot["uploadBorder"] == "dashed", snapshot  # txlab.css applied
    sheets = [Path(p).name for p in snapshot["sheets"]]
    assert sheets.index("bootstrap.min.css") < sheets.index("txlab.css"), sheets

    dash_duo.find_element("#rig-button").click()
    dash_duo.wait_for_text_to_equal("#rig-output", "clicked 1")

    urls = requested_urls(dash_duo)
    assert any("/assets/bootstrap-icons/fonts/bootstrap-icons.woff2" in u for u in urls), urls
    assert failed_requests(dash_duo) == []
    assert requested_hosts(dash_duo) <= {"127.0.0.1", "localhost"}
    assert dash_duo.get_logs() == []


# The offline guard in conftest.py must fail this test, and nothing else may: a failed
# assertion here is an AssertionError (a real failure), only the guard raises `Failed`,
# and strict=True turns a guard that stays quiet into a failure.
@pytest.mark.browser
@pytest.mark.xfail(raises=Failed, strict=True, reason="the offline guard must fire")
def test_offline_guard_fails_a_test_that_reaches_outside(dash_duo):
    with isolated_dash_callbacks():
        dash_duo.start_server(_rig_app([html.Img(src=UNROUTABLE_IMAGE, id="rig-image")]))

    dash_duo.wait_for_element("#rig-image")
    until(lambda: external_requests(dash_duo), timeout=dash_duo.wait_timeout)
    assert external_requests(dash_duo) == [UNROUTABLE_IMAGE]


class _FakeDriver:
    """Stands in for a selenium driver: a performance log read once, like chromedriver's."""

    def __init__(self, events: list[tuple[str, dict]]):
        self._entries = [
            {"message": json.dumps({"message": {"method": m, "params": p}})} for m, p in events
        ]

    def get_log(self, kind: str) -> list[dict]:
        assert kind == "performance"
        entries, self._entries = self._entries, []
        return entries


APP = "http://127.0.0.1:8050/"


def _sent(request_id: str, url: str, document: str = APP, initiator: str = "") -> tuple:
    params = {"requestId": request_id, "request": {"url": url}, "documentURL": document}
    if initiator:
        params["initiator"] = {"type": "parser", "url": initiator}
    return "Network.requestWillBeSent", params


def test_network_log_keeps_the_app_requests_and_classifies_them():
    cdn_css = "https://cdn.jsdelivr.net/npm/bootstrap@5.3.6/dist/css/bootstrap.min.css"
    driver = _FakeDriver(
        [
            # Chromium's startup tab, before the test navigates: not the app's.
            _sent("0", "https://start.duckduckgo.com/", document="https://start.duckduckgo.com/"),
            ("Network.loadingFailed", {"requestId": "0", "errorText": "net::ERR_NAME_NOT_RESOLVED"}),
            _sent("1", APP),
            _sent("2", "http://localhost:8050/assets/bootstrap.min.css?m=1"),
            _sent("3", "data:image/png;base64,AAAA"),
            _sent("4", cdn_css),
            # A link on the app's page that navigates away.
            _sent("5", "https://example.com/", document="https://example.com/", initiator=APP),
            ("Network.responseReceived", {"requestId": "2", "response": {
                "url": "http://localhost:8050/assets/bootstrap.min.css?m=1", "status": 404}}),
            ("Network.responseReceived", {"requestId": "1", "response": {"url": APP, "status": 200}}),
            ("Network.loadingFailed", {"requestId": "4", "errorText": "net::ERR_NAME_NOT_RESOLVED"}),
            ("Page.frameNavigated", {}),
        ]
    )

    assert external_requests(driver) == [cdn_css, "https://example.com/"]
    assert requested_hosts(driver) == {"127.0.0.1", "localhost", "cdn.jsdelivr.net", "example.com"}
    assert failed_requests(driver) == [
        "http://localhost:8050/assets/bootstrap.min.css?m=1 (HTTP 404)",
        f"{cdn_css} (net::ERR_NAME_NOT_RESOLVED)",
    ]
    # The performance log was drained by the first read; the history is kept.
    assert len(requested_urls(driver)) == 5


def test_network_log_does_not_count_an_answered_request_whose_body_was_dropped():
    update = "http://127.0.0.1:8050/_dash-update-component"
    driver = _FakeDriver(
        [
            # A callback that raised PreventUpdate: 204, then the renderer cancels the read.
            _sent("1", update),
            ("Network.responseReceived", {"requestId": "1", "response": {"url": update, "status": 204}}),
            ("Network.loadingFailed", {"requestId": "1", "errorText": "net::ERR_ABORTED", "canceled": True}),
            # Cancelled before any answer: still a failure.
            _sent("2", update),
            ("Network.loadingFailed", {"requestId": "2", "errorText": "net::ERR_ABORTED", "canceled": True}),
            # Answered, then the connection broke mid-body: still a failure.
            _sent("3", update),
            ("Network.responseReceived", {"requestId": "3", "response": {"url": update, "status": 200}}),
            ("Network.loadingFailed", {"requestId": "3", "errorText": "net::ERR_CONNECTION_RESET"}),
        ]
    )

    assert failed_requests(driver) == [f"{update} (net::ERR_ABORTED)", f"{update} (net::ERR_CONNECTION_RESET)"]
