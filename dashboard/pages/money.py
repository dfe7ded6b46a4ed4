"""Profit & loss page: what a model's decision threshold is worth in money, against simple strategies.

``compute`` (a background job: scoring a million rows takes seconds) scores the chosen dataset
with the chosen version once (scores cached on disk) and stores a small key; ``show`` answers
every move of the threshold slider from the cached analysis (see ``dashboard.money_views``).
"""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, dcc, html, no_update
from dash.exceptions import PreventUpdate

from core.errors import TxlabError
from core.finance import AssumptionError
from core.finance.inputs import revenue_options
from dashboard import context
from dashboard import money_views as views
from dashboard.alerts import error_alert

dash.register_page(__name__, path="/money", name="Profit & loss", title="txlab · Profit & loss", order=7)

PROGRESS_POLL_MS = 500
_PARAMS = {"type": views.PARAM, "name": ALL}
_FEEDBACK = {"type": views.FEEDBACK, "name": ALL}


def layout(**_query) -> html.Div:
    return html.Div(
        [
            dcc.Store(id="money-key"),  # ids and settings of the computed analysis, never data
            html.H3("Profit & loss"),
            html.P("Turn fraud scores into money: the P&L of every decision threshold under your business assumptions, "
                   "against approving everything and a simple amount rule.", className="text-muted"),
            dbc.Row([
                dbc.Col(dbc.Card(dbc.CardBody([
                    dbc.Label("Model version", className="small mb-0"), dcc.Dropdown(id="money-model", placeholder="Choose a model version", clearable=False),
                    dbc.Label("Dataset (with labels)", className="small mb-0 mt-2"), dcc.Dropdown(id="money-dataset", placeholder="Choose a dataset", clearable=False),
                    dbc.Label("Revenue column", className="small mb-0 mt-2"), dcc.Dropdown(id="money-revenue", clearable=False),
                    html.Div("Detected from the column names; the fee rate below applies to it.", className="form-text mt-0 mb-3"),
                    html.H5("Assumptions", className="card-title"),
                    views.assumptions_form(),
                    dbc.Button([html.I(className="bi bi-calculator me-1"), "Compute"], id="money-run", color="primary", className="mt-3"),
                    html.Div(id="money-progress", className="small text-muted mt-2", hidden=True),
                ]), className="mb-3 txlab-section"), lg=4),
                dbc.Col([
                    html.Div(id="money-message"),
                    html.Div(id="money-notes"),
                    dbc.Card(dbc.CardBody([
                        html.H4("Threshold", className="card-title"),
                        # Fraud scores crowd near 0: the slider moves along log10(threshold), its marks show thresholds.
                        dcc.Slider(id="money-threshold", min=views.SLIDER_MIN, max=0, step=0.01, value=views.to_slider(0.5),
                                   marks=views.SLIDER_MARKS, updatemode="mouseup", allow_direct_input=False),
                        dbc.Row([
                            dbc.Col([dbc.Label("Threshold (type an exact one)", className="small mb-0", html_for="money-threshold-exact"),
                                     dbc.Input(id="money-threshold-exact", type="number", min=0, max=1, step="any", value=0.5, debounce=True, size="sm"),
                                     dbc.FormFeedback("A threshold is a number from 0 to 1.", type="invalid")], md=4),
                            dbc.Col([dbc.Label("Amount rule cut (blank: optimised)", className="small mb-0"),
                                     dbc.Input(id="money-amount-cut", type="number", min=0, step="any", size="sm")], md=4),
                            dbc.Col([dbc.Label("Over time", className="small mb-0"),
                                     dbc.RadioItems(id="money-grain", options=[{"label": l, "value": v} for v, l in views.GRAINS], value="day", inline=True)], md=4),
                        ], className="g-2 mt-2"),
                        html.Div(id="money-summary-slot", className="mt-3"),
                        dcc.Loading(html.Div(id="money-main"), type="default", delay_show=300),
                    ]), className="mb-3 txlab-section"),
                    dbc.Card(dbc.CardBody([html.H4("Where the money is", className="card-title"), html.Div(id="money-breakdowns")]), className="mb-3 txlab-section"),
                ], lg=8),
            ], className="g-3"),
        ]
    )


@callback(
    Output("money-model", "options"), Output("money-model", "value"),
    Output("money-dataset", "options"), Output("money-dataset", "value"),
    Input("app-dataset", "data"), State("money-model", "value"),
)
def fill_pickers(dataset_id: str | None, model: str | None):
    """Versions (the active one by default) and mapped datasets (the session's one by default)."""
    options, active = views.version_options(context.registry())
    datasets = [m for m in context.workspace().list_datasets() if m.mapping]
    dataset_options = [{"label": f"{m.name} · {m.mapped_rows or m.rows:,} rows", "value": m.id} for m in datasets]
    chosen = dataset_id if any(m.id == dataset_id for m in datasets) else None
    return options, model if model in {o["value"] for o in options} else active, dataset_options, chosen


