"""The Train and Models pages' pieces: the hyperparameter form, live run state, tables and result views.

Pages stay thin: a callback reads its inputs, asks ``core`` (``train_config``, ``runs``,
``registry``) and returns what these functions build. ``LiveRun`` is the one shape both live
streaming (events from ``run_training``) and follow mode (a stored ``RunRecord``) render from,
so a reload shows exactly what the training browser showed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone

import dash_bootstrap_components as dbc
from dash import dcc, html

from core.access import Principal
from core.errors import TxlabError
from core.registry import ModelRegistry
from core.train_config import TRAIN_FIELDS, TrainConfig, TrainConfigError
from dashboard import figures, sharing_views

PARAM = "train-param"  # pattern-matching id type of the number and text fields
FLAG = "train-flag"  # ... and of the on/off switches
FEEDBACK = "train-feedback"
SHARE = "models-share"  # pattern-matching id type of the versions table's "Shared" switches
GRAPH_CONFIG = {"displaylogo": False, "responsive": True}
LOG_ROWS = 50  # the epoch table sent with every live update stays small

_FLAGS = ("baselines", "behaviour_features")
_TEXT = ("hidden_layers",)
_INTS = frozenset(f.name for f in fields(TrainConfig) if f.type == "int")
STATUS_COLOR = {"running": "primary", "finished": "success", "cancelled": "warning", "failed": "danger"}
METRICS = (
    ("roc_auc", "ROC AUC"),
    ("average_precision", "Average precision"),
    ("precision_at_k", "Precision@{k}"),
    ("recall_at_1pct_fpr", "Recall at 1% FPR"),
)


# --- the hyperparameter form --------------------------------------------------------------------


def hyperparameter_form(config: TrainConfig | None = None) -> html.Div:
    """One labelled control per training setting, with its help text and an inline error slot."""
    values = (config or TrainConfig()).to_dict()
    numbers, switches = [], []
    for knob in TRAIN_FIELDS:
        if knob.name in _FLAGS:
            switches.append(dbc.Col([
                dbc.Switch(id={"type": FLAG, "name": knob.name}, label=knob.label, value=bool(values[knob.name]), persistence=True, persistence_type="session"),
                html.Div(knob.help, className="form-text mt-0"),
            ], xs=12))
            continue
        numbers.append(dbc.Col([
            dbc.Label(knob.label, html_for=_dom_id(PARAM, knob.name), className="small mb-0"),
            _input(knob, values[knob.name]),
            dbc.FormFeedback(id={"type": FEEDBACK, "name": knob.name}, type="invalid"),
            html.Div(knob.help, className="form-text mt-0 txlab-help"),
        ], xs=6))
    return html.Div([dbc.Row(numbers, className="g-3"), dbc.Row(switches, className="g-3 mt-1")], id="train-form")


def form_data(values: list, ids: list[dict], flags: list, flag_ids: list[dict]) -> dict:
    """The form's pattern-matched values as one ``{setting: value}`` dict."""
    data = {i["name"]: v for i, v in zip(ids, values)}
    data.update({i["name"]: bool(v) for i, v in zip(flag_ids, flags)})
    return data


def field_errors(data: dict) -> dict[str, str]:
    """Each setting checked on its own (the others at their defaults): name -> message naming it."""
    errors = {}
    for name, value in data.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            errors[name] = _missing(name)
            continue
        try:
            TrainConfig.from_dict({name: value})
        except TrainConfigError as error:
            errors[name] = str(error)
    return errors


def config_from_form(data: dict) -> TrainConfig:
    """The whole config, or ``TrainConfigError`` whose message names every bad field."""
    errors = field_errors(data)
    if errors:
        raise TrainConfigError(" ".join(errors.values()))
    return TrainConfig.from_dict(data)


def _input(knob, value) -> dbc.Input:
    common = dict(id={"type": PARAM, "name": knob.name}, size="sm", persistence=True, persistence_type="session")  # kept across visits
    if knob.name in _TEXT:
        text = ",".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
        return dbc.Input(type="text", value=text, placeholder="128,64", **common)
    # No min/max/step: the browser would turn an out-of-range entry into "no value", and
    # TrainConfig's own message ("... from 1 to 500 (got 0)") says more.
    return dbc.Input(type="number", value=value, step="any", **common)


