"""Dates and times to naive ``datetime64[us]``: ISO 8601, day/month orders, Unix epochs, mixed layouts."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.parsing.cells import (
    bool_numpy,
    combine,
    distinct_sample,
    is_numeric_dtype,
    mask_series,
    missing_cells,
    to_arrow_strings,
    to_numpy,
)
from core.parsing.date_formats import date_layout, decide_dayfirst, dmy_formats, late_day_pattern, ymd_formats
from core.parsing.numeric import arrow_parse_numeric

# Plausible Unix epochs: 1990-01-01 to 2100-01-01.
EPOCH_SECONDS_RANGE: tuple[float, float] = (631_152_000.0, 4_102_444_800.0)


def parse_datetime(values: pd.Series, dayfirst: bool | None = None) -> tuple[pd.Series, pd.Series, str]:
    """Read dates and times; return ``(datetime64[us] values, unparseable_mask, description)``.

    Recognises ISO 8601 (with ``T`` or space, optional fraction and offset), ``dd/mm/yyyy`` and
    ``mm/dd/yyyy`` with ``/``, ``.`` or ``-`` and an optional time (24h or AM/PM), ``yyyy/mm/dd``,
    and Unix seconds or milliseconds (numbers, or digit strings, in 1990-2100). ``dayfirst``
    only breaks a tie when no value shows which part is the day. The description names the
    format found, e.g. ``'day-first (EU) %d/%m/%Y %H:%M'`` or ``'Unix seconds'``.
    """
    result = arrow_parse_datetime(_datetime_input(values), dayfirst=dayfirst)
    out = pd.Series(result.values, index=values.index, name=values.name)
    return out, mask_series(result.unparseable, values), result.description


@dataclass
class DatetimeResult:
    """What ``arrow_parse_datetime`` found: values, unparseable cells and the format's description.

    ``evidence`` is a sample cell that decided an ambiguous choice (e.g. day-first), or ''.
    """

    values: np.ndarray  # datetime64[us]
    unparseable: np.ndarray  # bool
    description: str
    evidence: str = ""
    dayfirst_assumed: bool = False


def arrow_parse_datetime(arr: pa.Array | pa.ChunkedArray, dayfirst: bool | None = None) -> DatetimeResult:
    """``parse_datetime`` on an Arrow array (strings, numbers or timestamps)."""
    if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
        return _from_timestamps(arr)
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
        return _parse_epoch(to_numpy(pc.cast(arr, pa.float64()), np.float64, np.nan))
    sample = distinct_sample(arr)
    family = date_layout(sample)
    if family == "iso":
        try:  # fast path: every cell is a clean ISO timestamp
            ts = pc.cast(arr, pa.timestamp("us"))
            return DatetimeResult(to_numpy(ts, "datetime64[us]", np.datetime64("NaT")),
                                  np.zeros(len(arr), dtype=bool), "ISO 8601")
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    s = pc.utf8_trim_whitespace(arr)
    present = ~bool_numpy(missing_cells(s))
    if family == "epoch":
        nums, bad = arrow_parse_numeric(s, ".", "")
        result = _parse_epoch(nums)
        result.unparseable |= bad
        return result
    if family == "iso":
        return _parse_iso(s, present)
    if family in ("dmy", "ymd"):
        return _parse_slashed(s, present, sample, family, dayfirst)
    return _parse_mixed(s, present, dayfirst)


_OFFSET = re.compile(r"\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$")  # after a time
_US_PER = {"s": 1_000_000, "ms": 1_000}
_MIN_YEAR_US = -59_011_459_200_000_000  # 0100-01-01: a 4-digit-year format fed a 2-digit year


def _parse_epoch(nums: np.ndarray) -> DatetimeResult:
    """Numbers as Unix seconds or milliseconds, whichever range holds more of them."""
    finite = np.isfinite(nums)
    lo, hi = EPOCH_SECONDS_RANGE
    in_s = finite & (nums >= lo) & (nums < hi)
    in_ms = finite & (nums >= lo * 1000) & (nums < hi * 1000)
    unit, ok = ("s", in_s) if in_s.sum() >= in_ms.sum() else ("ms", in_ms)
    if not ok.any():
        bad = ~np.isnan(nums)
        return DatetimeResult(np.full(len(nums), np.datetime64("NaT"), "datetime64[us]"), bad,
                              "unrecognised (numbers outside the Unix-time range 1990-2100)")
    us = np.full(len(nums), np.iinfo(np.int64).min, dtype=np.int64)
    us[ok] = np.round(nums[ok] * _US_PER[unit]).astype(np.int64)
    label = "Unix seconds" if unit == "s" else "Unix milliseconds"
    return DatetimeResult(us.view("datetime64[us]"), ~np.isnan(nums) & ~ok, label)


def _parse_iso(s: pa.Array | pa.ChunkedArray, present: np.ndarray) -> DatetimeResult:
    """ISO 8601 cells that Arrow's cast refused: blanks set aside, else pandas' ISO parser
    (which also converts UTC offsets)."""
    try:
        nulled = pc.if_else(pa.array(present), s, pa.scalar(None, s.type))
        values = to_numpy(pc.cast(nulled, pa.timestamp("us")), "datetime64[us]", np.datetime64("NaT"))
        return DatetimeResult(values, np.zeros(len(s), dtype=bool), "ISO 8601")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    texts = _texts(s, present)
    has_offset = bool(texts.str.contains(_OFFSET.pattern, regex=True, na=False).any())
    parsed = pd.to_datetime(texts, format="ISO8601", errors="coerce", utc=has_offset)
    if has_offset:
        parsed = parsed.dt.tz_convert(None)
    values = parsed.to_numpy(dtype="datetime64[us]")
    bad = texts.notna().to_numpy() & np.isnat(values)
    label = "ISO 8601 with UTC offsets (converted to UTC)" if has_offset else "ISO 8601"
    return DatetimeResult(values, bad, label)


def _parse_slashed(
    s: pa.Array | pa.ChunkedArray, present: np.ndarray, sample: list[str], family: str, dayfirst: bool | None
) -> DatetimeResult:
    """dd/mm/yyyy, mm/dd/yyyy or yyyy/mm/dd with an optional time, via Arrow's strptime."""
    if family == "ymd":
        formats = ymd_formats(sample)
        values = _strptime_all(s, formats, present)
        return DatetimeResult(values, present & np.isnat(values), f"year-first {formats[0]}")
    order, evidence, assumed = decide_dayfirst(sample, dayfirst)
    formats = dmy_formats(sample, order)
    values = _strptime_all(s, formats, present)
    bad = present & np.isnat(values)
    if bad.any():  # the sample may have missed the cells that show the order
        other = dmy_formats(sample, not order)
        rescued = _strptime_all(s, other, bad)
        if (~np.isnat(rescued)).any():
            alt = _strptime_all(s, other, present)
            if (present & np.isnat(alt)).sum() < bad.sum():
                evidence = str(s[int(np.flatnonzero(~np.isnat(rescued))[0])].as_py())
                order, formats, values, assumed = not order, other, alt, False
    label = "day-first (EU)" if order else "month-first (US)"
    description = f"{label} {formats[0]}"
    if assumed:
        description += f" (ambiguous: no part above 12, assumed {'day' if order else 'month'}-first)"
    return DatetimeResult(values, present & np.isnat(values), description, evidence, assumed)


