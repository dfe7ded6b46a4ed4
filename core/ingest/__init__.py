"""Read a CSV, gzip'd CSV or Parquet file robustly into a frame plus a report of what was done.

``read_table`` accepts a path or raw bytes (browser uploads) and returns ``(frame, IngestReport)``.
Nothing is silently coerced: every decision that changes what a user would see (encoding
guessed, headers renamed, rows dropped, numbers re-read, dates resolved day-first) is in the
report, and every file that cannot be read raises ``IngestError`` naming the file, line,
column or value.

How a CSV is read (fast on clean files, exact on messy ones):

1. Bytes (``source``, ``encoding``): gzip is stream-decompressed with a size cap; a large plain
   UTF-8 file on disk is not loaded at all (its first MB is sniffed and the body is streamed in
   pieces); anything else (uploads, BOMs, UTF-16, cp1252...) is brought to UTF-8 in memory.
   Non-UTF-8 text is guessed: cp1252 (latin-1's printable superset) for Western text,
   charset-normalizer otherwise.
2. The delimiter is sniffed from the first rows; the header is parsed and de-duplicated (``dialect``).
3. Column kinds are profiled on the first 512 KB read as text (``kinds``).
4. The body is read by ``pyarrow.csv`` in ~4 MB pieces cut at record ends (``pieces``: quotes are
   paired on the way, so an unterminated quote names its line), with an explicit type per column
   (``csv_reader``): clean numbers natively, everything else as text, then parsed vectorised by
   ``core.parsing`` (``finish``). Rows with too many or too few fields are dropped by Arrow's
   invalid-row handler and found again in the piece's bytes to report their physical line
   numbers (``ragged``).

Reading in pieces keeps peak memory near the size of the result (a single Arrow read of a
whole file holds the raw blocks and the converted columns at once); ``benchmarks/ingest.py``
checks time and memory against plain ``pandas.read_csv``.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa

from core.errors import IngestError
from core.ingest.csv_reader import read_csv
from core.ingest.encoding import Text, decode
from core.ingest.finish import to_frame
from core.ingest.kinds import KINDS
from core.ingest.parquet_reader import read_parquet
from core.ingest.report import ColumnReport, IngestLimits, IngestReport
from core.ingest.source import Loaded, NeedsWholeFile, hinted_parquet, load, read_path

__all__ = ["KINDS", "ColumnReport", "IngestLimits", "IngestReport", "read_arrow", "read_table"]

log = logging.getLogger(__name__)


def read_table(
    source: str | os.PathLike | bytes, name: str | None = None, limits: IngestLimits | None = None
) -> tuple[pd.DataFrame, IngestReport]:
    """Read CSV (``,`` ``;`` tab ``|``), gzip'd CSV or Parquet into a frame and an ``IngestReport``.

    ``source`` is a path or the file's bytes; ``name`` is the original file name, used only for
    the format hint and the report (never opened). gzip and Parquet are recognised by their
    magic bytes. Raises ``IngestError`` for empty, header-only, binary, unterminated-quote,
    too-wide, too-large (decompressed), unreadable Parquet and unknown-encoding files.
    """
    table, report = read_arrow(source, name, limits)
    return to_frame(table), report


def read_arrow(
    source: str | os.PathLike | bytes, name: str | None = None, limits: IngestLimits | None = None
) -> tuple[pa.Table, IngestReport]:
    """``read_table`` without the final step to pandas: for storing a file as it was read.

    The table carries pandas' metadata, so it becomes the same frame (``to_frame``, or written
    to Parquet and read back) as ``read_table`` returns.
    """
    limits = limits or IngestLimits()
    name = name or (Path(source).name if isinstance(source, (str, os.PathLike)) else "upload")
    loaded = load(source, name, limits)
    if loaded.format == "parquet":
        return read_parquet(loaded.data, name, limits)
    if hinted_parquet(name):
        raise IngestError(f"{name}: not a readable Parquet file (it does not start with the 'PAR1' marker).")
    if loaded.path is not None:
        bom = loaded.data.startswith(b"\xef\xbb\xbf")
        try:
            return read_csv(Text(loaded.data, 3 if bom else 0, "utf-8", bom, path=loaded.path), name, limits, "csv")
        except NeedsWholeFile as why:
            log.debug("%s: reading the whole file into memory (%s)", name, why)
            loaded = Loaded(read_path(loaded.path, name), "csv")
    fmt = loaded.format
    text = decode(loaded.data, name)
    del loaded
    return read_csv(text, name, limits, fmt)