def _missing(name: str) -> str:
    if name in _TEXT:
        return f"{_label(name)} needs at least one width, e.g. 128,64."
    knob = next((k for k in TRAIN_FIELDS if k.name == name), None)
    kind = "a whole number" if name in _INTS else "a number"
    span = f" from {knob.low:g} to {knob.high:g}" if knob is not None and knob.low is not None else ""
    return f"{_label(name)} needs {kind}{span}."


def _label(name: str) -> str:
    return next((k.label for k in TRAIN_FIELDS if k.name == name), name.replace("_", " ").capitalize())


def _dom_id(kind: str, name: str) -> str:
    return '{"name":"%s","type":"%s"}' % (name, kind)


# --- a run as the page shows it -----------------------------------------------------------------


@dataclass
class LiveRun:
    """What the Train page draws: built from ``run_training`` events or from a stored run."""

    run_id: str | None = None
    epochs_total: int | None = None
    stage: str = "Starting"
    history: list[dict] = field(default_factory=list)
    baselines: dict = field(default_factory=dict)
    status: str = "running"
    top_k: int = 100
    owner: str | None = None
    dataset_name: str | None = None
    started: str | None = None
    message: str | None = None
    version: str | None = None

    @classmethod
    def from_record(cls, record) -> "LiveRun":
        return cls(
            run_id=record.id, epochs_total=record.epochs_total, stage=record.stage or "", history=list(record.history or []),
            baselines=dict(record.baselines or {}), status=record.status, top_k=int((record.config or {}).get("top_k", 100)),
            owner=record.owner, dataset_name=record.dataset_name, started=record.started, message=record.message,
            version=record.version,
        )

    def apply(self, event: dict) -> None:
        """Fold one ``on_event`` dict into the state."""
        kind = event.get("type")
        if kind == "started":
            self.run_id = event.get("run_id")
            self.epochs_total = event.get("epochs", self.epochs_total)
        elif kind == "stage":
            self.stage = str(event.get("stage", ""))
        elif kind == "baseline":
            self.baselines[str(event.get("name"))] = dict(event.get("metrics") or {})
        elif kind == "epoch":
            self.history.append({k: v for k, v in event.items() if k != "type"})
            self.epochs_total = event.get("epochs", self.epochs_total)

    @property
    def done(self) -> int:
        return len(self.history)

    def eta_seconds(self) -> float | None:
        """Seconds left if every planned epoch runs (early stopping can end sooner)."""
        if not self.history or not self.epochs_total:
            return None
        elapsed = self.history[-1].get("elapsed_s")
        if not isinstance(elapsed, (int, float)) or not math.isfinite(elapsed) or elapsed <= 0:
            return None
        return elapsed / self.done * max(self.epochs_total - self.done, 0)


def live_outputs(live: LiveRun) -> tuple:
    """Loss figure, metrics figure, progress value, progress text, stage line, epoch log: one full update."""
    total = live.epochs_total or 0
    finished = live.status == "finished"
    value = 100 if finished else (round(100 * live.done / total) if total else 0)
    label = f"{live.done}/{total} epochs" if total else ""
    return (
        figures.training_loss_figure(live.history, total or None),
        figures.training_metrics_figure(live.history, live.baselines, total or None),
        value,
        label,
        stage_line(live),
        epoch_log(live.history, live.top_k),
    )


def idle_outputs() -> tuple:
    """The same outputs before any run: empty graphs, no progress."""
    return live_outputs(LiveRun(status="idle", stage=""))[:4] + ("", epoch_log([], 100))


