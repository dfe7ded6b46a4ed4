"""Hypothesis tests with effect sizes and a plain-language reading.

Two questions a fraud analyst asks of a dataset:

* Does a numeric column differ between two groups (legitimate vs fraudulent by default, or
  any two values of a categorical column)? ``compare_groups`` / ``compare_numeric`` run
  Welch's t-test, Mann-Whitney U and two-sample Kolmogorov-Smirnov, with Cohen's d, Cliff's
  delta and a 95% Welch confidence interval of the difference of means.
* Is a categorical column associated with the label (or another category)? ``chi_square``
  runs Pearson's chi-square test of independence with Cramer's V and the cells that depart
  most from independence.

Decisions others rely on:

* Direction: group ``b`` is compared with group ``a`` (fraud vs legit by default). Every signed
  number is positive when ``b`` is larger: ``diff_mean = mean_b - mean_a``, ``welch_t`` equals
  ``scipy.stats.ttest_ind(b, a, equal_var=False)``, ``mwu_u`` is the U of ``b`` as returned by
  ``scipy.stats.mannwhitneyu(b, a)``, and ``cliffs_delta = 2 * mwu_u / (n_a * n_b) - 1``
  = P(b > a) - P(b < a) (the rank-biserial correlation).
* Every statistic and p-value equals scipy's defaults on the same data to 1e-9: Welch
  ``ttest_ind(equal_var=False)``; ``mannwhitneyu(alternative="two-sided", method="auto",
  use_continuity=True)`` (asymptotic normal with tie correction and continuity correction,
  exact only when a group has at most 8 values and there are no ties); ``ks_2samp(method="auto")``
  (exact when both groups have at most 10,000 values, Smirnov's asymptotic ``kstwo`` otherwise);
  ``chi2_contingency(correction=False)`` (plain Pearson chi-square: no Yates correction, so the
  statistic is the one Cramer's V is defined on). On large groups U, its tie term and the KS
  distance come from one sort per group instead of scipy's rank of the concatenation: the
  same numbers, several times faster. Where both groups have zero variance, Welch's t is
  reported as NaN (undefined) rather than scipy's infinity.
* Effect-size conventions: Cliff's delta (Romano et al. 2006): |delta| < 0.147 negligible,
  < 0.33 small, < 0.474 medium, otherwise large; this drives ``effect`` and the reading,
  because it is robust to the skew of money amounts. Cohen's d (pooled SD; Cohen 1988):
  < 0.2 negligible, < 0.5 small, < 0.8 medium, otherwise large, in ``effect_d``. Cramer's V
  (plain, not bias-corrected): Cohen's w thresholds 0.1 / 0.3 / 0.5 divided by
  sqrt(min(rows, cols) - 1).
* The reading uses the Mann-Whitney p-value, the medians and Cliff's delta; significance at 0.05.
  Missing and infinite values are dropped and counted in ``warnings``.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from core.errors import TxlabError
from core.results import JsonResult

log = logging.getLogger(__name__)

LABEL = "label"
LABEL_NAMES = {0: "legitimate", 1: "fraudulent"}
ALPHA = 0.05
MIN_PER_GROUP = 20
SPARSE_EXPECTED = 5.0
SPARSE_SHARE = 0.2
TIES_VARIANCE_SHARE = 0.05  # ties remove more than this share of the Mann-Whitney variance
MWU_EXACT_MAX = 8  # scipy's method="auto": exact only below this size and without ties
KS_EXACT_MAX = 10_000  # scipy's ks_2samp method="auto": exact up to this size
D_THRESHOLDS = (0.2, 0.5, 0.8)
DELTA_THRESHOLDS = (0.147, 0.33, 0.474)
W_THRESHOLDS = (0.1, 0.3, 0.5)
EFFECTS = ("negligible", "small", "medium", "large")


class StatsError(TxlabError):
    """A test cannot be run: a missing column or group, no values, a wrong column type."""


class _Result(JsonResult):
    """JSON round-trip; float fields that went out as None (NaN, infinity) come back as NaN."""

    @classmethod
    def from_dict(cls, data: dict) -> Any:
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            kwargs[f.name] = math.nan if value is None and f.type == "float" else value
        return cls(**kwargs)


@dataclass
class NumericComparison(_Result):
    """A numeric column compared between group ``a`` and group ``b`` (see the module notes)."""

    column: str
    group_a: str
    group_b: str
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    median_a: float
    median_b: float
    welch_t: float
    welch_df: float
    welch_p: float
    mwu_u: float
    mwu_p: float
    ks_d: float
    ks_p: float
    cohens_d: float
    cliffs_delta: float
    diff_mean: float
    diff_ci_low: float
    diff_ci_high: float
    effect: str
    reading: str
    warnings: list[str] = field(default_factory=list)
    effect_d: str = ""  # Cohen's d category; ``effect`` is Cliff's delta's
    by: str | None = None  # the grouping column, when built by compare_groups
    n_missing: int = 0  # missing or infinite values dropped from the two groups
    mwu_method: str = "asymptotic"  # "exact" or "asymptotic", as scipy's method="auto" chooses
    ks_method: str = "asymp"  # "exact" or "asymp", as scipy's method="auto" chooses


@dataclass
class ChiSquareResult(_Result):
    """Pearson's chi-square test of independence of ``column`` and ``by``.

    ``observed`` is rows (levels of ``column``) x cols (levels of ``by``); levels beyond the
    top ``top_n`` by count are grouped as "other". Each ``top_cells`` entry holds row, col,
    observed, expected, contribution ((O - E)^2 / E, summing to chi2) and residual (the
    adjusted standardized residual, roughly N(0, 1) under independence: |r| > 2 stands out).
    """

    column: str
    by: str
    chi2: float
    dof: int
    p: float
    cramers_v: float
    n: int
    rows: list[str]
    cols: list[str]
    observed: list[list[int]]
    top_cells: list[dict]
    reading: str
    warnings: list[str] = field(default_factory=list)
    effect: str = ""  # Cramer's V category
    n_missing: int = 0  # rows dropped because either column was missing

    @classmethod
    def from_dict(cls, data: dict) -> "ChiSquareResult":
        result = super().from_dict(data)
        result.top_cells = [{k: math.nan if v is None else v for k, v in cell.items()}
                            for cell in result.top_cells]
        return result


def compare_numeric(a: np.ndarray, b: np.ndarray, column: str, group_a: str,
                    group_b: str) -> NumericComparison:
    """Compare the values ``a`` (group a) and ``b`` (group b) of ``column``.

    Missing and infinite values are dropped and counted; an empty group raises ``StatsError``.
    """
    return _compare(a, b, column, group_a, group_b, group_a, group_b, by=None)


def compare_groups(frame: pd.DataFrame, column: str, by: str = LABEL,
                   a: object = None, b: object = None) -> NumericComparison:
    """Compare numeric ``column`` between rows where ``by == a`` and rows where ``by == b``.

    By the label the defaults are a = 0 (legitimate) and b = 1 (fraudulent); by another
    column they are its two most frequent values.
    """
    _check_column(frame, column)
    _check_column(frame, by)
    if column == by:
        raise StatsError(f"Column '{column}' cannot be compared across its own values; pick another 'by'.")
    series = frame[column]
    if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        raise StatsError(f"Column '{column}' is not numeric (dtype {series.dtype}); compare numbers, "
                         "or use chi_square for a category.")
    if a is None or b is None:
        a, b = _default_groups(frame, by, a, b)
    if str(a) == str(b):
        raise StatsError(f"Both groups are {by} = {a}; pick two different values of '{by}'.")
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    mask_a = _group_mask(frame[by], a, by, column)
    mask_b = _group_mask(frame[by], b, by, column)
    name_a, name_b = _group_name(by, a), _group_name(by, b)
    phrase_a, phrase_b = (f"{n} transactions" if by == LABEL else f"rows with {n}" for n in (name_a, name_b))
    return _compare(values[mask_a], values[mask_b], column, name_a, name_b, phrase_a, phrase_b, by=by)


def chi_square(frame: pd.DataFrame, column: str, by: str = LABEL, top_n: int = 20,
               n_cells: int = 10) -> ChiSquareResult:
    """Chi-square test of independence of categorical ``column`` and ``by``.

    Both columns keep their ``top_n`` most frequent levels (the label keeps 0 and 1, named
    legitimate and fraudulent); the rest are grouped as "other". Rows missing either value are
    dropped and counted. ``top_cells`` holds the ``n_cells`` largest contributions.
    """
    _check_column(frame, column)
    _check_column(frame, by)
    if column == by:
        raise StatsError(f"Column '{column}' cannot be tested against itself; pick another 'by'.")
    if not isinstance(top_n, int) or top_n < 1:
        raise StatsError(f"top_n must be a positive whole number, not {top_n!r}.")
    row_codes, rows, row_other = _level_codes(frame[column], column, top_n)
    col_codes, cols, col_other = _level_codes(frame[by], by, top_n)
    if by == LABEL:
        cols = [LABEL_NAMES.get(_as_int(level), level) for level in cols]
    present = (row_codes >= 0) & (col_codes >= 0)
    n = int(present.sum())
    n_missing = len(frame) - n
    if n == 0:
        raise StatsError(f"No row has both '{column}' and '{by}' present; nothing to test.")
    observed = np.bincount(row_codes[present].astype(np.int64) * len(cols) + col_codes[present],
                           minlength=len(rows) * len(cols)).reshape(len(rows), len(cols))
    keep_r, keep_c = observed.sum(axis=1) > 0, observed.sum(axis=0) > 0
    observed = observed[keep_r][:, keep_c]
    rows = [r for r, k in zip(rows, keep_r) if k]
    cols = [c for c, k in zip(cols, keep_c) if k]
    if len(cols) < 2:
        raise StatsError(f"'{by}' has only one value ({cols[0]}) among rows where '{column}' is present; "
                         "a test of independence needs at least two groups.")
    warnings = _chi_warnings(column, by, n_missing, row_other, col_other, top_n)
    return _chi_result(column, by, observed, rows, cols, n, n_missing, warnings, n_cells)


def group_levels(frame: pd.DataFrame, column: str, limit: int = 50) -> list[str]:
    """The values of ``column`` a user can pick as groups: the ``limit`` most frequent, as text."""
    _check_column(frame, column)
    counts = frame[column].value_counts(dropna=True, sort=True)
    counts = counts[counts > 0]
    return [_level_text(v) for v in counts.index[:limit]]


# --- numeric comparison ----------------------------------------------------------------------


def _compare(a: np.ndarray, b: np.ndarray, column: str, name_a: str, name_b: str,
             phrase_a: str, phrase_b: str, by: str | None) -> NumericComparison:
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    finite_a, finite_b = np.isfinite(a), np.isfinite(b)
    miss_a, miss_b = int(a.size - finite_a.sum()), int(b.size - finite_b.sum())
    for values, missing, name in ((a, miss_a, name_a), (b, miss_b, name_b)):
        if values.size == missing:
            what = f"all {missing:,} are missing" if missing else "the group has no rows"
            raise StatsError(f"Column '{column}' has no values for group '{name}': {what}.")
    sa, sb = np.sort(a[finite_a]), np.sort(b[finite_b])
    warnings = []
    if miss_a or miss_b:
        warnings.append(f"{miss_a + miss_b:,} missing or infinite values of '{column}' were dropped "
                        f"({miss_a:,} for {name_a}, {miss_b:,} for {name_b}).")
    welch = _welch(sa, sb)
    ranks = _rank_tests(sa, sb)
    n_a, n_b = sa.size, sb.size
    cliffs = 2.0 * ranks["u_b"] / (n_a * n_b) - 1.0
    effect = _effect(abs(cliffs), DELTA_THRESHOLDS)
    warnings += _numeric_warnings(sa, sb, column, name_a, name_b, welch, ranks)
    result = NumericComparison(
        column=column, group_a=name_a, group_b=name_b, n_a=n_a, n_b=n_b,
        mean_a=welch["mean_a"], mean_b=welch["mean_b"], median_a=_median(sa), median_b=_median(sb),
        welch_t=welch["t"], welch_df=welch["df"], welch_p=welch["p"],
        mwu_u=ranks["u_b"], mwu_p=ranks["mwu_p"], ks_d=ranks["ks_d"], ks_p=ranks["ks_p"],
        cohens_d=welch["d"], cliffs_delta=cliffs, diff_mean=welch["diff"],
        diff_ci_low=welch["ci_low"], diff_ci_high=welch["ci_high"], effect=effect, reading="",
        warnings=warnings, effect_d=_effect(abs(welch["d"]), D_THRESHOLDS) if np.isfinite(welch["d"]) else "",
        by=by, n_missing=miss_a + miss_b, mwu_method=ranks["mwu_method"], ks_method=ranks["ks_method"])
    result.reading = _numeric_reading(result, phrase_a, phrase_b, constant=sa[0] == sa[-1] == sb[0] == sb[-1])
    log.debug("compared %s: %s vs %s (n=%d, %d)", column, name_a, name_b, n_a, n_b)
    return result


def _welch(sa: np.ndarray, sb: np.ndarray) -> dict[str, float]:
    """Welch's t-test of b vs a, its 95% CI of mean_b - mean_a, and Cohen's d (pooled SD)."""
    n_a, n_b = sa.size, sb.size
    mean_a, mean_b = float(np.mean(sa)), float(np.mean(sb))
    var_a = float(np.var(sa, ddof=1)) if n_a > 1 else math.nan
    var_b = float(np.var(sb, ddof=1)) if n_b > 1 else math.nan
    diff = mean_b - mean_a
    qa, qb = var_a / n_a, var_b / n_b
    se = math.sqrt(qa + qb) if np.isfinite(qa + qb) else math.nan
    t = df = p = low = high = math.nan
    if se > 0:
        t = diff / se
        df = (qa + qb) ** 2 / (qa ** 2 / (n_a - 1) + qb ** 2 / (n_b - 1))
        p = float(2.0 * stats.t.sf(abs(t), df))
        half = float(stats.t.ppf(0.975, df)) * se
        low, high = diff - half, diff + half
    pooled = ((n_a - 1) * var_a + (n_b - 1) * var_b) / (n_a + n_b - 2) if n_a + n_b > 2 else math.nan
    if n_a == 1 or n_b == 1:  # one value contributes no spread: pool only the other group
        pooled = var_b if n_a == 1 else var_a
    d = diff / math.sqrt(pooled) if np.isfinite(pooled) and pooled > 0 else math.nan
    return {"mean_a": mean_a, "mean_b": mean_b, "var_a": var_a, "var_b": var_b, "diff": diff,
            "t": t, "df": df, "p": p, "ci_low": low, "ci_high": high, "d": d}


def _rank_tests(sa: np.ndarray, sb: np.ndarray) -> dict[str, Any]:
    """Mann-Whitney U of b (and p) and the KS distance (and p) from the two sorted groups."""
    n_a, n_b = sa.size, sb.size
    va, ca, cum_a = _runs(sa)
    vb, cb, cum_b = _runs(sb)
    lo = np.searchsorted(sa, vb, side="left")
    hi = np.searchsorted(sa, vb, side="right")
    u_b = float(np.dot(cb, lo + hi)) / 2.0  # each b value: a values below it + half the ties
    ca_f, cb_f, shared = ca.astype(np.float64), cb.astype(np.float64), (hi - lo).astype(np.float64)
    both = cb_f + shared
    tie_term = float(np.sum(ca_f ** 3 - ca_f) + np.sum(both ** 3 - both - (shared ** 3 - shared)))
    ties = bool(ca.size + vb.size - np.count_nonzero(hi > lo) < n_a + n_b)
    mwu_method = "asymptotic" if (n_a > MWU_EXACT_MAX and n_b > MWU_EXACT_MAX) or ties else "exact"
    if mwu_method == "exact":
        mwu_p = float(stats.mannwhitneyu(sb, sa, method="exact").pvalue)
    else:
        mwu_p = _mwu_asymptotic_p(u_b, n_a, n_b, tie_term)
    if max(n_a, n_b) <= KS_EXACT_MAX:
        ks = stats.ks_2samp(sb, sa, method="auto")
        ks_d, ks_p, ks_method = float(ks.statistic), float(ks.pvalue), "exact"
    else:
        gaps_a = cum_a / n_a - np.searchsorted(sb, va, side="right") / n_b
        gaps_b = hi / n_a - cum_b / n_b
        ks_d = float(max(np.abs(gaps_a).max(), np.abs(gaps_b).max()))
        en = n_a * n_b / (n_a + n_b)
        ks_p = float(np.clip(stats.kstwo.sf(ks_d, np.round(en)), 0.0, 1.0))
        ks_method = "asymp"
    n = n_a + n_b
    return {"u_b": u_b, "mwu_p": mwu_p, "mwu_method": mwu_method, "ks_d": ks_d, "ks_p": ks_p,
            "ks_method": ks_method, "tie_share": tie_term / (n ** 3 - n) if n > 1 else 0.0,
            "distinct": int(ca.size + vb.size - np.count_nonzero(hi > lo))}


def _runs(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct values of a sorted array, their counts, and the count of values <= each."""
    starts = np.flatnonzero(np.concatenate(([True], sorted_values[1:] != sorted_values[:-1])))
    ends = np.append(starts[1:], sorted_values.size)
    return sorted_values[starts], ends - starts, ends


