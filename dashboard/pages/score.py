"""Score-a-file page: score a stored dataset or an uploaded file with a model version, in the background.

The file is read through the model's own mapping (the page shows which column feeds which
field, and names any the file lacks). The scored table is written under the cache folder with a
random name; the page keeps only that name, shows the score distribution and the top rows, and
offers the file (an escaped CSV, or Parquet) for download.
"""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html, no_update
from dash.exceptions import PreventUpdate

from core.datasets import limits_from
from core.errors import TxlabError
from dashboard import context
from dashboard import predict_views as views
from dashboard.alerts import error_alert

dash.register_page(__name__, path="/score", name="Score a file", title="txlab · Score a file", order=5.5)

PROGRESS_POLL_MS = 500


def layout(version: str | None = None, **_query) -> html.Div:
    max_mb = context.settings().max_upload_mb
    return html.Div(
        [
            dcc.Store(id="score-upload-store"),  # {"id", "name", "columns", "rows"} of this page's upload
            dcc.Store(id="score-file"),  # {"id", "fmt", "name"} of the latest scored file
            dcc.Download(id="score-download"),
            html.H3("Score a file"),
            html.P("Score every row of a stored dataset or an uploaded file with a trained model, then download the scores.",
                   className="text-muted"),
            dbc.Row(
                [
                    dbc.Col(dbc.Card(dbc.CardBody([
                        dbc.Label("Model version", html_for="score-version"),
                        dcc.Dropdown(id="score-version", value=version, placeholder="Choose a version", clearable=False),
                        dbc.Label("Data to score", html_for="score-source", className="mt-3"),
                        dcc.Dropdown(id="score-source", placeholder="A stored dataset or an uploaded file", clearable=False),
                        dcc.Upload(
                            id="score-upload",
                            children=html.Div(["Or drop a CSV, gzip'd CSV or Parquet file here, or ", html.A("choose one")]),
                            max_size=max_mb * 1024 * 1024, multiple=False, className="txlab-upload mt-2",
                            className_active="txlab-upload-active", className_reject="txlab-upload-reject",
                        ),
                        html.Div(f"Up to {max_mb} MB. Larger files: add them on the Data page from the server's data folder.",
                                 className="form-text", id="score-upload-limit", **{"data-max-bytes": str(max_mb * 1024 * 1024)}),
                        html.Div(id="score-upload-error", className="text-danger small mt-1"),
                        dcc.Loading(html.Div(id="score-upload-message", className="mt-2"), type="default", delay_show=300),
                        dbc.Label("Output format", html_for="score-format", className="mt-2"),
                        dbc.RadioItems(id="score-format", options=[{"label": "CSV", "value": "csv"}, {"label": "Parquet", "value": "parquet"}],
                                       value="csv", inline=True),
                        dbc.Button([dbc.Spinner(size="sm", id="score-spinner", spinner_style={"display": "none"}), html.I(className="bi bi-speedometer2 me-1"), "Score"],
                                   id="score-start", color="primary", className="mt-3", disabled=True),
                        dbc.Button([html.I(className="bi bi-stop-circle me-1"), "Cancel"], id="score-cancel",
                                   color="outline-secondary", className="mt-3 ms-2", disabled=True),
                    ]), className="mb-3 txlab-section"), lg=5),
                    dbc.Col(dbc.Card(dbc.CardBody([
                        html.H4("Columns the model reads", className="card-title"),
                        html.Div(id="score-mapping"),
                    ]), className="mb-3 txlab-section"), lg=7),
                ],
                className="g-3",
            ),
            dbc.Card(dbc.CardBody([
                html.H4("Scores", className="card-title"),
                dbc.Row([
                    dbc.Col(dbc.Progress(id="score-progress", value=0, style={"height": "1.25rem"})),
                    dbc.Col(html.Span("", id="score-progress-text", className="small text-muted"), width="auto"),
                ], className="g-2 align-items-center mb-3"),
                html.Div([
                    dbc.Button([html.I(className="bi bi-download me-1"), "Download scored file"], id="score-download-button", color="primary",
                               disabled=True),
                    html.Span("A CSV is escaped so spreadsheet programs never run a cell as a formula.", className="small text-muted ms-2"),
                ], className="mb-3"),
                html.Div(html.P("Nothing scored yet.", className="text-muted"), id="score-result"),
            ]), className="mb-3 txlab-section"),
        ]
    )


@callback(Output("score-version", "options"), Output("score-version", "value"), Input("score-version", "id"), State("score-version", "value"))
def list_versions(_id, selected: str | None):
    # Always sent, even unchanged: the mapping check waits for this callback, and no_update would never run it.
    return views.version_picker(context.registry().list_versions(), selected)


