"""Mapping page: suggested column for each canonical field, overrides, extra features, check and save."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from core.datasets import map_dataset
from core.errors import TxlabError
from core.mapping import suggest_mapping
from core.schema import FIELDS, ColumnMapping
from dashboard import components, context
from dashboard.alerts import error_alert, info_alert

dash.register_page(__name__, path="/mapping", name="Mapping", title="txlab · Mapping", order=1)

_NONE = "__none__"


def layout(**_query) -> html.Div:
    return html.Div(
        [
            html.H3("Mapping"),
            html.P("Tell txlab which column holds each field. Suggestions come from column names and values; change any of them.", className="text-muted"),
            html.Div(_no_dataset(), id="mapping-no-dataset-box", hidden=True),
            dcc.Loading(
                html.Div([html.P(id="mapping-intro"), _fields_table(), _extras_form(), _actions()], id="mapping-body", hidden=True),
                type="default",
                delay_show=300,
            ),
            dcc.Loading(html.Div(id="mapping-result", className="mt-3"), type="default", delay_show=300),
        ]
    )


_FIELD = {"type": "mapping-field", "field": ALL}
_CONFIDENCE = {"type": "mapping-confidence", "field": ALL}
_REASON = {"type": "mapping-reason", "field": ALL}
_EXTRAS = ("mapping-extra-numeric", "mapping-extra-categorical", "mapping-transaction-id")


@callback(
    Output("mapping-no-dataset-box", "hidden"),
    Output("mapping-body", "hidden"),
    Output("mapping-intro", "children"),
    Output(_FIELD, "options"),
    Output(_FIELD, "value"),
    Output(_CONFIDENCE, "children"),
    Output(_REASON, "children"),
    *[Output(i, "options") for i in _EXTRAS],
    *[Output(i, "value") for i in _EXTRAS],
    Input("app-dataset", "data"),
)
def show_mapping_form(dataset_id: str | None):
    """Fill the form for the session's dataset: its saved mapping, else the suggestion."""
    if not dataset_id:
        return _blank_form()
    workspace = context.workspace()
    try:
        meta = workspace.get(dataset_id)
        suggestion = suggest_mapping(workspace.load_frame(dataset_id))
    except TxlabError:
        return _blank_form()
    except Exception as error:  # noqa: BLE001
        return _blank_form(problem=error_alert(error, "Could not read the dataset"))
    n = len(FIELDS)
    chosen = meta.column_mapping or suggestion.to_mapping()
    columns = [{"label": c, "value": c} for c in meta.columns]
    hints = [suggestion.fields[spec.name] for spec in FIELDS]
    return (
        True,
        False,
        _intro(meta),
        [[{"label": "(none)", "value": _NONE}] + columns] * n,
        [chosen.fields.get(spec.name) or _NONE for spec in FIELDS],
        [_confidence_badge(h.confidence if h.column else 0.0) for h in hints],
        [h.reason if h.column else "no column looks like this field" for h in hints],
        columns,
        columns,
        [{"label": "(none)", "value": _NONE}] + columns,
        chosen.extra_numeric,
        chosen.extra_categorical,
        chosen.transaction_id or _NONE,
    )


@callback(
    Output("mapping-result", "children"),
    Output("mapping-intro", "children", allow_duplicate=True),
    Input("mapping-check", "n_clicks"),
    Input("mapping-save", "n_clicks"),
    State(_FIELD, "value"),
    State(_FIELD, "id"),
    State("mapping-extra-numeric", "value"),
    State("mapping-extra-categorical", "value"),
    State("mapping-transaction-id", "value"),
    State("app-dataset", "data"),
    prevent_initial_call=True,
)
def check_or_save(check, save, values, ids, extra_numeric, extra_categorical, transaction_id, dataset_id):
    if not (check or save) or not dataset_id:
        raise PreventUpdate
    saving = ctx.triggered_id == "mapping-save"
    try:
        mapping = ColumnMapping(
            fields={i["field"]: (v if v != _NONE else None) for i, v in zip(ids, values)},
            extra_numeric=list(extra_numeric or []),
            extra_categorical=list(extra_categorical or []),
            transaction_id=transaction_id if transaction_id not in (None, _NONE) else None,
        )
        report, saved = map_dataset(context.workspace(), dataset_id, mapping, save=saving)
    except Exception as error:  # noqa: BLE001
        return error_alert(error, "Could not apply the mapping"), no_update
    return _coercion_view(report.to_dict(), saving, saved is not None), _intro(saved) if saved else no_update