@callback(Output("money-revenue", "options"), Output("money-revenue", "value"), Input("money-dataset", "value"))
def fill_revenue(dataset_id: str | None):
    """Columns that may hold revenue; the detected one chosen."""
    if not dataset_id:
        return [], None
    try:
        options, detected = revenue_options(context.workspace(), dataset_id)
    except TxlabError:
        return [], None
    return [{"label": c, "value": c} for c in options], detected


@callback(Output({"type": views.PARAM, "name": "fee_rate"}, "value"), Input("money-revenue", "value"), prevent_initial_call=True)
def fee_rate_for(revenue: str | None):
    """A revenue, margin or fee column is already the money kept: its fee rate is 1."""
    if not revenue or revenue == "amount":
        raise PreventUpdate
    return 1.0


@callback(Output(_PARAMS, "invalid"), Output(_FEEDBACK, "children"), Input(_PARAMS, "value"), State(_PARAMS, "id"))
def check_form(values: list, ids: list[dict]):
    """Mark each assumption out of range, with the reason under it."""
    errors = views.form_errors(values, ids)
    return [i["name"] in errors for i in ids], [errors.get(i["name"]) for i in ids]


@callback(
    Output("money-key", "data"),
    Output("money-threshold-exact", "value", allow_duplicate=True),
    Output("money-message", "children"),
    Output("money-notes", "children"),
    Input("money-run", "n_clicks"),
    State("money-model", "value"),
    State("money-dataset", "value"),
    State("money-revenue", "value"),
    State(_PARAMS, "value"),
    State(_PARAMS, "id"),
    background=True,
    interval=PROGRESS_POLL_MS,
    progress=[Output("money-progress", "children")],
    running=[(Output("money-run", "disabled"), True, False), (Output("money-progress", "hidden"), False, True)],
    prevent_initial_call=True,
)
def compute(set_progress, n_clicks, model: str | None, dataset_id: str | None, revenue: str | None, values: list, ids: list[dict]):
    """Score the dataset with the version (once; then from cache) and start at the best threshold."""
    if not n_clicks:
        raise PreventUpdate
    if not model:
        return no_update, no_update, dbc.Alert("No model version: train one on the Train page first.", color="warning", id="money-no-model"), None
    if not dataset_id:
        return no_update, no_update, dbc.Alert("Choose a mapped dataset with labels (or bring one in on the Data page).", color="warning", id="money-no-dataset"), None
    try:
        assumptions = views.form_assumptions(values, ids)
    except AssumptionError as error:
        return no_update, no_update, error_alert(error, "Check the assumptions"), None
    try:
        key, result = views.run_analysis(model, dataset_id, revenue or "amount", assumptions, progress=lambda text: set_progress((text,)))
    except Exception as error:  # noqa: BLE001 - no labels, a broken version, ...: shown, logged
        return no_update, no_update, error_alert(error, "Could not compute profit and loss"), None
    return key, result.curve.best.threshold, None, views.data_notes(result.data)


@callback(
    Output("money-threshold", "value"),
    Output("money-threshold-exact", "value"),
    Output("money-threshold-exact", "invalid"),
    Input("money-threshold", "value"),
    Input("money-threshold-exact", "value"),
    prevent_initial_call=True,
)
def follow_threshold(position: float | None, typed: float | str | None):
    """The slider and the typed threshold follow each other; the typed value is the exact one used."""
    if dash.ctx.triggered_id == "money-threshold":
        return no_update, views.from_slider(position), False
    threshold = views.typed_threshold(typed)
    if threshold is None:
        return no_update, no_update, True
    return views.to_slider(threshold), no_update, False


@callback(
    Output("money-main", "children"),
    Output("money-breakdowns", "children"),
    Output("money-summary-slot", "children"),
    Input("money-key", "data"),
    Input("money-threshold-exact", "value"),
    Input("money-amount-cut", "value"),
    Input("money-grain", "value"),
)
def show(key: dict | None, typed: float | str | None, amount_cut: float | None, grain: str | None):
    """The curve, confusion matrix, comparison, alerts per day and breakdowns at the chosen threshold."""
    if not key:
        return html.P("Choose a model and a dataset, then Compute.", className="text-muted", id="money-hint"), None, None
    threshold = views.typed_threshold(typed)
    if threshold is None:
        raise PreventUpdate  # the field itself says what is wrong
    try:
        v = views.threshold_views(views.analysis(key), threshold, amount_cut, grain or "day")
    except Exception as error:  # noqa: BLE001
        return error_alert(error, "Could not show profit and loss"), None, None
    main = [
        views.graph(v.curve, "money-curve"),
        dbc.Row([dbc.Col(views.graph(v.confusion, "money-confusion"), md=5), dbc.Col(views.graph(v.alerts, "money-alerts"), md=7)], className="g-2"),
        html.H5("Compared with simple strategies", className="mt-2"),
        v.comparison,
    ]
    return main, [views.graph(f) for f in v.breakdowns], v.summary
