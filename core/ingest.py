"""Read a CSV, gzip'd CSV or Parquet file robustly into a frame plus a report of what was done.

``read_table`` accepts a path or raw bytes (browser uploads) and returns ``(frame, IngestReport)``.
Nothing is silently coerced: every decision that changes what a user would see (encoding
guessed, headers renamed, rows dropped, numbers re-read, dates resolved day-first) is in the
report, and every file that cannot be read raises ``IngestError`` naming the file, line,
column or value.

How a CSV is read (fast on clean files, exact on messy ones):

1. Bytes: gzip is stream-decompressed with a size cap; a large plain UTF-8 file on disk is
   not loaded at all (its first MB is sniffed and the body is streamed in pieces); anything
   else (uploads, BOMs, UTF-16, cp1252...) is brought to UTF-8 in memory. Non-UTF-8 text is
   guessed: cp1252 (latin-1's printable superset) for Western text, charset-normalizer otherwise.
2. The delimiter is sniffed from the first rows; the header is parsed and de-duplicated.
3. Column kinds are profiled on the first 512 KB read as text (``_profile``).
4. The body is read by ``pyarrow.csv`` in ~4 MB pieces cut at record ends (quotes are paired
   on the way, so an unterminated quote names its line), with an explicit type per column:
   clean numbers natively, everything else as text, then parsed vectorised by
   ``core.parsing``. Rows with too many or too few fields are dropped by Arrow's invalid-row
   handler and found again in the piece's bytes to report their physical line numbers.

Reading in pieces keeps peak memory near the size of the result (a single Arrow read of a
whole file holds the raw blocks and the converted columns at once); ``benchmarks/ingest.py``
checks time and memory against plain ``pandas.read_csv``.
"""
from __future__ import annotations

import codecs
import csv
import io
import logging
import os
import re
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Iterator

import charset_normalizer
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from core import parsing
from core.errors import IngestError

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger(__name__)

KINDS: tuple[str, ...] = ("number", "id", "datetime", "text", "boolean")


@dataclass
class IngestLimits:
    """Refuse files that would exhaust the server: too wide, or expanding past a size."""

    max_columns: int = 500
    max_decompressed_bytes: int = 2 * 1024**3
    max_listed_lines: int = 20  # ragged line numbers listed in a report (the count is always exact)

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestLimits:
        """Limits from ``core.settings.Settings`` (``max_columns``, ``max_decompressed_bytes``)."""
        return cls(max_columns=int(settings.max_columns),
                   max_decompressed_bytes=int(settings.max_decompressed_bytes))


@dataclass
class ColumnReport:
    """What ingestion found and did in one column.

    ``missing`` = cells that are missing in the frame (``blank`` + ``nan`` + ``unparseable``).
    ``blank``: empty or whitespace-only cells (a null in a typed Parquet column). ``nan``: missing
    markers written in the cell (NaN, NULL, N/A, ... see ``core.parsing.NA_TOKENS``) or a float NaN.
    ``inf``: infinite numbers (kept as +-inf). ``unparseable``: non-blank cells that could not be
    read as the column's kind (set to missing). ``examples``: a few raw cells from the file.
    """

    name: str
    original: str
    kind: str  # "number" | "id" | "datetime" | "text" | "boolean"
    dtype: str
    missing: int = 0
    blank: int = 0
    nan: int = 0
    inf: int = 0
    unparseable: int = 0
    examples: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    """What was read and every coercion or drop, for the CLI (``txlab inspect``) and the Data page."""

    source_name: str
    format: str  # "csv" | "csv.gz" | "parquet"
    encoding: str | None = None
    bom: bool = False
    delimiter: str | None = None
    decimal: str | None = None
    thousands: str | None = None
    rows: int = 0
    columns: list[ColumnReport] = field(default_factory=list)
    renamed_headers: list[tuple[str, str]] = field(default_factory=list)
    ragged_lines: list[int] = field(default_factory=list)  # physical line numbers, first few
    ragged_count: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """A JSON-safe dict (tuples become lists)."""
        out = asdict(self)
        out["renamed_headers"] = [list(pair) for pair in self.renamed_headers]
        return out

    def summary_lines(self) -> list[str]:
        """Short human lines: the file, then drops and renames, then one line per column."""
        lines = [self._headline()]
        if self.ragged_count:
            shown = ", ".join(str(n) for n in self.ragged_lines)
            hidden = self.ragged_count - len(self.ragged_lines)
            more = f" and {hidden} more" if hidden > 0 else ""
            word = "line" if self.ragged_count == 1 else "lines"
            lines.append(f"Dropped {self.ragged_count} row(s) with the wrong number of fields: {word} {shown}{more}.")
        if self.renamed_headers:
            pairs = ", ".join(f"'{a}' -> '{b}'" for a, b in self.renamed_headers)
            lines.append(f"Renamed headers: {pairs}.")
        lines.extend(self.notes)
        lines.extend(_column_line(c) for c in self.columns)
        return lines

    def _headline(self) -> str:
        parts = [f"{self.source_name}: {self.format}, {self.rows:,} rows x {len(self.columns)} columns"]
        if self.encoding:
            parts.append(f"encoding {self.encoding}" + (" (BOM)" if self.bom else ""))
        if self.delimiter:
            parts.append(f"delimiter {_show_char(self.delimiter)}")
        if self.decimal:
            parts.append(f"decimal {_show_char(self.decimal)}")
        if self.thousands:
            parts.append(f"thousands {_show_char(self.thousands)}")
        return "; ".join(parts)


def read_table(
    source: str | os.PathLike | bytes, name: str | None = None, limits: IngestLimits | None = None
) -> tuple[pd.DataFrame, IngestReport]:
    """Read CSV (``,`` ``;`` tab ``|``), gzip'd CSV or Parquet into a frame and an ``IngestReport``.

    ``source`` is a path or the file's bytes; ``name`` is the original file name, used only for
    the format hint and the report (never opened). gzip and Parquet are recognised by their
    magic bytes. Raises ``IngestError`` for empty, header-only, binary, unterminated-quote,
    too-wide, too-large (decompressed), unreadable Parquet and unknown-encoding files.
    """
    limits = limits or IngestLimits()
    name = name or (Path(source).name if isinstance(source, (str, os.PathLike)) else "upload")
    loaded = _load(source, name, limits)
    if loaded.format == "parquet":
        return _read_parquet(loaded.data, name, limits)
    if _hinted_parquet(name):
        raise IngestError(f"{name}: not a readable Parquet file (it does not start with the 'PAR1' marker).")
    if loaded.path is not None:
        bom = loaded.data.startswith(b"\xef\xbb\xbf")
        try:
            return _read_csv(_Text(loaded.data, 3 if bom else 0, "utf-8", bom, path=loaded.path), name, limits, "csv")
        except _NeedsWholeFile as why:
            log.debug("%s: reading the whole file into memory (%s)", name, why)
            loaded = _Loaded(_read_path(loaded.path, name), "csv")
    fmt = loaded.format
    text = _decode(loaded.data, name)
    del loaded
    return _read_csv(text, name, limits, fmt)


