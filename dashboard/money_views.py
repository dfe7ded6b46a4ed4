"""The Profit & loss page's pieces: the assumptions form, the cached analysis, tables and figures per threshold.

The page's background job scores the dataset once (``core.finance.inputs.cached_scores`` keeps the
scores on disk) and puts a small *key* in the page's store: model version, dataset, revenue column
and assumptions. Every slider move then calls ``threshold_views(key, ...)``: the labelled frame
and the two ledgers (model and amount rule) come from a process-wide LRU keyed by that key and the
dataset's fingerprint, so only the cheap per-threshold sums run. The LRU holds data any user of
the dataset may read, never a browser session's state.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import dash_bootstrap_components as dbc
from dash import dcc, html

from core.finance import ASSUMPTION_FIELDS, Assumptions, Ledger, Outcome, ThresholdCurve, alerts_per_day, breakdown, over_time
from core.finance.assumptions import field_errors
from core.finance.inputs import SEGMENTS, MoneyData, cached_scores, money_data, require_labels
from core.registry import ModelRegistry
from core.result_cache import FrameLRU, data_version
from dashboard import context, figures

PARAM = "money-assumption"  # pattern-matching id type of the assumption fields
FEEDBACK = "money-assumption-feedback"
GRAPH_CONFIG = {"displaylogo": False, "responsive": True}
GRAINS = (("day", "Per day"), ("week", "Per week"))
SLIDER_MIN = -4  # log10 of the smallest threshold the slider reaches
SLIDER_MARKS = {p: f"{10.0 ** p:g}" for p in range(SLIDER_MIN, 1)}
# ~200 MB per million rows for an analysis (frame and two ledgers); the frame is shared across assumptions.
_DATA = FrameLRU(slots=2)  # MoneyData per (version, dataset version, revenue column)
_ANALYSES = FrameLRU(slots=2)  # Analysis per (..., assumptions)


@dataclass
class Analysis:
    """What a slider move reads: the labelled frame, both ledgers, and what does not depend on the threshold."""

    data: MoneyData
    model: Ledger
    amount: Ledger
    curve: ThresholdCurve
    amount_best: Outcome

    @classmethod
    def of(cls, data: MoneyData, assumptions: Assumptions) -> "Analysis":
        model, amount = data.ledger(assumptions), data.ledger(assumptions, scores="amount")
        return cls(data, model, amount, model.curve(), amount.best())


# --- the form -----------------------------------------------------------------------------------


def assumptions_form(assumptions: Assumptions | None = None) -> html.Div:
    """One labelled number field per assumption, its help text and an inline error slot."""
    values = (assumptions or Assumptions()).to_dict()
    cols = []
    for knob in ASSUMPTION_FIELDS:
        cols.append(dbc.Col([
            dbc.Label(knob.label, html_for='{"name":"%s","type":"%s"}' % (knob.name, PARAM), className="small mb-0"),  # Dash's DOM id of a dict id
            dbc.Input(id={"type": PARAM, "name": knob.name}, type="number", value=values[knob.name], min=knob.low, max=knob.high,
                      step="any", size="sm", persistence=True, persistence_type="session"),
            dbc.FormFeedback(id={"type": FEEDBACK, "name": knob.name}, type="invalid"),
            html.Div(knob.help, className="form-text mt-0 txlab-help"),
        ], xs=6))
    return html.Div(dbc.Row(cols, className="g-3"), id="money-form")


def form_errors(values: list, ids: list[dict]) -> dict[str, str]:
    """Each field checked on its own: name -> message naming it."""
    return field_errors({i["name"]: v for i, v in zip(ids, values)})


def form_assumptions(values: list, ids: list[dict]) -> Assumptions:
    """The form as ``Assumptions`` (raises ``AssumptionError`` naming the bad field)."""
    return Assumptions.from_dict({i["name"]: v for i, v in zip(ids, values)})


def version_options(registry: ModelRegistry) -> tuple[list[dict], str | None]:
    """Every version the registry's user may see (newest first) and the one chosen by default: their active, else the newest."""
    infos = registry.list_versions()
    options = [{"label": f"{i.id} · {i.dataset_name or '?'}" + (" · active" if i.active else ""), "value": i.id} for i in infos]
    active = next((i.id for i in infos if i.active), infos[0].id if infos else None)
    return options, active


