"""Views for the Predict and Score pages: the form a model's schema asks for, a scored row and its
explanation, the mapping check of a file, a batch scoring job and its result.

Models are loaded through a small per-process LRU (``loaded_model``): a version's files are
checked and its ``RowScorer`` built once, then reused by every user of this worker process.
The cache holds models only (keyed by version and the time its description was written),
nothing that belongs to one user; every lookup first resolves the id through the caller's
registry, so a user only ever gets a version they may see, cached or not.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import dcc, html

from core.errors import TxlabError
from core.explain import Explanation
from core.export import write_table
from core.fraud_model import FraudModel
from core.ingest import read_table
from core.predict import ModelSchema, RowScore, RowScorer, model_schema, score_table
from core.access import Principal, can_see, owner_name
from core.files import write_json
from core.registry import ModelRegistry, as_registry
from core.schema import ColumnMapping
from core.scoring import SCORE_COLUMN, load_model
from dashboard import figures
from dashboard.training_views import version_options

CAT, NUM, TIME = "predict-cat", "predict-num", "predict-time"  # pattern-matching id types of the form
FEEDBACK = "predict-feedback"
MAX_OPTIONS = 100  # categorical values offered at once; typing searches the rest
CACHE_SIZE = 4
GRAPH_CONFIG = {"displaylogo": False, "responsive": True}
TOP_ROWS = 50
SCORE_BINS = 20
FORMATS = ("csv", "parquet")
KEEP_FILES_S = 24 * 3600  # uploads and scored files older than this are removed when new ones are written
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_NO_SCORED_FILE = "That scored file does not exist: score the file again."  # absent, forged or another user's: one answer
_NO_UPLOAD = "The uploaded file is no longer available: upload it again."  # the same for uploads
_KIND_LABEL = {"categorical": "category", "number": "number", "datetime": "date and time"}


# --- models ---------------------------------------------------------------------------------


@dataclass
class CachedModel:
    """One loaded version; its RowScorer and schema are built on first use (about a second)."""

    version: str
    model: FraudModel
    meta: dict
    _scorer: RowScorer | None = None
    _schema: ModelSchema | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def scorer(self) -> RowScorer:
        with self._lock:
            if self._scorer is None:
                self._scorer = RowScorer(self.model, self.meta)
            return self._scorer

    @property
    def schema(self) -> ModelSchema:
        with self._lock:
            if self._schema is None:
                self._schema = model_schema(self.version, self.model, self.meta)
            return self._schema

    @property
    def mapping(self) -> ColumnMapping:
        return ColumnMapping.from_dict(self.meta.get("mapping") or {})


class _ModelCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple, CachedModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, registry: ModelRegistry, ref: str) -> CachedModel:
        version = registry.resolve(ref)  # the visibility check, before the cache is read
        models_dir = registry.models_dir
        key = (str(models_dir), version, _stamp(models_dir, version))
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        version, model, meta = load_model(registry, version)  # integrity-checked; outside the lock
        entry = CachedModel(version, model, meta)
        with self._lock:
            self._items[key] = entry
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return entry


_models = _ModelCache(CACHE_SIZE)


def loaded_model(registry: ModelRegistry | Path, ref: str | None) -> CachedModel:
    """The version ``ref`` (an id or "active"), loaded once per process; raises TxlabError when missing or damaged.

    ``registry`` is the page's (scoped to its user: another user's version is not found) or a models folder.
    """
    if not ref:
        raise TxlabError("No model version chosen: train one on the Train page first.")
    return _models.get(as_registry(registry), ref)


def _stamp(models_dir: Path, version: str) -> int:
    """When the version's description was last written: a changed or replaced version is loaded again."""
    try:
        return (Path(models_dir) / version / "model.json").stat().st_mtime_ns
    except OSError:
        return 0


def version_picker(infos: list, selected: str | None) -> tuple[list[dict], str | None]:
    """A version dropdown's options, and the version kept chosen: the selection while it exists,
    else the active one, else the newest."""
    ids = [i.id for i in infos]
    chosen = selected if selected in ids else next((i.id for i in infos if i.active), ids[0] if ids else None)
    return version_options(infos), chosen


# --- the single-row form ----------------------------------------------------------------------


def model_form(schema: ModelSchema) -> html.Div:
    """One input per field the model reads, in schema order, each starting at its default."""
    rows = [_field_input(spec) for spec in schema.fields if spec.kind != "datetime" or schema.uses_time]
    return html.Div(dbc.Row(rows, className="g-3"), id="predict-form-fields")