# =============================================================================================
# Loading: path or bytes, gzip with a cap
# =============================================================================================

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
_HEAD_BYTES = 1 << 20  # a path's first MB: sniffing and profiling; the body is then streamed
_PIECE_BYTES = 4 << 20  # the body is parsed in pieces of about this size (bounds peak memory)
_BINARY_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx workbook?)",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls workbook",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"SQLite format 3": "an SQLite database",
    b"BZh": "a bzip2 archive",
    b"\xfd7zXZ": "an xz archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
}


@dataclass
class _Loaded:
    """The bytes to read: the whole content, or (``path`` set) only the head of a plain UTF-8 file."""

    data: bytes | bytearray
    format: str  # "csv" | "csv.gz" | "parquet"
    path: Path | None = None


class _NeedsWholeFile(Exception):
    """A streamed file turned out to need the whole-file path (stray quotes, non-UTF-8 bytes)."""


def _load(source: str | os.PathLike | bytes, name: str, limits: IngestLimits) -> _Loaded:
    """The content (gunzipped with a size cap), or for a large plain UTF-8 CSV only its head."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source) if isinstance(source, memoryview) else source
        if data[:2] == _GZIP_MAGIC:
            view = memoryview(data)
            return _Loaded(_gunzip((view[i:i + _CHUNK] for i in range(0, len(view), _CHUNK)), name, limits), "csv.gz")
        return _Loaded(data, "parquet" if data[:4] == b"PAR1" else "csv")
    path = Path(source)
    with _open(path, name) as fh:
        head = fh.read(_HEAD_BYTES)
        if head[:2] == _GZIP_MAGIC:
            fh.seek(0)
            return _Loaded(_gunzip(iter(lambda: fh.read(_CHUNK), b""), name, limits), "csv.gz")
        if head[:4] == b"PAR1" or len(head) < _HEAD_BYTES:
            data = head + fh.read()
            return _Loaded(data, "parquet" if data[:4] == b"PAR1" else "csv")
        head += fh.readline()
    if _plain_utf8(head):
        return _Loaded(head, "csv", path)
    return _Loaded(_read_path(path, name), "csv")


def _open(path: Path, name: str) -> BinaryIO:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise IngestError(f"{name}: file not found.") from None
    except IsADirectoryError:
        raise IngestError(f"{name}: is a folder, not a file.") from None
    except PermissionError:
        raise IngestError(f"{name}: permission denied.") from None


def _read_path(path: Path, name: str) -> bytes:
    with _open(path, name) as fh:
        return fh.read()


def _plain_utf8(head: bytes) -> bool:
    """Whether a file can be streamed: its head is UTF-8 (BOM allowed) with no NUL."""
    if b"\x00" in head or head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\n" not in head:
        return False
    if head.isascii():
        return True
    try:
        str(head, "utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _gunzip(chunks, name: str, limits: IngestLimits) -> bytearray:
    """Stream-decompress gzip members, stopping as soon as the output passes the limit."""
    out = bytearray()
    inflater = zlib.decompressobj(wbits=31)
    limit = limits.max_decompressed_bytes
    try:
        for chunk in chunks:
            while chunk:
                out += inflater.decompress(chunk, _CHUNK)
                if len(out) > limit:
                    raise IngestError(
                        f"{name}: decompresses to more than {_size(limit)} (the limit, TXLAB_MAX_DECOMPRESSED_MB); "
                        "refusing to expand it further.")
                chunk = inflater.unconsumed_tail
                if inflater.eof:
                    rest = inflater.unused_data
                    if rest[:2] != _GZIP_MAGIC:  # trailing padding after the last member
                        return out
                    inflater, chunk = zlib.decompressobj(wbits=31), rest
    except zlib.error as exc:
        raise IngestError(f"{name}: corrupt gzip data ({exc}).") from None
    if not inflater.eof:
        raise IngestError(f"{name}: the gzip data is truncated (the file ends before the compressed stream does).")
    return out


def _hinted_parquet(name: str) -> bool:
    return name.lower().endswith((".parquet", ".pq", ".parq"))


# =============================================================================================
# Decoding: bytes -> UTF-8 bytes
# =============================================================================================

_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


@dataclass
class _Text:
    """UTF-8 bytes of the file (``start`` skips a UTF-8 BOM) and what the encoding was.

    With ``path`` set, ``buf`` is only the head of the file and the body is streamed from ``path``.
    """

    buf: bytes | bytearray
    start: int
    encoding: str
    bom: bool
    notes: list[str] = field(default_factory=list)
    path: Path | None = None


def _decode(data: bytes | bytearray, name: str) -> _Text:
    """Check for binary content, bring any supported encoding to UTF-8, and CR-only line ends to LF."""
    text = _decode_bytes(data, name)
    head = text.buf[:_SNIFF_BYTES]
    if b"\n" not in head and b"\r" in head:  # classic Mac line ends
        text.buf = bytes(text.buf).replace(b"\r", b"\n")
        text.notes.append("Line ends were bare carriage returns (old Mac style); read them as new lines.")
    return text


def _decode_bytes(data: bytes | bytearray, name: str) -> _Text:
    if not data:
        raise IngestError(f"{name} is empty (0 bytes).")
    for magic, what in _BINARY_MAGIC.items():
        if data.startswith(magic):
            raise IngestError(f"{name} is {what}, not a CSV or Parquet file. Save or export it as CSV first.")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            if encoding == "utf-8":
                _check_nul(data, name)
                _validate_utf8(data, 3, name)
                return _Text(data, 3, "utf-8", True)
            return _transcode(data, encoding, name, bom=True)
    utf16 = _sniff_utf16(data)
    if utf16:
        return _transcode(data, utf16, name, bom=False)
    _check_nul(data, name)
    if data.isascii():
        return _Text(data, 0, "utf-8", False)
    try:
        _validate_utf8(data, 0, name)
        return _Text(data, 0, "utf-8", False)
    except UnicodeDecodeError as exc:
        encoding = _guess_encoding(data, exc.start, name)
    text = _transcode(data, encoding, name, bom=False)
    text.notes.append(f"The file is not UTF-8; read it as {encoding} (guessed from its bytes).")
    return text


def _validate_utf8(data: bytes | bytearray, start: int, name: str) -> None:
    """Raise UnicodeDecodeError (``start`` = offset in ``data``) unless the bytes are UTF-8.

    Decoded in chunks and discarded: validating must not hold a second copy of the file.
    """
    if _arrow_utf8_ok(data, start):
        return
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    for pos in range(start, max(len(data), start + 1), 8 * _CHUNK):
        chunk = view[pos:pos + 8 * _CHUNK]
        try:
            decoder.decode(chunk, final=pos + len(chunk) >= len(data))
        except UnicodeDecodeError as exc:
            bad_at = min(pos + max(exc.start, 0), len(data) - 1)
            if start:  # a BOM promised UTF-8 but the bytes are not: name the place
                line = data.count(b"\n", 0, bad_at) + 1
                raise IngestError(
                    f"{name}: starts with a UTF-8 byte-order mark but line {line} is not valid UTF-8 "
                    f"(byte 0x{data[bad_at]:02x}). Save the file as UTF-8 again.") from None
            raise UnicodeDecodeError("utf-8", bytes(data[bad_at:bad_at + 1]), bad_at, bad_at + 1,
                                     exc.reason) from None


def _arrow_utf8_ok(data: bytes | bytearray, start: int) -> bool:
    """Arrow's (SIMD) UTF-8 check on the whole buffer as one string value, without copying it."""
    buf = pa.py_buffer(data).slice(start)
    offsets = pa.py_buffer(np.array([0, buf.size], dtype=np.int64))
    try:
        pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, buf]).cast(pa.large_string())
        return True
    except pa.ArrowInvalid:
        return False


