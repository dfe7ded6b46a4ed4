"""Summaries and aggregates for the Explore page, fast on millions of rows.

Every function takes the frame from ``core.explore_frame.analysis_frame`` and returns a small
result (a dataclass of plain lists and numbers) that the page turns into a table or a figure:
histograms are binned here, categories are cut to the top N plus "other", time is daily.
Results round-trip through JSON (``to_dict`` / ``from_dict``) because the page caches them
as JSON, never pickled. Missing numbers are ``None``, never NaN.

Speed comes from integer category codes and ``np.bincount``; the only measures that need
ranks (Spearman, single-feature AUC) use a seeded sample and say how many rows they used.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from core.explore_frame import (
    AMOUNT, LABEL, TIMESTAMP, ExploreError, category_codes, infer_role, time_seconds,
)
from core.results import JsonResult
from core.schema import TRANSACTION_ID

log = logging.getLogger(__name__)

__all__ = [
    "Overview", "ColumnSummary", "Histogram", "CategoryBars", "SegmentRates",
    "CorrelationMatrix", "LabelAssociation", "TimeProfile",
    "overview", "column_table", "histogram", "category_bars", "fraud_by_segment",
    "correlations", "cramers_v_matrix", "label_association", "time_profile",
    "wilson_interval", "duplicate_count", "cramers_v", "numeric_auc", "category_auc",
    "capped_codes", "MISSING_LEVEL", "OTHER_LEVEL", "SAMPLE_ROWS",
]

Z95 = 1.959963984540054
MISSING_LEVEL = "(missing)"
OTHER_LEVEL = "other"
SAMPLE_ROWS = 200_000  # rows ranked for Spearman and single-feature AUC
MAX_BINS = 200
CRAMERS_MAX_LEVELS = 50
TOP_VALUES = 5
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_SECONDS_PER_DAY = 86_400
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday; Monday is 0


@dataclass
class Overview(JsonResult):
    """Headline numbers of a dataset; the positive rate comes with a Wilson 95% interval."""

    rows: int
    columns: int
    positives: int | None
    positive_rate: float | None
    positive_ci_low: float | None
    positive_ci_high: float | None
    time_start: str | None
    time_end: str | None
    amount_total: float | None
    amount_median: float | None
    missing_cells: int
    duplicate_rows: int
    time_days: float | None = None  # span of time_start..time_end in days


@dataclass
class ColumnSummary(JsonResult):
    """One row of the column table. Number stats are None for non-numbers.

    ``first``/``last`` (ISO) are filled for datetime columns only.
    """

    name: str
    role: str
    dtype: str
    missing_pct: float
    distinct: int
    min: float | None
    median: float | None
    mean: float | None
    max: float | None
    std: float | None
    top_values: list[tuple[str, int]] = field(default_factory=list)
    first: str | None = None
    last: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        item = super().from_dict(data)
        item.top_values = [(str(v), int(n)) for v, n in item.top_values]
        return item


@dataclass
class Histogram(JsonResult):
    """Counts (or densities) per bin; ``edges`` has one more entry than each series.

    Series keys: "all", or "legit" and "fraud" with ``by_label``. With ``log_x`` the edges are
    evenly spaced in log10 and densities are per unit of log10(x), so each series' area on a
    log axis is 1. ``n_excluded`` counts values a log axis cannot show (<= 0) and infinities.
    """

    column: str
    edges: list[float]
    series: dict[str, list[float]]
    log_x: bool
    density: bool
    n_missing: int
    n_excluded: int


@dataclass
class CategoryBars(JsonResult):
    """Top-N levels by volume (+ "other", and "(missing)" as a level), each with its fraud rate.

    Rates and their Wilson 95% intervals are None without a label. ``n_other_levels`` is how
    many levels "other" holds; ``overall_rate`` is the rate over all rows (a reference line).
    """

    column: str
    categories: list[str]
    counts: list[int]
    positives: list[int | None]
    fraud_rate: list[float | None]
    ci_low: list[float | None]
    ci_high: list[float | None]
    n_levels: int = 0
    n_other_levels: int = 0
    overall_rate: float | None = None


@dataclass
class SegmentRates(CategoryBars):
    """Fraud by segment: ``CategoryBars`` plus each segment's lift (its rate / overall rate)."""

    lift: list[float | None] = field(default_factory=list)