# --- the analysis -------------------------------------------------------------------------------


def make_key(version: str, dataset_id: str, revenue_column: str, assumptions: Assumptions) -> dict:
    """What the page stores: ids and settings only."""
    return {"version": version, "dataset": dataset_id, "revenue": revenue_column, "assumptions": assumptions.to_dict()}


def run_analysis(model_ref: str, dataset_id: str, revenue_column: str, assumptions: Assumptions, progress=None) -> tuple[dict, Analysis]:
    """Score (or read cached scores), build the ledgers, and return the page's key with the analysis."""
    settings = context.settings()
    require_labels(context.workspace(), dataset_id)
    version, _ = cached_scores(context.workspace(), dataset_id, context.registry(), settings.cache_folder, model_ref, progress)
    if progress:
        progress("Computing profit and loss")
    key = make_key(version, dataset_id, revenue_column, assumptions)
    return key, analysis(key)


def analysis(key: dict) -> Analysis:
    """The analysis of a stored key, from the LRU or rebuilt (scores come from the disk cache).

    The key comes from the browser: the user's stores check both ids before the LRU is read, and
    the LRU is keyed by the version id the reference resolves to for this user (a key saying
    "active" means this user's active version, never another user's cached one).
    """
    workspace, registry, settings = context.workspace(), context.registry(), context.settings()
    version = registry.resolve(key["version"])
    fingerprint = data_version(workspace, key["dataset"]).fingerprint
    assumptions = Assumptions(**key["assumptions"])
    data_key = (version, key["dataset"], fingerprint, key["revenue"])

    def load() -> MoneyData:
        _, scores = cached_scores(workspace, key["dataset"], registry, settings.cache_folder, version)
        return money_data(workspace, key["dataset"], scores, key["revenue"])

    def build() -> Analysis:
        return Analysis.of(_DATA.get(data_key, load), assumptions)

    return _ANALYSES.get((*data_key, tuple(sorted(key["assumptions"].items()))), build)


@dataclass
class ThresholdViews:
    """The figures and tables of one threshold, in the page's order."""

    curve: object
    confusion: object
    comparison: html.Div
    alerts: object
    breakdowns: list
    summary: html.Div


def threshold_views(result: Analysis, threshold: float, amount_cut: float | None, grain: str) -> ThresholdViews:
    """Everything the page shows for one threshold (the curve itself is the same for all)."""
    ledger, curve, rule_best = result.model, result.curve, result.amount_best
    current = ledger.at(threshold)
    rows = [("Approve everything", curve.approve_all),
            (f"Amount rule, best cut (amount ≥ {rule_best.threshold:,.2f})", rule_best)]
    if amount_cut is not None:
        rows.append((f"Amount rule, amount ≥ {amount_cut:,.2f}", result.amount.at(amount_cut)))
    rows += [(f"Model at the best threshold ({curve.best.threshold:.4f})", curve.best), (f"Model at {threshold:.4f} (slider)", current)]
    data = result.data
    if data.has_timestamp:
        per_day = alerts_per_day(ledger.scores, data.day(), threshold, ledger.assumptions.analyst_capacity)
        alerts = figures.alerts_per_day_figure(per_day)
    else:
        alerts = figures.empty_figure("No timestamp mapped: alerts per day and analyst capacity cannot be shown")
    money = ledger.row_money(threshold)
    charts = [figures.money_breakdown_figure(breakdown(data.frame[c], money, c)) for c in SEGMENTS if c in data.frame]
    if data.has_timestamp:
        charts.append(figures.money_breakdown_figure(over_time(data.day(), money, grain)))
    return ThresholdViews(figures.pnl_curve_figure(curve, current), figures.confusion_figure(current), comparison_table(rows),
                          alerts, charts, summary(current, curve.best, curve.approve_all))