def _check_nul(data: bytes | bytearray, name: str) -> None:
    pos = data.find(b"\x00")
    if pos >= 0:
        line = data.count(b"\n", 0, pos) + 1
        raise IngestError(
            f"{name}: looks like binary data, not CSV text (NUL byte at offset {pos}, line {line}). "
            "Export the data as CSV (UTF-8) or Parquet.")


def _sniff_utf16(data: bytes | bytearray) -> str | None:
    """UTF-16 without a BOM: about every other byte of ASCII-range text is NUL."""
    head = bytes(data[:4096])
    if len(head) < 4 or head.count(0) < len(head) // 4:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def _transcode(data: bytes | bytearray, encoding: str, name: str, bom: bool) -> _Text:
    codec = {"utf-16-le": "utf-16", "utf-16-be": "utf-16", "utf-32-le": "utf-32", "utf-32-be": "utf-32"}
    try:
        text = data.decode(codec.get(encoding, encoding) if bom else encoding)
    except UnicodeDecodeError as exc:
        raise IngestError(f"{name}: is not valid {encoding} text (byte offset {exc.start}).") from None
    except LookupError:
        raise IngestError(f"{name}: unknown text encoding {encoding!r}.") from None
    if "\x00" in text:
        pos = text.index("\x00")
        line = text.count("\n", 0, pos) + 1
        raise IngestError(f"{name}: looks like binary data (NUL character on line {line} after decoding {encoding}).")
    return _Text(text.encode("utf-8"), 0, encoding, bom)


_WESTERN_SYMBOLS = set("€£¥¢°§©®«»–—…‘’‚“”„•™×÷¿¡½¼¾µºª±·¶†‡‰\u00a0")


def _guess_encoding(data: bytes | bytearray, bad_at: int, name: str) -> str:
    """The likeliest 8-bit encoding of bytes that are not UTF-8.

    Western text (cp1252, which covers latin-1's printable characters) is by far the commonest
    case for CSV exports and is taken when it decodes plausibly: accented letters and usual
    symbols, mostly next to ASCII letters. Anything else is charset-normalizer's best guess.
    """
    sample = bytes(data[:32_768]) + b"\n" + bytes(data[max(0, bad_at - 16_384): bad_at + 16_384])
    try:
        if _plausible_western(sample.decode("cp1252")):
            return "cp1252"
    except UnicodeDecodeError:
        pass
    best = _prefer_windows(list(charset_normalizer.from_bytes(sample)))
    if best is None:
        line = data.count(b"\n", 0, bad_at) + 1
        raise IngestError(
            f"{name}: unknown text encoding — not UTF-8, and no known encoding fits (line {line}, "
            f"byte 0x{data[bad_at]:02x}). Save the file as UTF-8 and upload it again.")
    return best.encoding


def _prefer_windows(matches: list) -> Any:
    """charset-normalizer's best match, but a Windows code page over a near-equal Mac one
    (short samples cannot tell them apart; Windows exports are far more common)."""
    if not matches:
        return None
    best = matches[0]
    if best.encoding.startswith("mac_"):
        for other in matches[1:]:
            if (other.encoding.startswith("cp125") and other.chaos <= best.chaos + 0.1
                    and other.coherence >= best.coherence - 0.1):
                return other
    return best


def _plausible_western(text: str) -> bool:
    """Non-ASCII characters are letters or usual symbols, and letters sit among ASCII letters
    (Cyrillic or Greek read as cp1252 gives whole words of accented letters)."""
    high = [i for i, ch in enumerate(text) if ord(ch) > 127]
    if not high:
        return True
    odd = sum(1 for i in high if not text[i].isalpha() and (text[i] not in _WESTERN_SYMBOLS or _inside_word(text, i)))
    runs = sum(1 for i in high if 0 < i < len(text) - 1 and ord(text[i - 1]) > 127 and ord(text[i + 1]) > 127)
    return odd <= 0.02 * len(high) and runs <= 0.3 * len(high)


def _inside_word(text: str, i: int) -> bool:
    return 0 < i < len(text) - 1 and text[i - 1].isalpha() and text[i + 1].isalpha()


# =============================================================================================
# CSV: dialect, header, quotes
# =============================================================================================

_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_BYTES = 64 * 1024
_PROFILE_BYTES = 512 * 1024
_MAX_STORED_BAD_ROWS = 10_000


@dataclass
class _Dialect:
    delimiter: str
    body_start: int  # byte offset of the first data record
    fields: list[str]  # header cells as written
    notes: list[str] = field(default_factory=list)


def _read_csv(text: _Text, name: str, limits: IngestLimits, fmt: str) -> tuple[pd.DataFrame, IngestReport]:
    dialect = _sniff_dialect(text, name)
    if len(dialect.fields) > limits.max_columns:
        raise IngestError(
            f"{name}: the header has {len(dialect.fields)} columns, more than the limit of {limits.max_columns} "
            "(TXLAB_MAX_COLUMNS).")
    names, renamed = _dedupe_headers(dialect.fields)
    if text.path is None and _only_whitespace(text.buf, dialect.body_start):
        raise IngestError(f"{name}: has a header line but no data rows.")
    dayfirst = True if dialect.delimiter == ";" else None
    plans = _plan_columns(text.buf, dialect, names, dayfirst)
    table, ragged = _read_body(text, dialect, names, plans, name)
    report = IngestReport(source_name=name, format=fmt, encoding=text.encoding, bom=text.bom,
                          delimiter=dialect.delimiter, renamed_headers=renamed,
                          notes=text.notes + dialect.notes)
    _report_ragged(report, text, ragged, table.num_rows, limits, name)
    del text
    columns = table.columns
    del table
    pa.default_memory_pool().release_unused()
    frame, report.columns = _finish(columns, names, dialect.fields, plans, dayfirst)
    report.rows = len(frame)
    report.decimal, report.thousands = _file_number_format(plans)
    log.info("Read %s: %d rows x %d columns", name, report.rows, len(report.columns))
    return frame, report


def _sniff_dialect(text: _Text, name: str) -> _Dialect:
    """Delimiter (``sep=`` line, else the most consistent candidate) and the header record."""
    start = _skip_blank_lines(text.buf, text.start)
    if start >= len(text.buf):
        raise IngestError(f"{name}: contains only blank lines.")
    notes: list[str] = []
    first_end = _line_end(text.buf, start)
    first = bytes(text.buf[start:first_end]).decode("utf-8", "replace").strip()
    forced = None
    if re.fullmatch(r"sep=.", first):
        forced = first[4]
        notes.append(f"Used the delimiter from the file's first line '{first}'.")
        start = _skip_blank_lines(text.buf, first_end)
        if start >= len(text.buf):
            raise IngestError(f"{name}: has no header line after '{first}'.")
    sample = _sample_text(text.buf, start, _SNIFF_BYTES)
    delimiter = forced or _best_delimiter(sample)
    body_start = _record_end(text.buf, start, name)
    header_text = bytes(text.buf[start:body_start]).decode("utf-8", "replace")
    try:
        fields = next(csv.reader(io.StringIO(header_text, newline=""), delimiter=delimiter), [])
    except csv.Error as exc:
        line = text.buf.count(b"\n", 0, start) + 1
        raise IngestError(f"{name}: line {line}: the header cannot be read ({exc}).") from None
    fields = [f.strip().lstrip("\ufeff").strip() for f in fields]
    return _Dialect(delimiter, body_start, fields, notes)


