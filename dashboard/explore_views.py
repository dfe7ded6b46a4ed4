"""The Explore page's work, one function per section: cached core results in, components out.

Each ``*_view(results, ...)`` asks ``core`` for its numbers through the results cache
(``core.result_cache.DatasetResults``) and turns them into figures and tables. The page
callbacks and ``benchmarks/explore.py`` call these same functions, so the benchmark times
what a user waits for. No pandas here: the only logic is which core function to ask and
how to show its answer.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import dash_bootstrap_components as dbc
import diskcache
import plotly.graph_objects as go
from dash import dcc, html

from core import eda, quality, stats
from core.result_cache import DatasetResults, open_results
from dashboard import context, figures

TOP_N = 15
SEGMENT_FIELDS = ("country", "device_type", "merchant_id")
SORTS = {"order": "Column order", "missing": "Most missing first", "distinct": "Most distinct first", "name": "Name (A–Z)", "role": "Role"}
CORRELATION_METHODS = {"pearson": "Pearson", "spearman": "Spearman", "cramers_v": "Cramér's V"}
SEVERITY_COLOR = {"high": "danger", "medium": "warning", "low": "secondary"}
ROLE_COLOR = {"number": "primary", "category": "info", "id": "secondary", "datetime": "dark", "label": "danger"}
LABEL = "label"
GRAPH_CONFIG = {"displaylogo": False, "responsive": True}


@functools.cache
def _results_cache(folder: str) -> diskcache.Cache:
    return open_results(folder)


def open_dataset(dataset_id: str) -> DatasetResults:
    """The running app's cached results for a mapped dataset; ``TxlabError`` when it cannot be explored."""
    return DatasetResults(context.workspace(), _results_cache(str(Path(context.settings().cache_folder))), dataset_id)


@dataclass
class Controls:
    """What the page's dropdowns offer for one dataset, and what they start on."""

    distribution: list[dict] = field(default_factory=list)
    distribution_value: str | None = None
    distribution_log: bool = False  # a log axis for a skewed positive column (money amounts)
    numeric: list[dict] = field(default_factory=list)
    numeric_value: str | None = None
    by: list[dict] = field(default_factory=list)
    categorical: list[dict] = field(default_factory=list)
    categorical_value: str | None = None
    segments: list[dict] = field(default_factory=list)
    segment_value: str | None = None


def controls(results: DatasetResults) -> Controls:
    """Dropdown options from the columns' roles: numbers first, then categories, then ids."""
    roles = results.roles()
    numbers = [c for c, r in roles.items() if r == "number"]
    categories = [c for c, r in roles.items() if r == "category"]
    ids = [c for c, r in roles.items() if r == "id"]
    segments = [c for c in SEGMENT_FIELDS if c in roles] + [c for c in categories if c not in SEGMENT_FIELDS]
    first = _first(["amount", *numbers, *categories, *ids])
    return Controls(
        distribution=_options(numbers, "number") + _options(categories, "category") + _options(ids, "id"),
        distribution_value=first,
        distribution_log=first in numbers and _skewed(results, first),
        numeric=_options(numbers),
        numeric_value=_first(["amount", *numbers]),
        by=[{"label": "label (legitimate vs fraud)", "value": LABEL}] + _options(categories + ids),
        categorical=_options(categories + ids),
        categorical_value=_first(categories + ids),
        segments=_options(segments),
        segment_value=_first(segments),
    )


# --- sections --------------------------------------------------------------------------------


def overview_view(results: DatasetResults) -> html.Div:
    """Headline cards: rows, fraud rate with its interval, time span, amounts, missing cells, duplicates."""
    o: eda.Overview = results.call(eda.overview, eda.Overview)
    rate = "–" if o.positive_rate is None else f"{o.positive_rate:.2%}"
    rate_ci = "" if o.positive_ci_low is None else f"95% CI {o.positive_ci_low:.2%} – {o.positive_ci_high:.2%}"
    cells = o.rows * o.columns
    cards = [
        ("Rows", f"{o.rows:,}", f"{o.columns} columns"),
        ("Fraud rate", rate, f"{_count(o.positives)} fraud · {rate_ci}" if o.positives is not None else "no label"),
        ("Time span", _span(o), f"{o.time_start[:10]} → {o.time_end[:10]}" if o.time_start and o.time_end else "no timestamp mapped"),
        ("Amount", _money(o.amount_total), f"median {_money(o.amount_median)}" if o.amount_median is not None else ""),
        ("Missing cells", f"{o.missing_cells:,}", f"{o.missing_cells / cells:.2%} of all cells" if cells else ""),
        ("Duplicate rows", f"{o.duplicate_rows:,}", f"{o.duplicate_rows / o.rows:.2%} of rows" if o.rows else ""),
    ]
    return dbc.Row(
        [dbc.Col(dbc.Card(dbc.CardBody([html.Div(t, className="text-muted small"), html.Div(v, className="fs-4 fw-semibold txlab-card-value"),
                                        html.Div(s, className="small text-muted")]), className="h-100 txlab-card"), md=4, lg=2)
         for t, v, s in cards],
        className="g-2",
    )