def _field_input(spec) -> dbc.Col:
    label = dbc.Label([html.Span(spec.name, className="txlab-col"), html.Span(f" · {_KIND_LABEL.get(spec.kind, spec.kind)}", className="text-muted small")],
                      className="mb-1")
    if spec.kind == "categorical":
        control = dcc.Dropdown(id={"type": CAT, "name": spec.name}, options=category_options(spec, None, spec.default),
                               value=_text(spec.default), searchable=True, clearable=False,
                               placeholder="Choose or type a value", className="txlab-predict-dropdown")
        note = html.Div(f"{len(spec.known):,} known, most frequent first; type to search or add a new one.", className="form-text")
    elif spec.kind == "datetime":
        control = dbc.Input(id={"type": TIME, "name": spec.name}, type="datetime-local", step=1, value=_datetime_text(spec.default))
        note = html.Div("When the transaction happens.", className="form-text")
    else:
        control = dbc.Input(id={"type": NUM, "name": spec.name}, type="text", inputMode="decimal", value=_number_text(spec.default))
        note = dbc.FormFeedback(id={"type": FEEDBACK, "name": spec.name}, type="invalid")
    return dbc.Col([label, control, note], md=6, lg=4)


def category_options(spec, search: str | None, value: str | None) -> list[dict]:
    """Known values matching ``search`` (most frequent first), the typed value itself when the model never saw it,
    and the current value, so it stays selectable."""
    known = [str(v) for v in spec.known]
    known_set = set(known)
    needle = (search or "").strip()
    matches = [v for v in known if needle.lower() in v.lower()] if needle else known
    options = [{"label": v, "value": v} for v in matches[:MAX_OPTIONS]]
    shown = {o["value"] for o in options}
    for extra in (needle, _text(value)):
        if extra and extra not in shown:
            options.insert(0, {"label": extra if extra in known_set else f"{extra} (new to the model)", "value": extra})
            shown.add(extra)
    return options


def number_error(name: str, value) -> str | None:
    """Why ``value`` is not a usable number for field ``name`` (None when it is; blank means missing)."""
    if value is None or str(value).strip() == "":
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        hint = " (use a dot for decimals, no thousands separators)" if "," in str(value) else ""
        return f"{name} must be a number{hint}, got {str(value)!r}."
    if not math.isfinite(number):
        return f"{name} must be a finite number, got {str(value)!r}."
    return None


def form_values(cat: list, cat_ids: list[dict], num: list, num_ids: list[dict], times: list, time_ids: list[dict]) -> dict:
    """The form as ``{field: value}``; raises TxlabError naming the first field that is not a number."""
    values: dict = {i["name"]: v for i, v in zip(cat_ids, cat)}
    for i, v in zip(num_ids, num):
        problem = number_error(i["name"], v)
        if problem:
            raise TxlabError(problem)
        values[i["name"]] = None if v is None or str(v).strip() == "" else float(str(v).strip())
    for i, v in zip(time_ids, times):
        values[i["name"]] = v or None
    return values


def model_note(entry: CachedModel) -> html.Div:
    schema = entry.schema
    meta = entry.meta
    parts = [html.Span("Version "), html.Strong(entry.version, id="predict-version-id"),
             html.Span(f" · trained on “{meta.get('dataset_name') or '?'}”")]
    ap = (meta.get("metrics") or {}).get("average_precision")
    if isinstance(ap, (int, float)):
        parts.append(html.Span(f" · validation AP {ap:.3f}"))
    parts.append(html.Span(f" · reads {len(schema.fields)} fields{' including the time' if schema.uses_time else ''}"))
    return html.Div(parts, className="small text-muted mb-2")