@dataclass
class CorrelationMatrix(JsonResult):
    """A symmetric k x k matrix; None where a column is constant or a pair has too few rows.

    ``n_used`` is the number of rows behind each value (complete rows for Pearson; the seeded
    sample for Spearman when ``sampled``; all rows, missing as a level, for Cramér's V).
    """

    method: str
    columns: list[str]
    values: list[list[float | None]]
    n_used: int
    sampled: bool = False


@dataclass
class LabelAssociation(JsonResult):
    """How strongly one feature alone goes with the label.

    ``value`` is the point-biserial r (signed) for numbers and Cramér's V for categories and
    ids (top 50 levels + other + missing). ``auc`` is the single-feature ROC AUC: for numbers
    the raw value as the score (on a class-stratified sample of at most ``SAMPLE_ROWS`` rows),
    for categories and ids each level's fraud rate learned out of fold (``category_auc``).
    """

    feature: str
    role: str
    measure: str
    value: float | None
    n: int
    auc: float | None = None


@dataclass
class TimeProfile(JsonResult):
    """Volume, amount and fraud rate over time, by hour of day and by day of week.

    ``daily`` has lists "date" (ISO date of the bucket start), "count", "amount", "positives",
    "fraud_rate"; ``period`` says the bucket ("day", or "week"/"month" for long spans).
    ``hourly`` has "hour" (0..23), "count", "positives", "fraud_rate"; ``weekday`` has "day"
    (Mon..Sun) and the same. ``n_missing`` rows have no timestamp and are left out.
    """

    daily: dict[str, list]
    hourly: dict[str, list]
    weekday: dict[str, list]
    period: str = "day"
    n_missing: int = 0


# --------------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------------

def overview(frame: pd.DataFrame) -> Overview:
    """Rows, columns, positive rate with its interval, time span, amount, missing and duplicates."""
    rows = len(frame)
    y = _label(frame)
    positives = int(np.count_nonzero(y)) if y is not None else None
    rate = positives / rows if positives is not None and rows else None
    low, high = wilson_interval(positives, rows) if positives is not None else (None, None)
    start = end = days = None
    if TIMESTAMP in frame:
        secs, valid = time_seconds(frame[TIMESTAMP])
        if valid.any():
            first, last = int(secs[valid].min()), int(secs[valid].max())
            start, end, days = _iso(first), _iso(last), (last - first) / _SECONDS_PER_DAY
    total = median = None
    if AMOUNT in frame:
        amount = _floats(frame[AMOUNT])
        finite = amount[np.isfinite(amount)]
        if finite.size:
            total, median = float(finite.sum()), float(np.median(finite))
    return Overview(
        rows=rows, columns=frame.shape[1], positives=positives, positive_rate=rate,
        positive_ci_low=low, positive_ci_high=high, time_start=start, time_end=end,
        amount_total=total, amount_median=median,
        missing_cells=int(frame.isna().to_numpy().sum()) if rows else 0,
        duplicate_rows=duplicate_count(frame), time_days=days,
    )


def column_table(frame: pd.DataFrame, roles: dict[str, str]) -> list[ColumnSummary]:
    """One summary per column, in frame order; roles missing from ``roles`` are inferred."""
    return [_summarise(frame[name], name, roles.get(name) or infer_role(frame[name]))
            for name in frame.columns]