def columns_view(results: DatasetResults, sort: str | None = "order") -> dbc.Table:
    """One row per column: role, type, missing share, distinct values, number summary or top values."""
    summaries: list[eda.ColumnSummary] = results.call(eda.column_table, eda.ColumnSummary, roles=results.roles())
    keys = {
        "missing": lambda s: -s.missing_pct,
        "distinct": lambda s: -s.distinct,
        "name": lambda s: s.name.lower(),
        "role": lambda s: (s.role, s.name.lower()),
    }
    if sort in keys:
        summaries = sorted(summaries, key=keys[sort])
    head = ["Column", "Role", "Type", "Missing", "Distinct", "Min", "Median", "Mean", "Max", "Std", "Top values"]
    rows = [
        html.Tr([
            html.Td(s.name, className="txlab-col"),
            html.Td(dbc.Badge(s.role, color=ROLE_COLOR.get(s.role, "light"))),
            html.Td(s.dtype, className="small text-muted"),
            html.Td(f"{s.missing_pct:.1f}%", className="text-end"),
            html.Td(f"{s.distinct:,}", className="text-end"),
            *[html.Td(_number(v), className="text-end") for v in (s.min, s.median, s.mean, s.max, s.std)],
            html.Td(_top_values(s), className="small"),
        ])
        for s in summaries
    ]
    return dbc.Table([html.Thead(html.Tr([html.Th(h, className="text-end" if h in ("Missing", "Distinct", "Min", "Median", "Mean", "Max", "Std") else None) for h in head])), html.Tbody(rows)],
                     size="sm", hover=True, responsive=True, className="txlab-table txlab-explore-columns")


def quality_view(results: DatasetResults) -> html.Div:
    """Data-quality warnings, most severe first; each says what to do and names its columns."""
    o: eda.Overview = results.call(eda.overview, eda.Overview)
    today = datetime.now(timezone.utc).date().isoformat()  # in the key: "future" is re-judged daily
    warnings: list[quality.QualityWarning] = results.call(quality.quality_warnings, quality.QualityWarning, roles=results.roles(), now=today, duplicate_rows=o.duplicate_rows)
    if not warnings:
        return dbc.Alert([html.I(className="bi bi-check-circle me-2"), "No data-quality problems found."], color="success", className="txlab-quality-ok")
    items = [
        html.Li(
            [
                dbc.Badge(w.severity, color=SEVERITY_COLOR.get(w.severity, "secondary"), className="me-2 text-uppercase txlab-severity"),
                html.Strong(w.title),
                html.Div(w.explanation, className="small"),
                html.Div(["Columns: ", *_column_chips(w.columns)], className="small text-muted") if w.columns else None,
            ],
            className="list-group-item txlab-quality-item",
            **{"data-code": w.code},
        )
        for w in warnings
    ]
    return html.Ul(items, className="list-group txlab-quality")


def distribution_view(results: DatasetResults, column: str | None, log_x: bool = False, by_label: bool = False, density: bool = False) -> html.Div:
    """A histogram for a number (log axis, label split, counts or density); top-N bars with fraud rate otherwise."""
    roles = results.roles()
    if not column or column not in roles:
        return _note("Pick a column to see its distribution.")
    if roles[column] == "number":
        hist = results.call(eda.histogram, eda.Histogram, column=column, log_x=bool(log_x), by_label=bool(by_label) and LABEL in roles, density=bool(density))
        return html.Div([_graph(figures.histogram_figure(hist))])
    bars = results.call(eda.category_bars, eda.CategoryBars, column=column, top_n=TOP_N)
    return html.Div([_graph(figures.category_figure(bars)),
                     _note("Categories show the most frequent values; log axis, label split and density apply to numeric columns.")])


def is_numeric(results: DatasetResults, column: str | None) -> bool:
    """Whether ``column`` is drawn as a histogram (so the log, split and density controls apply)."""
    return bool(column) and results.roles().get(column) == "number"


