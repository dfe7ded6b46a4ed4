"""Data page: bring a table in (upload, server file, simulator), see what was read, manage datasets."""
from __future__ import annotations

import base64
import binascii

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from core.access import can_change
from core.datasets import generate_dataset, import_table, limits_from, preview_records
from core.errors import TxlabError
from core.synth import SynthConfig
from dashboard import components, context, sharing_views
from dashboard.alerts import error_alert, info_alert
from dashboard.streamed_upload import abandon_upload, import_upload

dash.register_page(__name__, path="/", name="Data", title="txlab · Data", order=0)

PREVIEW_ROWS = 20
PROGRESS_POLL_MS = 500  # how often a running import's stage is asked for
SHARE = "data-share"  # pattern-matching id type of the dataset list's "Shared" switches


def layout(**_query) -> html.Div:
    settings = context.settings()
    return html.Div(
        [
            dcc.Store(id="data-created"),
            dcc.Store(id="data-pending-delete"),
            dcc.Store(id="data-deleted"),
            dcc.Store(id="data-stream-done"),
            html.H3("Data"),
            html.P("Bring in transactions: upload a file, load one from the server's data folder, or simulate a realistic dataset.", className="text-muted"),
            dbc.Row(
                [
                    dbc.Col(_upload_card(settings.max_upload_mb), lg=4),
                    dbc.Col(_server_file_card(), lg=4),
                    dbc.Col(_generate_card(), lg=4),
                ],
                className="g-3",
            ),
            dbc.Row(dbc.Col(_stream_card(settings.max_stream_mb)), className="g-3 mt-0"),
            dcc.Loading(html.Div(id="data-result", className="mt-3"), type="default", delay_show=300),
            html.H4("Stored datasets", className="mt-4"),
            html.Div(id="data-list"),
            dbc.Modal(
                [
                    dbc.ModalHeader(dbc.ModalTitle("Delete dataset?")),
                    dbc.ModalBody(id="data-delete-body"),
                    dbc.ModalFooter([dbc.Button("Cancel", id="data-delete-cancel", color="secondary"), dbc.Button("Delete", id="data-delete-confirm", color="danger")]),
                ],
                id="data-delete-modal",
                is_open=False,
            ),
        ]
    )


def _upload_card(max_mb: int) -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                html.H5([html.I(className="bi bi-upload me-2"), "Upload a file"]),
                dcc.Upload(
                    id="data-upload",
                    children=html.Div(["Drop a CSV, gzip'd CSV or Parquet file here, or ", html.A("choose one")]),
                    max_size=max_mb * 1024 * 1024,
                    multiple=False,
                    className="txlab-upload",
                    className_active="txlab-upload-active",
                    className_reject="txlab-upload-reject",
                ),
                html.Div(f"Up to {max_mb} MB. Larger files: use “Large file” below, or copy them into the data folder and load them from the server.", className="form-text", id="data-upload-limit", **{"data-max-bytes": str(max_mb * 1024 * 1024)}),
                html.Div(id="data-upload-error", className="text-danger small mt-1"),
            ]
        ),
        className="h-100",
    )


def _server_file_card() -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                html.H5([html.I(className="bi bi-hdd me-2"), "Load from the server"]),
                dcc.Dropdown(id="data-server-file", placeholder="Files in the data folder", clearable=True),
                html.Div("For large files: put them in the data folder on the server.", className="form-text"),
                dbc.Button("Load", id="data-server-load", color="primary", className="mt-2", disabled=True),
            ]
        ),
        className="h-100",
    )