def score_result(row: RowScore, explanation: Explanation | None, values: dict | None = None) -> html.Div:
    """Probability, decision at the threshold, values new to the model, and the explanation."""
    fraud = bool(row.decision)
    values = values or {}
    decision = dbc.Badge("Flag as fraud" if fraud else "Looks legitimate", color="danger" if fraud else "success", className="fs-6",
                         id="predict-decision")
    head = dbc.Row(
        [
            dbc.Col([html.Div("Fraud probability", className="text-muted small"),
                     html.Div(f"{row.probability:.1%}", className="display-6", id="predict-probability")], width="auto"),
            dbc.Col([decision, html.Div(f"{'at or above' if fraud else 'below'} the threshold {row.threshold:.2f}", className="small text-muted mt-1")],
                    width="auto"),
        ],
        className="g-4 align-items-center mb-2",
    )
    parts = [head]
    if row.new_values:
        parts.append(dbc.Alert([html.I(className="bi bi-exclamation-triangle me-2"), html.Strong("New to the model: "),
                                "; ".join(f"{name} “{values.get(name)}”" if values.get(name) is not None else name for name in row.new_values),
                                ". The model never saw these values in training and reads them as “unknown”."],
                               color="warning", className="py-2", id="predict-new-values"))
    if explanation is not None:
        parts.append(html.P(baseline_sentence(explanation), className="small mb-1", id="predict-baseline"))
        parts.append(dcc.Graph(figure=figures.attribution_figure(explanation.attributions, explanation.probability,
                                                                 explanation.baseline_probability),
                               config=GRAPH_CONFIG, className="txlab-graph", id="predict-explanation"))
        gap = explanation.completeness_gap
        if gap is not None and abs(gap) > 0.02:
            parts.append(html.P(f"The bars add up to the change in log-odds only within {abs(gap):.0%} (approximation error).",
                                className="small text-muted"))
    return html.Div(parts, id="predict-result-body")


def baseline_sentence(explanation: Explanation) -> str:
    """The one line saying what the bars are measured from (core's own wording) and how to read them."""
    return f"{explanation.baseline} Red bars raise the score, blue bars lower it."


# --- uploads and sources for batch scoring ----------------------------------------------------------


@dataclass
class ScoreSource:
    """What a batch scores: a stored dataset or a file uploaded to this page."""

    name: str
    columns: list[str]
    rows: int | None
    dataset_id: str | None = None
    upload_path: Path | None = None


def decode_upload(contents: str, max_bytes: int) -> bytes:
    """The raw bytes of a ``data:...;base64,`` upload, refusing anything above the cap."""
    _, _, encoded = contents.partition(",")
    if len(encoded) * 3 // 4 > max_bytes + 3:
        raise TxlabError(f"The file is larger than the {max_bytes // (1024 * 1024)} MB upload limit; copy it into the data folder "
                         "and load it on the Data page.")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise TxlabError("The upload was not received intact; please try again.") from None


def save_upload(cache_folder: Path, payload: bytes, name: str, limits, *, viewer: Principal | None) -> dict:
    """Check that an uploaded file reads as a table, keep its bytes under a random name, and describe it.

    The description (``{"id", "name", "columns", "rows"}``) is what the page's store holds; the
    user's file name is only a label, never part of a path. The file records ``viewer`` as its
    owner: only they, or an admin, may score it.
    """
    frame, _ = read_table(payload, name=name, limits=limits)
    token = uuid.uuid4().hex
    path = _upload_path(cache_folder, token)
    path.parent.mkdir(parents=True, exist_ok=True)
    prune(path.parent)
    path.write_bytes(payload)
    _record_owner(path, viewer)
    return {"id": token, "name": name, "columns": [str(c) for c in frame.columns], "rows": len(frame)}


def source_options(datasets: list, upload: dict | None) -> list[dict]:
    options = [{"label": f"Uploaded: {upload['name']} ({upload['rows']:,} rows)", "value": f"upload:{upload['id']}"}] if upload else []
    options += [{"label": f"{m.name} · {m.rows:,} rows", "value": m.id} for m in datasets]
    return options


def resolve_source(workspace, cache_folder: Path, value: str | None, upload: dict | None) -> ScoreSource:
    """The source a picker value names; an upload only by the random id this page issued to the workspace's viewer
    (another user's upload is "no longer available", like one pruned)."""
    if not value:
        raise TxlabError("Choose a dataset or upload a file to score.")
    if value.startswith("upload:"):
        token = value.split(":", 1)[1]
        if not upload or upload.get("id") != token or not _TOKEN.match(token):
            raise TxlabError(_NO_UPLOAD)
        path = _upload_path(cache_folder, token)
        if not _owned(path, workspace.viewer):
            raise TxlabError(_NO_UPLOAD)
        return ScoreSource(name=upload["name"], columns=list(upload["columns"]), rows=upload.get("rows"), upload_path=path)
    meta = workspace.get(value)
    return ScoreSource(name=meta.name, columns=list(meta.columns), rows=meta.rows, dataset_id=meta.id)