def histogram(frame: pd.DataFrame, column: str, bins: int = 40, log_x: bool = False,
              by_label: bool = False, density: bool = False) -> Histogram:
    """Equal-width bins (in log10 with ``log_x``) over the column's finite range."""
    series = _column(frame, column)
    if infer_role(series) != "number":
        raise ExploreError(f"Column '{column}' is not numeric ({series.dtype}); use category bars.")
    if not isinstance(bins, (int, np.integer)) or not 1 <= bins <= MAX_BINS:
        raise ExploreError(f"bins must be an integer from 1 to {MAX_BINS}, not {bins!r}.")
    y = _label(frame) if by_label else None
    if by_label and y is None:
        raise ExploreError("A histogram split by label needs a 'label' column.")
    x = _floats(series)
    n_missing = int(np.isnan(x).sum())
    keep = np.isfinite(x) & (x > 0) if log_x else np.isfinite(x)
    n_excluded = int(x.size - n_missing - np.count_nonzero(keep))
    values = np.log10(x[keep]) if log_x else x[keep]
    groups = {"all": values} if y is None else {"legit": values[~y[keep]], "fraud": values[y[keep]]}
    if values.size == 0:
        return Histogram(column, [], {k: [] for k in groups}, log_x, density, n_missing, n_excluded)
    lo, hi = float(values.min()), float(values.max())
    if hi == lo:
        lo, hi, bins = lo - 0.5, hi + 0.5, 1
    edges = np.linspace(lo, hi, bins + 1)
    out: dict[str, list[float]] = {}
    for key, group in groups.items():
        counts, _ = np.histogram(group, bins=edges)
        if density:
            total = counts.sum()
            counts = counts / (total * np.diff(edges)) if total else np.zeros(bins)
        out[key] = counts.tolist() if density else [int(c) for c in counts]
    shown = 10.0 ** edges if log_x else edges
    return Histogram(column, shown.tolist(), out, log_x, density, n_missing, n_excluded)


def category_bars(frame: pd.DataFrame, column: str, top_n: int = 15) -> CategoryBars:
    """The ``top_n`` levels by volume, the rest as "other", each with its fraud rate."""
    return CategoryBars(**_level_rates(frame, column, top_n))


def fraud_by_segment(frame: pd.DataFrame, column: str, top_n: int = 15) -> SegmentRates:
    """Fraud rate with intervals and lift for the ``top_n`` segments by volume (country, device, ...)."""
    if _label(frame) is None:
        raise ExploreError("Fraud by segment needs a 'label' column.")
    parts = _level_rates(frame, column, top_n)
    overall = parts["overall_rate"]
    lift = [r / overall if r is not None and overall else None for r in parts["fraud_rate"]]
    return SegmentRates(**parts, lift=lift)


# --------------------------------------------------------------------------------------------
# Correlations and association with the label
# --------------------------------------------------------------------------------------------

def correlations(frame: pd.DataFrame, columns: list[str], method: str = "pearson",
                 sample_rows: int = SAMPLE_ROWS, seed: int = 0) -> CorrelationMatrix:
    """Pearson or Spearman correlations between numeric columns, on complete rows.

    Spearman ranks a seeded sample of ``sample_rows`` complete rows when there are more
    (``sampled`` True); with fewer it is exact. ``method="cramers_v"`` is passed on to
    ``cramers_v_matrix``.
    """
    if method == "cramers_v":
        return cramers_v_matrix(frame, columns)
    if method not in ("pearson", "spearman"):
        raise ExploreError(f"Unknown correlation method {method!r}: use pearson, spearman or cramers_v.")
    for name in columns:
        if infer_role(_column(frame, name)) != "number":
            raise ExploreError(f"Column '{name}' is not numeric: use Cramér's V for categories.")
    if not columns:
        return CorrelationMatrix(method, [], [], 0)
    data = np.column_stack([_floats(frame[c]) for c in columns])
    data = data[np.isfinite(data).all(axis=1)]
    sampled = method == "spearman" and len(data) > sample_rows
    if sampled:
        pick = np.sort(np.random.default_rng(seed).choice(len(data), sample_rows, replace=False))
        data = data[pick]
    if method == "spearman":
        data = np.column_stack([rankdata(data[:, j]) for j in range(data.shape[1])]) if len(data) else data
    return CorrelationMatrix(method, list(columns), _corr_values(data), len(data), sampled)


def cramers_v_matrix(frame: pd.DataFrame, columns: list[str], max_levels: int = CRAMERS_MAX_LEVELS,
                     bias_corrected: bool = False) -> CorrelationMatrix:
    """Cramér's V for each pair of categorical columns (plain V unless ``bias_corrected``).

    Each column keeps its ``max_levels`` most frequent levels, the rest pooled as "other" and
    missing as a level of its own, so every pair uses all rows. Bias correction (Bergsma 2013)
    matters only for small samples or many levels.
    """
    codes = [capped_codes(_column(frame, c), max_levels) for c in columns]
    k = len(columns)
    values: list[list[float | None]] = [[None] * k for _ in range(k)]
    for i in range(k):
        a, la = codes[i]
        values[i][i] = 1.0 if np.count_nonzero(np.bincount(a, minlength=la)) > 1 else None
        for j in range(i + 1, k):
            b, lb = codes[j]
            table = np.bincount(a * lb + b, minlength=la * lb).reshape(la, lb)
            values[i][j] = values[j][i] = cramers_v(table, bias_corrected)
    return CorrelationMatrix("cramers_v", list(columns), values, len(frame))