def _best_delimiter(sample: str) -> str:
    """The candidate whose field count is most consistent across rows (header included)."""
    best, best_score = ",", (0.0, 0)
    for delim in _DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(io.StringIO(sample, newline=""), delimiter=delim) if row][:200]
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        consistent = sum(c == counts[0] for c in counts) / len(counts)
        score = (round(consistent, 2), counts[0])
        if score > best_score:
            best, best_score = delim, score
    return best


def _dedupe_headers(fields: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Blank headers become ``column_<n>``; repeats become ``name_2``, ``name_3``...; report each."""
    names: list[str] = []
    renamed: list[tuple[str, str]] = []
    written = {f for f in fields if f}
    for i, original in enumerate(fields):
        new = original or f"column_{i + 1}"
        if new in names or (not original and new in written):
            base, k = new, 2
            while f"{base}_{k}" in names or f"{base}_{k}" in written:
                k += 1
            new = f"{base}_{k}"
        names.append(new)
        if new != original:
            renamed.append((original, new))
    return names, renamed


# =============================================================================================
# CSV: profiling column kinds on a sample
# =============================================================================================

_ID_TOKENS = {"id", "ids", "num", "no", "nr", "nbr", "number", "uuid", "guid", "key", "iban"}
_ID_NAMES = {"id", "num", "no", "nr", "key", "uuid", "guid", "nameorig", "namedest", "ccnum", "cardnumber", "cardnum"}
_TIME_TOKENS = {"time", "date", "datetime", "timestamp", "ts", "dt", "epoch", "created", "updated", "at", "when"}
_MEASURE_TOKENS = {"amount", "amt", "price", "value", "balance", "fee", "total", "sum", "cost", "qty", "quantity",
                   "count", "score", "rate", "ratio", "age", "lat", "lon", "lng", "latitude", "longitude",
                   "distance", "pct", "percent", "hour", "step", "velocity", "size", "weight", "income"}
_SCI = re.compile(r"^[+-]?\d(?:[.,]\d+)?[eE]\+?(\d+)$")
_DIGITS = re.compile(r"^\d+$")
_INT = re.compile(r"^[+-]?\d+$")
_DOT_GROUPS = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+$")


@dataclass
class _Plan:
    """How to read one column: the Arrow type of the full read and how to finish it."""

    kind: str
    arrow_type: pa.DataType
    decimal: str | None = None
    thousands: str | None = None
    notes: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)


def _plan_columns(buf, dialect: _Dialect, names: list[str], dayfirst: bool | None) -> list[_Plan]:
    """Read the first 512 KB as text and decide each column's kind."""
    end = _sample_end(buf, dialect.body_start, _PROFILE_BYTES)
    sample = pa.py_buffer(buf).slice(dialect.body_start, end - dialect.body_start)
    try:
        table = pcsv.read_csv(
            pa.BufferReader(sample),
            read_options=pcsv.ReadOptions(column_names=names, use_threads=False),
            parse_options=_parse_options(dialect.delimiter, buf.find(b'"', dialect.body_start, end) >= 0,
                                         lambda row: "skip"),
            convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                strings_can_be_null=False, check_utf8=False),
        )
    except pa.ArrowInvalid:  # nothing but blank lines in the first part: decide from later rows
        return [_Plan("text", pa.string()) for _ in names]
    return [_profile(n, table.column(i), dayfirst) for i, n in enumerate(names)]


def _profile(name: str, col: pa.ChunkedArray, dayfirst: bool | None) -> _Plan:
    """Decide a column's kind from its name and sampled cells (rules in order, first match wins).

    id (by name like ``*_id``/``cc_num``/``nameOrig``, leading zeros, Excel scientific IDs, long
    integer codes, unique alphanumeric codes) > datetime > boolean (words) > number > text.
    """
    strings = pa.string()
    col = pc.cast(col, strings) if col.type != strings else col
    filled = pc.if_else(_missing_mask(col, parsing.TEXT_NA_TOKENS), pa.scalar(None, strings), col)
    markers = set(pc.unique(pc.filter(col, pc.is_in(col, value_set=pa.array(parsing.NA_TOKENS)))).to_pylist())
    values = pc.unique(pc.drop_null(filled)).to_pylist()[:1000]
    examples = values[:3]
    if not values:
        return _Plan("text", strings, notes=["Empty in the first rows read."], examples=[])
    tokens = _name_tokens(name)
    rows = len(col) - filled.null_count
    unique_ratio = pc.count_distinct(filled).as_py() / max(rows, 1)
    id_plan = _id_plan(tokens, values, unique_ratio, rows)
    if id_plan is not None:
        id_plan.examples = examples
        return id_plan
    date_plan = _date_plan(tokens, values)
    if date_plan is not None:
        date_plan.examples = examples
        return date_plan
    lowered = {v.strip().lower() for v in values}
    if lowered <= set(parsing.TRUE_TOKENS + parsing.FALSE_TOKENS) and not lowered <= {"0", "1", "0.0", "1.0"}:
        return _Plan("boolean", strings, examples=examples)
    number_plan = _number_plan(values, markers, col, european=bool(dayfirst))
    if number_plan is not None:
        number_plan.examples = examples
        return number_plan
    if unique_ratio >= 0.9 and rows >= 20 and all(_code_like(v) for v in values[:500]):
        return _Plan("id", strings, notes=["Unique codes: kept as text ids."], examples=examples)
    return _Plan("text", strings, examples=examples)


def _id_plan(tokens: list[str], values: list[str], unique_ratio: float, rows: int) -> _Plan | None:
    """An id by name, by Excel-mangled scientific values, by leading zeros or by long integer codes."""
    strings = pa.string()
    notes: list[str] = []
    sci = [v for v in values if _SCI.match(v.strip())]
    named = _id_named(tokens)
    all_digits = all(_DIGITS.match(v.strip()) for v in values)
    leading = [v for v in values if len(v.strip()) > 1 and v.strip()[0] == "0" and _DIGITS.match(v.strip())]
    big_sci = [v for v in sci if int(_SCI.match(v.strip()).group(1)) >= 9]
    measure = bool(set(tokens) & (_MEASURE_TOKENS | _TIME_TOKENS))  # Unix ms are long integers too
    if sci and (named or len(big_sci) * 2 >= len(values)):
        notes.append(
            f"{len(sci)} distinct value(s) are in scientific notation (e.g. '{sci[0]}'): Excel rounded these IDs "
            "before the file was saved, so their precision was lost in the source and cannot be recovered. "
            "Kept as text.")
        return _Plan("id", strings, notes=notes)
    if named:
        if leading:
            notes.append(f"Kept as text so leading zeros survive (e.g. '{leading[0]}').")
        return _Plan("id", strings, notes=notes)
    if all_digits and leading and not measure:
        notes.append(f"Treated as an id because values have leading zeros (e.g. '{leading[0]}'); kept as text.")
        return _Plan("id", strings, notes=notes)
    if all_digits and not measure and rows >= 20:
        lengths = {len(v.strip()) for v in values}
        if max(lengths) >= 13 or (len(lengths) == 1 and min(lengths) >= 6 and unique_ratio >= 0.95):
            notes.append("Long integer codes: treated as an id and kept as text (no precision loss).")
            return _Plan("id", strings, notes=notes)
    return None


