"""``create_app(settings)``: the Dash shell (navbar, page container, app-wide stores) and its server."""
from __future__ import annotations

import logging
import uuid
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import diskcache
from dash import Dash, Input, Output, callback, dcc, html

from core.errors import TxlabError
from core.secret import load_or_create_secret
from core.settings import Settings, from_env
from dashboard import context

log = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"
PAGES_DIR = Path(__file__).resolve().parent / "pages"
JOB_EXPIRY_S = 3600


def create_app(settings: Settings | None = None) -> Dash:
    """Build the dashboard for ``settings`` (defaults plus ``TXLAB_*`` variables).

    Create it once per process: Dash's page registry is process-wide.
    """
    settings = settings or from_env()
    for folder in (settings.data_dir, settings.models_dir, settings.cache_folder):
        folder.mkdir(parents=True, exist_ok=True)
    context.configure(settings)

    # The manager exists before Dash() because the constructor imports the pages and their callbacks.
    # A unique key per job: the default (a hash of the inputs) lets two users share a result.
    jobs = diskcache.Cache(str(settings.cache_folder / "jobs"))
    manager = dash.DiskcacheManager(jobs, cache_by=[lambda: uuid.uuid4().hex], expire=JOB_EXPIRY_S)
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
    server.secret_key = load_or_create_secret(settings.cache_folder / "secret_key")
    # Uploads arrive base64-encoded inside a JSON body: 4/3 of the file plus room for the envelope.
    server.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes * 4 // 3 + 1024 * 1024
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
            ],
            fluid="xl",
        ),
        color="dark",
        dark=True,
        className="mb-2",
    )


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