def _mwu_asymptotic_p(u_b: float, n_a: int, n_b: int, tie_term: float) -> float:
    """Two-sided normal-approximation p with tie and continuity corrections (as scipy)."""
    n = n_a + n_b
    u = max(u_b, n_a * n_b - u_b)
    s = math.sqrt(max(n_a * n_b / 12 * ((n + 1) - tie_term / (n * (n - 1))), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.float64(u - n_a * n_b / 2 - 0.5) / np.float64(s)
    return float(np.clip(2.0 * special.ndtr(-z), 0.0, 1.0))


def _numeric_warnings(sa: np.ndarray, sb: np.ndarray, column: str, name_a: str, name_b: str,
                      welch: dict, ranks: dict) -> list[str]:
    warnings = []
    small = [f"{name} ({s.size})" for name, s in ((name_a, sa), (name_b, sb)) if s.size < MIN_PER_GROUP]
    if small:
        warnings.append(f"Few values of '{column}' in {' and '.join(small)}: with fewer than "
                        f"{MIN_PER_GROUP} per group the tests are unreliable and can miss real differences.")
    if sa[0] == sa[-1] == sb[0] == sb[-1]:
        warnings.append(f"'{column}' is constant ({_fmt(sa[0])}) in both groups: the t-test and "
                        "Cohen's d are undefined and the other tests find nothing.")
        return warnings
    for name, s in ((name_a, sa), (name_b, sb)):
        if s.size > 1 and s[0] == s[-1]:
            warnings.append(f"'{column}' has zero variance in {name} (every value is {_fmt(s[0])}): "
                            "the t-test rests on the other group's spread alone.")
    tied = ranks["distinct"] < sa.size + sb.size
    if tied and (ranks["tie_share"] > TIES_VARIANCE_SHARE or ranks["distinct"] <= 5):
        warnings.append(f"Ties dominate '{column}' ({ranks['distinct']:,} distinct values among "
                        f"{sa.size + sb.size:,}): Mann-Whitney relies on its tie correction and the "
                        "Kolmogorov-Smirnov p-value is conservative for such discrete data.")
    if np.isfinite(welch["p"]) and (welch["p"] < ALPHA) != (ranks["mwu_p"] < ALPHA):
        warnings.append(f"Welch's t-test (means, p {_p_text(welch['p'])}) and Mann-Whitney (ranks, "
                        f"p {_p_text(ranks['mwu_p'])}) disagree about significance at {ALPHA:g}: the "
                        "evidence is borderline, or a few extreme values drive the means.")
    return warnings


def _numeric_reading(r: NumericComparison, phrase_a: str, phrase_b: str, constant: bool) -> str:
    if constant:
        return (f"'{r.column}' has the same value ({_fmt(r.median_a)}) for {phrase_a} and {phrase_b}: "
                "there is nothing to compare.")
    medians = f"median {_fmt(r.median_b)} vs {_fmt(r.median_a)}"
    if not r.mwu_p < ALPHA:
        text = (f"No significant difference in '{r.column}' between {phrase_b} and {phrase_a} "
                f"({medians}; Mann-Whitney p {_p_text(r.mwu_p)}): the observed difference could well "
                "be chance.")
        if min(r.n_a, r.n_b) < MIN_PER_GROUP:
            text += (f" With only {min(r.n_a, r.n_b)} values in a group, a real difference could go "
                     "undetected.")
        return text
    larger = "larger" if r.cliffs_delta > 0 else "smaller"
    chance = "very unlikely" if r.mwu_p < 0.001 else "unlikely"
    text = (f"For {phrase_b}, '{r.column}' tends to be {larger} than for {phrase_a}: {medians}. "
            f"The difference is {chance} to be chance (Mann-Whitney p {_p_text(r.mwu_p)}); "
            f"effect size {r.effect} (Cliff's delta {r.cliffs_delta:+.2f}).")
    if r.effect == "negligible":
        text += (f" It is statistically significant only because the samples are large ({r.n_b:,} and "
                 f"{r.n_a:,} values): the effect is negligible and unlikely to matter in practice.")
    return text


# --- chi-square --------------------------------------------------------------------------------


def _level_codes(series: pd.Series, column: str, top_n: int) -> tuple[np.ndarray, list[str], int]:
    """Integer codes (-1 for missing) for the top ``top_n`` levels plus "other"; levels grouped."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        raise StatsError(f"Column '{column}' holds dates, not categories; it cannot enter a chi-square test.")
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes, uniques = series.cat.codes.to_numpy(), series.cat.categories
    else:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    if counts.sum() == 0:
        raise StatsError(f"Column '{column}' has no values: all {len(series):,} are missing.")
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] > 0]
    if column == LABEL:
        order = np.array(sorted(order, key=lambda i: _level_sort_key(uniques[i])), dtype=np.int64)
    kept, grouped = order[:top_n], order[top_n:]
    levels = [_level_text(uniques[i]) for i in kept]
    lookup = np.full(len(uniques), len(kept), dtype=np.int64)
    lookup[kept] = np.arange(len(kept))
    if grouped.size:
        levels.append("other" if "other" not in levels else "(other levels)")
    return np.where(codes >= 0, lookup[np.maximum(codes, 0)], -1), levels, int(grouped.size)


def _chi_warnings(column: str, by: str, n_missing: int, row_other: int, col_other: int,
                  top_n: int) -> list[str]:
    warnings = []
    if n_missing:
        warnings.append(f"{n_missing:,} rows with '{column}' or '{by}' missing were dropped.")
    for name, grouped in ((column, row_other), (by, col_other)):
        if grouped:
            warnings.append(f"{grouped:,} less frequent levels of '{name}' beyond the top {top_n} "
                            "are grouped as 'other'.")
    return warnings


def _chi_result(column: str, by: str, observed: np.ndarray, rows: list[str], cols: list[str], n: int,
                n_missing: int, warnings: list[str], n_cells: int) -> ChiSquareResult:
    res = stats.chi2_contingency(observed, correction=False)
    chi2, p, dof, expected = float(res.statistic), float(res.pvalue), int(res.dof), res.expected_freq
    k = min(observed.shape) - 1
    cramers_v = math.sqrt(chi2 / (n * k)) if k > 0 else math.nan
    effect = _effect(cramers_v * math.sqrt(k), W_THRESHOLDS) if k > 0 else ""
    contribution = (observed - expected) ** 2 / expected
    row_share = observed.sum(axis=1, keepdims=True) / n
    col_share = observed.sum(axis=0, keepdims=True) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        residual = (observed - expected) / np.sqrt(expected * (1 - row_share) * (1 - col_share))
    top = np.argsort(-contribution, axis=None, kind="stable")[:n_cells]
    cells = [{"row": rows[i], "col": cols[j], "observed": int(observed[i, j]),
              "expected": float(expected[i, j]), "contribution": float(contribution[i, j]),
              "residual": float(residual[i, j])} for i, j in zip(*np.unravel_index(top, observed.shape))]
    sparse = int((expected < SPARSE_EXPECTED).sum())
    if k == 0:
        warnings.append(f"'{column}' has a single level ({rows[0]}) among the rows tested: there is no "
                        "association to measure and Cramér's V is undefined.")
    elif sparse > SPARSE_SHARE * expected.size:
        warnings.append(f"{sparse} of {expected.size} cells ({sparse / expected.size:.0%}) have an expected "
                        f"count below {SPARSE_EXPECTED:g} (more than {SPARSE_SHARE:.0%}): the chi-square "
                        "p-value is unreliable; group rare levels (a smaller top_n) or collect more rows.")
    result = ChiSquareResult(column=column, by=by, chi2=chi2, dof=dof, p=p, cramers_v=cramers_v, n=n,
                             rows=rows, cols=cols, observed=observed.tolist(), top_cells=cells, reading="",
                             warnings=warnings, effect=effect, n_missing=n_missing)
    result.reading = _chi_reading(result)
    return result


def _chi_reading(r: ChiSquareResult) -> str:
    other = "fraud" if r.by == LABEL else f"'{r.by}'"
    if not np.isfinite(r.cramers_v):
        return f"'{r.column}' takes a single value here, so its association with {other} cannot be tested."
    if not r.p < ALPHA:
        return (f"No significant association between '{r.column}' and {other} (chi-square p {_p_text(r.p)}): "
                "the differences between levels could well be chance.")
    chance = "very unlikely" if r.p < 0.001 else "unlikely"
    text = (f"'{r.column}' and {other} are associated: this is {chance} to be chance (chi-square "
            f"p {_p_text(r.p)}); association {r.effect} (Cramér's V {r.cramers_v:.2f}).")
    if r.top_cells:
        c = r.top_cells[0]
        where = f"{c['col']} transactions" if r.by == LABEL else f"{r.by} = {c['col']}"
        text += (f" Largest departure: {r.column} = {c['row']} among {where}, {c['observed']:,} observed "
                 f"vs {_fmt(c['expected'])} expected if they were unrelated.")
    if r.effect == "negligible":
        text += (f" It is statistically significant only because there are {r.n:,} rows: the association "
                 "is negligible and unlikely to matter in practice.")
    return text


# --- helpers ---------------------------------------------------------------------------------


def _check_column(frame: pd.DataFrame, column: str) -> None:
    if column not in frame.columns:
        columns = ", ".join(map(str, frame.columns))
        raise StatsError(f"Column '{column}' is not in the dataset (columns: {columns}).")


def _default_groups(frame: pd.DataFrame, by: str, a: object, b: object) -> tuple[object, object]:
    if by == LABEL:
        return (0 if a is None else a), (1 if b is None else b)
    levels = [v for v in group_levels(frame, by, limit=3) if v not in (str(a), str(b))]
    a = levels.pop(0) if a is None and levels else a
    b = levels.pop(0) if b is None and levels else b
    if a is None or b is None:
        raise StatsError(f"Column '{by}' has fewer than two values; a comparison needs two groups.")
    return a, b


def _group_mask(series: pd.Series, value: object, by: str, column: str) -> np.ndarray:
    """Rows where ``series`` equals ``value`` (matched as text for categories, as a number otherwise)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        matches = [i for i, c in enumerate(dtype.categories) if _level_text(c) == str(value)]
        mask = series.cat.codes.to_numpy() == matches[0] if matches else np.zeros(len(series), bool)
    elif pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise StatsError(f"Column '{by}' holds numbers; '{value}' is not one.") from None
        mask = series.to_numpy(dtype=np.float64, na_value=np.nan) == number
    elif isinstance(dtype, pd.StringDtype):
        mask = (series == str(value)).to_numpy(dtype=bool, na_value=False)
    else:
        text = series.map(_level_text, na_action="ignore")
        mask = (text == str(value)).to_numpy(dtype=bool, na_value=False)
    if not mask.any():
        present = ", ".join(group_levels(series.to_frame(), series.name, limit=5)) or "none"
        name = f" ({_group_name(by, value)})" if by == LABEL else ""
        raise StatsError(f"No rows where {by} = {value}{name}: '{column}' cannot be compared for that "
                         f"group (values of '{by}' present: {present}).")
    return mask


def _group_name(by: str, value: object) -> str:
    if by == LABEL and _as_int(value) in LABEL_NAMES:
        return LABEL_NAMES[_as_int(value)]
    return f"{by} = {_level_text(value)}"


def _as_int(value: object) -> int | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def _level_text(value: object) -> str:
    """A level as text: whole floats without ".0" (1.0 -> "1")."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _level_sort_key(value: object) -> tuple[int, float | str]:
    number = _as_int(value)
    return (0, number) if number is not None else (1, str(value))


def _median(sorted_values: np.ndarray) -> float:
    n = sorted_values.size
    return float((sorted_values[(n - 1) // 2] + sorted_values[n // 2]) / 2)


def _effect(size: float, thresholds: tuple[float, float, float]) -> str:
    return EFFECTS[int(np.searchsorted(thresholds, size, side="right"))]


def _fmt(x: float) -> str:
    """A number for a sentence: three significant digits, thousands separated above 1,000."""
    if not np.isfinite(x):
        return "n/a"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.3g}"


def _fmt_p(p: float) -> str:
    """A p-value as "< 0.001" or two significant digits (three where two would cross 0.05)."""
    if not np.isfinite(p):
        return "n/a"
    if p < 0.001:
        return "< 0.001"
    text = f"{p:.2g}"
    if (float(text) < ALPHA) != (p < ALPHA):
        text = f"{p:.3g}"
    return text


def _p_text(p: float) -> str:
    text = _fmt_p(p)
    return text if text.startswith("<") else f"= {text}"