def _date_plan(tokens: list[str], values: list[str]) -> _Plan | None:
    layout = parsing.date_layout(values)
    timeish = bool(set(tokens) & _TIME_TOKENS)
    if layout in ("iso", "dmy", "ymd"):
        return _Plan("datetime", pa.string())
    if layout == "epoch" and timeish:
        nums = [float(v) for v in values if re.fullmatch(r"[+-]?\d+(\.\d+)?", v.strip())]
        lo, hi = parsing.EPOCH_SECONDS_RANGE
        if nums and all(lo <= x < hi or lo * 1000 <= x < hi * 1000 for x in nums):
            return _Plan("datetime", pa.string())
    if layout == "other" and timeish:
        parsed = pd.to_datetime(pd.Series(values[:200]), format="mixed", errors="coerce")
        if parsed.notna().mean() >= 0.9:
            return _Plan("datetime", pa.string())
    return None


def _number_plan(values: list[str], markers: set[str], col: pa.ChunkedArray, european: bool) -> _Plan | None:
    """Clean numbers are read natively (int64/float64); money-like text is parsed after the read.

    Missing markers other than NaN (NULL, N/A, -) send a column to the text path so they are
    counted rather than failing Arrow's conversion. In a European file (';'), cells that are
    all like ``1.250`` are read with '.' as the thousands separator (1250), and said so.
    """
    decimal, thousands = parsing.infer_number_format(pa.array(values, pa.string()))
    dotted = [v for v in values if "." in v]
    notes: list[str] = []
    if european and decimal == "." and dotted and all(_DOT_GROUPS.match(v.strip()) for v in dotted):
        decimal, thousands = ",", "."
        notes.append(f"'.' read as a thousands separator, e.g. '{dotted[0]}' -> "
                     f"{dotted[0].strip().replace('.', '')} (a ';' file writes decimals with ',').")
    native = all(m.lower() in {"nan", "-nan"} for m in markers) and not thousands
    if native and decimal == "." and all(parsing.is_clean_number(v) for v in values):
        if all(_INT.match(v.strip()) and len(v.strip().lstrip("+-")) <= 18 for v in values):
            return _Plan("number", pa.int64())
        return _Plan("number", pa.float64(), decimal=".")
    if native and decimal == "," and all(parsing.is_clean_number(v, ",") for v in values):
        plan = _Plan("number", pa.float64(), decimal=",")  # Arrow reads '12,5' natively too
        plan.notes.extend(_number_style_notes(values, ",", None))
        return plan
    _, bad = parsing.arrow_parse_numeric(col, decimal, thousands or "")
    present = len(col) - _bool_count(_missing_mask(col, parsing.NA_TOKENS))
    if bad.sum() > 0.1 * present:  # a number column, with at most one cell in ten unreadable
        return None
    plan = _Plan("number", pa.string(), decimal=decimal, thousands=thousands or "")
    plan.notes.extend(_number_style_notes(values, decimal, thousands) + notes)
    return plan


def _number_style_notes(values: list[str], decimal: str, thousands: str | None) -> list[str]:
    notes = []
    if decimal != "." or thousands:
        notes.append(f"Numbers written with decimal {_show_char(decimal)}"
                     + (f" and thousands {_show_char(thousands)}" if thousands else "") + ".")
    symbols = sorted({ch for v in values for ch in v if ch in parsing.CURRENCY_SYMBOLS})
    if symbols or any(re.search(r"[A-Za-z]{3}", v) for v in values):
        notes.append("Currency symbols/codes removed" + (f" ({' '.join(symbols)})" if symbols else "") + ".")
    if any("(" in v and ")" in v for v in values):
        notes.append("Values in parentheses read as negative, e.g. '(12.00)' -> -12.0.")
    if any("%" in v for v in values):
        notes.append("Percentages divided by 100, e.g. '12%' -> 0.12.")
    return notes


