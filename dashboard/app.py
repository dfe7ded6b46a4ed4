"""``create_app(settings)``: the Dash shell (navbar, page container, app-wide stores) and its server."""
from __future__ import annotations

import logging
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, callback, dcc, html

from core.errors import TxlabError
from core.secret import load_or_create_secret, private_folder
from core.settings import Settings, from_env
from dashboard import auth, context
from dashboard.jobs import background_manager
from dashboard.streamed_upload import register_streamed_upload

log = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"
PAGES_DIR = Path(__file__).resolve().parent / "pages"


def create_app(settings: Settings | None = None) -> Dash:
    """Build the dashboard for ``settings`` (defaults plus ``TXLAB_*`` variables).

    Create it once per process: Dash's page registry is process-wide.
    """
    settings = settings or from_env()
    for folder in (settings.data_dir, settings.models_dir, settings.cache_folder):
        private_folder(folder)  # 0700 when created here; an existing folder keeps its mode
    context.configure(settings)

    # The manager exists before Dash() because the constructor imports the pages and their callbacks.
    manager = background_manager(settings)
    app = Dash(
        "dashboard",  # a package name, so pages import as dashboard.pages.* (one copy, also for tests)
        use_pages=True,
        pages_folder=str(PAGES_DIR),
        assets_folder=str(ASSETS_DIR),
        background_callback_manager=manager,
        title="txlab",
        update_title=None,
        serve_locally=True,
    )
    server = app.server
    server.secret_key = load_or_create_secret(settings.state_folder / "secret_key")
    auth.install(app)  # Host check always; a login in LAN mode; before every route, Dash's included
    # Uploads arrive base64-encoded inside a JSON body: 4/3 of the file plus room for the envelope.
    server.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes * 4 // 3 + 1024 * 1024
    register_streamed_upload(server, app.config.routes_pathname_prefix)  # large files, in chunks
    app.layout = _layout
    return app


def _layout() -> html.Div:
    return html.Div(
        [
            dcc.Store(id="app-dataset", storage_type="session"),
            _navbar(),
            dbc.Container(dash.page_container, fluid="xl", className="txlab-page py-3"),
        ]
    )


def _navbar() -> dbc.Navbar:
    links = [
        dbc.NavItem(dbc.NavLink(page["name"], href=page["relative_path"], active="exact", id=f"nav-{page['module'].split('.')[-1]}"))
        for page in sorted(dash.page_registry.values(), key=lambda p: p.get("order", 99))
    ]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand([html.I(className="bi bi-activity me-2"), "txlab"], href="/", className="txlab-brand"),
                dbc.Nav(links, navbar=True, className="me-auto"),
                html.Span(id="app-dataset-label", className="navbar-text small txlab-dataset-label"),
                *_user_menu(),
            ],
            fluid="xl",
        ),
        color="dark",
        dark=True,
        className="mb-2",
    )


def _user_menu() -> list:
    """In LAN mode: who is logged in, and a Log out button (a plain form POST to /logout)."""
    name = auth.current_user_name()
    if name is None:
        return []
    return [
        html.Span([html.I(className="bi bi-person-circle me-1"), name], id="app-user", className="navbar-text small ms-3"),
        html.Form(
            dbc.Button("Log out", id="app-logout", type="submit", color="secondary", outline=True, size="sm"),
            action=auth.LOGOUT_PATH,
            method="post",
            className="ms-2 mb-0",
        ),
    ]


@callback(Output("app-dataset-label", "children"), Input("app-dataset", "data"))
def show_active_dataset(dataset_id: str | None):
    """The navbar names the dataset this browser session works on."""
    if not dataset_id:
        return "No dataset chosen"
    try:
        meta = context.workspace().get(dataset_id)
    except TxlabError:
        return "No dataset chosen"
    return [html.I(className="bi bi-table me-1"), f"{meta.name} · {meta.rows:,} rows"]
