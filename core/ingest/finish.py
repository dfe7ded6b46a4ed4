"""Finishing read columns into a frame: each parsed per its plan, with a ``ColumnReport`` of what was found."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core import parsing
from core.ingest.cells import bool_count, is_text, is_text_type
from core.ingest.kinds import Plan
from core.ingest.report import ColumnReport


def finish_columns(columns: list[pa.ChunkedArray], names: list[str], originals: list[str], plans: list[Plan],
                   dayfirst: bool | None) -> tuple[pa.Table, list[ColumnReport]]:
    """Parse each column per its plan into a table (typed as ``to_frame`` will give it to pandas).

    Columns are finished on two threads (Arrow kernels release the GIL) and each raw column is
    released as soon as it is done, so memory stays near one copy of the data.
    """
    def work(i: int) -> tuple[pa.ChunkedArray, ColumnReport]:
        col, columns[i] = columns[i], None
        arr, report = _finish_column(col, names[i], originals[i], plans[i], dayfirst)
        return (arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])), report

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(work, range(len(columns))))
    table = pa.Table.from_arrays([a for a, _ in done], names=names)
    reports = [r for _, r in done]
    del done
    pa.default_memory_pool().release_unused()
    empty = empty_frame(table.schema)
    for report in reports:
        report.dtype = str(empty[report.name].dtype)
    # pandas' own metadata travels with the table, so a Parquet copy reads back with these dtypes
    return table.replace_schema_metadata(pa.Schema.from_pandas(empty, preserve_index=False).metadata), reports


def to_frame(table: pa.Table) -> pd.DataFrame:
    """A finished table as pandas (yes/no columns as nullable booleans); the table is consumed."""
    return table.to_pandas(types_mapper=_PANDAS_TYPES.get, self_destruct=True, split_blocks=True)


def empty_frame(schema: pa.Schema) -> pd.DataFrame:
    """The frame ``to_frame`` gives for a table of this schema, with no rows."""
    return schema.empty_table().to_pandas(types_mapper=_PANDAS_TYPES.get)


_PANDAS_TYPES = {pa.bool_(): pd.BooleanDtype()}


def _finish_column(col: pa.ChunkedArray, name: str, original: str, plan: Plan,
                   dayfirst: bool | None) -> tuple[pa.Array | pa.ChunkedArray, ColumnReport]:
    report = ColumnReport(name=name, original=original, kind=plan.kind, dtype="",
                          examples=list(plan.examples), notes=list(plan.notes))
    if plan.kind == "number" and not is_text_type(plan.arrow_type):
        arr = _finish_native_number(col, report)
    elif plan.kind == "number":
        arr = _finish_text_number(col, plan, report)
    elif plan.kind == "datetime":
        arr = _finish_datetime(col, report, dayfirst)
    elif plan.kind == "boolean":
        arr = _finish_boolean(col, report)
    else:
        arr = _finish_text(col, report)
    report.missing = report.blank + report.nan + report.unparseable
    if report.inf:
        report.notes.append(f"{report.inf} infinite value(s) kept as +/-inf.")
    return arr, report


def _finish_native_number(col: pa.ChunkedArray, report: ColumnReport) -> pa.ChunkedArray:
    report.blank = col.null_count
    if pa.types.is_floating(col.type):
        report.nan = int(pc.sum(pc.is_nan(col)).as_py() or 0)
        report.inf = int(pc.sum(pc.is_inf(col)).as_py() or 0)
    return col


def _finish_text_number(col: pa.ChunkedArray, plan: Plan, report: ColumnReport) -> pa.Array:
    values, bad = parsing.arrow_parse_numeric(col, plan.decimal, plan.thousands)
    blank = bool_count(parsing.blank_mask(col))
    report.blank = blank
    report.unparseable = int(bad.sum())
    report.nan = int(np.isnan(values).sum()) - blank - report.unparseable
    report.inf = int(np.isinf(values).sum())
    _note_unparseable(report, col, bad, "numbers")
    return pa.array(values, type=pa.float64())


def _finish_datetime(col: pa.ChunkedArray, report: ColumnReport,
                     dayfirst: bool | None) -> pa.Array | pa.ChunkedArray:
    if pa.types.is_timestamp(col.type):  # plain ISO cells, already parsed by the CSV reader
        report.blank = col.null_count
        report.notes.insert(0, "Dates read as ISO 8601.")
        return col
    result = parsing.arrow_parse_datetime(col, dayfirst=dayfirst)
    blank = bool_count(parsing.blank_mask(col)) if is_text(col) else col.null_count
    report.blank = blank
    report.unparseable = int(result.unparseable.sum())
    report.nan = int(np.isnat(result.values).sum()) - blank - report.unparseable
    note = f"Dates read as {result.description}"
    if result.evidence:
        note += f", decided by values like '{result.evidence}'"
    elif result.dayfirst_assumed and dayfirst:
        note += " because the file uses ';' (a European layout)"
    report.notes.insert(0, note + ".")
    _note_unparseable(report, col, result.unparseable, "dates")
    return pa.array(result.values, type=pa.timestamp("us"), from_pandas=True)


def _finish_boolean(col: pa.ChunkedArray, report: ColumnReport) -> pa.Array | pa.ChunkedArray:
    if not is_text(col):
        report.blank = col.null_count
        return col
    flags, bad = parsing.arrow_parse_boolean(col)
    report.blank = bool_count(parsing.blank_mask(col))
    report.unparseable = int(bad.sum())
    report.nan = flags.null_count - report.blank - report.unparseable
    _note_unparseable(report, col, bad, "yes/no values")
    return flags


def _finish_text(col: pa.ChunkedArray, report: ColumnReport) -> pa.Array | pa.ChunkedArray:
    if not is_text(col):
        report.blank = col.null_count
        return col
    shortest = pc.min(pc.binary_length(col)).as_py()
    if shortest is not None and shortest > _LONGEST_MARKER:  # ids: no marker or blank fits; check spaces only
        report.blank = bool_count(pc.utf8_is_space(col)) + col.null_count
        if not report.blank:
            return col
    blank = parsing.blank_mask(col)
    marker = pc.is_in(col, value_set=pa.array(parsing.TEXT_NA_TOKENS))
    report.blank = bool_count(blank)
    report.nan = bool_count(marker)
    if report.blank or report.nan:
        return pc.if_else(pc.or_(blank, marker), pa.scalar(None, col.type), col)
    return col


_LONGEST_MARKER = max(len(t.encode()) for t in parsing.TEXT_NA_TOKENS)


def _note_unparseable(report: ColumnReport, col, bad: np.ndarray, what: str) -> None:
    if not bad.any():
        return
    idx = np.flatnonzero(bad)[:200]
    examples = list(dict.fromkeys(str(v) for v in col.take(pa.array(idx)).to_pylist()))[:3]
    shown = ", ".join(repr(e) for e in examples)
    report.notes.append(f"{int(bad.sum())} value(s) could not be read as {what} and were set to missing, e.g. {shown}.")