def mapping_rows(mapping: ColumnMapping, columns: list[str]) -> list[tuple[str, str, bool]]:
    """``(what the model reads, source column, present in the file)`` for every column the model needs.

    The label is never read for scoring.
    """
    present = set(columns)
    rows = [(name, col, col in present) for name, col in mapping.fields.items() if col and name != "label"]
    rows += [("extra number feature", col, col in present) for col in mapping.extra_numeric]
    rows += [("extra category feature", col, col in present) for col in mapping.extra_categorical]
    if mapping.transaction_id:
        rows.append(("transaction id", mapping.transaction_id, mapping.transaction_id in present))
    return rows


def missing_columns(mapping: ColumnMapping, columns: list[str]) -> list[tuple[str, str]]:
    return [(role, col) for role, col, ok in mapping_rows(mapping, columns) if not ok]


def mapping_view(version: str, mapping: ColumnMapping, source: ScoreSource) -> html.Div:
    """Which source column feeds which field, and a message naming every column the file lacks."""
    rows = mapping_rows(mapping, source.columns)
    body = [
        html.Tr([
            html.Td(role), html.Td(col, className="txlab-col"),
            html.Td(html.I(className="bi bi-check-lg text-success") if ok else html.Span("missing", className="text-danger fw-semibold")),
        ], className=None if ok else "table-danger")
        for role, col, ok in rows
    ]
    table = dbc.Table([html.Thead(html.Tr([html.Th("Model field"), html.Th("Column in the file"), html.Th("")])), html.Tbody(body)],
                      size="sm", className="txlab-table mb-2", id="score-mapping-table")
    missing = [(role, col) for role, col, ok in rows if not ok]
    parts = [html.P([f"Model version {version} reads these columns of “{source.name}”, as it was trained:"], className="small mb-1"), table]
    if not rows:
        parts = [html.P(f"Model version {version} has no stored mapping: the file must have the canonical column names "
                        "(amount, user_id, merchant_id, ...).", className="small text-muted")]
    if missing:
        names = ", ".join(f"'{col}' (for {role})" for role, col in missing)
        parts.insert(0, dbc.Alert([html.Strong("This file cannot be scored by this model. "),
                                   f"It lacks column{'s' if len(missing) > 1 else ''} {names}."],
                                  color="danger", className="py-2", id="score-missing"))
    return html.Div(parts)


# --- a batch scoring job ----------------------------------------------------------------------


@dataclass
class BatchResult:
    token: str
    fmt: str
    version: str
    source_name: str
    rows: int
    threshold: float
    flagged: int
    mean_score: float
    edges: list[float]
    counts: list[int]
    top: pd.DataFrame


def run_batch(*, workspace, registry: ModelRegistry, cache_folder: Path, version: str | None, source: ScoreSource, fmt: str = "csv",
              limits=None, on_progress: Callable[[float], None] | None = None) -> BatchResult:
    """Score every row of ``source`` with ``version`` and write the scored table under ``cache/scored``.

    The file records its owner (the workspace's viewer): only they, or an admin, may download it.
    """
    if fmt not in FORMATS:
        raise TxlabError(f"Unknown output format {fmt!r}: choose CSV or Parquet.")
    entry = loaded_model(registry, version)
    missing = missing_columns(entry.mapping, source.columns)
    if missing:
        raise TxlabError(f"“{source.name}” lacks column(s) {', '.join(repr(c) for _, c in missing)} that model version {entry.version} reads.")
    if source.dataset_id:
        frame = workspace.load_frame(source.dataset_id)
    else:
        frame, _ = read_table(source.upload_path, name=source.name, limits=limits)
    scores = np.asarray(score_table(entry.model, entry.meta, frame, on_progress=on_progress), dtype=np.float64)
    scored = frame  # read for this job only: the score column is added in place (no copy of a large table)
    scored[SCORE_COLUMN] = scores
    token = uuid.uuid4().hex
    path = scored_path(cache_folder, token, fmt)
    prune(path.parent)
    write_table(scored, path)
    _record_owner(path, workspace.viewer, version=entry.version)
    threshold = float(entry.schema.threshold)
    edges, counts = score_bins(scores)
    return BatchResult(token=token, fmt=fmt, version=entry.version, source_name=source.name, rows=len(scored), threshold=threshold,
                       flagged=int((scores >= threshold).sum()), mean_score=float(scores.mean()) if len(scores) else 0.0,
                       edges=edges, counts=counts, top=scored.nlargest(TOP_ROWS, SCORE_COLUMN))


def scored_path(cache_folder: Path, token: str, fmt: str) -> Path:
    """Where a scored table lives: a random name this app chose, never one a user gave."""
    if not _TOKEN.match(str(token)) or fmt not in FORMATS:
        raise TxlabError(_NO_SCORED_FILE)
    folder = Path(cache_folder) / "scored"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{token}.{fmt}"