def label_association(frame: pd.DataFrame, roles: dict[str, str], sample_rows: int = SAMPLE_ROWS,
                      seed: int = 0) -> list[LabelAssociation]:
    """Each feature's association with the label, strongest first (by absolute value)."""
    y = _label(frame)
    if y is None:
        raise ExploreError("Association with the label needs a 'label' column.")
    out: list[LabelAssociation] = []
    for name in frame.columns:
        if name == TRANSACTION_ID:
            continue
        role = roles.get(name) or infer_role(frame[name])
        if role == "number":
            x = _floats(frame[name])
            ok = np.isfinite(x)
            xs, ys = (x, y) if ok.all() else (x[ok], y[ok])
            r = _pearson(xs, ys.astype(np.float64))
            auc = numeric_auc(xs, ys, sample_rows, seed)
            out.append(LabelAssociation(name, role, "point-biserial r", r, int(xs.size), auc))
        elif role in ("category", "id"):
            codes, levels = capped_codes(frame[name], CRAMERS_MAX_LEVELS)
            table = np.bincount(codes * 2 + y, minlength=levels * 2).reshape(levels, 2)
            raw, _ = category_codes(frame[name])
            out.append(LabelAssociation(name, role, "Cramér's V", cramers_v(table), len(frame),
                                        category_auc(raw, y, seed)))
    return sorted(out, key=lambda a: -1.0 if a.value is None else -abs(a.value))


def time_profile(frame: pd.DataFrame, max_points: int = 1000) -> TimeProfile | None:
    """Daily volume, amount and fraud rate plus hour-of-day and weekday profiles.

    None without a timestamp column (or with no readable time). Spans longer than
    ``max_points`` days are bucketed by week, then by month, to keep the page light.
    """
    if TIMESTAMP not in frame:
        return None
    secs, valid = time_seconds(frame[TIMESTAMP])
    if not valid.any():
        return None
    n_missing = int(valid.size - np.count_nonzero(valid))
    secs = secs[valid]
    y = _label(frame)
    y = y[valid] if y is not None else None
    amount = _floats(frame[AMOUNT])[valid] if AMOUNT in frame else None
    day = np.floor_divide(secs, _SECONDS_PER_DAY)
    bucket, starts, period = _time_buckets(day, secs, max_points)
    daily: dict[str, list] = {"date": starts, **_rates(bucket, y, len(starts))}
    if amount is not None:
        weights = np.where(np.isfinite(amount), amount, 0.0)
        daily["amount"] = np.bincount(bucket, weights=weights, minlength=len(starts)).tolist()
    else:
        daily["amount"] = [None] * len(starts)
    hourly = {"hour": list(range(24)), **_rates(np.floor_divide(secs, 3600) % 24, y, 24)}
    weekday = {"day": list(WEEKDAYS), **_rates((day + _EPOCH_WEEKDAY) % 7, y, 7)}
    return TimeProfile(daily, hourly, weekday, period, n_missing)


# --------------------------------------------------------------------------------------------
# Building blocks (public: core.quality and core.stats use them too)
# --------------------------------------------------------------------------------------------

