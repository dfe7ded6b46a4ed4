"""Train page: hyperparameters, a background training job with live curves, follow mode and cancel.

The job (``core.training_job.run_training``) streams every event through ``set_progress``
as full figures. How a run ended, and every view of a run this browser did not start (a
reload, another browser), comes from the run's record on disk (``core.runs.RunStore``),
polled once a second by ``follow`` while a run is in progress: one rendering for all cases.
Runs are read through the user's own ``context.runs()``: a page follows only that user's runs.
"""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from core.errors import TxlabError
from core.train import TrainConfigError
from core.training_job import run_training  # imported here so every job process inherits torch
from dashboard import context
from dashboard import training_views as views
from dashboard.alerts import error_alert

dash.register_page(__name__, path="/train", name="Train", title="txlab · Train", order=3)

FOLLOW_MS = 1000
PROGRESS_POLL_MS = 500

_PARAMS = {"type": views.PARAM, "name": ALL}
_FLAGS = {"type": views.FLAG, "name": ALL}
_FEEDBACK = {"type": views.FEEDBACK, "name": ALL}
# The outputs one live update sets, in views.live_outputs order.
_LIVE = [
    Output("train-loss-graph", "figure"),
    Output("train-metrics-graph", "figure"),
    Output("train-progress", "value"),
    Output("train-progress-text", "children"),
    Output("train-stage", "children"),
    Output("train-log", "children"),
]


def layout(**_query) -> html.Div:
    loss, metrics, value, label, stage, log = views.idle_outputs()
    return html.Div(
        [
            dcc.Store(id="train-run", storage_type="session"),  # this browser session's latest run
            dcc.Store(id="train-followed"),  # the run this page shows
            dcc.Store(id="train-live", data=False),  # True while this page streams its own job
            dcc.Interval(id="train-follow-interval", interval=FOLLOW_MS, disabled=False),
            html.H3("Train"),
            html.P("Train a fraud model on the session's mapped dataset and watch it learn. Baselines trained on the same split show whether the network earns its keep.",
                   className="text-muted"),
            html.Div(id="train-dataset"),
            dbc.Row(
                [
                    dbc.Col(
                        dbc.Card(
                            dbc.CardBody([
                                html.Div([
                                    dbc.Button([html.I(className="bi bi-play-fill me-1"), "Train"], id="train-start", color="primary", className="me-2", disabled=True),
                                    dbc.Button([html.I(className="bi bi-stop-fill me-1"), "Cancel"], id="train-cancel", color="outline-danger", disabled=True),
                                ], className="mb-2"),
                                html.Div(id="train-cancel-note", className="small text-muted mb-2"),
                                html.Div(id="train-form-message", className="mb-2"),
                                html.H5("Hyperparameters", className="card-title"),
                                views.hyperparameter_form(),
                            ]),
                            className="mb-3 txlab-section",
                        ),
                        lg=4,
                    ),
                    dbc.Col(
                        [
                            html.Div(id="train-job-message"),
                            html.Div(id="train-result"),
                            dbc.Card(
                                dbc.CardBody([
                                    html.H4("Progress", className="card-title"),
                                    html.Div(id="train-follow-note"),
                                    html.Div(stage, id="train-stage", className="mb-2"),
                                    dbc.Row([
                                        dbc.Col(dbc.Progress(id="train-progress", value=value, style={"height": "1.25rem"})),
                                        dbc.Col(html.Span(label, id="train-progress-text", className="small text-muted"), width="auto"),
                                    ], className="g-2 align-items-center mb-3"),
                                    dbc.Row([
                                        dbc.Col(dcc.Graph(id="train-loss-graph", figure=loss, config=views.GRAPH_CONFIG, className="txlab-graph"), xl=6),
                                        dbc.Col(dcc.Graph(id="train-metrics-graph", figure=metrics, config=views.GRAPH_CONFIG, className="txlab-graph"), xl=6),
                                    ], className="g-2"),
                                    html.H5("Epochs", className="mt-2"),
                                    html.Div(log, id="train-log", className="table-responsive"),
                                ]),
                                className="mb-3 txlab-section",
                            ),
                        ],
                        lg=8,
                    ),
                ],
                className="g-3",
            ),
        ]
    )


@callback(Output("train-dataset", "children"), Output("train-start", "disabled"), Input("app-dataset", "data"))
def show_dataset(dataset_id: str | None):
    """Which dataset a run would train on; Train stays off until it has a saved mapping."""
    meta = None
    if dataset_id:
        try:
            meta = context.workspace().get(dataset_id)
        except TxlabError:
            meta = None
    return views.dataset_status(meta), not (meta is not None and meta.mapping)