def _generate_card() -> dbc.Card:
    def field(label: str, id_: str, value, **kw):
        return dbc.Col([dbc.Label(label, html_for=id_, className="small mb-0"), dbc.Input(id=id_, type="number", value=value, size="sm", **kw)], xs=6)

    return dbc.Card(
        dbc.CardBody(
            [
                html.H5([html.I(className="bi bi-magic me-2"), "Simulate transactions"]),
                dbc.Row(
                    [
                        field("Rows", "data-gen-rows", 100_000, min=1_000, max=20_000_000, step=1),
                        field("Seed", "data-gen-seed", 0, min=0, step=1),
                        field("Fraud rate", "data-gen-fraud", 0.01, min=0.0005, max=0.5, step=0.0005),
                        field("Days", "data-gen-days", 90, min=1, max=3650, step=1),
                        field("Users (blank: auto)", "data-gen-users", None, min=1, step=1),
                        field("Merchants (blank: auto)", "data-gen-merchants", None, min=1, step=1),
                    ],
                    className="g-2",
                ),
                dbc.Button([dbc.Spinner(size="sm", id="data-gen-spinner", spinner_style={"display": "none"}), " Generate"], id="data-gen-button", color="primary", className="mt-2"),
            ]
        ),
        className="h-100",
    )


@callback(
    Output("data-result", "children", allow_duplicate=True),
    Output("data-created", "data", allow_duplicate=True),
    Input("data-upload", "contents"),
    State("data-upload", "filename"),
    prevent_initial_call=True,
)
def upload_file(contents: str | None, filename: str | None):
    if not contents:
        raise PreventUpdate
    settings = context.settings()
    try:
        payload = _decode_upload(contents, settings.max_upload_bytes)
        result = import_table(context.workspace(), payload, name=filename or "upload", origin="upload", limits=limits_from(settings))
    except Exception as error:  # noqa: BLE001 - every failure becomes an alert
        return error_alert(error, f"Could not read {filename or 'the file'}"), no_update
    return _imported_view(result.meta.id), result.meta.id


@callback(Output("data-server-file", "options"), Input("data-list", "children"))
def list_server_files(_):
    files = context.workspace().list_server_files()
    return [{"label": f"{f.name} ({components.human_bytes(f.size)})", "value": f.name} for f in files]


@callback(Output("data-server-load", "disabled"), Input("data-server-file", "value"))
def enable_server_load(name: str | None) -> bool:
    return not name


@callback(
    Output("data-result", "children", allow_duplicate=True),
    Output("data-created", "data", allow_duplicate=True),
    Input("data-server-load", "n_clicks"),
    State("data-server-file", "value"),
    prevent_initial_call=True,
)
def load_server_file(n_clicks: int | None, name: str | None):
    if not n_clicks or not name:
        raise PreventUpdate
    workspace = context.workspace()
    try:
        path = workspace.server_file_path(name)
        result = import_table(workspace, path, name=name, origin="server-file", limits=limits_from(context.settings()))
    except Exception as error:  # noqa: BLE001
        return error_alert(error, f"Could not read {name}"), no_update
    return _imported_view(result.meta.id), result.meta.id


@callback(
    Output("data-result", "children", allow_duplicate=True),
    Output("data-created", "data", allow_duplicate=True),
    Input("data-gen-button", "n_clicks"),
    State("data-gen-rows", "value"),
    State("data-gen-seed", "value"),
    State("data-gen-fraud", "value"),
    State("data-gen-days", "value"),
    State("data-gen-users", "value"),
    State("data-gen-merchants", "value"),
    background=True,
    running=[
        (Output("data-gen-button", "disabled"), True, False),
        (Output("data-gen-spinner", "spinner_style"), {"display": "inline-block"}, {"display": "none"}),
    ],
    prevent_initial_call=True,
)
def generate(n_clicks, rows, seed, fraud_rate, days, users, merchants):
    if not n_clicks:
        raise PreventUpdate
    try:
        config = SynthConfig(
            rows=_whole("Rows", rows),
            seed=_whole("Seed", seed),
            fraud_rate=_number("Fraud rate", fraud_rate),
            days=_whole("Days", days),
            users=_whole("Users", users) if users not in (None, "") else None,
            merchants=_whole("Merchants", merchants) if merchants not in (None, "") else None,
        )
        meta = generate_dataset(context.workspace(), config)
    except Exception as error:  # noqa: BLE001
        return error_alert(error, "Could not generate the dataset"), no_update
    return _imported_view(meta.id), meta.id