def _name_tokens(name: str) -> list[str]:
    """'TERMINAL_ID' -> ['terminal', 'id']; 'nameOrig' -> ['name', 'orig']; 'cc_num' -> ['cc', 'num']."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


def _id_named(tokens: list[str]) -> bool:
    if not tokens:
        return False
    joined = "".join(tokens)
    if joined in _ID_NAMES or tokens[-1] in {"id", "ids", "uuid", "guid", "iban"}:
        return True
    if tokens[0] == "id" and len(tokens) == 2:
        return True
    return len(tokens) >= 2 and tokens[-1] in _ID_TOKENS and not set(tokens) & _MEASURE_TOKENS


def _code_like(value: str) -> bool:
    v = value.strip()
    return 0 < len(v) <= 64 and not any(ch.isspace() for ch in v) and any(ch.isdigit() for ch in v)


# =============================================================================================
# CSV: the full read, ragged rows
# =============================================================================================


@dataclass
class _Ragged:
    """Rows Arrow dropped for having the wrong number of fields."""

    count: int = 0
    expected: int = 0
    actual: int = 0  # fields in the first one
    offsets: list[int] = field(default_factory=list)  # byte offsets of (up to 10,000) of them


def _read_body(text: _Text, dialect: _Dialect, names: list[str], plans: list[_Plan],
               name: str) -> tuple[pa.Table, _Ragged]:
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


def _read_pieces(text: _Text, dialect: _Dialect, names: list[str], plans: list[_Plan],
                 name: str) -> tuple[pa.Table, _Ragged]:
    ragged = _Ragged()
    tables: list[pa.Table] = []
    read_options = pcsv.ReadOptions(column_names=names, use_threads=True)
    convert_options = pcsv.ConvertOptions(
        column_types={n: p.arrow_type for n, p in zip(names, plans)}, decimal_point=_native_decimal(plans),
        null_values=[""], strings_can_be_null=False, quoted_strings_can_be_null=False, check_utf8=False)
    if text.path:
        pieces = _file_pieces(text.path, dialect.body_start, dialect.delimiter, name)
    else:
        pieces = _buffer_pieces(text.buf, dialect.body_start, dialect.delimiter, name)
    for piece in pieces:
        bad: list[tuple[int, int, str]] = []

        def on_bad_row(row: Any, rows: list = bad) -> str:
            rows.append((row.expected_columns, row.actual_columns, row.text))
            return "skip"

        body = pa.py_buffer(piece.data).slice(piece.lo, piece.hi - piece.lo)
        tables.append(pcsv.read_csv(pa.BufferReader(body), read_options=read_options,
                                    parse_options=_parse_options(dialect.delimiter, piece.quoted, on_bad_row),
                                    convert_options=convert_options))
        if bad:
            _collect_ragged(ragged, bad, piece)
    if not tables:
        return pa.schema([(n, p.arrow_type) for n, p in zip(names, plans)]).empty_table(), ragged
    return pa.concat_tables(tables), ragged


def _native_decimal(plans: list[_Plan]) -> str:
    """Arrow's decimal point is one per read: ',' only when no natively read column uses '.'.

    Decimal-comma columns that share a file with decimal-point ones are parsed as text instead.
    """
    native = [p for p in plans if p.kind == "number" and p.arrow_type == pa.float64()]
    if not any(p.decimal == "," for p in native):
        return "."
    if any(p.decimal == "." for p in native):
        for p in native:
            if p.decimal == ",":
                p.arrow_type = pa.string()
        return "."
    return ","


def _collect_ragged(ragged: _Ragged, bad: list[tuple[int, int, str]], piece: "_Piece") -> None:
    if not ragged.count:
        ragged.expected, ragged.actual = bad[0][0], bad[0][1]
    ragged.count += len(bad)
    room = _MAX_STORED_BAD_ROWS - len(ragged.offsets)
    if room > 0:
        found = _locate_rows(piece.data, [t for _, _, t in bad[:room]], piece.lo, piece.hi)
        ragged.offsets.extend(piece.offset + (pos - piece.lo) for pos in found)


@dataclass
class _Piece:
    """``data[lo:hi]`` is a run of whole records starting at byte ``offset`` of the text."""

    offset: int
    data: bytes | bytearray
    lo: int
    hi: int
    quoted: bool


class _StrayQuotes(Exception):
    """A quote sits inside an unquoted field, so quotes cannot be paired in order."""


def _file_pieces(path: Path, start: int, delimiter: str, name: str) -> Iterator[_Piece]:
    """Pieces of a streamed file, each checked: a NUL byte or an unclosed quote is an error;
    non-UTF-8 bytes or stray quotes need the whole-file path (``_NeedsWholeFile``)."""
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        offset = start
        while offset < size:
            fh.seek(offset)
            data = fh.read(_PIECE_BYTES)
            try:
                cut, quoted = _next_cut(data, 0, len(data), delimiter, fh.tell() >= size)
                while cut < 0:  # a record longer than a piece
                    data += fh.read(_PIECE_BYTES)
                    cut, quoted = _next_cut(data, 0, len(data), delimiter, fh.tell() >= size)
            except _StrayQuotes:
                raise _NeedsWholeFile("quotes inside unquoted fields") from None
            except _Unclosed as exc:
                _raise_unclosed(name, exc.position + offset, _file_line_numbers(path, [exc.position + offset])[0],
                                bytes(data[exc.position:exc.position + 60]))
            _check_text(data, cut, offset, path, name)
            yield _Piece(offset, data, 0, cut, quoted)
            offset += cut


def _buffer_pieces(buf: bytes | bytearray, start: int, delimiter: str, name: str) -> Iterator[_Piece]:
    """Pieces of an in-memory body; after a stray quote, the rest is one piece checked by the exact rule."""
    pos, n = start, len(buf)
    while pos < n:
        hi = min(n, pos + _PIECE_BYTES)
        try:
            cut, quoted = _next_cut(buf, pos, hi, delimiter, hi == n)
            while cut < 0:
                hi = min(n, hi + _PIECE_BYTES)
                cut, quoted = _next_cut(buf, pos, hi, delimiter, hi == n)
        except _StrayQuotes:
            full = np.frombuffer(buf, dtype=np.uint8)
            opener = _unclosed_quote_exact(full, np.flatnonzero(full[pos:] == 34) + pos, ord(delimiter), pos)
            if opener >= 0:
                _raise_unclosed(name, opener, buf.count(b"\n", 0, opener) + 1, bytes(buf[opener:opener + 60]))
            cut, quoted = n, True
        except _Unclosed as exc:
            _raise_unclosed(name, exc.position, buf.count(b"\n", 0, exc.position) + 1,
                            bytes(buf[exc.position:exc.position + 60]))
        yield _Piece(pos, buf, pos, cut, quoted)
        pos = cut


class _Unclosed(Exception):
    def __init__(self, position: int) -> None:
        super().__init__(position)
        self.position = position


def _next_cut(data, lo: int, hi: int, delimiter: str, final: bool) -> tuple[int, bool]:
    """Where the piece starting at ``lo`` should end, and whether it holds quotes.

    ``lo`` is a record start. The cut is just after the last line end in ``data[lo:hi]`` outside
    quotes (``hi`` itself when ``final``), -1 if there is none yet. Quotes are paired in order,
    which is exact when every quote sits at a field edge (else ``_StrayQuotes``). At the end of
    the data an unpaired quote raises ``_Unclosed`` with its position.
    """
    full = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(full[lo:hi] == 34) + lo if data.find(b'"', lo, hi) >= 0 else _NONE
    if len(quotes) and not _at_field_edges(full, quotes, delimiter, lo):
        raise _StrayQuotes()
    if final:
        if len(quotes) % 2:
            raise _Unclosed(int(quotes[-1]))
        return hi, bool(len(quotes))
    nl = data.rfind(b"\n", lo, hi)
    while nl >= 0:
        k = int(np.searchsorted(quotes, nl))
        if k % 2 == 0:
            return nl + 1, bool(k)
        nl = data.rfind(b"\n", lo, int(quotes[k - 1]))
    return -1, bool(len(quotes))


_NONE = np.zeros(0, dtype=np.int64)


def _at_field_edges(full: np.ndarray, quotes: np.ndarray, delimiter: str, start: int) -> bool:
    """Openers follow a delimiter, line end or quote; closers precede one (then pairing in order is exact).

    A closer on the last byte held is accepted: what follows is checked with the next piece.
    """
    edge = np.zeros(256, dtype=bool)
    edge[[ord(delimiter), 10, 13, 34]] = True
    openers, closers = quotes[0::2], quotes[1::2]
    ok_open = edge[full[np.maximum(openers - 1, 0)]] | (openers == start)
    last = len(full) - 1
    ok_close = edge[full[np.minimum(closers + 1, last)]] | (closers == last)
    return bool(ok_open.all() and ok_close.all())


def _unclosed_quote_exact(arr: np.ndarray, quotes: np.ndarray, delim: int, start: int) -> int:
    """The CSV rule: a quote opens a field only at its start; '""' inside is an escaped quote."""
    inside, opened, i, n = False, -1, 0, len(quotes)
    field_start = {delim, 10, 13}
    while i < n:
        p = int(quotes[i])
        if not inside:
            if p == start or int(arr[p - 1]) in field_start:
                inside, opened = True, p
            i += 1
        elif i + 1 < n and int(quotes[i + 1]) == p + 1:
            i += 2
        else:
            inside = False
            i += 1
    return opened if inside else -1


def _raise_unclosed(name: str, offset: int, line: int, head: bytes) -> None:
    line_text = head.decode("utf-8", "replace").split("\n")[0].rstrip("\r")
    raise IngestError(
        f"{name}: line {line}: a quoted field starts here but its closing quote is never found "
        f"(unterminated quote at {line_text!r}).")


def _check_text(data: bytes, cut: int, offset: int, path: Path, name: str) -> None:
    """A streamed piece must be NUL-free UTF-8."""
    nul = data.find(b"\x00", 0, cut)
    if nul >= 0:
        line = _file_line_numbers(path, [offset + nul])[0]
        raise IngestError(
            f"{name}: looks like binary data, not CSV text (NUL byte at offset {offset + nul}, line {line}). "
            "Export the data as CSV (UTF-8) or Parquet.")
    if not data.isascii() and not _arrow_utf8_ok(memoryview(data)[:cut], 0):
        raise _NeedsWholeFile("bytes that are not UTF-8 after the first MB")


def _demote_column(message: str, plans: list[_Plan], names: list[str]) -> bool:
    """After 'In CSV column #k: conversion error', read column k as text numbers instead."""
    m = re.search(r"In CSV column #(\d+)", message)
    if not m or int(m.group(1)) >= len(plans) or plans[int(m.group(1))].arrow_type == pa.string():
        return False
    i = int(m.group(1))
    bad = re.search(r"invalid value '(.*)'", message)
    plans[i].arrow_type = pa.string()
    plans[i].notes.append(
        "Later rows hold values that are not plain numbers" + (f" (e.g. '{bad.group(1)}')" if bad else "")
        + "; the column was read as text and parsed as numbers.")
    log.info("Column %s re-read as text: %s", names[i], message)
    return True


def _parse_options(delimiter: str, quoted: bool, handler) -> pcsv.ParseOptions:
    return pcsv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True,
                             newlines_in_values=quoted, ignore_empty_lines=True, invalid_row_handler=handler)


def _report_ragged(report: IngestReport, text: _Text, ragged: _Ragged, n_rows: int,
                   limits: IngestLimits, name: str) -> None:
    """Physical line numbers of dropped rows; refuse a file where no row fits the header."""
    if n_rows == 0 and not ragged.count:
        raise IngestError(f"{name}: has a header line but no data rows.")
    if not ragged.count:
        return
    offsets = sorted(ragged.offsets)
    lines = _file_line_numbers(text.path, offsets) if text.path else _line_numbers(text.buf, offsets)
    if n_rows == 0:
        where = f"line {lines[0]}" if lines else "the first data row"
        raise IngestError(
            f"{name}: no data row has the {ragged.expected} fields of the header ({where} has {ragged.actual}). "
            "Check the delimiter and the header line.")
    report.ragged_count = ragged.count
    report.ragged_lines = lines[: limits.max_listed_lines]


def _locate_rows(buf, texts: list[str], lo: int, hi: int) -> list[int]:
    """Offsets in ``buf[lo:hi]`` of whole lines equal to each text (texts may repeat)."""
    used: set[int] = set()
    cursor = lo
    for text in texts:
        raw = text.encode("utf-8")
        pos = _find_line(buf, raw, cursor, lo, hi, used)
        if pos < 0:
            pos = _find_line(buf, raw, lo, lo, hi, used)
        if pos >= 0:
            used.add(pos)
            cursor = pos + len(raw)
    return sorted(used)


def _find_line(buf, raw: bytes, start: int, lo: int, hi: int, used: set[int]) -> int:
    pos = buf.find(raw, start, hi)
    while pos >= 0:
        end = pos + len(raw)
        at_start = pos == lo or buf[pos - 1] == 10
        at_end = end == hi or buf[end] in (10, 13)
        if at_start and at_end and pos not in used:
            return pos
        pos = buf.find(raw, pos + 1, hi)
    return -1


def _line_numbers(buf, offsets: list[int]) -> list[int]:
    """1-based line numbers of sorted byte offsets."""
    lines, last, line = [], 0, 1
    for pos in offsets:
        line += buf.count(b"\n", last, pos)
        last = pos
        lines.append(line)
    return lines


def _file_line_numbers(path: Path, offsets: list[int]) -> list[int]:
    """``_line_numbers`` for a file on disk, streamed."""
    lines: list[int] = []
    line, base = 1, 0
    pending = iter(sorted(offsets))
    target = next(pending, None)
    with path.open("rb") as fh:
        while target is not None:
            chunk = fh.read(_PIECE_BYTES)
            if not chunk:
                break
            while target is not None and target < base + len(chunk):
                lines.append(line + chunk.count(b"\n", 0, target - base))
                target = next(pending, None)
            line += chunk.count(b"\n")
            base += len(chunk)
    return lines


# =============================================================================================
# Finishing columns (CSV and Parquet)
# =============================================================================================


def _finish(columns: list[pa.ChunkedArray], names: list[str], originals: list[str], plans: list[_Plan],
            dayfirst: bool | None) -> tuple[pd.DataFrame, list[ColumnReport]]:
    """Parse each column per its plan into a frame.

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
    frame = table.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get, self_destruct=True,
                            split_blocks=True)
    del table
    for report in reports:
        report.dtype = str(frame[report.name].dtype)
    return frame, reports