def stage_line(live: LiveRun) -> list:
    parts: list = []
    if live.status == "running":
        parts.append(dbc.Spinner(size="sm", color="primary", spinner_class_name="me-2", id="train-stage-spinner"))
        parts.append(html.Strong(live.stage or "Working"))
        if live.done and live.epochs_total:
            parts.append(f" · epoch {live.done} of {live.epochs_total}")
        eta = live.eta_seconds()
        if eta is not None and live.done < (live.epochs_total or 0):
            parts.append(f" · about {_duration(eta)} left")
    else:
        parts.append(dbc.Badge(live.status, color=STATUS_COLOR.get(live.status, "secondary"), className="me-2"))
        parts.append(f"{live.done} epochs" if live.done else "")
    return parts


def epoch_log(history: list[dict], top_k: int = 100) -> html.Div:
    """One row per epoch, newest first (the latest ``LOG_ROWS``); the best epoch so far highlighted."""
    head = ["Epoch", "Train loss", "Val loss", "ROC AUC", "AP", f"P@{top_k}", "R@1% FPR", "Rows/s", "Time"]
    best = _best(history)
    shown = history[-LOG_ROWS:]
    rows = [
        html.Tr(
            [
                html.Td([str(h.get("epoch", "")), html.I(className="bi bi-star-fill text-warning ms-1", title="best so far") if h is best else None]),
                *[html.Td(_fmt(h.get(k), 4), className="text-end") for k in ("train_loss", "val_loss", "roc_auc", "average_precision")],
                *[html.Td(_fmt(h.get(k), 3), className="text-end") for k in ("precision_at_k", "recall_at_1pct_fpr")],
                html.Td(_rate(h.get("rows_per_s")), className="text-end"),
                html.Td(_duration(h.get("elapsed_s")), className="text-end"),
            ],
            className="table-success" if h is best else None,
        )
        for h in reversed(shown)
    ]
    table = dbc.Table([html.Thead(html.Tr([html.Th(c, className="text-end" if i else None) for i, c in enumerate(head)])), html.Tbody(rows)],
                      size="sm", hover=True, className="txlab-table mb-0", id="train-epoch-table")
    more = len(history) - len(shown)
    return html.Div([table, html.Div(f"{more:,} earlier epochs are in the graphs.", className="small text-muted") if more else None])


def pick_run(runs, own_id: str | None, followed_id: str | None):
    """The run a Train page shows: its own if running, the one it follows, the newest running one, else its own last.

    ``runs`` is a ``core.runs.RunStore`` scoped to the page's user, so only their runs are found (an
    admin's store has everyone's: their own newest running run comes first). Ids that no longer
    exist, or are someone else's, are skipped.
    """
    own, followed = _get_run(runs, own_id), _get_run(runs, followed_id)
    if own is not None and own.active:
        return own
    if followed is not None:
        return followed
    running = runs.running()
    viewer = getattr(runs, "viewer", None)
    mine = [r for r in running if viewer is not None and r.owner == viewer.name]
    return (mine or running or [own])[0]


def version_metrics(registry: ModelRegistry, record) -> dict | None:
    """The saved version's metrics for a finished run (None when it is gone: the history decides)."""
    if not record.version:
        return None
    try:
        return registry.get_info(record.version).metrics or None
    except TxlabError:
        return None


def _get_run(runs, run_id: str | None):
    if not run_id:
        return None
    try:
        return runs.get(run_id)
    except TxlabError:
        return None


def follow_note(live: LiveRun, own: bool) -> html.Span | None:
    """Whose run the page shows when it is not this browser's."""
    if own or live.run_id is None:
        return None
    when = _clock(live.started)
    return dbc.Alert([html.I(className="bi bi-eye me-2"), "Following ", html.Strong(f"{live.owner or 'someone'}'s run"),
                      f" on “{live.dataset_name or 'a dataset'}”", f" (started {when} UTC)" if when else "", "."],
                     color="info", className="py-2 mb-2", id="train-following")


# --- results and tables -------------------------------------------------------------------------


def best_metrics(history: list[dict]) -> dict:
    """The best epoch's metrics (the last one marked best; else the highest average precision)."""
    row = _best(history)
    return {k: row.get(k) for k, _ in METRICS} if row else {}