@callback(
    Output("app-dataset", "data"),
    Input("data-created", "data"),
    Input({"type": "data-use", "index": ALL}, "n_clicks"),
    Input("data-deleted", "data"),
    State("app-dataset", "data"),
    prevent_initial_call=True,
)
def choose_dataset(created: str | None, _uses, deleted: str | None, current: str | None):
    """The browser session's dataset: the one just brought in, the one picked, or none once deleted."""
    trigger = ctx.triggered_id
    if trigger == "data-created" and created:
        return created
    if trigger == "data-deleted":
        return None if deleted and deleted == current else no_update
    if isinstance(trigger, dict) and ctx.triggered[0]["value"]:
        return trigger["index"]
    raise PreventUpdate


@callback(Output("data-list", "children"), Input("app-dataset", "data"), Input("data-deleted", "data"))
def list_datasets(current: str | None, _deleted):
    """The user's datasets and shared ones (an admin: everyone's, with an Owner column); the owner may share or delete."""
    metas = context.workspace().list_datasets()
    if not metas:
        return html.P("No datasets yet.", className="text-muted", id="data-list-empty")
    viewer = context.principal()
    shown_for = sharing_views.table_viewer()  # None without accounts: no Owner or Shared column
    owners = sharing_views.show_owner(shown_for)
    titles = ("Name", *(["Owner"] if owners else []), "Source", "Rows", "Columns", "Mapped", "Created", *(["Shared"] if shown_for else []), "")
    head = html.Thead(html.Tr([html.Th(h, className="text-end" if h in ("Rows", "Columns") else None) for h in titles]))
    rows = []
    for meta in metas:
        active = meta.id == current
        mine = can_change(viewer, meta.owner)
        rows.append(
            html.Tr(
                [
                    html.Td([html.Span(meta.name, className="txlab-col"), dbc.Badge("in use", color="success", className="ms-2") if active else None]),
                    *([sharing_views.owner_cell(meta.owner)] if owners else []),
                    html.Td(meta.source),
                    html.Td(f"{meta.rows:,}", className="text-end"),
                    html.Td(len(meta.columns), className="text-end"),
                    html.Td(html.I(className="bi bi-check-lg text-success") if meta.mapping else "–"),
                    html.Td(meta.created.replace("T", " ")[:16]),
                    *([sharing_views.share_cell(SHARE, meta.id, meta.name, meta.owner, meta.shared, viewer)] if shown_for else []),
                    html.Td(
                        [
                            dbc.Button("Use", id={"type": "data-use", "index": meta.id}, size="sm", color="outline-primary", className="me-1", disabled=active),
                            dbc.Button(html.I(className="bi bi-trash"), id={"type": "data-delete", "index": meta.id}, size="sm", color="outline-danger",
                                       title=f"Delete {meta.name}" if mine else f"Only {meta.owner} can delete it", disabled=not mine),
                        ],
                        className="text-end text-nowrap",
                    ),
                ],
                className="table-active" if active else None,
            )
        )
    return dbc.Table([head, html.Tbody(rows)], size="sm", hover=True, className="txlab-table", id="data-datasets")


@callback(
    Output("data-delete-modal", "is_open"),
    Output("data-pending-delete", "data"),
    Output("data-delete-body", "children"),
    Input({"type": "data-delete", "index": ALL}, "n_clicks"),
    Input("data-delete-cancel", "n_clicks"),
    prevent_initial_call=True,
)
def ask_delete(_clicks, _cancel):
    trigger = ctx.triggered_id
    if isinstance(trigger, dict) and ctx.triggered[0]["value"]:
        try:
            meta = context.workspace().get(trigger["index"])
        except TxlabError:
            raise PreventUpdate from None
        return True, meta.id, f"“{meta.name}” ({meta.rows:,} rows) and its mapping will be removed from the server."
    if trigger == "data-delete-cancel":
        return False, None, no_update
    raise PreventUpdate


