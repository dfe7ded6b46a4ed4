"""Vectorised parsing of messy cells: numbers, dates and yes/no values.

Used by ingestion, by the mapping step and by pages that coerce a column. Every parser
returns the parsed values plus a boolean mask of cells that were *non-blank but could not be
read*, so callers can report "17 values in 'amount' could not be read" instead of silently
turning them into NaN.

Decisions a user may notice (they are also stated in the report):

- Blank cells and missing-value markers (``NaN``, ``NULL``, ``None``, ``N/A``, ``#N/A``,
  ``<NA>``, ``NA``, ``nan``, ``-``... see ``NA_TOKENS``) become missing and are *not*
  counted as unparseable.
- ``"12%"`` is read as ``0.12`` (the value the cell means, as Excel does).
- ``"(12.00)"`` is ``-12.0`` (accounting negative); a trailing minus ``"12-"`` is negative too.
- Currency symbols and three-letter codes at either end (``$``, ``€``, ``£``, ``¥``, ``USD``,
  ``eur``...) and spaces (also non-breaking) are ignored.
- With ``thousands`` set, a cell whose groups are not three digits (``"1,00"``) is unparseable
  rather than silently read as 100.
- Dates: ambiguous ``dd/mm`` vs ``mm/dd`` is resolved by the values (a first part above 12
  means day-first); when every value is ambiguous the ``dayfirst`` hint decides (default
  month-first) and the description says it was assumed.
- Datetimes come back as naive ``datetime64[us]``; values with a UTC offset are converted to UTC.

The heavy lifting runs in ``pyarrow.compute`` on the whole column; only format *inference*
looks at a small strided sample of distinct values in Python.
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

log = logging.getLogger(__name__)

# Missing-value markers, compared after trimming whitespace (several spellings, no lower-casing
# of a million cells needed).
_NA_WORDS = ("nan", "null", "none", "n/a", "na", "#n/a", "<na>", "nil", "-nan", "#na", "n.a.")
NA_TOKENS: tuple[str, ...] = tuple(
    sorted({v for w in _NA_WORDS for v in (w, w.upper(), w.title(), w.capitalize())} | {"NaN", "NaT", "-"})
)
# In text and id columns "NA" is a value (Namibia's country code) and "-" may be one too.
TEXT_NA_TOKENS: tuple[str, ...] = tuple(t for t in NA_TOKENS if t.lower() not in {"na", "-"})
_INF_WORDS = ("inf", "infinity", "+inf", "+infinity", "-inf", "-infinity")
INF_TOKENS: tuple[str, ...] = tuple(
    sorted({v for w in _INF_WORDS for v in (w, w.upper(), w.title(), w.capitalize())} | {"∞", "-∞", "+∞"})
)
_NA_SET = frozenset(NA_TOKENS)
TRUE_TOKENS: tuple[str, ...] = ("true", "t", "yes", "y", "1", "1.0", "on")
FALSE_TOKENS: tuple[str, ...] = ("false", "f", "no", "n", "0", "0.0", "off")

# Plausible Unix epochs: 1990-01-01 to 2100-01-01.
EPOCH_SECONDS_RANGE: tuple[float, float] = (631_152_000.0, 4_102_444_800.0)

CURRENCY_SYMBOLS = "$€£¥₹₽₩₪₺¢฿₫₴₦₱₲₵₡"
_SPACES = " \t\u00a0\u202f\u2009\u2007"
_TRIM_CHARS = _SPACES + CURRENCY_SYMBOLS + "%()"
_NUMBER_CORE = r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
_CLEAN_NUMBER = re.compile(rf"^[+-]?{_NUMBER_CORE}$")
_AMBIGUOUS_GROUP = re.compile(r"^[1-9]\d{0,2}[.,]\d{3}$")
_SAMPLE_SIZE = 10_000
_MAX_DISTINCT = 1_000


def parse_numeric(
    values: pd.Series, decimal: str | None = None, thousands: str | None = None
) -> tuple[pd.Series, pd.Series]:
    """Read money-like text as float64; return ``(values, unparseable_mask)``.

    Handles ``"$1,000.50"``, ``"1.000,50 €"``, ``"(12.00)"`` (-12), ``"-3"``, ``"1e5"``,
    ``"12%"`` (0.12), ``"USD 5"``, ``"1 000,5"``, ``"inf"`` (kept as infinity). ``decimal`` and
    ``thousands`` of None are inferred from the values (see ``infer_number_format``);
    ``thousands=""`` means there is no thousands separator.
    The mask is True where a cell was non-blank, not a missing marker, and still not a number.
    """
    if _is_numeric_dtype(values):
        out = values.astype("float64")
        return out, pd.Series(False, index=values.index, name=values.name)
    arr = to_arrow_strings(values)
    nums, bad = arrow_parse_numeric(arr, decimal, thousands)
    return _float_series(nums, values), _mask_series(bad, values)


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
    return out, _mask_series(result.unparseable, values), result.description


def parse_boolean(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Read yes/no cells as a nullable ``boolean`` Series; return ``(values, unparseable_mask)``.

    True: true/t/yes/y/1/on; False: false/f/no/n/0/off (any case). Blanks and missing markers
    become ``<NA>``; anything else is ``<NA>`` and flagged in the mask.
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("boolean"), pd.Series(False, index=values.index, name=values.name)
    flags, bad = arrow_parse_boolean(to_arrow_strings(values))
    data = _bool_numpy(flags)
    array = pd.arrays.BooleanArray(data, _bool_numpy(pc.is_null(flags)))
    return pd.Series(array, index=values.index, name=values.name), _mask_series(bad, values)


def infer_number_format(values: pd.Series | pa.Array | pa.ChunkedArray) -> tuple[str, str | None]:
    """Guess ``(decimal, thousands)`` from the values: ``('.', ',')`` for ``1,000.50``, ``(',', '.')``
    for ``1.000,50``, ``(',', None)`` for ``12,5``. Defaults to ``('.', None)``.

    The last of ``,``/``.`` in a cell holding both is the decimal mark; a mark used twice is a
    thousands separator; a single mark followed by other than three digits is a decimal mark.
    ``1,000`` alone is read as a thousands separator, ``1.000`` alone as a decimal point.
    """
    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else to_arrow_strings(values)
    return _infer_number_format(distinct_sample(arr))


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


# ---------------------------------------------------------------------------------------------
# Arrow-level parsers (ingestion calls these directly on freshly read columns)
# ---------------------------------------------------------------------------------------------


def to_arrow_strings(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A pandas Series as an Arrow string array (zero-copy for pandas' default ``str`` dtype)."""
    s = values if isinstance(values.dtype, pd.StringDtype) else values.astype("str")
    return pa.array(s.array)