def metrics_table(metrics: dict, baselines: dict, top_k: int = 100, id_: str | None = None) -> dbc.Table:
    """The model's metrics beside each baseline's; the better of model and best baseline in bold."""
    names = sorted(baselines)
    head = ["Metric", "Model", *[figures.BASELINE_LABEL.get(n, n) for n in names]]
    rows = []
    for key, label in METRICS:
        ours = metrics.get(key)
        theirs = [baselines[n].get(key) for n in names]
        best_other = max((v for v in theirs if _number(v)), default=None)
        win = _number(ours) and (best_other is None or ours >= best_other)
        rows.append(html.Tr([
            html.Td(label.format(k=top_k)),
            html.Td(_fmt(ours, 4), className="text-end" + (" fw-bold" if win else "")),
            *[html.Td(_fmt(v, 4), className="text-end" + (" fw-bold" if _number(v) and not win and v == best_other else "")) for v in theirs],
        ]))
    return dbc.Table([html.Thead(html.Tr([html.Th(h, className="text-end" if i else None) for i, h in enumerate(head)])), html.Tbody(rows)],
                     size="sm", className="txlab-table", id=id_)


def result_view(record, metrics: dict | None = None) -> dbc.Alert:
    """How a run ended: the saved version and its metrics, a cancellation, or a readable failure."""
    if record.status == "finished" and record.version:
        top_k = int((record.config or {}).get("top_k", 100))
        return dbc.Alert(
            [
                html.H5([html.I(className="bi bi-check-circle me-2"), "Training finished"], className="alert-heading"),
                html.P(["Saved model version ", html.Strong(record.version, className="txlab-col", id="train-result-version"), ". ",
                        dcc.Link(["See it on the Models page ", html.I(className="bi bi-arrow-right")], href=f"/models?version={record.version}",
                                 className="alert-link", id="train-models-link")]),
                html.Div("Best epoch on the validation window, beside the baselines:", className="small mb-1"),
                metrics_table(metrics or best_metrics(record.history), record.baselines or {}, top_k, id_="train-result-metrics"),
            ],
            color="success", dismissable=True, className="txlab-alert", id="train-result-finished",
        )
    if record.status == "cancelled":
        done = len(record.history or [])
        return dbc.Alert([html.Strong("Training cancelled. "), f"Stopped after {done} epoch{'s' if done != 1 else ''}; no model version was saved.",
                          html.Span(f" {record.message}" if record.message else "")],
                         color="warning", dismissable=True, className="txlab-alert", id="train-result-cancelled")
    return dbc.Alert([html.Strong("Training failed. "), html.Span(record.message or "The run ended without a model.", className="txlab-error-message")],
                     color="danger", dismissable=True, className="txlab-alert", id="train-result-failed")


def dataset_status(meta) -> dbc.Alert | html.P:
    """The session's dataset, or what to do before training."""
    if meta is None:
        return dbc.Alert(["No dataset chosen for this browser session. ", dcc.Link("Bring one in on the Data page", href="/", className="alert-link"), "."],
                         color="info", id="train-no-dataset")
    if not meta.mapping:
        return dbc.Alert([f"“{meta.name}” has no saved mapping yet. ", dcc.Link("Map its columns on the Mapping page", href="/mapping", className="alert-link"),
                          " before training."], color="warning", id="train-not-mapped")
    rows = meta.mapped_rows if meta.mapped_rows is not None else meta.rows
    return html.P([html.Span("Dataset: ", className="text-muted"), html.Strong(meta.name), f" · {rows:,} mapped rows ",
                   dbc.Badge("mapping saved", color="success", className="ms-1")], id="train-dataset-name", className="mb-2")