@callback(
    Output("data-deleted", "data"),
    Output("data-delete-modal", "is_open", allow_duplicate=True),
    Output("data-result", "children", allow_duplicate=True),
    Input("data-delete-confirm", "n_clicks"),
    State("data-pending-delete", "data"),
    prevent_initial_call=True,
)
def delete_dataset(n_clicks: int | None, dataset_id: str | None):
    if not n_clicks or not dataset_id:
        raise PreventUpdate
    try:
        meta = context.workspace().get(dataset_id)
        context.workspace().delete(dataset_id)
    except Exception as error:  # noqa: BLE001
        return no_update, False, error_alert(error, "Could not delete the dataset")
    return dataset_id, False, info_alert(f"Deleted “{meta.name}”.", color="secondary")


@callback(
    Output("data-result", "children", allow_duplicate=True),
    Input({"type": SHARE, "index": ALL}, "value"),
    prevent_initial_call=True,
)
def share_dataset(_values):
    """Share the dataset whose switch was flipped with everyone, or stop sharing it (owner or admin)."""
    dataset_id, shared = sharing_views.share_request()
    workspace = context.workspace()
    try:
        if workspace.get(dataset_id).shared == shared:
            raise PreventUpdate  # the list was drawn, nothing was flipped
        meta = workspace.share(dataset_id, shared)
    except PreventUpdate:
        raise
    except Exception as error:  # noqa: BLE001
        return error_alert(error, "Could not change the sharing")
    if shared:
        return info_alert(f"“{meta.name}” is shared: every user can explore it and train on it; only its owner or an admin can change or delete it.", color="info")
    return info_alert(f"“{meta.name}” is no longer shared.", color="secondary")


# --- large files: sent in chunks by assets/stream_upload.js to dashboard/streamed_upload.py ---


def _stream_card(max_mb: int) -> dbc.Card:
    """The large-file upload: a file input (added by the script), its progress bar, Cancel and errors."""
    limit = components.human_bytes(max_mb * 1024 * 1024).replace(".0 ", " ")
    title = html.Label(f"Large file (up to {limit})", htmlFor="data-stream-file", className="mb-0")
    running = html.Div(
        [
            dbc.Progress(id="data-stream-progress", value=0, label="", className="flex-grow-1", style={"height": "1.25rem"}),
            dbc.Button("Cancel", id="data-stream-cancel", size="sm", color="outline-secondary", disabled=True),
        ],
        id="data-stream-running",
        className="d-flex align-items-center gap-2 mt-2",
        style={"display": "none"},
    )
    body = html.Div(
        [
            html.H5([html.I(className="bi bi-cloud-arrow-up me-2"), title]),
            html.Div(id="data-stream-picker"),
            html.Div("Sent in pieces straight to the server's disk, with progress; then read like an upload.", className="form-text"),
            running,
            html.Div(id="data-stream-status", className="small text-muted mt-1"),
            html.Div(id="data-stream-import", className="small text-muted"),
            html.Div(id="data-stream-error", className="alert alert-danger small py-2 mt-2 mb-0", role="alert", style={"display": "none"}),
        ],
        id="data-stream",
        className="txlab-stream-upload",
        **{"data-max-bytes": str(max_mb * 1024 * 1024), "data-accept": ".csv,.gz,.tsv,.txt,.parquet,.pq"},
    )
    return dbc.Card(dbc.CardBody(body))