def wilson_interval(positives: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """Wilson score interval for a proportion; (None, None) when ``n`` is 0."""
    if n <= 0:
        return None, None
    p = positives / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if positives == 0 else max(0.0, centre - half)  # exact ends, not rounding noise
    high = 1.0 if positives == n else min(1.0, centre + half)
    return low, high


def duplicate_count(frame: pd.DataFrame) -> int:
    """Rows that repeat an earlier row in every column (like ``duplicated().sum()``).

    Rows are compared by a 64-bit hash of all their values, combined column by column as
    pandas does; a false match needs a hash collision (odds ~ n^2 / 2^64).
    """
    if len(frame) < 2 or frame.shape[1] == 0:
        return 0
    combined = np.full(len(frame), 0x345678, dtype=np.uint64)
    mult = np.uint64(1000003)
    for i, name in enumerate(frame.columns):
        h = pd.util.hash_pandas_object(frame[name], index=False).to_numpy()
        combined ^= h
        combined *= mult
        mult += np.uint64(82520 + 2 * (frame.shape[1] - i))
    combined.sort()
    return int(np.count_nonzero(combined[1:] == combined[:-1]))


def cramers_v(table: np.ndarray, bias_corrected: bool = False) -> float | None:
    """Cramér's V of a contingency table (empty rows/columns dropped); None below 2 x 2."""
    table = np.asarray(table, dtype=np.float64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    r, c = table.shape if table.ndim == 2 else (0, 0)
    n = table.sum()
    if min(r, c) < 2 or n < 2:
        return None
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    phi2 = float(((table - expected) ** 2 / expected).sum()) / n
    if not bias_corrected:
        return math.sqrt(phi2 / (min(r, c) - 1))
    phi2 = max(0.0, phi2 - (r - 1) * (c - 1) / (n - 1))
    r_corr, c_corr = r - (r - 1) ** 2 / (n - 1), c - (c - 1) ** 2 / (n - 1)
    denom = min(r_corr, c_corr) - 1
    return math.sqrt(phi2 / denom) if denom > 0 else None


def numeric_auc(x: np.ndarray, y: np.ndarray, sample_rows: int = SAMPLE_ROWS,
                seed: int = 0) -> float | None:
    """ROC AUC of ``x`` as a fraud score (ties count half); None without both classes.

    Above ``sample_rows`` rows it ranks a seeded class-stratified sample (up to half the
    sample from each class): AUC does not depend on the class mix, so this stays unbiased.
    """
    y = np.asarray(y, dtype=bool)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    if pos.size == 0 or neg.size == 0:
        return None
    if x.size > sample_rows:
        rng = np.random.default_rng(seed)
        n_pos = min(pos.size, max(sample_rows // 2, sample_rows - neg.size))
        n_neg = min(neg.size, sample_rows - n_pos)
        pos = rng.choice(pos, n_pos, replace=False) if n_pos < pos.size else pos
        neg = rng.choice(neg, n_neg, replace=False) if n_neg < neg.size else neg
    ranks = rankdata(np.concatenate([x[pos], x[neg]]))
    u = ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2
    return float(u / (pos.size * neg.size))


def category_auc(codes: np.ndarray, y: np.ndarray, seed: int = 0,
                 smoothing: float = 10.0) -> float | None:
    """Out-of-fold ROC AUC of a category's level fraud rate used as the score.

    Rows are split in two seeded halves; each half is scored with the rates learned on the
    other half, shrunk towards that half's overall rate by ``smoothing`` pseudo-rows, so a
    level seen a few times (or only in one half) cannot look perfectly predictive. Missing is
    a level. None without both classes.
    """
    y = np.asarray(y, dtype=bool)
    if not y.any() or y.all():
        return None
    n_levels = int(codes.max(initial=-1)) + 2  # the last level is "missing"
    cell = np.where(codes < 0, n_levels - 1, codes).astype(np.int64)
    cell *= 2
    cell += np.frombuffer(np.random.default_rng(seed).bytes(codes.size), dtype=np.uint8) & 1
    counts = np.bincount(cell, minlength=2 * n_levels).reshape(n_levels, 2).astype(np.float64)
    pos = np.bincount(cell, weights=y, minlength=2 * n_levels).reshape(n_levels, 2)
    totals = counts.sum(axis=0)
    prior = np.divide(pos.sum(axis=0), totals, out=np.zeros(2), where=totals > 0)
    # Rows of fold f are scored with the rates of the other fold (column 1 - f).
    score = (pos[:, ::-1] + smoothing * prior[::-1]) / (counts[:, ::-1] + smoothing)
    used = counts > 0
    return _grouped_auc(score[used], pos[used], counts[used] - pos[used])


def _grouped_auc(score: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float | None:
    """AUC when rows come in groups sharing one score (ties count half)."""
    total_pos, total_neg = pos.sum(), neg.sum()
    if total_pos == 0 or total_neg == 0:
        return None
    unique, inverse = np.unique(score, return_inverse=True)
    pos_u = np.bincount(inverse, weights=pos, minlength=unique.size)
    neg_u = np.bincount(inverse, weights=neg, minlength=unique.size)
    neg_below = np.cumsum(neg_u) - neg_u
    return float((pos_u * (neg_below + 0.5 * neg_u)).sum() / (total_pos * total_neg))


def capped_codes(series: pd.Series, max_levels: int) -> tuple[np.ndarray, int]:
    """Codes 0..L-1 (int64): the ``max_levels`` most frequent levels by rank, then one code
    for all other levels and one for missing (each only when present); and L."""
    codes, levels = category_codes(series)
    counts = np.bincount(codes[codes >= 0], minlength=len(levels))
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] > 0]
    lut = np.empty(len(levels) + 1, dtype=np.int64)
    top = min(max_levels, order.size)
    lut[order[:top]] = np.arange(top)
    n_codes = top
    if order.size > top:
        lut[order[top:]] = n_codes
        n_codes += 1
    lut[-1] = n_codes  # codes of -1 (missing) index the last slot
    out = lut[codes]
    return out, n_codes + (1 if (codes < 0).any() else 0)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

def _summarise(series: pd.Series, name: str, role: str) -> ColumnSummary:
    rows = len(series)
    missing = int(series.isna().sum())
    base = dict(name=name, role=role, dtype=str(series.dtype),
                missing_pct=100.0 * missing / rows if rows else 0.0)
    if role in ("number", "label") and infer_role(series) == "number":
        x = _floats(series)
        x = x[~np.isnan(x)]
        stats = _number_stats(x)
        top = _top_values(series) if role == "label" else []
        return ColumnSummary(**base, distinct=len(pd.unique(x)), **stats, top_values=top)
    if role == "datetime" or infer_role(series) == "datetime":
        secs, valid = time_seconds(series)
        secs = secs[valid]
        first, last = (_iso(int(secs.min())), _iso(int(secs.max()))) if secs.size else (None, None)
        return ColumnSummary(**base, distinct=_distinct_ints(secs), min=None, median=None, mean=None,
                             max=None, std=None, first=first, last=last)
    codes, _ = category_codes(series)
    distinct = int(np.count_nonzero(np.bincount(codes[codes >= 0]))) if rows else 0
    return ColumnSummary(**base, distinct=distinct, min=None, median=None, mean=None, max=None,
                         std=None, top_values=_top_values(series))


def _number_stats(x: np.ndarray) -> dict[str, float | None]:
    if x.size == 0:
        return dict(min=None, median=None, mean=None, max=None, std=None)
    with np.errstate(invalid="ignore", over="ignore"):
        std = float(np.std(x, ddof=1)) if x.size > 1 else None
        return dict(min=_num(x.min()), median=_num(np.median(x)), mean=_num(x.mean()),
                    max=_num(x.max()), std=_num(std))


def _top_values(series: pd.Series, n: int = TOP_VALUES) -> list[tuple[str, int]]:
    codes, levels = category_codes(series)
    counts = np.bincount(codes[codes >= 0], minlength=len(levels))
    order = np.argsort(-counts, kind="stable")[:n]
    return [(str(levels[i]), int(counts[i])) for i in order if counts[i] > 0]


def _level_rates(frame: pd.DataFrame, column: str, top_n: int) -> dict[str, Any]:
    if not isinstance(top_n, (int, np.integer)) or top_n < 1:
        raise ExploreError(f"top_n must be a positive integer, not {top_n!r}.")
    codes, levels = category_codes(_column(frame, column))
    k = len(levels)
    codes = np.where(codes < 0, k, codes).astype(np.int64)
    counts = np.bincount(codes, minlength=k + 1)
    y = _label(frame)
    pos = np.bincount(codes, weights=y, minlength=k + 1).astype(np.int64) if y is not None else None
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] > 0]
    top, rest = order[:top_n], order[top_n:]
    categories = [str(levels[i]) if i < k else MISSING_LEVEL for i in top]
    cat_counts = [int(counts[i]) for i in top]
    cat_pos = [int(pos[i]) for i in top] if pos is not None else [None] * len(top)
    if rest.size:
        categories.append(_other_name(categories))
        cat_counts.append(int(counts[rest].sum()))
        cat_pos.append(int(pos[rest].sum()) if pos is not None else None)
    intervals = [wilson_interval(p, n) if p is not None else (None, None)
                 for p, n in zip(cat_pos, cat_counts)]
    return dict(
        column=column, categories=categories, counts=cat_counts, positives=cat_pos,
        fraud_rate=[p / n if p is not None and n else None for p, n in zip(cat_pos, cat_counts)],
        ci_low=[lo for lo, _ in intervals], ci_high=[hi for _, hi in intervals],
        n_levels=int(order.size), n_other_levels=int(rest.size),
        overall_rate=float(y.mean()) if y is not None and y.size else None,
    )


def _other_name(taken: list[str]) -> str:
    name = OTHER_LEVEL
    while name in taken:
        name = f"({name})"
    return name


def _corr_values(data: np.ndarray) -> list[list[float | None]]:
    k = data.shape[1]
    if len(data) < 2:
        return [[None] * k for _ in range(k)]
    with np.errstate(invalid="ignore", divide="ignore"):
        centred = data - data.mean(axis=0)
        cov = centred.T @ centred
        scale = np.sqrt(np.diag(cov))
        corr = cov / np.outer(scale, scale)
    corr = np.clip(corr, -1.0, 1.0)
    np.fill_diagonal(corr, np.where(np.isfinite(np.diag(corr)), 1.0, np.nan))
    return [[_num(v) for v in row] for row in corr]


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    if x.size < 2:
        return None
    xc, yc = x - x.mean(), y - y.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        r = float(xc @ yc) / np.sqrt(float(xc @ xc) * float(yc @ yc))
    return _num(np.clip(r, -1.0, 1.0))


def _distinct_ints(values: np.ndarray) -> int:
    """Distinct int64 values; a bincount when their range is small (seconds of a few months)."""
    if values.size == 0:
        return 0
    lo, hi = int(values.min()), int(values.max())
    if hi - lo < 4 * values.size + 1_000_000:
        return int(np.count_nonzero(np.bincount(values - lo)))
    return len(pd.unique(values))


def _rates(codes: np.ndarray, y: np.ndarray | None, size: int) -> dict[str, list]:
    counts = np.bincount(codes, minlength=size)
    if y is None:
        return {"count": counts.tolist(), "positives": [None] * size, "fraud_rate": [None] * size}
    pos = np.bincount(codes, weights=y, minlength=size).astype(np.int64)
    rate = [int(p) / int(n) if n else None for p, n in zip(pos, counts)]
    return {"count": counts.tolist(), "positives": pos.tolist(), "fraud_rate": rate}


def _time_buckets(day: np.ndarray, secs: np.ndarray, max_points: int) -> tuple[np.ndarray, list[str], str]:
    """Bucket index per row (0-based, contiguous), the ISO date each bucket starts, the period."""
    first, last = int(day.min()), int(day.max())
    if last - first + 1 <= max_points:
        starts = np.arange(first, last + 1)
        return day - first, [_iso_date(d) for d in starts], "day"
    monday = day - (day + _EPOCH_WEEKDAY) % 7
    if (last - first) // 7 + 2 <= max_points:
        w0 = int(monday.min())
        starts = np.arange(w0, int(monday.max()) + 1, 7)
        return (monday - w0) // 7, [_iso_date(d) for d in starts], "week"
    months = secs.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
    m0 = int(months.min())
    starts = np.arange(m0, int(months.max()) + 1).astype("datetime64[M]").astype("datetime64[D]")
    return months - m0, [str(d) for d in starts], "month"


def _column(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        raise ExploreError(f"Column '{column}' is not in the dataset.")
    return frame[column]


def _label(frame: pd.DataFrame) -> np.ndarray | None:
    """The label as a boolean array (True = fraud), or None without a label column."""
    if LABEL not in frame:
        return None
    return _floats(frame[LABEL]) == 1


def _floats(series: pd.Series) -> np.ndarray:
    if isinstance(series.dtype, pd.CategoricalDtype):
        raise ExploreError(f"Column '{series.name}' is categorical, not numeric.")
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _iso(seconds: int) -> str:
    return str(np.datetime64(seconds, "s"))


def _iso_date(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def _num(value: Any) -> float | None:
    """A plain float, or None for NaN/inf/None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