def _strptime_all(s: pa.Array | pa.ChunkedArray, formats: list[str], present: np.ndarray) -> np.ndarray:
    """Try each format on the cells still unread; Arrow first, pandas for '%f' formats."""
    out = np.full(len(s), np.datetime64("NaT"), dtype="datetime64[us]")
    todo = present.copy()
    for fmt in formats:
        if not todo.any():
            break
        idx = np.flatnonzero(todo)
        part = s if len(idx) == len(s) else s.take(pa.array(idx))
        parsed = _strptime(part, fmt)
        got = ~np.isnat(parsed)
        out[idx[got]] = parsed[got]
        todo[idx[got]] = False
    return out


def _strptime(s: pa.Array | pa.ChunkedArray, fmt: str) -> np.ndarray:
    """One format, rejecting what Arrow lets through: 31/02 (rolled into March), '24' under %Y."""
    if "%f" in fmt:  # Arrow's strptime has no %f
        texts = pd.Series(combine(s).to_pandas(), dtype="str")
        return pd.to_datetime(texts, format=fmt, errors="coerce").to_numpy(dtype="datetime64[us]")
    ts = pc.strptime(s, format=fmt, unit="us", error_is_null=True)
    values = to_numpy(ts, "datetime64[us]", np.datetime64("NaT"))
    if "%Y" in fmt:
        values[values.view(np.int64) < _MIN_YEAR_US] = np.datetime64("NaT")
    late = bool_numpy(pc.match_substring_regex(s, late_day_pattern(fmt))) & ~np.isnat(values)
    if late.any():
        days = values[late].astype("datetime64[D]")
        day_of_month = (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
        values[np.flatnonzero(late)[day_of_month < 29]] = np.datetime64("NaT")
    return values


def _parse_mixed(s: pa.Array | pa.ChunkedArray, present: np.ndarray, dayfirst: bool | None) -> DatetimeResult:
    """Any other layout ('5 Jan 2024', 'Jan 5, 2024 10:00'): pandas' per-cell inference (slow)."""
    texts = _texts(s, present)
    parsed = pd.to_datetime(texts, format="mixed", errors="coerce", dayfirst=bool(dayfirst), utc=True)
    values = parsed.dt.tz_convert(None).to_numpy(dtype="datetime64[us]")
    bad = texts.notna().to_numpy() & np.isnat(values)
    label = "mixed formats (pandas inference)" if (~np.isnat(values)).any() else "unrecognised"
    return DatetimeResult(values, bad, label)


def _from_timestamps(arr: pa.Array | pa.ChunkedArray) -> DatetimeResult:
    ts_type = arr.type
    if pa.types.is_timestamp(ts_type) and ts_type.tz is not None:
        arr = pc.cast(arr, pa.timestamp(ts_type.unit))  # Arrow stores UTC already
    values = to_numpy(pc.cast(arr, pa.timestamp("us")), "datetime64[us]", np.datetime64("NaT"))
    return DatetimeResult(values, np.zeros(len(values), dtype=bool), "datetime values")


def _datetime_input(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    if is_numeric_dtype(values):
        return pa.array(values.astype("float64").to_numpy(), from_pandas=True)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        v = values.dt.tz_convert(None) if getattr(values.dtype, "tz", None) is not None else values
        return pa.array(v.to_numpy(dtype="datetime64[us]"), type=pa.timestamp("us"), from_pandas=True)
    return to_arrow_strings(values)


def _texts(s: pa.Array | pa.ChunkedArray, present: np.ndarray) -> pd.Series:
    """The cells as a pandas ``str`` Series, missing where ``present`` is False."""
    texts = pd.Series(combine(s).to_pandas(), dtype="str")
    return texts.where(present)
