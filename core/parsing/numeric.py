"""Money-like text to float64: currency, thousands separators, decimal commas, percentages."""
from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.parsing.cells import (
    bool_numpy,
    distinct_sample,
    is_numeric_dtype,
    mask_series,
    missing_cells,
    to_arrow_strings,
    to_numpy,
)

_INF_WORDS = ("inf", "infinity", "+inf", "+infinity", "-inf", "-infinity")
INF_TOKENS: tuple[str, ...] = tuple(
    sorted({v for w in _INF_WORDS for v in (w, w.upper(), w.title(), w.capitalize())} | {"∞", "-∞", "+∞"})
)
CURRENCY_SYMBOLS = "$€£¥₹₽₩₪₺¢฿₫₴₦₱₲₵₡"
_SPACES = " \t\u00a0\u202f\u2009\u2007"
_TRIM_CHARS = _SPACES + CURRENCY_SYMBOLS + "%()"
_NUMBER_CORE = r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
_CLEAN_NUMBER = re.compile(rf"^[+-]?{_NUMBER_CORE}$")
_AMBIGUOUS_GROUP = re.compile(r"^[1-9]\d{0,2}[.,]\d{3}$")


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
    if is_numeric_dtype(values):
        out = values.astype("float64")
        return out, pd.Series(False, index=values.index, name=values.name)
    arr = to_arrow_strings(values)
    nums, bad = arrow_parse_numeric(arr, decimal, thousands)
    return _float_series(nums, values), mask_series(bad, values)


def infer_number_format(values: pd.Series | pa.Array | pa.ChunkedArray) -> tuple[str, str | None]:
    """Guess ``(decimal, thousands)`` from the values: ``('.', ',')`` for ``1,000.50``, ``(',', '.')``
    for ``1.000,50``, ``(',', None)`` for ``12,5``. Defaults to ``('.', None)``.

    The last of ``,``/``.`` in a cell holding both is the decimal mark; a mark used twice is a
    thousands separator; a single mark followed by other than three digits is a decimal mark.
    ``1,000`` alone is read as a thousands separator, ``1.000`` alone as a decimal point.
    """
    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else to_arrow_strings(values)
    return _infer_number_format(distinct_sample(arr))


def arrow_parse_numeric(
    arr: pa.Array | pa.ChunkedArray, decimal: str | None = None, thousands: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``parse_numeric`` on an Arrow string array: float64 values (NaN when missing) and the mask.

    A fast pass handles the usual shapes on the whole column; cells it cannot read get a
    second, thorough pass (currency codes, inner spaces, trailing or Unicode minus, infinity).
    """
    decimal, thousands = _resolve_marks(arr, decimal, thousands)
    s = pc.utf8_trim_whitespace(arr)
    missing = bool_numpy(missing_cells(s))
    out, valid = _read_numbers(s, decimal, thousands, thorough=False)
    retry = ~valid & ~missing
    if retry.any():
        idx = np.flatnonzero(retry)
        again, again_valid = _read_numbers(s.take(pa.array(idx)), decimal, thousands, thorough=True)
        out[idx], valid[idx] = again, again_valid
    return out, ~(missing | valid)


def is_clean_number(text: str, decimal: str = ".") -> bool:
    """True when a cell is a plain number a CSV reader parses natively (``-1.5e3``, ``nan``, ``inf``)."""
    t = text.strip()
    if decimal != ".":
        if "." in t:
            return False
        t = t.replace(decimal, ".")
    return bool(_CLEAN_NUMBER.match(t)) or t.lower() in {"nan", "inf", "-inf", "+inf", "infinity", "-infinity"}


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
        is_inf = bool_numpy(pc.is_in(s, value_set=pa.array(INF_TOKENS)))
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
    out = to_numpy(pc.cast(pc.if_else(valid, s, pa.scalar(None, s.type)), pa.float64()), np.float64, np.nan)
    valid_np = bool_numpy(valid)
    neg_np = bool_numpy(neg)
    out[neg_np] = -np.abs(out[neg_np])
    out[bool_numpy(pct)] /= 100.0
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


def _float_series(nums: np.ndarray, like: pd.Series) -> pd.Series:
    return pd.Series(nums, index=like.index, name=like.name, dtype="float64")