def _finish_column(col: pa.ChunkedArray, name: str, original: str, plan: _Plan,
                   dayfirst: bool | None) -> tuple[pa.Array | pa.ChunkedArray, ColumnReport]:
    report = ColumnReport(name=name, original=original, kind=plan.kind, dtype="",
                          examples=list(plan.examples), notes=list(plan.notes))
    if plan.kind == "number" and plan.arrow_type != pa.string():
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


def _finish_text_number(col: pa.ChunkedArray, plan: _Plan, report: ColumnReport) -> pa.Array:
    values, bad = parsing.arrow_parse_numeric(col, plan.decimal, plan.thousands)
    blank = _bool_count(parsing.blank_mask(col))
    report.blank = blank
    report.unparseable = int(bad.sum())
    report.nan = int(np.isnan(values).sum()) - blank - report.unparseable
    report.inf = int(np.isinf(values).sum())
    _note_unparseable(report, col, bad, "numbers")
    return pa.array(values, type=pa.float64())


def _finish_datetime(col: pa.ChunkedArray, report: ColumnReport, dayfirst: bool | None) -> pa.Array:
    result = parsing.arrow_parse_datetime(col, dayfirst=dayfirst)
    blank = _bool_count(parsing.blank_mask(col)) if _is_text(col) else col.null_count
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
    if not _is_text(col):
        report.blank = col.null_count
        return col
    flags, bad = parsing.arrow_parse_boolean(col)
    report.blank = _bool_count(parsing.blank_mask(col))
    report.unparseable = int(bad.sum())
    report.nan = flags.null_count - report.blank - report.unparseable
    _note_unparseable(report, col, bad, "yes/no values")
    return flags


def _finish_text(col: pa.ChunkedArray, report: ColumnReport) -> pa.Array | pa.ChunkedArray:
    if not _is_text(col):
        report.blank = col.null_count
        return col
    shortest = pc.min(pc.binary_length(col)).as_py()
    if shortest is not None and shortest > _LONGEST_MARKER:  # ids: no marker or blank fits; check spaces only
        report.blank = _bool_count(pc.utf8_is_space(col)) + col.null_count
        if not report.blank:
            return col
    blank = parsing.blank_mask(col)
    marker = pc.is_in(col, value_set=pa.array(parsing.TEXT_NA_TOKENS))
    report.blank = _bool_count(blank)
    report.nan = _bool_count(marker)
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