@callback(
    Output("data-result", "children", allow_duplicate=True),
    Output("data-created", "data", allow_duplicate=True),
    Output("data-stream-status", "children"),
    Input("data-stream-done", "data"),
    background=True,
    interval=PROGRESS_POLL_MS,
    progress=[Output("data-stream-import", "children"), Output("data-stream-cancel", "disabled")],
    progress_default=["", True],
    running=[(Output("data-stream-picker", "hidden"), True, False)],  # no second file while this one is read
    cancel=[Input("data-stream-cancel", "n_clicks")],  # stops the job's process; ``cancel_import`` removes the file
    prevent_initial_call=True,
)
def import_streamed(set_progress, done: dict | None):
    """Store a finished large-file upload as a dataset in the background, saying whether it is reading or storing,
    then show the same report and preview as an upload.

    Cancel works while the file is read, and is off while the dataset is written: a job stopped
    half way through writing would leave a partial copy behind.
    """
    if not isinstance(done, dict) or not done.get("id"):
        raise PreventUpdate
    name = str(done.get("name") or "the file")
    stages = {"reading": (f"Reading “{name}”…", False), "storing": (f"Storing “{name}” as a dataset…", True)}
    try:
        result = import_upload(str(done["id"]), on_stage=lambda stage: set_progress(stages[stage]))
    except Exception as error:  # noqa: BLE001 - every failure becomes an alert
        return error_alert(error, f"Could not read {name}"), no_update, ""
    return _imported_view(result.meta.id), result.meta.id, f"“{result.meta.name}” uploaded and stored."


@callback(
    Output("data-stream-status", "children", allow_duplicate=True),
    Output("data-stream-progress", "value"),
    Output("data-stream-progress", "label"),
    Output("data-stream-picker", "hidden", allow_duplicate=True),
    Input("data-stream-cancel", "n_clicks"),
    State("data-stream-done", "data"),
    prevent_initial_call=True,
)
def cancel_import(n_clicks: int | None, done: dict | None):
    """Remove the file of an import stopped by Cancel: its job was killed and could not remove it itself.

    The file picker comes back here too: Dash's own reset of ``running`` can lose the race with
    a progress poll that was in flight when the job was killed.
    """
    if not n_clicks or not isinstance(done, dict) or not done.get("id"):
        raise PreventUpdate
    if not abandon_upload(str(done["id"])):
        raise PreventUpdate  # Cancel stopped a file still being sent (assets/stream_upload.js), or the import had ended
    return f"Import of “{done.get('name') or 'the file'}” cancelled.", 0, "", False


def _imported_view(dataset_id: str) -> html.Div:
    workspace = context.workspace()
    meta = workspace.get(dataset_id)
    preview = workspace.preview(dataset_id, PREVIEW_ROWS)
    summary = [
        html.Strong(f"Stored “{meta.name}”: "),
        f"{meta.rows:,} rows, {len(meta.columns)} columns. ",
        dcc.Link(["Map its columns ", html.I(className="bi bi-arrow-right")], href="/mapping", className="alert-link", id="data-next-mapping"),
    ]
    parts = [info_alert(summary)]
    if meta.report:
        parts.append(components.ingest_report_view(meta.report))
    parts.append(components.preview_table(preview_records(preview), [str(c) for c in preview.columns]))
    return html.Div(parts)


def _decode_upload(contents: str, max_bytes: int) -> bytes:
    """The raw bytes of a ``data:...;base64,`` upload, refusing anything above the cap."""
    _, _, encoded = contents.partition(",")
    if len(encoded) * 3 // 4 > max_bytes + 3:
        raise TxlabError(f"The file is larger than the {max_bytes // (1024 * 1024)} MB upload limit; copy it into the data folder and load it from the server.")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise TxlabError("The upload was not received intact; please try again.") from None


def _whole(label: str, value) -> int:
    number = _number(label, value)
    if number != int(number):
        raise TxlabError(f"{label} must be a whole number, got {value!r}.")
    return int(number)


def _number(label: str, value) -> float:
    if value is None or value == "":
        raise TxlabError(f"{label} is required.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TxlabError(f"{label} must be a number, got {value!r}.") from None
