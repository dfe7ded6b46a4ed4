"""Reading CSV text: dialect, column plans, the body by Arrow in pieces with a type per column, then finishing."""
from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv

from core.errors import IngestError
from core.ingest.cells import TEXT, is_text_type
from core.ingest.dialect import Dialect, dedupe_headers, parse_options, sniff_dialect
from core.ingest.encoding import Text
from core.ingest.finish import finish_columns
from core.ingest.kinds import Plan, plan_columns
from core.ingest.pieces import buffer_pieces, file_pieces
from core.ingest.ragged import Ragged, collect_ragged, report_ragged
from core.ingest.report import IngestLimits, IngestReport

log = logging.getLogger(__name__)


def read_csv(text: Text, name: str, limits: IngestLimits, fmt: str) -> tuple[pa.Table, IngestReport]:
    """UTF-8 CSV text (whole, or a head whose body is streamed from ``text.path``) to a table and its report."""
    dialect = sniff_dialect(text, name)
    if len(dialect.fields) > limits.max_columns:
        raise IngestError(
            f"{name}: the header has {len(dialect.fields)} columns, more than the limit of {limits.max_columns} "
            "(TXLAB_MAX_COLUMNS).")
    names, renamed = dedupe_headers(dialect.fields)
    if text.path is None and _only_whitespace(text.buf, dialect.body_start):
        raise IngestError(f"{name}: has a header line but no data rows.")
    dayfirst = True if dialect.delimiter == ";" else None
    plans = plan_columns(text.buf, dialect, names, dayfirst)
    table, ragged = _read_body(text, dialect, names, plans, name)
    report = IngestReport(source_name=name, format=fmt, encoding=text.encoding, bom=text.bom,
                          delimiter=dialect.delimiter, renamed_headers=renamed,
                          notes=text.notes + dialect.notes)
    report_ragged(report, text, ragged, table.num_rows, limits, name)
    del text
    columns = table.columns
    del table
    pa.default_memory_pool().release_unused()
    table, report.columns = finish_columns(columns, names, dialect.fields, plans, dayfirst)
    report.rows = table.num_rows
    report.decimal, report.thousands = _file_number_format(plans)
    log.info("Read %s: %d rows x %d columns", name, report.rows, len(report.columns))
    return table, report


def _read_body(text: Text, dialect: Dialect, names: list[str], plans: list[Plan],
               name: str) -> tuple[pa.Table, Ragged]:
    """Arrow reads of the body in pieces, each column typed by its plan.

    A column whose later cells break its planned type is re-read as text (from the start).
    Pieces keep peak memory near the size of the result: a single read of a whole file holds
    the raw blocks and the converted columns at once.
    """
    for _ in range(len(plans) + 1):
        try:
            return _read_pieces(text, dialect, names, plans, name)
        except pa.ArrowInvalid as exc:
            if not _demote_column(str(exc), plans, names):
                raise IngestError(f"{name}: could not be read as CSV ({exc}).") from None
    raise IngestError(f"{name}: could not be read as CSV.")


def _read_pieces(text: Text, dialect: Dialect, names: list[str], plans: list[Plan],
                 name: str) -> tuple[pa.Table, Ragged]:
    ragged = Ragged()
    tables: list[pa.Table] = []
    read_options = pcsv.ReadOptions(column_names=names, use_threads=True)
    decimal_point = _native_decimal(plans)  # first: it may turn decimal-comma columns into text
    convert_options = pcsv.ConvertOptions(
        column_types={n: p.arrow_type for n, p in zip(names, plans)}, decimal_point=decimal_point,
        null_values=[""], strings_can_be_null=False, quoted_strings_can_be_null=False, check_utf8=False)
    if text.path:
        pieces = file_pieces(text.path, dialect.body_start, dialect.delimiter, name)
    else:
        pieces = buffer_pieces(text.buf, dialect.body_start, dialect.delimiter, name)
    for piece in pieces:
        bad: list[tuple[int, int, str]] = []

        def on_bad_row(row: Any, rows: list = bad) -> str:
            rows.append((row.expected_columns, row.actual_columns, row.text))
            return "skip"

        body = pa.py_buffer(piece.data).slice(piece.lo, piece.hi - piece.lo)
        tables.append(pcsv.read_csv(pa.BufferReader(body), read_options=read_options,
                                    parse_options=parse_options(dialect.delimiter, piece.quoted, on_bad_row),
                                    convert_options=convert_options))
        if bad:
            collect_ragged(ragged, bad, piece)
    if not tables:
        return pa.schema([(n, p.arrow_type) for n, p in zip(names, plans)]).empty_table(), ragged
    return pa.concat_tables(tables), ragged


def _native_decimal(plans: list[Plan]) -> str:
    """Arrow's decimal point is one per read: ',' only when no natively read column uses '.'.

    Decimal-comma columns that share a file with decimal-point ones are parsed as text instead.
    """
    native = [p for p in plans if p.kind == "number" and p.arrow_type == pa.float64()]
    if not any(p.decimal == "," for p in native):
        return "."
    if any(p.decimal == "." for p in native):
        for p in native:
            if p.decimal == ",":
                p.arrow_type = TEXT
        return "."
    return ","


def _demote_column(message: str, plans: list[Plan], names: list[str]) -> bool:
    """After 'In CSV column #k: conversion error', read column k as text (parsed after the read) instead."""
    m = re.search(r"In CSV column #(\d+)", message)
    if not m or int(m.group(1)) >= len(plans) or is_text_type(plans[int(m.group(1))].arrow_type):
        return False
    i = int(m.group(1))
    bad = re.search(r"invalid value '(.*)'", message)
    plans[i].arrow_type = TEXT
    if plans[i].kind == "number":  # a date column's notes come from parsing its text
        plans[i].notes.append(
            "Later rows hold values that are not plain numbers" + (f" (e.g. '{bad.group(1)}')" if bad else "")
            + "; the column was read as text and parsed as numbers.")
    log.info("Column %s re-read as text: %s", names[i], message)
    return True


def _file_number_format(plans: list[Plan]) -> tuple[str | None, str | None]:
    """The decimal mark and thousands separator the file's number columns use ('.' if all are plain)."""
    numbers = [p for p in plans if p.kind == "number"]
    if not numbers:
        return None, None
    decimals = Counter(p.decimal for p in numbers if p.decimal)
    thousands = Counter(p.thousands for p in numbers if p.thousands)
    decimal = decimals.most_common(1)[0][0] if decimals else "."
    return decimal, (thousands.most_common(1)[0][0] if thousands else None)


def _only_whitespace(buf, pos: int) -> bool:
    step = 1 << 16
    while pos < len(buf):
        if bytes(buf[pos:pos + step]).strip():
            return False
        pos += step
    return True
