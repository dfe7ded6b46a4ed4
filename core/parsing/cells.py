"""What every parser shares: the missing-value markers, blank masks, a distinct sample, conversions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Missing-value markers, compared after trimming whitespace (several spellings, no lower-casing
# of a million cells needed).
_NA_WORDS = ("nan", "null", "none", "n/a", "na", "#n/a", "<na>", "nil", "-nan", "#na", "n.a.")
NA_TOKENS: tuple[str, ...] = tuple(
    sorted({v for w in _NA_WORDS for v in (w, w.upper(), w.title(), w.capitalize())} | {"NaN", "NaT", "-"})
)
# In text and id columns "NA" is a value (Namibia's country code) and "-" may be one too.
TEXT_NA_TOKENS: tuple[str, ...] = tuple(t for t in NA_TOKENS if t.lower() not in {"na", "-"})
_NA_SET = frozenset(NA_TOKENS)
_SAMPLE_SIZE = 10_000
_MAX_DISTINCT = 1_000


def to_arrow_strings(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A pandas Series as an Arrow string array (zero-copy for pandas' default ``str`` dtype)."""
    s = values if isinstance(values.dtype, pd.StringDtype) else values.astype("str")
    return pa.array(s.array)


def blank_mask(arr: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """True for null, empty and whitespace-only cells."""
    blank = pc.or_kleene(pc.equal(arr, ""), pc.utf8_is_space(arr))
    return pc.fill_null(blank, True)


def missing_cells(trimmed: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Null, empty, or a missing marker (cells already trimmed)."""
    return pc.or_(pc.fill_null(pc.equal(trimmed, ""), True), pc.is_in(trimmed, value_set=pa.array(NA_TOKENS)))


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


def is_numeric_dtype(values: pd.Series) -> bool:
    """Numbers, but not booleans (which pandas also counts as numeric)."""
    return pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)


def combine(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous Arrow array (chunks joined)."""
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def to_numpy(arr: pa.Array | pa.ChunkedArray, dtype, fill) -> np.ndarray:
    """A writable numpy array; nulls become ``fill`` (NaN / NaT come for free for floats and times)."""
    combined = combine(arr)
    out = combined.to_numpy(zero_copy_only=False, writable=True)
    if out.dtype != np.dtype(dtype):
        out = out.astype(dtype)
    if combined.null_count and not (pa.types.is_floating(combined.type) or pa.types.is_timestamp(combined.type)):
        out[bool_numpy(pc.is_null(combined))] = fill
    return out


def bool_numpy(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A numpy bool array; nulls are False."""
    return np.asarray(combine(pc.fill_null(arr, False)).to_numpy(zero_copy_only=False), dtype=bool)


def mask_series(mask: np.ndarray, like: pd.Series) -> pd.Series:
    """A bool mask as a Series with the index and name of ``like``."""
    return pd.Series(mask, index=like.index, name=like.name, dtype=bool)