def versions_table(infos: list, selected: str | None = None, viewer: Principal | None = None) -> dbc.Table | html.P:
    """Every version ``viewer`` sees: created, dataset, metrics, best baseline AP, status, sharing, active marker.

    Admins also see each version's owner; the owner (or an admin) gets a "Shared" switch. Without
    a viewer (no accounts: one user) there is no sharing column.
    """
    if not infos:
        return html.P(["No model versions yet. ", dcc.Link("Train one", href="/train"), "."], className="text-muted", id="models-empty")
    owners = sharing_views.show_owner(viewer)
    sharing = viewer is not None
    head = ["Created", "Version", "Dataset", *(["Owner"] if owners else []), "AP", "ROC AUC", "P@k", "Best baseline AP", "Status",
            *(["Shared"] if sharing else []), ""]
    rows = []
    for info in infos:
        m = info.metrics or {}
        baseline_ap = max((b.get("average_precision") for b in (info.baselines or {}).values() if _number(b.get("average_precision"))), default=None)
        rows.append(html.Tr(
            [
                html.Td(_when(info.created)),
                html.Td(info.id, className="txlab-col small"),
                html.Td(info.dataset_name or info.dataset_id or "–"),
                *([sharing_views.owner_cell(info.owner)] if owners else []),
                html.Td(_fmt(m.get("average_precision"), 3), className="text-end"),
                html.Td(_fmt(m.get("roc_auc"), 3), className="text-end"),
                html.Td(_fmt(m.get("precision_at_k"), 3), className="text-end"),
                html.Td(_fmt(baseline_ap, 3), className="text-end"),
                html.Td(info.status),
                *([sharing_views.share_cell(SHARE, info.id, info.id, info.owner, info.shared, viewer)] if sharing else []),
                html.Td(dbc.Badge("active", color="success", className="txlab-active") if info.active else None),
            ],
            className="table-active" if info.id == selected else None,
        ))
    return dbc.Table([html.Thead(html.Tr([html.Th(h, className="text-end" if h in ("AP", "ROC AUC", "P@k", "Best baseline AP") else None) for h in head])),
                      html.Tbody(rows)], size="sm", hover=True, responsive=True, className="txlab-table", id="models-versions")


def version_options(infos: list) -> list[dict]:
    return [{"label": f"{_when(i.created)} · {i.dataset_name or '?'} · AP {_fmt((i.metrics or {}).get('average_precision'), 3)}"
                      + (" · active" if i.active else ""), "value": i.id} for i in infos]


def runs_table(records: list) -> dbc.Table | html.P:
    """Recent training runs with their status and, for those that did not finish, why."""
    if not records:
        return html.P("No training runs yet.", className="text-muted", id="models-no-runs")
    rows = [
        html.Tr([
            html.Td(_when(r.started)),
            html.Td(r.dataset_name or r.dataset_id),
            html.Td(r.owner),
            html.Td(dbc.Badge(r.status, color=STATUS_COLOR.get(r.status, "secondary"), className="txlab-run-status")),
            html.Td(f"{len(r.history or [])}/{r.epochs_total or '?'}", className="text-end"),
            html.Td(r.version or "", className="txlab-col small"),
            html.Td(r.message or "", className="small"),
        ])
        for r in records
    ]
    head = ["Started", "Dataset", "Owner", "Status", "Epochs", "Version", "Message"]
    return dbc.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], size="sm", hover=True, className="txlab-table", id="models-runs-table")


def version_detail(info, history: list[dict]) -> html.Div:
    """One version: its curves from the stored history, metrics beside baselines, hyperparameters."""
    top_k = int((info.hyperparameters or {}).get("top_k", 100))
    return html.Div(
        [
            dbc.Row([
                dbc.Col(_graph(figures.training_loss_figure(history)), lg=6),
                dbc.Col(_graph(figures.training_metrics_figure(history, info.baselines)), lg=6),
            ], className="g-2"),
            dbc.Row([
                dbc.Col([html.H5("Metrics"), metrics_table(info.metrics or {}, info.baselines or {}, top_k, id_="models-detail-metrics")], lg=6),
                dbc.Col([html.H5("Hyperparameters"), hyperparameters_table(info.hyperparameters or {})], lg=6),
            ], className="g-3 mt-1"),
        ],
        id="models-detail-body",
    )


def hyperparameters_table(params: dict) -> dbc.Table:
    rows = [html.Tr([html.Td(_label(k)), html.Td(_param(v), className="txlab-col")]) for k, v in sorted(params.items(), key=lambda kv: _order(kv[0]))]
    return dbc.Table(html.Tbody(rows), size="sm", className="txlab-table", id="models-hyperparameters")


