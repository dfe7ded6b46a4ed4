"""Masks and counts over Arrow columns of raw cells, shared by profiling and finishing."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from core import parsing


# Text is read as large_string: pandas' ``str`` dtype is backed by it, so ``to_pandas`` needs no cast.
TEXT = pa.large_string()


def is_text_type(t: pa.DataType) -> bool:
    """Whether an Arrow type is a string type (``string`` or ``large_string``)."""
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def is_text(col) -> bool:
    """Whether an Arrow column holds strings."""
    return is_text_type(col.type)


def missing_mask(col: pa.ChunkedArray, tokens: tuple[str, ...]) -> pa.ChunkedArray:
    """True for blank cells and for cells equal to one of ``tokens`` (missing-value markers)."""
    return pc.or_(parsing.blank_mask(col), pc.is_in(col, value_set=pa.array(tokens)))


def bool_count(mask) -> int:
    """How many cells of a boolean mask are True (nulls count as False)."""
    return int(pc.sum(mask).as_py() or 0)