@callback(
    Output("score-source", "options"),
    Output("score-source", "value"),
    Input("score-upload-store", "data"),
    State("app-dataset", "data"),
    State("score-source", "value"),
)
def list_sources(upload: dict | None, session_dataset: str | None, selected: str | None):
    """Stored datasets and this page's upload; a new upload is chosen, else the session's dataset."""
    datasets = context.workspace().list_datasets()
    options = views.source_options(datasets, upload)
    values = [o["value"] for o in options]
    if upload:  # the store only changes on a new upload (it is empty when the page opens)
        chosen = f"upload:{upload['id']}"
    else:
        chosen = selected if selected in values else (session_dataset if session_dataset in values else None)
    return options, chosen


@callback(
    Output("score-upload-store", "data"),
    Output("score-upload-message", "children"),
    Input("score-upload", "contents"),
    State("score-upload", "filename"),
    prevent_initial_call=True,
)
def upload_file(contents: str | None, filename: str | None):
    """Keep an uploaded file (read once to check it is a table) for scoring; it is not added to the datasets."""
    if not contents:
        raise PreventUpdate
    settings = context.settings()
    name = filename or "upload"
    try:
        payload = views.decode_upload(contents, settings.max_upload_bytes)
        upload = views.save_upload(settings.cache_folder, payload, name, limits_from(settings), viewer=context.principal())
    except Exception as error:  # noqa: BLE001 - every failure becomes an alert
        return no_update, error_alert(error, f"Could not read {name}")
    return upload, html.Div(f"Read “{name}”: {upload['rows']:,} rows, {len(upload['columns'])} columns.", className="small text-success",
                            id="score-upload-ok")


@callback(
    Output("score-mapping", "children"),
    Output("score-start", "disabled"),
    Input("score-version", "value"),
    Input("score-source", "value"),
    State("score-upload-store", "data"),
)
def check_mapping(version: str | None, source_value: str | None, upload: dict | None):
    """Which column feeds which field; Score stays off while the file lacks one or nothing is chosen."""
    if not version:
        return html.P(["No model yet: ", dcc.Link("train one", href="/train"), " first."], className="text-muted", id="score-no-model"), True
    if not source_value:
        return html.P("Choose a dataset or upload a file.", className="text-muted"), True
    settings = context.settings()
    try:
        entry = views.loaded_model(context.registry(), version)
        source = views.resolve_source(context.workspace(), settings.cache_folder, source_value, upload)
    except Exception as error:  # noqa: BLE001
        return error_alert(error, "Cannot score this yet"), True
    return views.mapping_view(entry.version, entry.mapping, source), bool(views.missing_columns(entry.mapping, source.columns))


@callback(
    Output("score-result", "children"),
    Output("score-file", "data"),
    Input("score-start", "n_clicks"),
    State("score-version", "value"),
    State("score-source", "value"),
    State("score-upload-store", "data"),
    State("score-format", "value"),
    background=True,
    interval=PROGRESS_POLL_MS,
    progress=[Output("score-progress", "value"), Output("score-progress-text", "children")],
    running=[
        (Output("score-start", "disabled"), True, False),
        (Output("score-cancel", "disabled"), False, True),
        (Output("score-spinner", "spinner_style"), {"display": "inline-block"}, {"display": "none"}),
    ],
    cancel=[Input("score-cancel", "n_clicks")],  # stops the job's process: a half-written file is never kept
    prevent_initial_call=True,
)
def score(set_progress, n_clicks, version, source_value, upload, fmt):
    """Score every row in the background, streaming the share of rows done."""
    if not n_clicks:
        raise PreventUpdate
    settings = context.settings()

    def on_progress(fraction: float) -> None:
        set_progress((round(100 * fraction), f"Scoring… {fraction:.0%}"))

    set_progress((0, "Reading the data…"))
    try:
        source = views.resolve_source(context.workspace(), settings.cache_folder, source_value, upload)
        result = views.run_batch(workspace=context.workspace(), registry=context.registry(), cache_folder=settings.cache_folder,
                                 version=version, source=source, fmt=fmt or "csv", limits=limits_from(settings), on_progress=on_progress)
    except Exception as error:  # noqa: BLE001
        set_progress((0, ""))
        return error_alert(error, "Could not score the file"), None
    set_progress((100, f"{result.rows:,} rows scored"))
    return views.batch_result_view(result), {"id": result.token, "fmt": result.fmt, "name": result.source_name}


@callback(Output("score-download-button", "disabled"), Input("score-file", "data"))
def enable_download(scored: dict | None) -> bool:
    return not scored


@callback(Output("score-download", "data"), Input("score-download-button", "n_clicks"), State("score-file", "data"), prevent_initial_call=True)
def download(n_clicks, scored: dict | None):
    """The latest scored file, under a name made from the source's (the path is always the app's own)."""
    if not n_clicks or not scored:
        raise PreventUpdate
    try:
        path = views.owned_scored_path(context.settings().cache_folder, scored.get("id"), scored.get("fmt"), context.principal())
    except TxlabError:  # not an id this app issued to this user, or pruned since
        raise PreventUpdate from None
    return dcc.send_file(str(path), filename=views.download_name(scored.get("name") or "scored", scored["fmt"]))
