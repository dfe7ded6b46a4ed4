"""Models page: every version the user may see with its metrics, one version's curves and settings, two
compared, the user's active version, sharing, deletion, and the recent training runs."""
from __future__ import annotations

import time

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, dcc, html, no_update
from dash.exceptions import PreventUpdate

from core.access import can_change
from core.errors import NotFoundError
from dashboard import context, sharing_views
from dashboard import training_views as views
from dashboard.alerts import error_alert, info_alert

dash.register_page(__name__, path="/models", name="Models", title="txlab · Models", order=4)

RECENT_RUNS = 10
_CHANGED = Input("models-changed", "data")
_REFRESH = Input("models-refresh", "n_clicks")
_POLL = Input("models-poll", "n_intervals")
POLL_MS = 3000


def layout(version: str | None = None, **_query) -> html.Div:
    return html.Div(
        [
            dcc.Store(id="models-changed"),
            dcc.Interval(id="models-poll", interval=POLL_MS, disabled=True),
            dcc.ConfirmDialog(id="models-confirm-delete"),
            html.H3("Models"),
            html.P("Every trained version with its validation metrics beside the baselines. Pick one to see its curves, compare two, choose the active one.",
                   className="text-muted"),
            html.Div(id="models-action"),
            _section("Versions", [html.Div(id="models-table")],
                     dbc.Button([html.I(className="bi bi-arrow-clockwise me-1"), "Refresh"], id="models-refresh", color="outline-secondary", size="sm")),
            _section("Version", [
                dbc.Row([
                    dbc.Col(dcc.Dropdown(id="models-version", value=version, placeholder="Choose a version", clearable=False), md=7),
                    dbc.Col([
                        dbc.Button([html.I(className="bi bi-check2-circle me-1"), "Mark active"], id="models-activate", color="primary", className="me-2", disabled=True),
                        dbc.Button([html.I(className="bi bi-trash me-1"), "Delete"], id="models-delete", color="outline-danger", disabled=True),
                    ], md=5),
                ], className="g-2 align-items-center mb-3"),
                dcc.Loading(html.Div(id="models-detail"), type="default", delay_show=300),
            ]),
            _section("Compare", [
                dbc.Row(dbc.Col([dbc.Label("Compare the version above with"), dcc.Dropdown(id="models-compare", placeholder="Choose a second version")], md=7), className="mb-3"),
                dcc.Loading(html.Div(id="models-compare-view"), type="default", delay_show=300),
            ]),
            _section("Recent training runs", [html.Div(id="models-runs", className="table-responsive")]),
        ]
    )


@callback(
    Output("models-version", "options"),
    Output("models-version", "value"),
    Output("models-compare", "options"),
    Output("models-compare", "value"),
    _CHANGED,
    _REFRESH,
    _POLL,
    State("models-version", "value"),
    State("models-compare", "value"),
)
def list_versions(_changed, _refresh, _poll, selected: str | None, other: str | None):
    """Fill the pickers, keeping choices that still exist (else the active or newest version)."""
    infos = context.registry().list_versions()
    ids = [i.id for i in infos]
    chosen = selected if selected in ids else next((i.id for i in infos if i.active), ids[0] if ids else None)
    options = views.version_options(infos)
    # An unchanged choice is not sent again: that would reload the version below on every poll.
    return (options, chosen if chosen != selected else no_update, options,
            no_update if other in ids or other is None else None)


@callback(Output("models-runs", "children"), Output("models-poll", "disabled"), _CHANGED, _REFRESH, _POLL)
def show_runs(_changed, _refresh, _poll):
    """Recent runs; while one is in progress the page polls, so its end (and new version) shows up."""
    records = context.runs().list_runs(limit=RECENT_RUNS)
    return views.runs_table(records), not any(r.active for r in records)


@callback(Output("models-table", "children"), Input("models-version", "value"), _CHANGED, _REFRESH, _POLL)
def show_table(selected: str | None, _changed, _refresh, _poll):
    return views.versions_table(context.registry().list_versions(), selected, sharing_views.table_viewer())