def _blank_form(problem=None) -> tuple:
    """Outputs for no usable dataset: the pointer to the Data page, or the form showing a problem."""
    n = len(FIELDS)
    return (problem is not None, problem is None, problem, [[]] * n, [_NONE] * n, [None] * n, [None] * n, [], [], [], [], [], _NONE)


def _intro(meta) -> list:
    return [
        html.Span("Dataset: ", className="text-muted"),
        html.Strong(meta.name),
        f" · {meta.rows:,} rows · {len(meta.columns)} columns",
        dbc.Badge("mapping saved", color="success", className="ms-2", id="mapping-saved-badge") if meta.mapping else None,
    ]


def _actions() -> html.Div:
    return html.Div(
        [
            dbc.Button([html.I(className="bi bi-search me-1"), "Check"], id="mapping-check", color="secondary", className="me-2"),
            dbc.Button([html.I(className="bi bi-save me-1"), "Save mapping"], id="mapping-save", color="primary"),
        ],
        className="mt-3",
    )


def _no_dataset() -> dbc.Alert:
    return dbc.Alert(
        ["No dataset chosen for this browser session. ", dcc.Link("Bring one in on the Data page", href="/", className="alert-link"), "."],
        color="info",
        id="mapping-no-dataset",
    )


def _fields_table() -> dbc.Table:
    rows = [
        html.Tr(
            [
                html.Td([html.Span(spec.name, className="txlab-col"), dbc.Badge("required", color="danger", className="ms-1") if spec.required else None,
                         html.Div(spec.help, className="form-text mt-0")]),
                html.Td(dcc.Dropdown(id={"type": "mapping-field", "field": spec.name}, options=[], value=_NONE, clearable=False), style={"minWidth": "14rem"}),
                html.Td(id={"type": "mapping-confidence", "field": spec.name}),
                html.Td(id={"type": "mapping-reason", "field": spec.name}, className="small"),
            ]
        )
        for spec in FIELDS
    ]
    head = html.Thead(html.Tr([html.Th("Field"), html.Th("Column"), html.Th("Confidence"), html.Th("Why")]))
    return dbc.Table([head, html.Tbody(rows)], className="txlab-table align-middle", id="mapping-fields")


def _extras_form() -> dbc.Row:
    return dbc.Row(
        [
            dbc.Col([dbc.Label("Extra numeric features"), dcc.Dropdown(id="mapping-extra-numeric", options=[], multi=True)], md=5),
            dbc.Col([dbc.Label("Extra categorical features"), dcc.Dropdown(id="mapping-extra-categorical", options=[], multi=True)], md=5),
            dbc.Col([dbc.Label("Transaction id (never a feature)"), dcc.Dropdown(id="mapping-transaction-id", options=[], value=_NONE, clearable=False)], md=2),
        ],
        className="g-3 align-items-end",  # the narrow last label wraps; keep the dropdowns in one line
    )


def _confidence_badge(confidence: float) -> dbc.Badge:
    color = "success" if confidence >= 0.75 else "warning" if confidence >= 0.4 else "secondary"
    return dbc.Badge(f"{confidence:.0%}", color=color, className="txlab-confidence")


def _coercion_view(report: dict, saving: bool, saved: bool) -> html.Div:
    if saved:
        head = info_alert([html.Strong("Mapping saved. "), "Every later page uses it for this dataset."])
    elif saving:
        head = dbc.Alert("Not saved: fix the errors below first.", color="danger", id="mapping-not-saved")
    else:
        head = dbc.Alert("Checked (not saved yet).", color="secondary", className="py-2")
    facts = [
        f"{report['rows_in']:,} rows in, {report['rows_out']:,} rows kept.",
        f"{report['positives']:,} positive labels ({report['positive_share']:.2%}).",
    ]
    if report.get("label_unreadable"):
        facts.append(f"{report['label_unreadable']:,} rows left out because their label could not be read, e.g. "
                     + ", ".join(repr(e) for e in report.get("label_unreadable_examples", [])[:5]) + ".")
    if report.get("amount_unparseable"):
        facts.append(f"{report['amount_unparseable']:,} amounts could not be read as numbers, e.g. "
                     + ", ".join(repr(e) for e in report.get("amount_examples", [])[:5]) + ".")
    if report.get("timestamp_format"):
        facts.append(f"Timestamps read as {report['timestamp_format']}"
                     + (f"; {report['timestamp_unparseable']:,} could not be read." if report.get("timestamp_unparseable") else "."))
    facts += list(report.get("notes") or [])
    return html.Div(
        [head, *components.validation_messages(report.get("messages") or []), html.H5("Coercion report", className="mt-2"),
         html.Ul([html.Li(f) for f in facts], className="small", id="mapping-coercion")]
    )
