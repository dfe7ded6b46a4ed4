"""Predict page: score one transaction with any model version and see why it got its score.

The form is built from the chosen version's schema; categorical fields accept a value the
model never saw (typed into the dropdown), which the result flags as "new to the model".
"""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ALL, MATCH, Input, Output, State, callback, dcc, html, no_update
from dash.exceptions import PreventUpdate

from core.explain import explain_row
from dashboard import context
from dashboard import predict_views as views
from dashboard.alerts import error_alert

dash.register_page(__name__, path="/predict", name="Predict", title="txlab · Predict", order=5)

_CAT = {"type": views.CAT, "name": ALL}
_NUM = {"type": views.NUM, "name": ALL}
_TIME = {"type": views.TIME, "name": ALL}
_HINT = html.P("Fill in the transaction and press Score.", className="text-muted")


def layout(version: str | None = None, **_query) -> html.Div:
    return html.Div(
        [
            html.H3("Predict"),
            html.P("Score one transaction with a trained model, see the decision at a threshold and which fields drove the score.",
                   className="text-muted"),
            dbc.Row(
                [
                    dbc.Col(
                        dbc.Card(dbc.CardBody([
                            dbc.Label("Model version", html_for="predict-version"),
                            dcc.Dropdown(id="predict-version", value=version, placeholder="Choose a version", clearable=False),
                            html.Div(id="predict-model-note", className="mt-2"),
                            html.H5("Transaction", className="mt-3"),
                            dcc.Loading(html.Div(id="predict-form"), type="default", delay_show=300),
                            dbc.Label("Decision threshold", html_for="predict-threshold", className="mt-3"),
                            dcc.Slider(id="predict-threshold", min=0, max=1, step=0.01, value=0.5,
                                       marks={v: f"{v:g}" for v in (0, 0.25, 0.5, 0.75, 1)},
                                       tooltip={"placement": "bottom", "always_visible": False}),
                            dbc.Button([html.I(className="bi bi-lightning-charge me-1"), "Score"], id="predict-score", color="primary",
                                       className="mt-3", disabled=True),
                        ]), className="mb-3 txlab-section"),
                        lg=5,
                    ),
                    dbc.Col(
                        dbc.Card(dbc.CardBody([
                            html.H4("Result", className="card-title"),
                            dcc.Loading(html.Div(_HINT, id="predict-result"),
                                        type="default", delay_show=300),
                        ]), className="mb-3 txlab-section"),
                        lg=7,
                    ),
                ],
                className="g-3",
            ),
        ]
    )


@callback(Output("predict-version", "options"), Output("predict-version", "value"), Input("predict-version", "id"), State("predict-version", "value"))
def list_versions(_id, selected: str | None):
    """Every saved version; the active one chosen unless the address named another."""
    # Always sent, even unchanged: the form below waits for this callback, and no_update would never build it.
    return views.version_picker(context.registry().list_versions(), selected)


@callback(
    Output("predict-form", "children"),
    Output("predict-model-note", "children"),
    Output("predict-threshold", "value"),
    Output("predict-score", "disabled"),
    Output("predict-result", "children", allow_duplicate=True),
    Input("predict-version", "value"),
    prevent_initial_call="initial_duplicate",
)
def show_form(version: str | None):
    """The chosen version's form; a version that fails its integrity check is an alert, never loaded."""
    if not version:
        return None, html.P(["No model yet: ", dcc.Link("train one", href="/train"), " first."], className="text-muted", id="predict-no-model"), 0.5, True, None
    try:
        entry = views.loaded_model(context.registry(), version)
        schema = entry.schema
    except Exception as error:  # noqa: BLE001 - integrity or format failures are shown, not raised
        return None, error_alert(error, f"Could not open model version {version}"), no_update, True, None
    return views.model_form(schema), views.model_note(entry), round(float(schema.threshold), 2), False, _HINT


@callback(
    Output({"type": views.CAT, "name": MATCH}, "options"),
    Input({"type": views.CAT, "name": MATCH}, "search_value"),
    State({"type": views.CAT, "name": MATCH}, "value"),
    State({"type": views.CAT, "name": MATCH}, "id"),
    State("predict-version", "value"),
    prevent_initial_call=True,
)
def search_values(search: str | None, value: str | None, id_: dict, version: str | None):
    """Known values matching what is typed, plus the typed value itself (flagged when new to the model)."""
    name = id_["name"]
    try:
        schema = views.loaded_model(context.registry(), version).schema
    except Exception:  # noqa: BLE001 - the form shows the load error already
        raise PreventUpdate from None
    spec = next((f for f in schema.fields if f.name == name), None)
    if spec is None:
        raise PreventUpdate
    return views.category_options(spec, search, value)


@callback(
    Output(_NUM, "invalid"),
    Output({"type": views.FEEDBACK, "name": ALL}, "children"),
    Input(_NUM, "value"),
    State(_NUM, "id"),
)
def check_numbers(values: list, ids: list[dict]):
    """Mark a number field that does not parse, with a message naming it."""
    problems = [views.number_error(i["name"], v) for i, v in zip(ids, values)]
    return [p is not None for p in problems], problems


@callback(
    Output("predict-result", "children", allow_duplicate=True),
    Input("predict-score", "n_clicks"),
    State("predict-version", "value"),
    State(_CAT, "value"), State(_CAT, "id"),
    State(_NUM, "value"), State(_NUM, "id"),
    State(_TIME, "value"), State(_TIME, "id"),
    State("predict-threshold", "value"),
    prevent_initial_call=True,
)
def score(n_clicks, version, cat, cat_ids, num, num_ids, times, time_ids, threshold):
    """Probability, decision and explanation of the row in the form."""
    if not n_clicks:
        raise PreventUpdate
    try:
        values = views.form_values(cat, cat_ids, num, num_ids, times, time_ids)
        entry = views.loaded_model(context.registry(), version)
        row = entry.scorer.score(values, threshold=0.5 if threshold is None else float(threshold))
        explanation = explain_row(entry.scorer, values)
    except Exception as error:  # noqa: BLE001 - input and integrity errors become alerts
        return error_alert(error, "Could not score the transaction")
    return views.score_result(row, explanation, values)
