"""The Recommend page's pieces: what a model version gives to recommend from, and the tables it shows.

``load_context`` gathers, for one fraud model version, its training dataset's interactions and
merchant facts, the model itself, and the dataset's implicit recommender when one was trained.
The last few are kept per process (``CONTEXT_SLOTS``), keyed by the version, the mapped file's
and the recommender's modification times: data on disk any user of the dataset may read, never
anything of one browser session.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html

from core.errors import TxlabError
from core.recommend import (Evaluation, Filters, ImplicitModel, Interactions, RecommenderFormatError, find_category_column,
                            fraud_model_source, implicit_source, load_implicit, merchant_table, recommender_folder)
from core.recommend.implicit import META
from core.recommend.sources import FRAUD_MODEL, IMPLICIT, SOURCE_LABELS
from core.registry import ModelRegistry
from core.scoring import load_model
from core.workspace import Workspace

AUTO = "auto"
SOURCE_CHOICES = [{"label": "Best by evaluation", "value": AUTO}, {"label": SOURCE_LABELS[FRAUD_MODEL], "value": FRAUD_MODEL},
                  {"label": SOURCE_LABELS[IMPLICIT], "value": IMPLICIT}]
OPTION_LIMIT = 50
CONTEXT_SLOTS = 2


@dataclass
class RecommendContext:
    version: str
    dataset_id: str
    dataset_name: str
    interactions: Interactions
    info: pd.DataFrame  # core.recommend.merchant_table
    category_column: str | None
    fraud_model: object
    implicit: ImplicitModel | None
    implicit_problem: str | None  # why a stored recommender could not be used

    @property
    def evaluation(self) -> Evaluation | None:
        stored = (self.implicit.info or {}).get("evaluation") if self.implicit is not None else None
        return Evaluation.from_dict(stored) if stored else None

    def source(self, choice: str | None):
        """``(source, its name)``: the requested one, or the evaluation's choice (the fraud model without one)."""
        wanted = choice or AUTO
        if wanted == AUTO:
            evaluation = self.evaluation
            wanted = evaluation.chosen if evaluation is not None and evaluation.chosen else FRAUD_MODEL
        if wanted == IMPLICIT:
            if self.implicit is None:
                raise TxlabError("No implicit recommender for this dataset yet: train one below.")
            return implicit_source(self.implicit), IMPLICIT
        return fraud_model_source(self.fraud_model), FRAUD_MODEL


_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()


def load_context(registry: ModelRegistry, workspace: Workspace, version: str) -> RecommendContext:
    """Everything the page recommends from for one model version (cached per process; see module doc).

    ``registry`` and ``workspace`` are the user's: the version and its dataset are checked before the cache is read.
    """
    models_dir = registry.models_dir
    version_id = registry.resolve(version)
    info = registry.get_info(version_id)  # model.json only: a version never changes once saved
    dataset_id = info.dataset_id
    if not dataset_id:
        raise TxlabError(f"Model version {version_id} does not record the dataset it was trained on.")
    mapped = workspace.mapped_path(dataset_id)
    folder = recommender_folder(models_dir, dataset_id)
    key = (str(models_dir), version_id, info.created, _mtime(mapped), _mtime(folder / META))
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    _, model, meta = load_model(registry, version_id)  # integrity-checked on every (re)load
    frame = workspace.load_mapped(dataset_id)
    category = find_category_column(frame)
    implicit, problem = None, None
    if (folder / META).exists():
        try:
            implicit = load_implicit(folder)
        except RecommenderFormatError as error:
            problem = str(error)
    context = RecommendContext(version_id, dataset_id, str(meta.get("dataset_name") or dataset_id), Interactions.from_frame(frame),
                               merchant_table(frame, category), category, model, implicit, problem)
    with _lock:
        _cache[key] = context
        while len(_cache) > CONTEXT_SLOTS:
            _cache.popitem(last=False)
    return context


def version_for_dataset(infos: list, dataset_id: str | None, chosen: str | None) -> str | None:
    """The version to recommend from for the session's dataset: the chosen one when it was trained
    on it, else the active one if it was, else the newest that was; None when no version was."""
    on_dataset = [i for i in infos if dataset_id and i.dataset_id == dataset_id]
    for candidate in (*(i for i in on_dataset if i.id == chosen), *(i for i in on_dataset if i.active), *on_dataset):
        return candidate.id
    return None


def id_options(ids: pd.Index, search: str | None, selected: str | None = None, limit: int = OPTION_LIMIT) -> list[dict]:
    """Up to ``limit`` ids containing ``search`` (case-insensitive), the selected one kept."""
    text = (search or "").strip().lower()
    found = [str(i) for i in ids if text in str(i).lower()][:limit] if text else [str(i) for i in ids[:limit]]
    if selected and selected not in found and str(selected) in set(ids):
        found.insert(0, str(selected))
    return [{"label": i, "value": i} for i in found]


def filters_from(max_fraud_pct, category: str | None, country: str | None) -> Filters:
    """Filters from the form: the fraud-rate limit is entered in percent."""
    limit = None
    if max_fraud_pct not in (None, ""):
        value = float(max_fraud_pct)
        if not 0 <= value <= 100:
            raise TxlabError(f"The fraud-rate limit must be between 0 and 100 %, got {max_fraud_pct!r}.")
        limit = value / 100
    return Filters(max_fraud_rate=limit, category=category or None, country=country or None)