def correlation_view(results: DatasetResults, method: str = "pearson") -> html.Div:
    """The correlation (or Cramér's V) matrix of the chosen kind of column, and each feature's tie to the label."""
    roles = results.roles()
    wanted = ("category", "label") if method == "cramers_v" else ("number", "label")
    columns = [c for c, r in roles.items() if r in wanted]
    parts = []
    if len(columns) < 2:
        kind = "categorical" if method == "cramers_v" else "numeric"
        parts.append(_note(f"{CORRELATION_METHODS.get(method, method)} needs at least two {kind} columns; this dataset has {len(columns)}. Map extra features on the Mapping page."))
    else:
        matrix = results.call(eda.correlations, eda.CorrelationMatrix, columns=columns, method=method)
        parts.append(_graph(figures.correlation_figure(matrix)))
    if LABEL in roles:
        associations = results.call(eda.label_association, eda.LabelAssociation, roles=roles)
        parts.append(_graph(figures.association_figure(associations)))
    return dbc.Row([dbc.Col(p, lg=6) for p in parts], className="g-3")


def segment_view(results: DatasetResults, column: str | None) -> html.Div:
    """Fraud rate per segment (country, device, merchant, ...) with 95% intervals."""
    if not column:
        return _note("Map a country, device type or merchant column to compare fraud by segment.")
    return html.Div(_graph(figures.segment_figure(results.call(eda.fraud_by_segment, eda.SegmentRates, column=column, top_n=TOP_N))))


def time_view(results: DatasetResults) -> html.Div:
    """Volume, amount and fraud rate over time plus the hour/weekday rhythm; a note without a timestamp."""
    profile = results.call(eda.time_profile, eda.TimeProfile)
    if profile is None:
        return _note("No timestamp is mapped for this dataset, so there is nothing to show over time. Map one on the Mapping page.", "txlab-no-time")
    return html.Div([_graph(figures.daily_figure(profile)), _graph(figures.hour_weekday_figure(profile))])


def group_choices(results: DatasetResults, by: str | None) -> tuple[list[dict], str | None, str | None]:
    """The values of ``by`` a user can compare (none for the label: legit vs fraud), and the two to start with."""
    if not by or by == LABEL:
        return [], None, None
    levels: list[str] = results.call(stats.group_levels, None, column=by)
    options = [{"label": v, "value": v} for v in levels]
    return options, (levels[0] if levels else None), (levels[1] if len(levels) > 1 else None)


def test_view(results: DatasetResults, column: str | None, by: str | None = LABEL, a: str | None = None, b: str | None = None) -> html.Div:
    """Welch, Mann-Whitney and KS for a numeric column between two groups: the reading first, then the numbers."""
    if not column:
        return _note("This dataset has no numeric column to test.")
    by = by or LABEL
    if by != LABEL and (not a or not b):
        return _note(f"Pick two values of {by} to compare.")
    result: stats.NumericComparison = results.call(stats.compare_groups, stats.NumericComparison, column=column, by=by, a=None if by == LABEL else a, b=None if by == LABEL else b)
    hist = None
    if by == LABEL:
        hist = results.call(eda.histogram, eda.Histogram, column=column, log_x=_skewed(results, column), by_label=True, density=True)
    return html.Div([
        _reading(result.reading),
        *_warnings(result.warnings),
        dbc.Row([dbc.Col(_test_table(result), lg=5), dbc.Col(_graph(figures.comparison_figure(result, hist)), lg=7)], className="g-3"),
    ])


def chi_view(results: DatasetResults, column: str | None) -> html.Div:
    """Chi-square test of a categorical column against the label, with the cells that stand out."""
    if not column:
        return _note("This dataset has no categorical column to test.")
    r: stats.ChiSquareResult = results.call(stats.chi_square, stats.ChiSquareResult, column=column, by=LABEL)
    facts = f"chi² = {_number(r.chi2)}, dof = {r.dof}, p {_p(r.p)}, Cramér's V = {_number(r.cramers_v)} ({r.effect or 'n/a'}), n = {r.n:,}"
    head = ["Level", "Group", "Observed", "Expected", "Contribution", "Residual"]
    rows = [html.Tr([html.Td(c["row"], className="txlab-col"), html.Td(c["col"]), html.Td(f"{c['observed']:,}", className="text-end"),
                     *[html.Td(_number(c[k]), className="text-end") for k in ("expected", "contribution", "residual")]]) for c in r.top_cells]
    table = dbc.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], size="sm", hover=True, className="txlab-table txlab-chi-cells")
    return html.Div([
        _reading(r.reading),
        html.P(facts, className="small text-muted txlab-chi-facts"),
        *_warnings(r.warnings),
        dbc.Row([dbc.Col([html.H6("Cells furthest from independence"), html.Div(table, className="table-responsive")], lg=5), dbc.Col(_graph(figures.chi_square_figure(r)), lg=7)], className="g-3"),
    ])