@callback(
    Output("models-detail", "children"),
    Output("models-activate", "disabled"),
    Output("models-delete", "disabled"),
    Input("models-version", "value"),
    _CHANGED,
)
def show_version(version: str | None, _changed):
    """One version's curves, metrics and settings, after its files pass the integrity check.

    Delete stays off for a version shared by someone else (only its owner or an admin may delete it).
    """
    if not version:
        return html.P("No version chosen.", className="text-muted"), True, True
    registry = context.registry()
    try:
        info = registry.get_info(version)
    except NotFoundError as error:
        return error_alert(error, f"Could not open model version {version}"), True, True
    except Exception as error:  # noqa: BLE001 - a damaged model.json: shown, and it can still be deleted (the registry checks by whom)
        return error_alert(error, f"Could not open model version {version}"), True, False
    deletable = can_change(context.principal(), info.owner)
    try:
        loaded = registry.load(version)
    except Exception as error:  # noqa: BLE001 - an integrity failure is shown, never loaded
        return error_alert(error, f"Could not open model version {version}"), True, not deletable
    return views.version_detail(info, loaded.history), info.active, not deletable


@callback(Output("models-compare-view", "children"), Input("models-version", "value"), Input("models-compare", "value"))
def show_comparison(version: str | None, other: str | None):
    """Two versions side by side: curves overlaid, hyperparameter and metric differences."""
    if not version or not other:
        return html.P("Choose a second version to compare.", className="text-muted", id="models-compare-hint")
    if other == version:
        return html.P("Choose a different version to compare.", className="text-muted", id="models-compare-hint")
    registry = context.registry()
    try:
        a, b = registry.get_info(version), registry.get_info(other)
        a_history, b_history = registry.load(version).history, registry.load(other).history
    except Exception as error:  # noqa: BLE001
        return error_alert(error, "Could not compare the versions")
    return views.compare_view(a, a_history, b, b_history)


@callback(
    Output("models-confirm-delete", "displayed"),
    Output("models-confirm-delete", "message"),
    Input("models-delete", "n_clicks"),
    State("models-version", "value"),
    prevent_initial_call=True,
)
def ask_delete(n_clicks, version: str | None):
    if not n_clicks or not version:
        raise PreventUpdate
    return True, f"Delete model version {version}? Its weights, metadata and history are removed from the server."


@callback(
    Output("models-changed", "data"),
    Output("models-action", "children"),
    Input("models-activate", "n_clicks"),
    State("models-version", "value"),
    prevent_initial_call=True,
)
def mark_active(n_clicks, version: str | None):
    """Make the chosen version the one this user's scoring uses by default (each user has their own)."""
    if not n_clicks or not version:
        raise PreventUpdate
    try:
        context.registry().set_active(version)
    except Exception as error:  # noqa: BLE001
        return no_update, error_alert(error, "Could not mark the version active")
    return time.time(), info_alert(f"Model version {version} is now active: scoring uses it by default.")


@callback(
    Output("models-changed", "data", allow_duplicate=True),
    Output("models-action", "children", allow_duplicate=True),
    Input("models-confirm-delete", "submit_n_clicks"),
    State("models-version", "value"),
    prevent_initial_call=True,
)
def delete_version(submitted, version: str | None):
    """Delete the chosen version once the dialog was confirmed."""
    if not submitted or not version:
        raise PreventUpdate
    try:
        context.registry().delete(version)
    except Exception as error:  # noqa: BLE001
        return no_update, error_alert(error, "Could not delete the version")
    return time.time(), info_alert(f"Deleted model version {version}.", color="secondary")


@callback(
    Output("models-changed", "data", allow_duplicate=True),
    Output("models-action", "children", allow_duplicate=True),
    Input({"type": views.SHARE, "index": ALL}, "value"),
    prevent_initial_call=True,
)
def share_version(_values):
    """Share the version whose switch was flipped with everyone, or stop sharing it (owner or admin)."""
    version, shared = sharing_views.share_request()
    registry = context.registry()
    try:
        if registry.get_info(version).shared == shared:
            raise PreventUpdate  # the table was drawn, nothing was flipped
        registry.share(version, shared)
    except PreventUpdate:
        raise
    except Exception as error:  # noqa: BLE001
        return no_update, error_alert(error, "Could not change the sharing")
    message = (f"Model version {version} is shared: every user can score and compare with it." if shared
               else f"Model version {version} is no longer shared.")
    return time.time(), info_alert(message, color="info" if shared else "secondary")


def _section(title: str, body: list, tool=None) -> dbc.Card:
    head = dbc.Row([dbc.Col(html.H4(title, className="card-title mb-0")), dbc.Col(tool, width="auto") if tool else None], className="align-items-center mb-2")
    return dbc.Card(dbc.CardBody([head, *body]), className="mb-3 txlab-section")
