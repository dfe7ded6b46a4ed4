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

Modules: ``numeric`` (numbers), ``dates`` and ``date_formats`` (dates), ``booleans`` (yes/no),
``cells`` (missing-value markers and the conversions the parsers share). The ``arrow_parse_*``
functions take Arrow columns (ingestion calls them on freshly read data); the ``parse_*`` ones
take and return pandas Series.
"""
from core.parsing.booleans import FALSE_TOKENS, TRUE_TOKENS, arrow_parse_boolean, parse_boolean
from core.parsing.cells import NA_TOKENS, TEXT_NA_TOKENS, blank_mask, distinct_sample, to_arrow_strings
from core.parsing.date_formats import date_layout
from core.parsing.dates import EPOCH_SECONDS_RANGE, DatetimeResult, arrow_parse_datetime, parse_datetime
from core.parsing.numeric import (
    CURRENCY_SYMBOLS,
    INF_TOKENS,
    arrow_parse_numeric,
    infer_number_format,
    is_clean_number,
    parse_numeric,
)

__all__ = [
    "CURRENCY_SYMBOLS",
    "EPOCH_SECONDS_RANGE",
    "FALSE_TOKENS",
    "INF_TOKENS",
    "NA_TOKENS",
    "TEXT_NA_TOKENS",
    "TRUE_TOKENS",
    "DatetimeResult",
    "arrow_parse_boolean",
    "arrow_parse_datetime",
    "arrow_parse_numeric",
    "blank_mask",
    "date_layout",
    "distinct_sample",
    "infer_number_format",
    "is_clean_number",
    "parse_boolean",
    "parse_datetime",
    "parse_numeric",
    "to_arrow_strings",
]