def context_view(ctx: RecommendContext, source_name: str | None) -> html.Div:
    """Which model, dataset and embedding source the page uses, and what the evaluation said."""
    evaluation = ctx.evaluation
    lines = [html.Div([html.Strong("Model version "), html.Code(ctx.version), " · trained on ", html.Strong(ctx.dataset_name),
                       f" · {ctx.interactions.n_users:,} users, {ctx.interactions.n_merchants:,} merchants"], id="recommend-context-line")]
    if source_name:
        why = (f" (chosen: best HR@{evaluation.k} in the evaluation below)" if evaluation is not None and evaluation.chosen == source_name
               else "" if evaluation is not None else " (no evaluation yet: train the implicit recommender to compare)")
        lines.append(html.Div(["Recommending with ", html.Strong(SOURCE_LABELS[source_name]), why], id="recommend-source-line"))
    popularity = evaluation.row("popularity") if evaluation is not None else None
    best = evaluation.row(evaluation.chosen) if evaluation is not None and evaluation.chosen else None
    if popularity is not None and best is not None and best.hit_rate <= popularity.hit_rate:
        lines.append(dbc.Alert(f"Neither embedding source beats recommending the most popular merchants on this data "
                               f"(HR@{evaluation.k} {best.hit_rate:.3f} against {popularity.hit_rate:.3f}): treat these "
                               "recommendations as no better than a popularity list.", color="warning", className="py-2 mt-2 mb-0",
                               id="recommend-below-popularity"))
    evaluated_with = (ctx.implicit.info or {}).get("fraud_model_version") if ctx.implicit is not None else None
    if evaluated_with and evaluated_with != ctx.version:
        lines.append(html.Div(f"The evaluation's fraud-model row is for version {evaluated_with}: train the recommender again to compare this one.",
                              className="small text-muted", id="recommend-evaluated-with"))
    if ctx.implicit_problem:
        lines.append(dbc.Alert(f"The stored implicit recommender was not used: {ctx.implicit_problem}", color="warning", className="py-2 mt-2 mb-0"))
    return html.Div(lines, className="mb-2")


def results_table(frame: pd.DataFrame, id_: str, empty: str) -> dbc.Table | html.P:
    """Recommended merchants with their score and facts."""
    if frame is None or frame.empty:
        return html.P(empty, className="text-muted", id=id_)
    head = ["#", "Merchant", "Score", "Category", "Country", "Fraud rate", "Transactions"]
    rows = [html.Tr([html.Td(i + 1), html.Td(r.merchant_id), html.Td(f"{r.score:.3f}", className="text-end"), html.Td(_text(r.category)),
                     html.Td(_text(r.country)), html.Td(_pct(r.fraud_rate), className="text-end"),
                     html.Td(f"{int(r.transactions):,}", className="text-end")]) for i, r in enumerate(frame.itertuples(index=False))]
    return dbc.Table([html.Thead(html.Tr([html.Th(h, className="text-end" if h in ("Score", "Fraud rate", "Transactions") else None) for h in head])),
                      html.Tbody(rows)], size="sm", hover=True, responsive=True, className="txlab-table", id=id_)


def evaluation_table(evaluation: Evaluation | None) -> dbc.Table | html.P:
    """HR@K and NDCG@K per source; the chosen source in bold, popularity as the baseline."""
    if evaluation is None:
        return html.P("No evaluation yet: train the implicit recommender to compare the embedding sources with popularity.",
                      className="text-muted", id="recommend-no-evaluation")
    chosen = evaluation.chosen
    rows = [html.Tr([html.Td([SOURCE_LABELS.get(r.source, r.source), dbc.Badge("in use", color="success", className="ms-2") if r.source == chosen else None]),
                     html.Td(f"{r.hit_rate:.4f}", className="text-end"), html.Td(f"{r.ndcg:.4f}", className="text-end"),
                     html.Td(f"{r.pairs:,}", className="text-end")], className="fw-bold" if r.source == chosen else None) for r in evaluation.rows]
    head = ["Source", f"HR@{evaluation.k}", f"NDCG@{evaluation.k}", "Held-out users"]
    return html.Div([
        dbc.Table([html.Thead(html.Tr([html.Th(h, className="text-end" if i else None) for i, h in enumerate(head)])), html.Tbody(rows)],
                  size="sm", className="txlab-table mb-1", id="recommend-evaluation-table"),
        html.Div("Each user's latest new merchant was held out; sources were fitted on the rest and ranked every merchant the user "
                 "had not used. The fraud model's embeddings were learned from all its training rows, held-out ones included.",
                 className="small text-muted"),
    ])


def dropdown_options(values) -> list[dict]:
    return [{"label": str(v), "value": str(v)} for v in sorted({str(v) for v in values if v is not None and not _missing(v)})]


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _missing(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _text(value) -> str:
    return "—" if value is None or _missing(value) else str(value)


def _pct(value) -> str:
    return "—" if value is None or _missing(value) else f"{float(value):.2%}"