@callback(
    Output(_PARAMS, "invalid"),
    Output(_FEEDBACK, "children"),
    Output("train-form-message", "children"),
    Input(_PARAMS, "value"),
    State(_PARAMS, "id"),
)
def check_form(values: list, ids: list[dict]):
    """Mark each field whose value TrainConfig refuses, with the reason under it."""
    errors = views.field_errors({i["name"]: v for i, v in zip(ids, values)})
    message = dbc.Alert(f"Fix {len(errors)} setting{'s' if len(errors) != 1 else ''} before training.", color="danger", className="py-2 mb-0",
                        id="train-form-invalid") if errors else None
    return [i["name"] in errors for i in ids], [errors.get(i["name"]) for i in ids], message


@callback(
    Output("train-job-message", "children"),
    Input("train-start", "n_clicks"),
    State(_PARAMS, "value"),
    State(_PARAMS, "id"),
    State(_FLAGS, "value"),
    State(_FLAGS, "id"),
    State("app-dataset", "data"),
    background=True,
    interval=PROGRESS_POLL_MS,
    progress=[*_LIVE, Output("train-run", "data"), Output("train-followed", "data"), Output("train-result", "children"),
              Output("train-follow-note", "children"), Output("train-cancel-note", "children")],
    running=[
        (Output("train-start", "disabled"), True, False),
        (Output("train-cancel", "disabled"), False, True),
        (Output("train-follow-interval", "disabled"), True, False),  # off while live; on at the end to show how it ended
        (Output("train-live", "data"), True, False),
        (Output("train-job-message", "children"), None, None),  # the last attempt's error goes; this one's result comes after
    ],
    prevent_initial_call=True,
)
def train(set_progress, n_clicks, values, ids, flags, flag_ids, dataset_id):
    """Run training in the background and stream each event to the page; errors before a run as alerts."""
    if not n_clicks:
        raise PreventUpdate
    if not dataset_id:
        return dbc.Alert("Choose a dataset on the Data page first.", color="warning", id="train-job-error")
    try:
        config = views.config_from_form(views.form_data(values, ids, flags, flag_ids))
    except TrainConfigError as error:
        return error_alert(error, "Check the settings")
    live = views.LiveRun(top_k=config.top_k)

    def on_event(event: dict) -> None:
        live.apply(event)
        set_progress((*views.live_outputs(live), live.run_id, live.run_id, None, None, None))

    settings = context.settings()
    try:  # the user's workspace: their datasets or shared ones; the run and version are theirs
        run_training(workspace=context.workspace(), models_dir=settings.models_dir, dataset_id=dataset_id, config=config, on_event=on_event)
    except Exception as error:  # noqa: BLE001 - e.g. no saved mapping: nothing was started
        return error_alert(error, "Could not start training")
    return None  # how the run ended is read from its record by ``follow``


@callback(
    *_LIVE,
    Output("train-follow-note", "children"),
    Output("train-followed", "data"),
    Output("train-follow-interval", "disabled"),
    Output("train-cancel", "disabled"),
    Output("train-result", "children"),
    Input("train-follow-interval", "n_intervals"),
    Input("train-run", "data"),  # also when the session's run id is read back after a reload
    State("train-followed", "data"),
    State("train-live", "data"),
)
def follow(_ticks, own_id: str | None, followed_id: str | None, live_job: bool = False):
    """Render the run this page follows from its record; stop polling once it is over.

    Nothing to do while this page's own job streams its events (``train-live``).
    """
    if live_job:
        raise PreventUpdate
    try:
        record = views.pick_run(context.runs(), own_id, followed_id)
    except Exception as error:  # noqa: BLE001
        return (*views.idle_outputs(), error_alert(error, "Could not read the training runs"), None, True, True, None)
    if record is None:
        return (*views.idle_outputs(), None, None, True, True, None)
    live = views.LiveRun.from_record(record)
    running = record.active
    result = None if running else views.result_view(record, views.version_metrics(context.registry(), record))
    return (*views.live_outputs(live), views.follow_note(live, own=record.id == own_id), record.id, not running, not running, result)


@callback(
    Output("train-cancel-note", "children"),
    Input("train-cancel", "n_clicks"),
    State("train-followed", "data"),
    State("train-run", "data"),
    prevent_initial_call=True,
)
def cancel(n_clicks, followed_id: str | None, own_id: str | None):
    """Ask the shown run to stop; it ends "cancelled" within one step and saves nothing."""
    run_id = followed_id or own_id
    if not n_clicks or not run_id:
        raise PreventUpdate
    try:
        context.runs().request_cancel(run_id)
    except Exception as error:  # noqa: BLE001
        return error_alert(error, "Could not cancel the run")
    return html.Span([html.I(className="bi bi-hourglass-split me-1"), "Stop requested: the run ends after its current step."], id="train-cancel-requested")