def hyperparameters_diff(a: dict, b: dict, labels: tuple[str, str]) -> dbc.Table:
    """Every setting of two versions side by side; the ones that differ highlighted and listed first."""
    keys = sorted(set(a) | set(b), key=lambda k: (a.get(k) == b.get(k), _order(k)))
    rows = [
        html.Tr([html.Td(_label(k)), html.Td(_param(a.get(k)), className="txlab-col"), html.Td(_param(b.get(k)), className="txlab-col")],
                className="table-warning txlab-differs" if a.get(k) != b.get(k) else None)
        for k in keys
    ]
    return dbc.Table([html.Thead(html.Tr([html.Th("Setting"), html.Th(labels[0]), html.Th(labels[1])])), html.Tbody(rows)],
                     size="sm", className="txlab-table", id="models-compare-params")


def metrics_diff(a: dict, b: dict, labels: tuple[str, str], top_k: int = 100) -> dbc.Table:
    """Each metric for both versions and the change from the first to the second (green when higher)."""
    rows = []
    for key, label in METRICS:
        va, vb = a.get(key), b.get(key)
        delta = vb - va if _number(va) and _number(vb) else None
        color = "" if not delta else (" text-success" if delta > 0 else " text-danger")
        rows.append(html.Tr([html.Td(label.format(k=top_k)), html.Td(_fmt(va, 4), className="text-end"), html.Td(_fmt(vb, 4), className="text-end"),
                             html.Td("–" if delta is None else f"{delta:+.4f}", className="text-end fw-semibold" + color)],
                            className="txlab-differs" if delta else None))
    head = ["Metric", labels[0], labels[1], "Change"]
    return dbc.Table([html.Thead(html.Tr([html.Th(h, className="text-end" if i else None) for i, h in enumerate(head)])), html.Tbody(rows)],
                     size="sm", className="txlab-table", id="models-compare-metrics")


def compare_view(a_info, a_history: list[dict], b_info, b_history: list[dict]) -> html.Div:
    labels = (short_label(a_info), short_label(b_info))
    return html.Div(
        [
            _graph(figures.versions_curves_figure([(labels[0], a_history), (labels[1], b_history)])),
            dbc.Row([
                dbc.Col([html.H5("Metrics"), metrics_diff(a_info.metrics or {}, b_info.metrics or {}, labels,
                                                          int((b_info.hyperparameters or {}).get("top_k", 100)))], lg=6),
                dbc.Col([html.H5("Hyperparameters"), hyperparameters_diff(a_info.hyperparameters or {}, b_info.hyperparameters or {}, labels)], lg=6),
            ], className="g-3"),
        ],
        id="models-compare-body",
    )


def short_label(info) -> str:
    return f"{info.id[2:17]} · {info.dataset_name or '?'}"


def _graph(fig) -> dcc.Graph:
    return dcc.Graph(figure=fig, config=GRAPH_CONFIG, className="txlab-graph")


# --- formatting ---------------------------------------------------------------------------------


def _best(history: list[dict]) -> dict | None:
    marked = [h for h in history if h.get("best")]
    if marked:
        return marked[-1]
    scored = [h for h in history if _number(h.get("average_precision"))]
    return max(scored, key=lambda h: h["average_precision"]) if scored else None


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(value, digits: int) -> str:
    return f"{value:.{digits}f}" if _number(value) else "–"


def _rate(value) -> str:
    if not _number(value):
        return "–"
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    return f"{value / 1e3:.0f}k" if value >= 1e3 else f"{value:.0f}"


def _duration(seconds) -> str:
    if not _number(seconds):
        return "–"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _param(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "on" if value else "off"
    return "auto" if value is None else str(value)  # None settings are chosen at training time


def _order(name: str) -> int:
    names = [k.name for k in TRAIN_FIELDS]
    return names.index(name) if name in names else len(names)


def _when(iso: str | None) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return iso or ""


def _clock(iso: str | None) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone(timezone.utc).strftime("%H:%M")
    except (TypeError, ValueError):
        return ""
