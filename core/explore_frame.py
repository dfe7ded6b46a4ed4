"""The frame the Explore page works on, and the role of each of its columns.

A mapped frame holds text columns as pandas ``str``; grouping millions of strings is slow, so
``analysis_frame`` turns each into a ``category`` once (sorted levels, codes stay int32) and
drops ``transaction_id``, which is never analysed. Every Explore function (``core.eda``,
``core.quality``, ``core.stats``) takes that frame plus the roles from ``column_roles``.
They also accept a plain mapped frame: ``category_codes`` factorises a column that is not a
category yet, only slower.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from core.errors import TxlabError
from core.schema import FIELD_BY_NAME, TRANSACTION_ID, ColumnMapping

log = logging.getLogger(__name__)

__all__ = [
    "ExploreError",
    "ROLES",
    "LABEL",
    "AMOUNT",
    "TIMESTAMP",
    "analysis_frame",
    "column_roles",
    "infer_role",
    "category_codes",
    "time_seconds",
]

ROLES = ("number", "category", "datetime", "label", "id")
LABEL, AMOUNT, TIMESTAMP = "label", "amount", "timestamp"


class ExploreError(TxlabError):
    """An Explore request that cannot be answered; the message names the column and why."""


def analysis_frame(mapped: pd.DataFrame, mapping: ColumnMapping) -> pd.DataFrame:
    """The mapped frame with text columns as ``category`` and ``transaction_id`` left out.

    Numeric, boolean and datetime columns are shared with ``mapped``, not copied. Category
    levels are sorted, so the same data always gives the same codes.
    """
    out: dict[str, pd.Series] = {}
    for name in mapped.columns:
        if name == TRANSACTION_ID:
            continue
        series = mapped[name]
        out[name] = _as_category(series) if _is_text(series) else series
    frame = pd.DataFrame(out, index=pd.RangeIndex(len(mapped)))
    unmapped = set(frame.columns) - set(_mapped_columns(mapping))
    if unmapped:
        log.debug("analysis frame has columns the mapping does not name: %s", sorted(unmapped))
    return frame


def column_roles(frame: pd.DataFrame, mapping: ColumnMapping) -> dict[str, str]:
    """Column name -> "number" | "category" | "datetime" | "label" | "id", in frame order.

    Canonical fields take their kind from ``core.schema`` (``user_id``/``merchant_id`` are
    "id": categorical but high-cardinality); extras take the kind they were mapped as; any
    other column is judged by its dtype. ``transaction_id`` gets no role.
    """
    extra_numeric = set(mapping.extra_numeric)
    extra_categorical = set(mapping.extra_categorical)
    roles: dict[str, str] = {}
    for name in frame.columns:
        if name == TRANSACTION_ID or name == mapping.transaction_id:
            continue
        if name in FIELD_BY_NAME:
            roles[name] = FIELD_BY_NAME[name].kind
        elif name in extra_numeric:
            roles[name] = "number"
        elif name in extra_categorical:
            roles[name] = "category"
        else:
            roles[name] = infer_role(frame[name])
    return roles


def infer_role(series: pd.Series) -> str:
    """The role a column's dtype suggests: "datetime", "number" (incl. booleans) or "category"."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return "datetime"
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        return "number"
    return "category"


def category_codes(series: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (-1 = missing) and the levels (an ``Index``; ``str()`` one to show it).

    Free for a ``category`` column; any other column is factorised (sorted levels).
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy(), series.cat.categories
    return _sorted_factorize(series)


def time_seconds(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Whole seconds since 1970-01-01 (int64; UTC for zone-aware times) and the mask of rows
    that have a time. Text is parsed leniently; unreadable cells count as missing."""
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        series = pd.to_datetime(series, errors="coerce", utc=True)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    values = series.to_numpy()
    return values.astype("datetime64[s]").astype(np.int64), ~np.isnat(values)


def _as_category(series: pd.Series) -> pd.Series:
    codes, levels = _sorted_factorize(series)
    categorical = pd.Categorical.from_codes(codes, categories=levels, validate=False)
    return pd.Series(categorical, index=series.index, name=series.name)


def _sorted_factorize(series: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize`` with sorted levels; sorting the few levels beats ``sort=True`` on rows."""
    codes, levels = pd.factorize(series, use_na_sentinel=True)
    levels = pd.Index(levels)
    if len(levels) < 2:
        return codes, levels
    try:
        order = np.argsort(levels.to_numpy(), kind="stable")
    except TypeError:  # mixed Python objects: order by their text
        order = np.argsort(levels.astype(str).to_numpy(), kind="stable")
    rank = np.empty(len(order), dtype=codes.dtype)
    rank[order] = np.arange(len(order), dtype=codes.dtype)
    present = codes >= 0
    codes = np.where(present, rank[np.where(present, codes, 0)], -1).astype(codes.dtype, copy=False)
    return codes, levels[order]


def _is_text(series: pd.Series) -> bool:
    dtype = series.dtype
    return pd.api.types.is_string_dtype(dtype) or dtype == object


def _mapped_columns(mapping: ColumnMapping) -> list[str]:
    canonical = [name for name, source in mapping.fields.items() if source]
    return canonical + list(mapping.extra_numeric) + list(mapping.extra_categorical)