def owned_scored_path(cache_folder: Path, token: str, fmt: str, viewer: Principal | None) -> Path:
    """A scored table ``viewer`` may download: one they scored (an admin: any); else "does not exist"."""
    path = scored_path(cache_folder, token, fmt)
    if not _owned(path, viewer):
        raise TxlabError(_NO_SCORED_FILE)
    return path


def _upload_path(cache_folder: Path, token: str) -> Path:
    return Path(cache_folder) / "score-uploads" / f"{token}.bin"


def _record_owner(path: Path, viewer: Principal | None, **details) -> None:
    """Write who made the app's file ``path`` (an upload, a scored table) next to it: see ``_owned``."""
    write_json(_owner_path(path), {"owner": owner_name(viewer), **details})


def _owned(path: Path, viewer: Principal | None) -> bool:
    """Whether ``path`` exists and ``viewer`` may use it: its recorded owner, or an admin (no record: nobody)."""
    try:
        owner = json.loads(_owner_path(path).read_text(encoding="utf-8"))["owner"]
    except (OSError, ValueError, TypeError, KeyError):
        return False
    return path.exists() and isinstance(owner, str) and can_see(viewer, owner)


def _owner_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.owner.json")


def prune(folder: Path, keep_s: float = KEEP_FILES_S) -> None:
    """Remove uploads and scored files older than ``keep_s``: they are only kept for a session's download."""
    cutoff = time.time() - keep_s
    for path in Path(folder).glob("*"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:  # another worker removed it first
            pass


def score_bins(scores: np.ndarray, bins: int = SCORE_BINS) -> tuple[list[float], list[int]]:
    """Counts of scores in equal bins over [0, 1]."""
    counts, edges = np.histogram(np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0), bins=bins, range=(0.0, 1.0))
    return [float(e) for e in edges], [int(c) for c in counts]


def download_name(source_name: str, fmt: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(str(source_name)).name).strip("._") or "scored"
    stem = re.sub(r"\.(csv|parquet|gz|txt|tsv)$", "", stem, flags=re.I).rstrip(".") or "scored"
    return f"{stem[:80]}-scored.{fmt}"


def batch_result_view(result: BatchResult) -> html.Div:
    summary = dbc.Alert(
        [html.Strong(f"Scored {result.rows:,} rows of “{result.source_name}” with version {result.version}. "),
         f"{result.flagged:,} at or above the threshold {result.threshold:.2f}; mean score {result.mean_score:.3f}."],
        color="success", className="py-2", id="score-summary")
    graph = dcc.Graph(figure=figures.score_distribution_figure(result.edges, result.counts, result.threshold),
                      config=GRAPH_CONFIG, className="txlab-graph", id="score-histogram")
    return html.Div([summary, graph, top_rows_table(result.top)], id="score-result-body")


def top_rows_table(top: pd.DataFrame) -> html.Div:
    """The highest-scored rows, score first; every value rendered as text."""
    columns = [SCORE_COLUMN] + [str(c) for c in top.columns if c != SCORE_COLUMN]
    head = html.Thead(html.Tr([html.Th(c, className="txlab-col") for c in columns]))
    body = html.Tbody([
        html.Tr([html.Td(f"{row[SCORE_COLUMN]:.4f}", className="fw-semibold")] + [html.Td(_cell(row[c])) for c in top.columns if c != SCORE_COLUMN])
        for _, row in top.iterrows()
    ])
    return html.Div([
        html.H5(f"Top {len(top)} scored rows", className="mt-3"),
        html.Div(dbc.Table([head, body], size="sm", striped=True, hover=True, className="txlab-table"), className="table-responsive"),
    ], id="score-top")


# --- helpers ----------------------------------------------------------------------------------


def _text(value) -> str | None:
    return None if value is None else str(value)


def _number_text(value) -> str | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:g}" if abs(number) < 1e15 else str(number)


def _datetime_text(value) -> str | None:
    if value is None or value == "":
        return None
    try:
        return pd.Timestamp(value).strftime("%Y-%m-%dT%H:%M:%S")
    except (TypeError, ValueError):
        return None


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value is pd.NaT:
        return ""
    if isinstance(value, (float, np.floating)):
        return f"{value:,.6g}" if abs(value) < 1e15 else str(value)
    text = str(value)
    return text if len(text) <= 80 else text[:79] + "…"