def blank_mask(arr: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """True for null, empty and whitespace-only cells."""
    blank = pc.or_kleene(pc.equal(arr, ""), pc.utf8_is_space(arr))
    return pc.fill_null(blank, True)


def arrow_parse_numeric(
    arr: pa.Array | pa.ChunkedArray, decimal: str | None = None, thousands: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``parse_numeric`` on an Arrow string array: float64 values (NaN when missing) and the mask.

    A fast pass handles the usual shapes on the whole column; cells it cannot read get a
    second, thorough pass (currency codes, inner spaces, trailing or Unicode minus, infinity).
    """
    decimal, thousands = _resolve_marks(arr, decimal, thousands)
    s = pc.utf8_trim_whitespace(arr)
    missing = _bool_numpy(_missing(s))
    out, valid = _read_numbers(s, decimal, thousands, thorough=False)
    retry = ~valid & ~missing
    if retry.any():
        idx = np.flatnonzero(retry)
        again, again_valid = _read_numbers(s.take(pa.array(idx)), decimal, thousands, thorough=True)
        out[idx], valid[idx] = again, again_valid
    return out, ~(missing | valid)


def arrow_parse_boolean(arr: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """``parse_boolean`` on an Arrow string array: a nullable bool array and the mask."""
    s = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
    is_true = pc.is_in(s, value_set=pa.array(TRUE_TOKENS))
    is_false = pc.is_in(s, value_set=pa.array(FALSE_TOKENS))
    missing = pc.or_(pc.fill_null(pc.equal(s, ""), True), pc.is_in(s, value_set=pa.array([t.lower() for t in NA_TOKENS])))
    known = pc.or_(is_true, is_false)
    flags = pc.if_else(known, is_true, pa.scalar(None, pa.bool_()))
    bad = ~(_bool_numpy(missing) | _bool_numpy(known))
    return _combine(flags), bad


def arrow_parse_datetime(arr: pa.Array | pa.ChunkedArray, dayfirst: bool | None = None) -> DatetimeResult:
    """``parse_datetime`` on an Arrow array (strings, numbers or timestamps)."""
    if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
        return _from_timestamps(arr)
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
        return _parse_epoch(_to_numpy(pc.cast(arr, pa.float64()), np.float64, np.nan))
    sample = distinct_sample(arr)
    family = date_layout(sample)
    if family == "iso":
        try:  # fast path: every cell is a clean ISO timestamp
            ts = pc.cast(arr, pa.timestamp("us"))
            return DatetimeResult(_to_numpy(ts, "datetime64[us]", np.datetime64("NaT")),
                                  np.zeros(len(arr), dtype=bool), "ISO 8601")
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    s = pc.utf8_trim_whitespace(arr)
    present = ~_bool_numpy(_missing(s))
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


def distinct_sample(arr: pa.Array | pa.ChunkedArray, size: int = _SAMPLE_SIZE) -> list[str]:
    """Up to a few thousand distinct cells (trimmed; blanks and missing markers left out), taken
    from 20 evenly spaced stretches of ``arr`` so the whole column is represented."""
    n, pieces = len(arr), 20
    if n > size:
        step, length = n // pieces, size // pieces
        arr = pa.chunked_array([arr.slice(i * step, length) for i in range(pieces)], type=arr.type)
    seen: dict[str, None] = {}
    for value in pc.unique(pc.drop_null(arr)).to_pylist():
        text = str(value).strip()
        if text and text not in _NA_SET:
            seen[text] = None
            if len(seen) >= _MAX_DISTINCT:
                break
    return list(seen)


def is_clean_number(text: str, decimal: str = ".") -> bool:
    """True when a cell is a plain number a CSV reader parses natively (``-1.5e3``, ``nan``, ``inf``)."""
    t = text.strip()
    if decimal != ".":
        if "." in t:
            return False
        t = t.replace(decimal, ".")
    return bool(_CLEAN_NUMBER.match(t)) or t.lower() in {"nan", "inf", "-inf", "+inf", "infinity", "-infinity"}


def date_layout(sample: list[str]) -> str:
    """Which layout most of the sample cells follow: 'iso', 'dmy', 'ymd', 'epoch' or 'other'.

    'dmy' covers both dd/mm/yyyy and mm/dd/yyyy; 'epoch' means plain digits.
    """
    if not sample:
        return "iso"
    counts = Counter()
    for v in sample:
        if _ISO.match(v):
            counts["iso"] += 1
        elif _DMY.match(v):
            counts["dmy"] += 1
        elif _YMD.match(v):
            counts["ymd"] += 1
        elif _DIGITS.match(v):
            counts["epoch"] += 1
    if not counts:
        return "other"
    family, n = counts.most_common(1)[0]
    return family if n * 2 >= len(sample) else "other"


# ---------------------------------------------------------------------------------------------
# Helpers: numbers
# ---------------------------------------------------------------------------------------------

def _missing(trimmed: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Null, empty, or a missing marker (cells already trimmed)."""
    return pc.or_(pc.fill_null(pc.equal(trimmed, ""), True), pc.is_in(trimmed, value_set=pa.array(NA_TOKENS)))


_CODES = (
    "usd|eur|gbp|jpy|chf|cad|aud|nzd|cny|rmb|inr|rub|brl|mxn|sek|nok|dkk|pln|czk|huf|try|zar|krw|"
    "sgd|hkd|ils|aed|sar|ron|bgn|uah|ngn|kes|thb|idr|myr|php|vnd|ars|clp|cop|pen|kr\\.?|zł|kč|fr\\.|r\\$"
)
_CODE_AT_ENDS = rf"^(?:[A-Z]{{3}}|(?i:{_CODES}))[\s\x{{a0}}]*|[\s\x{{a0}}]*(?:[A-Z]{{3}}|(?i:{_CODES}))$"


def _read_numbers(
    s: pa.Array | pa.ChunkedArray, decimal: str, thousands: str | None, thorough: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Float values and a validity mask for trimmed cells."""
    neg = pc.and_(pc.starts_with(s, "("), pc.ends_with(s, ")"))
    pct = pc.match_substring(s, "%")
    is_inf = None
    if thorough:
        is_inf = _bool_numpy(pc.is_in(s, value_set=pa.array(INF_TOKENS)))
        s = pc.replace_substring(s, "\u2212", "-")
        s = pc.replace_substring_regex(pc.utf8_trim(s, characters=_TRIM_CHARS), _CODE_AT_ENDS, "")
    s = pc.utf8_trim(s, characters=_TRIM_CHARS)
    neg = pc.or_(neg, pc.starts_with(s, "-"))
    s = pc.utf8_trim(pc.utf8_ltrim(s, characters="+-"), characters=_TRIM_CHARS)
    if thorough:
        trailing_minus = pc.ends_with(s, "-")
        neg = pc.or_(neg, trailing_minus)
        s = pc.replace_substring_regex(pc.utf8_rtrim(s, characters="-"), "[" + _SPACES + "'’]", "")
    s, bad_groups = _remove_thousands(s, decimal, thousands)
    if decimal != ".":
        s = pc.replace_substring(s, decimal, ".")
    valid = pc.fill_null(pc.match_substring_regex(s, f"^{_NUMBER_CORE}$"), False)
    if bad_groups is not None:
        valid = pc.and_(valid, pc.invert(bad_groups))
    out = _to_numpy(pc.cast(pc.if_else(valid, s, pa.scalar(None, s.type)), pa.float64()), np.float64, np.nan)
    valid_np = _bool_numpy(valid)
    neg_np = _bool_numpy(neg)
    out[neg_np] = -np.abs(out[neg_np])
    out[_bool_numpy(pct)] /= 100.0
    if is_inf is not None and is_inf.any():
        out[is_inf] = np.where(neg_np[is_inf], -np.inf, np.inf)
        valid_np |= is_inf
    return out, valid_np


def _remove_thousands(
    s: pa.Array | pa.ChunkedArray, decimal: str, thousands: str | None
) -> tuple[pa.Array | pa.ChunkedArray, pa.Array | pa.ChunkedArray | None]:
    """Remove group separators; flag cells whose groups are not 3 digits (``1,00`` with ',')."""
    if not thousands or thousands in _SPACES:
        return s, None
    has = pc.fill_null(pc.match_substring(s, thousands), False)
    if not pc.any(has).as_py():
        return s, None
    t, d = re.escape(thousands), re.escape(decimal)
    grouped = rf"^\d{{1,3}}({t}\d{{3}})+({d}\d*)?([eE][+-]?\d+)?$"
    ok = pc.fill_null(pc.match_substring_regex(s, grouped), False)
    return pc.replace_substring(s, thousands, ""), pc.and_(has, pc.invert(ok))


def _infer_number_format(sample: list[str]) -> tuple[str, str | None]:
    """Vote on the decimal mark and thousands separator over distinct sample cells."""
    votes: Counter[str] = Counter()
    seps: Counter[str] = Counter()
    for raw in sample:
        t = raw.strip().strip(_TRIM_CHARS + "+-")
        has_c, has_d = "," in t, "." in t
        if has_c and has_d:
            dec = "," if t.rfind(",") > t.rfind(".") else "."
            votes[dec] += 1
            seps["." if dec == "," else ","] += 1
        elif has_c or has_d:
            mark = "," if has_c else "."
            if t.count(mark) > 1:
                votes["." if mark == "," else ","] += 1
                seps[mark] += 1
            elif _AMBIGUOUS_GROUP.match(t):
                votes["ambiguous" + mark] += 1
            else:
                votes[mark] += 1
        if "'" in t or "’" in t:
            seps["'"] += 1
    decimal = "," if votes[","] > votes["."] else "."
    other = "." if decimal == "," else ","
    if seps[other] or votes["ambiguous" + other]:
        return decimal, other
    if seps["'"]:
        return decimal, "'"
    return decimal, None


def _resolve_marks(
    arr: pa.Array | pa.ChunkedArray, decimal: str | None, thousands: str | None
) -> tuple[str, str | None]:
    """Fill in whichever of decimal/thousands is None from the values; '' means no separator."""
    if decimal is None or thousands is None:
        guess_dec, guess_thou = _infer_number_format(distinct_sample(arr))
        if decimal is None:
            decimal = guess_dec
        if thousands is None:
            thousands = guess_thou if guess_thou != decimal else None
    if decimal not in (".", ","):
        raise ValueError(f"decimal must be '.' or ',', got {decimal!r}.")
    if thousands == decimal:
        raise ValueError(f"thousands separator {thousands!r} cannot also be the decimal mark.")
    return decimal, thousands or None


# ---------------------------------------------------------------------------------------------
# Helpers: dates
# ---------------------------------------------------------------------------------------------

_ISO = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?$"
)
_OFFSET = re.compile(r"\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$")  # after a time
_TIME = r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*([AaPp][Mm])?)?"
_DMY = re.compile(r"^(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})" + _TIME + "$")
_YMD = re.compile(r"^(\d{4})([/.])(\d{1,2})\2(\d{1,2})" + _TIME + "$")
_DIGITS = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
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
        values = _to_numpy(pc.cast(nulled, pa.timestamp("us")), "datetime64[us]", np.datetime64("NaT"))
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
        formats = _ymd_formats(sample)
        values = _strptime_all(s, formats, present)
        return DatetimeResult(values, present & np.isnat(values), f"year-first {formats[0]}")
    order, evidence, assumed = _decide_dayfirst(sample, dayfirst)
    formats = _dmy_formats(sample, order)
    values = _strptime_all(s, formats, present)
    bad = present & np.isnat(values)
    if bad.any():  # the sample may have missed the cells that show the order
        other = _dmy_formats(sample, not order)
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


def _decide_dayfirst(sample: list[str], hint: bool | None) -> tuple[bool, str, bool]:
    """(dayfirst, a deciding cell, whether it was assumed) from the sample's first two parts."""
    first_big: list[str] = []
    second_big: list[str] = []
    for v in sample:
        m = _DMY.match(v)
        if m and int(m.group(1)) > 12:
            first_big.append(v)
        elif m and int(m.group(3)) > 12:
            second_big.append(v)
    if not first_big and not second_big:
        return bool(hint), "", True
    dayfirst = len(first_big) >= len(second_big)
    return dayfirst, (first_big if dayfirst else second_big)[0], False


def _dmy_formats(sample: list[str], dayfirst: bool) -> list[str]:
    """strptime formats for the sample's layouts, most common first, then common fallbacks."""
    seen: Counter[str] = Counter()
    for v in sample:
        m = _DMY.match(v)
        if m:
            seen[_slash_format(m, dayfirst)] += 1
    formats = [f for f, _ in seen.most_common()]
    sep = formats[0][2] if formats else "/"
    head = "%d{0}%m{0}".format(sep) if dayfirst else "%m{0}%d{0}".format(sep)
    for year in ("%Y", "%y"):
        for time in ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p"):
            if head + year + time not in formats:
                formats.append(head + year + time)
    return formats


def _ymd_formats(sample: list[str]) -> list[str]:
    seen: Counter[str] = Counter()
    for v in sample:
        m = _YMD.match(v)
        if m:
            sep = m.group(2)
            seen[f"%Y{sep}%m{sep}%d" + _time_format(m.group(5), m.group(7), m.group(8), m.group(9))] += 1
    formats = [f for f, _ in seen.most_common()] or ["%Y/%m/%d"]
    for time in ("", " %H:%M", " %H:%M:%S"):
        if formats[0][:8] + time not in formats:
            formats.append(formats[0][:8] + time)
    return formats


def _slash_format(m: re.Match, dayfirst: bool) -> str:
    sep = m.group(2)
    head = f"%d{sep}%m{sep}" if dayfirst else f"%m{sep}%d{sep}"
    year = "%Y" if len(m.group(4)) == 4 else "%y"
    return head + year + _time_format(m.group(5), m.group(7), m.group(8), m.group(9))


def _time_format(hour: str | None, sec: str | None, frac: str | None, ampm: str | None) -> str:
    if hour is None:
        return ""
    h = "%I" if ampm else "%H"
    out = f" {h}:%M" + (":%S" if sec else "") + (".%f" if frac else "")
    return out + (" %p" if ampm else "")


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
        texts = pd.Series(_combine(s).to_pandas(), dtype="str")
        return pd.to_datetime(texts, format=fmt, errors="coerce").to_numpy(dtype="datetime64[us]")
    ts = pc.strptime(s, format=fmt, unit="us", error_is_null=True)
    values = _to_numpy(ts, "datetime64[us]", np.datetime64("NaT"))
    if "%Y" in fmt:
        values[values.view(np.int64) < _MIN_YEAR_US] = np.datetime64("NaT")
    late = _bool_numpy(pc.match_substring_regex(s, _late_day_pattern(fmt))) & ~np.isnat(values)
    if late.any():
        days = values[late].astype("datetime64[D]")
        day_of_month = (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
        values[np.flatnonzero(late)[day_of_month < 29]] = np.datetime64("NaT")
    return values


def _late_day_pattern(fmt: str) -> str:
    """A regex for cells whose day part is 29, 30 or 31 under ``fmt``."""
    if fmt.startswith("%d"):
        prefix = "^"
    elif fmt.startswith("%Y"):
        prefix = r"^\d{4}\D\d{1,2}\D"
    else:
        prefix = r"^\d{1,2}\D"
    return prefix + r"(29|30|31)(\D|$)"


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
    values = _to_numpy(pc.cast(arr, pa.timestamp("us")), "datetime64[us]", np.datetime64("NaT"))
    return DatetimeResult(values, np.zeros(len(values), dtype=bool), "datetime values")


def _datetime_input(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    if _is_numeric_dtype(values):
        return pa.array(values.astype("float64").to_numpy(), from_pandas=True)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        v = values.dt.tz_convert(None) if getattr(values.dtype, "tz", None) is not None else values
        return pa.array(v.to_numpy(dtype="datetime64[us]"), type=pa.timestamp("us"), from_pandas=True)
    return to_arrow_strings(values)


# ---------------------------------------------------------------------------------------------
# Helpers: conversions
# ---------------------------------------------------------------------------------------------


def _is_numeric_dtype(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)


def _texts(s: pa.Array | pa.ChunkedArray, present: np.ndarray) -> pd.Series:
    """The cells as a pandas ``str`` Series, missing where ``present`` is False."""
    texts = pd.Series(_combine(s).to_pandas(), dtype="str")
    return texts.where(present)


def _combine(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _to_numpy(arr: pa.Array | pa.ChunkedArray, dtype, fill) -> np.ndarray:
    """A writable numpy array; nulls become ``fill`` (NaN / NaT come for free for floats and times)."""
    combined = _combine(arr)
    out = combined.to_numpy(zero_copy_only=False, writable=True)
    if out.dtype != np.dtype(dtype):
        out = out.astype(dtype)
    if combined.null_count and not (pa.types.is_floating(combined.type) or pa.types.is_timestamp(combined.type)):
        out[_bool_numpy(pc.is_null(combined))] = fill
    return out


def _bool_numpy(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(_combine(pc.fill_null(arr, False)).to_numpy(zero_copy_only=False), dtype=bool)


def _float_series(nums: np.ndarray, like: pd.Series) -> pd.Series:
    return pd.Series(nums, index=like.index, name=like.name, dtype="float64")


def _mask_series(mask: np.ndarray, like: pd.Series) -> pd.Series:
    return pd.Series(mask, index=like.index, name=like.name, dtype=bool)