# --- helpers ---------------------------------------------------------------------------------


def _graph(fig: go.Figure) -> dcc.Graph:
    return dcc.Graph(figure=fig, config=GRAPH_CONFIG, className="txlab-graph")


def _note(text: str, class_name: str = "") -> html.P:
    return html.P(text, className=f"text-muted small txlab-note {class_name}".strip())


def _reading(text: str) -> dbc.Alert:
    return dbc.Alert([html.I(className="bi bi-lightbulb me-2"), text], color="primary", className="lead fs-6 fw-semibold txlab-reading")


def _warnings(items: list[str]) -> list[dbc.Alert]:
    return [dbc.Alert([html.I(className="bi bi-exclamation-triangle me-2"), w], color="warning", className="py-2 small txlab-test-warning") for w in items]


def _test_table(r: stats.NumericComparison) -> dbc.Table:
    rows = [
        ("Groups", f"{r.group_a} (a)", f"{r.group_b} (b)"),
        ("Values", f"{r.n_a:,}", f"{r.n_b:,}"),
        ("Mean", _number(r.mean_a), _number(r.mean_b)),
        ("Median", _number(r.median_a), _number(r.median_b)),
        ("Difference of means (b − a)", _number(r.diff_mean), f"95% CI {_number(r.diff_ci_low)} to {_number(r.diff_ci_high)}"),
        ("Welch t-test", f"t = {_number(r.welch_t)}, df = {_number(r.welch_df)}", f"p {_p(r.welch_p)}"),
        ("Mann-Whitney U", f"U = {_number(r.mwu_u)}", f"p {_p(r.mwu_p)}"),
        ("Kolmogorov-Smirnov", f"D = {_number(r.ks_d)}", f"p {_p(r.ks_p)}"),
        ("Cohen's d", _number(r.cohens_d), r.effect_d or "–"),
        ("Cliff's delta", _number(r.cliffs_delta), r.effect),
    ]
    body = [html.Tr([html.Th(name, className="fw-normal text-muted"), html.Td(x), html.Td(y)]) for name, x, y in rows]
    return dbc.Table(html.Tbody(body), size="sm", className="txlab-table txlab-test-table")


def _skewed(results: DatasetResults, column: str) -> bool:
    """A log axis suits a positive column whose largest values dwarf its median (money amounts)."""
    summary = next((s for s in results.call(eda.column_table, eda.ColumnSummary, roles=results.roles()) if s.name == column), None)
    if summary is None or summary.min is None or summary.median is None or summary.max is None:
        return False
    return summary.min > 0 and summary.max > 50 * summary.median


def _options(columns: list[str], role: str | None = None) -> list[dict]:
    return [{"label": f"{c} ({role})" if role else c, "value": c} for c in columns]


def _first(candidates: list[str]) -> str | None:
    return candidates[0] if candidates else None


def _column_chips(columns: list[str], limit: int = 8) -> list:
    shown = [html.Code(c, className="me-1") for c in columns[:limit]]
    return shown + ([f"and {len(columns) - limit} more"] if len(columns) > limit else [])


def _top_values(s: eda.ColumnSummary) -> str:
    if s.role == "datetime" and s.first:
        return f"{s.first[:10]} → {(s.last or '')[:10]}"
    return ", ".join(f"{v} ({n:,})" for v, n in s.top_values[:3])


def _span(o: eda.Overview) -> str:
    if o.time_days is None:
        return "–"
    return f"{o.time_days:,.0f} days" if o.time_days >= 2 else f"{o.time_days * 24:,.1f} hours"


def _count(n: int | None) -> str:
    return "–" if n is None else f"{n:,}"


def _money(value: float | None) -> str:
    if value is None:
        return "–"
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:,.2f}{suffix}"
    return f"{value:,.2f}"


def _number(value: float | None) -> str:
    """A number for a table: thousands separated, four significant digits below 1,000."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _p(p: float | None) -> str:
    if p is None or not math.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"
