"""Writing result tables for people to download: safe in a spreadsheet, never half-written.

A CSV cell that starts with ``= + - @``, a tab or a carriage return is run as a formula by
spreadsheet programs ("CSV injection"); such text cells get a leading apostrophe. Only text is
touched: numbers stay numbers (a negative amount stays ``-5``, the text "-5" becomes "'-5").
Parquet keeps types and is not opened by spreadsheets, so it is written as is.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.files import replacing

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells that a spreadsheet would run as formulas start with "'"."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
            risky = values.str.startswith(FORMULA_STARTS).fillna(False).astype(bool)
            if risky.any():
                out[column] = values.mask(risky, "'" + values)
        elif values.dtype == object:
            out[column] = values.map(_escape_cell)
    return out


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path``: Parquet for ``.parquet``, else escaped CSV; atomically (temp file + rename)."""
    path = Path(path)
    with replacing(path) as tmp:
        if path.suffix.lower() == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            escape_cells(frame).to_csv(tmp, index=False)


def _escape_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
