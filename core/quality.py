"""Data-quality warnings: problems a user should know about before trusting a model.

``quality_warnings`` runs every check on the analysis frame and returns the warnings,
most severe first, each with a one-line explanation a user can act on and the columns
involved. Thresholds are module constants so the page and the tests can name them.
Checks and codes:

- label: ``no_rows``, ``single_class``, ``extreme_imbalance``, ``majority_positive``,
  ``too_few_positives``
- columns: ``high_missingness``, ``constant_columns``, ``near_constant_columns``,
  ``id_like_features``, ``possible_leakage``
- rows: ``duplicate_rows``
- time: ``future_timestamps``, ``timestamps_out_of_order``
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from core.eda import (
    SAMPLE_ROWS, category_auc, duplicate_count, numeric_auc,
)
from core.explore_frame import LABEL, TIMESTAMP, category_codes, infer_role, time_seconds
from core.results import JsonResult
from core.schema import FIELD_NAMES, TRANSACTION_ID

log = logging.getLogger(__name__)

__all__ = ["QualityWarning", "quality_warnings", "SEVERITIES"]

SEVERITIES = ("high", "medium", "low")
IMBALANCE_HIGH = 0.0001  # positive share below this: high
IMBALANCE_MEDIUM = 0.005  # ... below this: medium
FEW_POSITIVES_HIGH = 30  # as core.mapping's MIN_POSITIVES
FEW_POSITIVES_MEDIUM = 100
MISSING_MEDIUM = 0.20
MISSING_HIGH = 0.50
NEAR_CONSTANT_SHARE = 0.995  # one value in at least this share of the non-missing rows
NEAR_CONSTANT_MIN_ROWS = 200
ID_LIKE_CATEGORY_SHARE = 0.90  # distinct levels / non-missing rows
ID_LIKE_NUMBER_SHARE = 0.95  # distinct whole numbers / non-missing rows
ID_LIKE_MIN_ROWS = 20
LEAKAGE_AUC = 0.98
LEAKAGE_MIN_CLASS = 10  # rows of each class needed to judge leakage
DUPLICATES_MEDIUM = 0.001
DUPLICATES_HIGH = 0.05
FUTURE_GRACE = pd.Timedelta(days=1)  # clocks and time zones differ by up to a day


@dataclass
class QualityWarning(JsonResult):
    """One problem: a stable ``code``, its severity, a title, one actionable line, the columns."""

    code: str
    severity: str  # "high" | "medium" | "low"
    title: str
    explanation: str
    columns: list[str] = field(default_factory=list)


def quality_warnings(frame: pd.DataFrame, roles: dict[str, str],
                     now: datetime | str | None = None, duplicate_rows: int | None = None,
                     sample_rows: int = SAMPLE_ROWS, seed: int = 0) -> list[QualityWarning]:
    """Every data-quality warning for ``frame``, high severity first.

    ``now`` (naive UTC, default the current time) is the limit for future timestamps.
    ``duplicate_rows`` may pass the count from ``core.eda.overview`` to skip hashing twice.
    ``sample_rows``/``seed`` bound the single-feature AUC used for the leakage check.
    """
    roles = {name: roles.get(name) or infer_role(frame[name])
             for name in frame.columns if name != TRANSACTION_ID}
    y = (frame[LABEL].to_numpy(dtype=np.float64, na_value=np.nan) == 1) if LABEL in frame else None
    found: list[QualityWarning] = []
    found += _label_checks(y)
    found += _missingness(frame)
    found += _constant_columns(frame, roles)
    found += _duplicates(frame, duplicate_rows)
    found += _id_like(frame, roles)
    found += _leakage(frame, roles, y, sample_rows, seed)
    found += _timestamps(frame, now)
    found.sort(key=lambda w: SEVERITIES.index(w.severity))
    log.info("quality warnings: %s", [w.code for w in found])
    return found


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------

def _label_checks(y: np.ndarray | None) -> list[QualityWarning]:
    if y is None:
        return []
    n = y.size
    if n == 0:
        return [QualityWarning("no_rows", "high", "No rows",
                               "The dataset has no rows to explore or train on.")]
    positives = int(np.count_nonzero(y))
    negatives = n - positives
    if positives == 0 or negatives == 0:
        which = "legitimate (label 0)" if positives == 0 else "fraud (label 1)"
        return [QualityWarning(
            "single_class", "high", "Only one class",
            f"All {n:,} rows are {which}: a model needs both fraud and legitimate examples; "
            "check the label mapping or add the missing class.", [LABEL])]
    out: list[QualityWarning] = []
    share = positives / n
    if share > 0.5:
        out.append(QualityWarning(
            "majority_positive", "medium", "Most rows are fraud",
            f"{share:.1%} of rows are labelled fraud: check that 1 means fraud, not legitimate.",
            [LABEL]))
    elif share < IMBALANCE_MEDIUM:
        out.append(QualityWarning(
            "extreme_imbalance", "high" if share < IMBALANCE_HIGH else "medium",
            "Extreme class imbalance",
            f"Only {share:.3%} of rows are fraud (1 in {round(n / positives):,}): accuracy is "
            "meaningless here; judge models by PR-AUC or recall at a fixed alert rate.", [LABEL]))
    minority = min(positives, negatives)
    if minority < FEW_POSITIVES_MEDIUM:
        kind = "fraud" if minority == positives else "legitimate"
        out.append(QualityWarning(
            "too_few_positives", "high" if minority < FEW_POSITIVES_HIGH else "medium",
            f"Too few {kind} rows",
            f"Only {minority:,} {kind} rows: too few to train and evaluate reliably "
            f"(aim for {FEW_POSITIVES_MEDIUM:,}+); metrics on a test split will be very noisy.",
            [LABEL]))
    return out


def _missingness(frame: pd.DataFrame) -> list[QualityWarning]:
    if len(frame) == 0:
        return []
    share = frame.isna().mean()
    share = share[share >= MISSING_MEDIUM].sort_values(ascending=False, kind="stable")
    if share.empty:
        return []
    shown = ", ".join(f"'{c}' {s:.0%}" for c, s in share.head(3).items())
    more = f" and {len(share) - 3} more" if len(share) > 3 else ""
    return [QualityWarning(
        "high_missingness", "high" if share.iloc[0] >= MISSING_HIGH else "medium",
        "Columns with many missing values",
        f"Empty cells: {shown}{more}. Fill them, drop the column, or check the mapping "
        "picked the right source column.", list(share.index))]


def _constant_columns(frame: pd.DataFrame, roles: dict[str, str]) -> list[QualityWarning]:
    constant: list[str] = []
    near: list[tuple[str, float]] = []
    for name, role in roles.items():
        if role == "label":
            continue
        present, top = _top_share(frame[name], role)
        if present == 0:
            continue  # an empty column is reported as missing
        if top == present:
            constant.append(name)
        elif present >= NEAR_CONSTANT_MIN_ROWS and top / present >= NEAR_CONSTANT_SHARE:
            near.append((name, top / present))
    out: list[QualityWarning] = []
    if constant:
        out.append(QualityWarning(
            "constant_columns", "medium", "Constant columns",
            f"{_names(constant)} hold a single value: they carry no information; leave them out.",
            constant))
    if near:
        shown = ", ".join(f"'{c}' {s:.1%}" for c, s in near[:3])
        out.append(QualityWarning(
            "near_constant_columns", "low", "Nearly constant columns",
            f"One value fills almost every row ({shown}): little to learn unless the rare "
            "values are a meaningful flag.", [c for c, _ in near]))
    return out


def _duplicates(frame: pd.DataFrame, count: int | None) -> list[QualityWarning]:
    count = duplicate_count(frame) if count is None else count
    if count == 0:
        return []
    share = count / len(frame)
    severity = "high" if share >= DUPLICATES_HIGH else "medium" if share >= DUPLICATES_MEDIUM else "low"
    return [QualityWarning(
        "duplicate_rows", severity, "Duplicate rows",
        f"{count:,} rows ({share:.2%}) repeat another row in every column: a file loaded twice? "
        "Duplicates inflate counts and can land in both train and test.", list(frame.columns))]


def _id_like(frame: pd.DataFrame, roles: dict[str, str]) -> list[QualityWarning]:
    """Features (extras, country, device) whose values are nearly all different."""
    found: list[tuple[str, float]] = []
    for name, role in roles.items():
        series = frame[name]
        if role == "category":
            codes, _ = category_codes(series)
            present = int(np.count_nonzero(codes >= 0))
            distinct = int(np.count_nonzero(np.bincount(codes[codes >= 0]))) if present else 0
            threshold = ID_LIKE_CATEGORY_SHARE
        elif role == "number" and name not in FIELD_NAMES and infer_role(series) == "number":
            present, distinct = _whole_number_distinct(series)
            threshold = ID_LIKE_NUMBER_SHARE
        else:
            continue
        if present >= ID_LIKE_MIN_ROWS and distinct / present >= threshold:
            found.append((name, distinct / present))
    if not found:
        return []
    shown = ", ".join(f"'{c}' {s:.0%} distinct" for c, s in found[:3])
    return [QualityWarning(
        "id_like_features", "medium", "ID-like columns used as features",
        f"Nearly every row has its own value ({shown}): an identifier, not a feature; a model "
        "would memorise it. Map it as transaction id or leave it out.", [c for c, _ in found])]


def _leakage(frame: pd.DataFrame, roles: dict[str, str], y: np.ndarray | None,
             sample_rows: int, seed: int) -> list[QualityWarning]:
    """Features that alone nearly separate the label (single-feature AUC >= LEAKAGE_AUC)."""
    if y is None or min(np.count_nonzero(y), y.size - np.count_nonzero(y)) < LEAKAGE_MIN_CLASS:
        return []
    found: list[tuple[str, float]] = []
    for name, role in roles.items():
        if role == "number" and infer_role(frame[name]) == "number":
            x = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
            ok = np.isfinite(x)
            auc = numeric_auc(x[ok], y[ok], sample_rows, seed)
        elif role == "category":  # ids are left out: a user or merchant's own rate is signal, not leakage
            auc = category_auc(category_codes(frame[name])[0], y, seed)
        else:
            continue
        if auc is not None and max(auc, 1 - auc) >= LEAKAGE_AUC:
            found.append((name, max(auc, 1 - auc)))
    if not found:
        return []
    shown = ", ".join(f"'{c}' (AUC {a:.3f})" for c, a in found[:3])
    return [QualityWarning(
        "possible_leakage", "high", "A feature alone separates fraud",
        f"{shown} nearly separates fraud from legitimate on its own: is it recorded after the "
        "fact (chargeback, review outcome)? Use only what is known when the payment is made.",
        [c for c, _ in found])]


def _timestamps(frame: pd.DataFrame, now: datetime | str | None) -> list[QualityWarning]:
    if TIMESTAMP not in frame or not pd.api.types.is_datetime64_any_dtype(frame[TIMESTAMP].dtype):
        return []
    secs, valid = time_seconds(frame[TIMESTAMP])
    secs = secs[valid]
    out: list[QualityWarning] = []
    limit = _now(now) + FUTURE_GRACE
    future = secs > int(limit.value // 1_000_000_000)
    n_future = int(np.count_nonzero(future))
    if n_future:
        latest = np.datetime64(int(secs.max()), "s")
        out.append(QualityWarning(
            "future_timestamps", "medium", "Timestamps in the future",
            f"{n_future:,} rows are dated after {limit - FUTURE_GRACE:%Y-%m-%d} (latest {latest}): "
            "a wrong year, unit or time zone? Fix the dates or the timestamp mapping.", [TIMESTAMP]))
    backwards = int(np.count_nonzero(secs[1:] < secs[:-1]))
    if backwards:
        out.append(QualityWarning(
            "timestamps_out_of_order", "low", "Rows are not in time order",
            f"{backwards:,} rows ({backwards / max(secs.size - 1, 1):.1%}) are earlier than the row "
            "before them: sort by time before any split by row order, or time leaks into the past.",
            [TIMESTAMP]))
    return out


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

def _top_share(series: pd.Series, role: str) -> tuple[int, int]:
    """(non-missing rows, rows holding the most common value)."""
    if role in ("number", "datetime") and infer_role(series) in ("number", "datetime"):
        if infer_role(series) == "datetime":
            secs, valid = time_seconds(series)
            values = secs[valid].astype(np.float64)
        else:
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            values = values[~np.isnan(values)]
        if values.size == 0:
            return 0, 0
        lo, hi = values.min(), values.max()
        if lo == hi:
            return values.size, values.size
        # The sample's mode is the only candidate worth counting exactly: a value filling
        # 99.5% of the rows fills about that much of any sample.
        sample = values[:: max(1, values.size // SAMPLE_ROWS)]
        uniq, counts = np.unique(sample, return_counts=True)
        mode = uniq[np.argmax(counts)]
        return values.size, int(np.count_nonzero(values == mode))
    codes, levels = category_codes(series)
    present = codes[codes >= 0]
    if present.size == 0:
        return 0, 0
    return present.size, int(np.bincount(present, minlength=len(levels)).max())


def _whole_number_distinct(series: pd.Series) -> tuple[int, int]:
    """(non-missing rows, distinct values) when every value is a whole number, else (n, 0)."""
    x = series.to_numpy(dtype=np.float64, na_value=np.nan)
    x = x[np.isfinite(x)]
    sample = x[:: max(1, x.size // SAMPLE_ROWS)]
    # Cheap exit on a sample: not whole numbers, or clearly repeated values.
    if x.size == 0 or not np.all(sample == np.round(sample)):
        return x.size, 0
    if len(pd.unique(sample)) < ID_LIKE_NUMBER_SHARE * sample.size:
        return x.size, 0
    if not np.all(x == np.round(x)):
        return x.size, 0
    return x.size, len(pd.unique(x))


def _now(now: datetime | str | None) -> pd.Timestamp:
    if now is None:
        return pd.Timestamp.now(tz="UTC").tz_localize(None)
    stamp = pd.Timestamp(now)
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


def _names(columns: list[str]) -> str:
    quoted = [f"'{c}'" for c in columns[:4]]
    return ", ".join(quoted) + (f" and {len(columns) - 4} more" if len(columns) > 4 else "")
