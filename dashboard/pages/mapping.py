"""Mapping page: suggested column for each canonical field, overrides, extra features, check and save."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html
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
            # Until show_mapping_form replaces it, a hidden copy of the form's controls: Dash checks
            # every callback id against the page layouts and logs a console error for each missing one.
            dcc.Loading(html.Div(html.Div([_extras_form([], ColumnMapping()), _actions()], hidden=True), id="mapping-body"), type="default", delay_show=300),
            dcc.Loading(html.Div(id="mapping-result", className="mt-3"), type="default", delay_show=300),
        ]
    )


@callback(Output("mapping-body", "children"), Input("app-dataset", "data"))
def show_mapping_form(dataset_id: str | None):
    if not dataset_id:
        return _no_dataset()
    workspace = context.workspace()
    try:
        meta = workspace.get(dataset_id)
        suggestion = suggest_mapping(workspace.load_frame(dataset_id))
    except TxlabError:
        return _no_dataset()
    except Exception as error:  # noqa: BLE001
        return error_alert(error, "Could not read the dataset")
    chosen = meta.column_mapping or suggestion.to_mapping()
    return html.Div(
        [
            html.P([html.Span("Dataset: ", className="text-muted"), html.Strong(meta.name), f" · {meta.rows:,} rows · {len(meta.columns)} columns",
                    dbc.Badge("mapping saved", color="success", className="ms-2", id="mapping-saved-badge") if meta.mapping else None]),
            _fields_table(meta.columns, suggestion, chosen),
            _extras_form(meta.columns, chosen),
            _actions(),
        ]
    )


@callback(
    Output("mapping-result", "children"),
    Input("mapping-check", "n_clicks"),
    Input("mapping-save", "n_clicks"),
    State({"type": "mapping-field", "field": ALL}, "value"),
    State({"type": "mapping-field", "field": ALL}, "id"),
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
        return error_alert(error, "Could not apply the mapping")
    return _coercion_view(report.to_dict(), saving, saved is not None)


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


def _fields_table(columns: list[str], suggestion, chosen: ColumnMapping) -> dbc.Table:
    options = [{"label": "(none)", "value": _NONE}] + [{"label": c, "value": c} for c in columns]
    rows = []
    for spec in FIELDS:
        hint = suggestion.fields[spec.name]
        value = chosen.fields.get(spec.name) or _NONE
        rows.append(
            html.Tr(
                [
                    html.Td([html.Span(spec.name, className="txlab-col"), dbc.Badge("required", color="danger", className="ms-1") if spec.required else None,
                             html.Div(spec.help, className="form-text mt-0")]),
                    html.Td(dcc.Dropdown(id={"type": "mapping-field", "field": spec.name}, options=options, value=value, clearable=False), style={"minWidth": "14rem"}),
                    html.Td(_confidence_badge(hint.confidence if hint.column else 0.0)),
                    html.Td(hint.reason if hint.column else "no column looks like this field", className="small"),
                ]
            )
        )
    head = html.Thead(html.Tr([html.Th("Field"), html.Th("Column"), html.Th("Confidence"), html.Th("Why")]))
    return dbc.Table([head, html.Tbody(rows)], className="txlab-table align-middle", id="mapping-fields")


def _extras_form(columns: list[str], chosen: ColumnMapping) -> dbc.Row:
    options = [{"label": c, "value": c} for c in columns]
    return dbc.Row(
        [
            dbc.Col([dbc.Label("Extra numeric features"), dcc.Dropdown(id="mapping-extra-numeric", options=options, value=chosen.extra_numeric, multi=True)], md=5),
            dbc.Col([dbc.Label("Extra categorical features"), dcc.Dropdown(id="mapping-extra-categorical", options=options, value=chosen.extra_categorical, multi=True)], md=5),
            dbc.Col([dbc.Label("Transaction id (never a feature)"), dcc.Dropdown(id="mapping-transaction-id", options=[{"label": "(none)", "value": _NONE}] + options,
                                                                                   value=chosen.transaction_id or _NONE, clearable=False)], md=2),
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