def _is_text(col) -> bool:
    return pa.types.is_string(col.type) or pa.types.is_large_string(col.type)


def _missing_mask(col: pa.ChunkedArray, tokens: tuple[str, ...]) -> pa.ChunkedArray:
    return pc.or_(parsing.blank_mask(col), pc.is_in(col, value_set=pa.array(tokens)))


def _bool_count(mask) -> int:
    return int(pc.sum(mask).as_py() or 0)


def _file_number_format(plans: list[_Plan]) -> tuple[str | None, str | None]:
    """The decimal mark and thousands separator the file's number columns use ('.' if all are plain)."""
    numbers = [p for p in plans if p.kind == "number"]
    if not numbers:
        return None, None
    decimals = Counter(p.decimal for p in numbers if p.decimal)
    thousands = Counter(p.thousands for p in numbers if p.thousands)
    decimal = decimals.most_common(1)[0][0] if decimals else "."
    return decimal, (thousands.most_common(1)[0][0] if thousands else None)


# =============================================================================================
# Parquet
# =============================================================================================


def _read_parquet(data: bytes | bytearray, name: str, limits: IngestLimits) -> tuple[pd.DataFrame, IngestReport]:
    """Read a Parquet file after checking its width and its uncompressed size in the footer."""
    try:
        pfile = pq.ParquetFile(pa.BufferReader(pa.py_buffer(data)))
        meta = pfile.metadata
    except Exception as exc:  # pyarrow raises several types for a broken footer
        raise IngestError(f"{name}: not a readable Parquet file ({exc}).") from None
    if meta.num_columns > limits.max_columns:
        raise IngestError(f"{name}: has {meta.num_columns} columns, more than the limit of {limits.max_columns} "
                          "(TXLAB_MAX_COLUMNS).")
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if size > limits.max_decompressed_bytes:
        raise IngestError(f"{name}: expands to {_size(size)} uncompressed, more than the limit of "
                          f"{_size(limits.max_decompressed_bytes)} (TXLAB_MAX_DECOMPRESSED_MB).")
    try:
        table = pfile.read()
    except Exception as exc:
        raise IngestError(f"{name}: not a readable Parquet file ({exc}).") from None
    if table.num_rows == 0:
        raise IngestError(f"{name}: has columns but no data rows.")
    originals = [str(c) for c in table.column_names]
    names, renamed = _dedupe_headers([o.strip() for o in originals])
    plans = [_parquet_plan(n, table.column(i)) for i, n in enumerate(names)]
    table = table.rename_columns(names)
    table = pa.table([_parquet_column(table.column(i), p) for i, p in enumerate(plans)], names=names)
    columns = table.columns
    del table
    frame, columns = _finish(columns, names, originals, plans, dayfirst=None)
    report = IngestReport(source_name=name, format="parquet", rows=len(frame), columns=columns,
                          renamed_headers=renamed)
    return frame, report


def _parquet_plan(name: str, col: pa.ChunkedArray) -> _Plan:
    """Typed Parquet columns keep their type (integer ids become text); text columns are profiled."""
    t = col.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        sample = col.slice(0, 20_000)
        if pa.types.is_dictionary(col.type):
            sample = pc.cast(sample, t)
        plan = _profile(name, sample, None)
        plan.arrow_type = pa.string()  # parsed from text after the read, never cast by Arrow
        return plan
    if pa.types.is_integer(t) and _id_named(_name_tokens(name)):
        return _Plan("id", pa.string(), notes=["Integer ids kept as text."])
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return _Plan("number", pa.float64() if pa.types.is_decimal(t) else t)
    if pa.types.is_boolean(t):
        return _Plan("boolean", pa.bool_())
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return _Plan("datetime", pa.timestamp("us"))
    return _Plan("text", pa.string(), notes=[f"Values of type {t} shown as text."])


def _parquet_column(col: pa.ChunkedArray, plan: _Plan) -> pa.ChunkedArray:
    """Bring a Parquet column to the type its plan finishes from."""
    if pa.types.is_dictionary(col.type):
        col = pc.cast(col, col.type.value_type)
    if col.type == plan.arrow_type or plan.kind == "datetime":
        return col
    try:
        return pc.cast(col, plan.arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.chunked_array([pa.array([None if v is None else str(v) for v in col.to_pylist()], pa.string())])


# =============================================================================================
# Small byte helpers
# =============================================================================================


def _skip_blank_lines(buf, pos: int) -> int:
    """Offset of the first line at or after ``pos`` holding more than whitespace."""
    while pos < len(buf):
        end = _line_end(buf, pos)
        if bytes(buf[pos:end]).strip():
            return pos
        pos = end
    return pos


def _line_end(buf, pos: int) -> int:
    """Offset just past the newline that ends the line at ``pos`` (or the end of the buffer)."""
    nl = buf.find(b"\n", pos)
    return len(buf) if nl < 0 else nl + 1


def _record_end(buf, pos: int, name: str) -> int:
    """End of the record at ``pos``: newlines inside quotes do not end it (the header may wrap)."""
    end = _line_end(buf, pos)
    while buf.count(b'"', pos, end) % 2 and end < len(buf):
        if end - pos > _PROFILE_BYTES:
            break
        end = _line_end(buf, end)
    if buf.count(b'"', pos, end) % 2:
        line = buf.count(b"\n", 0, pos) + 1
        raise IngestError(f"{name}: line {line}: the header has a quoted name whose closing quote is never found "
                          "(unterminated quote).")
    return end


def _sample_text(buf, start: int, size: int) -> str:
    end = _sample_end(buf, start, size)
    return bytes(buf[start:end]).decode("utf-8", "replace")


def _sample_end(buf, start: int, size: int) -> int:
    """A cut near ``start + size`` at a line end outside quotes (so no record is split)."""
    if len(buf) - start <= size:
        return len(buf)
    end = buf.rfind(b"\n", start, start + size) + 1
    if end <= start:
        return _line_end(buf, start + size)
    while end > start and buf.count(b'"', start, end) % 2:
        end = buf.rfind(b"\n", start, end - 1) + 1
    return end if end > start else len(buf)


def _only_whitespace(buf, pos: int) -> bool:
    step = 1 << 16
    while pos < len(buf):
        if bytes(buf[pos:pos + step]).strip():
            return False
        pos += step
    return True


def _show_char(ch: str) -> str:
    return {"\t": "tab", " ": "space", "'": "apostrophe"}.get(ch, f"'{ch}'")


def _size(n: int) -> str:
    return f"{n / 1024**2:,.0f} MB" if n >= 1024**2 else f"{n:,} bytes"


def _column_line(c: ColumnReport) -> str:
    counts = [f"{v} {k}" for k, v in (("blank", c.blank), ("missing markers", c.nan), ("inf", c.inf),
                                       ("unparseable", c.unparseable)) if v]
    head = f"{c.name}: {c.kind} ({c.dtype})" + (f" [was '{c.original}']" if c.original != c.name else "")
    tail = ("; " + ", ".join(counts)) if counts else ""
    notes = (" — " + " ".join(c.notes)) if c.notes else ""
    return head + tail + notes