def to_slider(threshold: float) -> float:
    """The slider position (log10 of the threshold, 0.01 steps) nearest ``threshold``, within the slider."""
    return round(min(max(math.log10(max(threshold, 10.0 ** SLIDER_MIN)), SLIDER_MIN), 0.0), 2)


def from_slider(position: float | None) -> float:
    """The threshold at a slider position (0.5 when unset)."""
    return 0.5 if position is None else round(10.0 ** float(position), 6)


def typed_threshold(value: float | str | None) -> float | None:
    """A typed threshold in [0, 1], or None when blank or out of range.

    The approve-all threshold sits just above the top score, which may be exactly 1: it passes.
    """
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        return None
    return threshold if 0.0 <= threshold <= 1.0 + 1e-9 else None


# --- tables and notes ---------------------------------------------------------------------------


COMPARE_COLUMNS = (("pnl", "P&L"), ("revenue", "Revenue kept"), ("fraud_loss", "Fraud loss"), ("review_cost", "Review cost"),
                   ("decline_cost", "False declines"), ("reviewed", "Declined"), ("unreviewed", "Unreviewed alerts"),
                   ("tp", "Fraud caught"), ("fp", "Legit declined"))


def comparison_table(rows: list[tuple[str, Outcome]]) -> html.Div:
    """Strategies side by side; the best P&L in bold."""
    top = max(o.pnl for _, o in rows)
    head = html.Thead(html.Tr([html.Th("Strategy"), *[html.Th(label, className="text-end") for _, label in COMPARE_COLUMNS]]))
    body = html.Tbody([
        html.Tr([html.Td(name), *[html.Td(_money(getattr(o, k)) if isinstance(getattr(o, k), float) else f"{getattr(o, k):,}", className="text-end")
                                  for k, _ in COMPARE_COLUMNS]], className="fw-bold" if o.pnl == top else None)
        for name, o in rows
    ])
    return html.Div(dbc.Table([head, body], size="sm", hover=True, className="txlab-table"), className="table-responsive", id="money-comparison-table")


def summary(current: Outcome, best: Outcome, approve_all: Outcome) -> html.Div:
    """One line on the current threshold against the best one and against approving everything."""
    gain = current.pnl - approve_all.pnl
    return html.P([
        html.Strong(f"P&L {_money(current.pnl)}"), f" at threshold {current.threshold:.4f} ",
        f"({_money(gain)} vs approving everything; best {_money(best.pnl)} at {best.threshold:.4f}). ",
        f"{current.alerts:,} alerts, {current.reviewed:,} reviewed, {current.unreviewed:,} approved unreviewed.",
    ], id="money-summary")


def data_notes(data: MoneyData) -> list:
    """Warnings about the inputs: unreadable revenue values, unknown amounts, no timestamp."""
    notes = []
    message = data.revenue.message()
    if message:
        notes.append(dbc.Alert(message, color="warning", className="py-2 mb-2", id="money-revenue-warning"))
    if data.amount_missing:
        notes.append(dbc.Alert(f"{data.amount_missing:,} transactions have no amount: their fraud loss counts only the chargeback fee.",
                               color="warning", className="py-2 mb-2"))
    if not data.has_timestamp:
        notes.append(dbc.Alert("No timestamp is mapped: analyst capacity cannot be applied (every alert is reviewed) and nothing is shown over time.",
                               color="info", className="py-2 mb-2", id="money-no-timestamp"))
    return notes


def graph(figure, id_: str | None = None) -> dcc.Graph:
    return dcc.Graph(figure=figure, config=GRAPH_CONFIG, className="txlab-graph", **({"id": id_} if id_ else {}))


def _money(value: float) -> str:
    return f"{value:,.2f}"
